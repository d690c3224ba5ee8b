/* cdata: C data a debugger must show (the Variables pane, DWARF-typed).
 * Built four times from this one file (Makefile, CDATA_VARIANTS):
 *   build/cdata-gcc-O0.elf  build/cdata-gcc-O2.elf  build/cdata-clang-O2.elf
 *   build/cdata-gcc-O0-dwarf4.elf
 * kernel/CDATA.md lists, for each variant, what a debugger shows at each
 * breakpoint marker: the one line whose comment is `bp:NAME` (tests grep for
 * the comment itself, slash-star bp:NAME star-slash; NAME is leaf, inline or
 * block).
 *
 * The run: kernel_main -> fib(20) -> fill_squares() -> caller(4, "outer"):
 *   caller: scratch (used only by note(): optimized out after it at -O2), base
 *     -> leaf(5, 400, head)               marker leaf   (caller is frame 1)
 *     mix(r, depth), always_inline        marker inline (inlined into caller)
 *     { inner, inner_copy }               marker block  (a lexical block)
 * then prints some globals read after the run (set one at a breakpoint and
 * the line changes), `cdata done`, and powers off (`exit=N` honoured).
 * cmdline `wait`: first spin in wait_for_release() until `release` != 0.
 *
 * -O2 must keep what the tests look at: KEEP(v) makes v live in a register
 * at that point, BARRIER() makes memory current; the bp lines are volatile
 * increments, so they have code of their own in every variant. */
#include "io.h"
#include "lib.h"

#ifndef CDATA_VARIANT
#error "CDATA_VARIANT must be defined (gcc-O0, gcc-O2, clang-O2, gcc-O0-dwarf4)"
#endif

#define BARRIER() __asm__ volatile("" ::: "memory")
#define KEEP(v)   __asm__ volatile("" :: "r"(v))

/* ---- types ---- */
enum color { COLOR_RED = 1, COLOR_GREEN = 2, COLOR_BLUE = 4 };

struct point {
	int x;
	int y;
};

union word {
	uint32_t u32;
	uint16_t u16[2];
	uint8_t u8[4];
};

struct config {
	unsigned mode : 3;
	unsigned ready : 1;
	unsigned level : 4;
	int id;
	union {                  /* anonymous: cfg.raw, cfg.raw_bytes */
		uint32_t raw;
		uint8_t raw_bytes[4];
	};
	union word w;            /* named union */
	struct point origin;     /* nested struct */
	enum color color;
	const char *label;
};

struct node {
	int value;
	struct node *next;
};

/* ---- globals ---- */
struct boot_info boot;

int fib_result;                                  /* fib(20) = 6765, at run time */
int negative = -42;
unsigned long long big_value = 0xfedcba9876543210ull;
static int file_static __attribute__((used)) = 24301;   /* 0x5eed, file scope */
char letter = 'K';
unsigned char byte_ff = 0xff;
short neg_short = -2;
_Bool flag_true = 1;

volatile int counter = 1234;     /* printed at the end: set it at a breakpoint */
volatile int release;            /* `wait`: wait_for_release() spins until non-zero */
volatile uint32_t spin_count;
volatile int probe = 5;          /* caller's scratch = probe * 3 */
volatile int sink;
volatile unsigned leaf_hits, mix_hits, block_hits;

struct config cfg = {
	.mode = 5, .ready = 1, .level = 9, .id = -17,
	.raw = 0xdeadbeef,
	.w = { .u32 = 0x11223344 },
	.origin = { 3, -4 },
	.color = COLOR_GREEN,
	.label = "cfg-label",
};
struct config *cfg_ptr = &cfg;

int squares[300];                /* squares[i] = i * i, filled at run time */
int grid[3][4] = { { 0, 1, 2, 3 }, { 10, 11, 12, 13 }, { 20, 21, 22, 23 } };
enum color favorite = COLOR_BLUE;

struct node node3 = { 30, 0 };
struct node node2 = { 20, &node3 };
struct node node1 = { 10, &node2 };
struct node *head = &node1;

const char *greeting = "hello\tworld\n";
char name[16] = "kvmdbg-cdata";

int add_numbers(int a, int b);
int (*op)(int, int) = add_numbers;

/* ---- functions ---- */
__attribute__((noinline)) int add_numbers(int a, int b)
{
	return a + b;
}

__attribute__((noinline)) uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) void fill_squares(void)
{
	for (int i = 0; i < 300; i++)
		squares[i] = i * i;
}

__attribute__((noinline)) void note(int v)
{
	sink = v;
}

__attribute__((noinline)) void wait_for_release(void)
{
	while (!release)
		spin_count++;
}

__attribute__((noinline)) int leaf(int a, int b, struct node *n)
{
	int sum = a + b;                         /* 405 */
	int prod = a * n->value;                 /* 50 */
	struct point where = { a, -b };          /* {5, -400}: pieces at -O2 */
	volatile int vol_local = sum - prod;     /* 355, always in memory */
	leaf_hits++;                             /* bp:leaf */
	KEEP(a); KEEP(b); KEEP(n); KEEP(sum); KEEP(prod); KEEP(where.x); KEEP(where.y);
	return sum + prod + vol_local + n->next->value;   /* 830 */
}

static inline __attribute__((always_inline)) int mix(int x, int y)
{
	int t = x ^ y;                           /* 830 ^ 4 = 826 */
	int u = t + 0x100;                       /* 1082 */
	mix_hits++;                              /* bp:inline */
	KEEP(x); KEEP(y); KEEP(t); KEEP(u);
	return u * 2;                            /* 2164 */
}

__attribute__((noinline)) int caller(int depth, const char *tag)
{
	int scratch = probe * 3;                 /* 15; dead after note() */
	note(scratch);
	int base = depth * 100;                  /* 400 */
	int r = leaf(depth + 1, base, head);     /* 830 */
	r += mix(r, depth);                      /* 830 + 2164 = 2994 */
	{
		int inner = r + depth;               /* 2998 */
		volatile int inner_copy = inner * 2; /* 5996 */
		block_hits++;                        /* bp:block */
		KEEP(inner);
		sink = inner_copy;
	}
	KEEP(depth); KEEP(tag); KEEP(base);
	return r + base + tag[0];                /* 2994 + 400 + 'o' (111) = 3505 */
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg cdata kernel %s (%s)\n", CDATA_VARIANT, boot_protocol_name(boot.protocol));
	if (cmdline_has(boot.cmdline, "wait")) {
		kputs("waiting for release\n");
		wait_for_release();
	}
	fib_result = (int)fib(20);
	fill_squares();
	BARRIER();
	int result = caller(4, "outer");
	BARRIER();
	kprintf("fib_result=%d result=%d op(2,3)=%d\n", fib_result, result, op(2, 3));
	kprintf("counter=%d cfg.mode=%u cfg.id=%d head->next->value=%d file_static=%d\n",
		counter, cfg.mode, cfg.id, head->next->value, file_static);
	kputs("cdata done\n");
	machine_finish(boot.cmdline);
}
