#!/usr/bin/env bash
# Boots every kernel in build/ under QEMU's software CPU (TCG) and checks its
# console output and exit status against README.md. `make qemu-check` runs it.
# QEMU's memory map differs from kvmdbg's, so the memory line is only checked
# for its form; QEMU's multiboot loader puts the kernel path before -append.
set -u
cd "$(dirname "$0")"
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { echo "qemu-check: $QEMU not found; skipped"; exit 0; }
fails=0

run() { # run <timeout> <stdin-file> <qemu -kernel args...>; sets out, status
	local t=$1 in=$2; shift 2
	out=$(timeout "$t" "$QEMU" -M q35 -m 64 -serial stdio -display none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 "$@" <"$in" 2>/dev/null)
	status=$?
}

check() { # check <what> <expected status> <expected output>
	local got_out
	got_out=$(printf '%s\n' "$out" | sed -E 's/^memory: [0-9]+ KiB$/memory: N KiB/')
	if [[ "$status" == "$2" && "$got_out" == "$3" ]]; then
		echo "ok    $1"
	else
		echo "FAIL  $1 (status $status, expected $2)"
		diff <(printf '%s\n' "$3") <(printf '%s\n' "$got_out") | sed 's/^/      /'
		fails=$((fails + 1))
	fi
}

default_body() { # default_body <cmdline as the kernel sees it>
	cat <<OUT
cmdline: $1
memory: N KiB
fib(20) = 6765
checksum = 0xa7ecfaa9
mmio read: 0x00000000
pci 00:00.0: 8086:29c0
step result = 0x1234abcd
done
OUT
}
# (QEMU reads unassigned MMIO as 0; kvmdbg's VMM reads all-ones: 0xffffffff.)

for k in multiboot32 pvh64 elf64; do
	case $k in
	multiboot32) boot=(-kernel build/multiboot32.elf); proto=multiboot; pre="build/multiboot32.elf " ;;
	pvh64) boot=(-kernel build/pvh64.elf); proto=pvh; pre="" ;;
	elf64) boot=(-kernel build/tools/elf64-loader.elf -initrd build/elf64.elf); proto=elf64; pre="" ;;
	esac
	head="kvmdbg test kernel $k ($proto)"

	run 30 /dev/null "${boot[@]}" -append ""
	check "$k default" 0 "$head
$(default_body "$pre")"

	run 30 /dev/null "${boot[@]}" -append "count exit=3"
	check "$k count exit=3" 7 "$head
count = 1000
$(default_body "${pre}count exit=3")"

	run 5 /dev/null "${boot[@]}" -append "spin"
	check "$k spin" 124 "$head
spinning"

	run 30 /dev/null "${boot[@]}" -append "triple"
	check "$k triple" 0 "$head
triple faulting"

	printf 'hi there\nq' >/tmp/qemu-check-echo.$$
	run 30 /tmp/qemu-check-echo.$$ "${boot[@]}" -append "echo exit=0"
	check "$k echo exit=0" 1 "$head
echo ready
hi there

echo done"
	rm -f /tmp/qemu-check-echo.$$
done

run 60 /dev/null -kernel build/demo.elf -append "from qemu-check"
last=$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r')
if [[ $status == 0 && $last == " Goodbye from the demo kernel." && $out == *"PVH: 32-bit entry"* ]]; then
	echo "ok    demo ($(printf '%s' "$out" | wc -c) bytes of output)"
else
	echo "FAIL  demo (status $status, last line: $last)"
	fails=$((fails + 1))
fi

# cdata (kernel/cdata.c, kernel/CDATA.md): every variant that was built
for v in gcc-O0 gcc-O2 clang-O2 gcc-O0-dwarf4; do
	[[ -f build/cdata-$v.elf ]] || { echo "FAIL  cdata-$v (not built)"; fails=$((fails + 1)); continue; }
	run 30 /dev/null -kernel build/cdata-$v.elf -append "exit=3"
	check "cdata-$v exit=3" 7 "kvmdbg cdata kernel $v (pvh)
fib_result=6765 result=3505 op(2,3)=5
counter=1234 cfg.mode=5 cfg.id=-17 head->next->value=20 file_static=24301
cdata done"
done

[[ $fails == 0 ]] && echo "qemu-check: all passed" || echo "qemu-check: $fails failed"
[[ $fails == 0 ]]
