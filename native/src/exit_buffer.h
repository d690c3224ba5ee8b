// The exit buffer: a small JS-allocated SharedArrayBuffer per vCPU into which
// run() copies the fields of each exit, so the hot path creates no Node-API
// objects (ARCHITECTURE rule 3). native/exit-layout.ts mirrors these offsets.
// Shared, not a plain ArrayBuffer, because a SharedArrayBuffer can never be
// detached (transferred) from under the pointer we keep.
#pragma once
#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace kvmdbg::exitbuf {

constexpr size_t kReason = 0;   // u32: KVM exit reason, or kInterrupted
constexpr size_t kA = 4;        // u32 fields, meaning per exit (see exit-layout.ts)
constexpr size_t kB = 8;
constexpr size_t kC = 12;
constexpr size_t kD = 16;
constexpr size_t kAddr = 24;    // f64: MMIO guest physical address (< 2^52)
constexpr size_t kX0 = 32;      // u64
constexpr size_t kX1 = 40;
constexpr size_t kX2 = 48;
constexpr size_t kWords = 56;   // u64[16]
constexpr size_t kMaxWords = 16;
constexpr size_t kData = 256;   // io / mmio data bytes
constexpr size_t kDataMax = 4096;
constexpr size_t kSize = kData + kDataMax;

// Not a KVM exit reason: KVM_RUN returned EINTR (a kick or another signal).
constexpr uint32_t kInterrupted = 0x10000;

struct Decoded {
  uint32_t reason;
  // Where the guest's result bytes go before the next KVM_RUN (IN, MMIO read).
  uint8_t* copyBack;
  size_t copyLen;
  // An I/O or MMIO exit that KVM completes only on re-entry.
  bool ioPending;
  // Non-empty if kvm_run held something out of bounds.
  std::string error;
};

// Copies the exit in `run` (of `mmapSize` bytes) into `buf` (kSize bytes).
Decoded Decode(kvm_run* run, size_t mmapSize, uint8_t* buf);
void WriteReason(uint8_t* buf, uint32_t reason);

}  // namespace kvmdbg::exitbuf
