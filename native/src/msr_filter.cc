// KVM_X86_SET_MSR_FILTER. With KVM_CAP_X86_USER_SPACE_MSR (reason FILTER)
// enabled, an RDMSR/WRMSR the filter denies becomes a KVM_EXIT_X86_RDMSR /
// WRMSR that user space completes; kvmdbg's MSR breakpoints install a filter
// that denies exactly the MSRs they watch, and an allow-all one when none.
#include "msr_filter.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "convert.h"
#include "errors.h"

namespace kvmdbg {

namespace {

// Bitmaps are at most 0x600 bytes (12288 MSRs) per range in KVM.
constexpr uint32_t kMaxBitmapBytes = 0x600;

// (vmFd, flags, ranges: { flags, base, nmsrs, bitmap: Uint8Array }[])
Napi::Value SetMsrFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ToU32(info[0], "VM fd"));
  kvm_msr_filter filter;
  std::memset(&filter, 0, sizeof filter);
  filter.flags = ToU32(info[1], "MSR filter flags");
  if (!info[2].IsArray()) ThrowType(env, "MSR filter ranges must be an array");
  Napi::Array ranges = info[2].As<Napi::Array>();
  if (ranges.Length() > KVM_MSR_FILTER_MAX_RANGES) {
    ThrowRange(env, "KVM takes at most " + std::to_string(KVM_MSR_FILTER_MAX_RANGES) + " MSR filter ranges");
  }
  // KVM copies the bitmaps during the ioctl; these keep them alive until then.
  std::vector<std::vector<uint8_t>> bitmaps(ranges.Length());
  for (uint32_t i = 0; i < ranges.Length(); i++) {
    if (!ranges.Get(i).IsObject()) ThrowType(env, "an MSR filter range must be an object");
    Napi::Object r = ranges.Get(i).As<Napi::Object>();
    kvm_msr_filter_range& out = filter.ranges[i];
    out.flags = ToU32(r.Get("flags"), "MSR filter range flags");
    out.base = ToU32(r.Get("base"), "MSR filter range base");
    out.nmsrs = ToU32(r.Get("nmsrs"), "MSR filter range size");
    uint32_t bytes = (out.nmsrs + 7) / 8;
    if (out.nmsrs == 0 || bytes > kMaxBitmapBytes) ThrowRange(env, "an MSR filter range covers 1 to 12288 MSRs");
    Napi::Value bm = r.Get("bitmap");
    if (!bm.IsTypedArray() || bm.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        bm.As<Napi::Uint8Array>().ByteLength() < bytes) {
      ThrowType(env, "an MSR filter range's bitmap must be a Uint8Array of at least " + std::to_string(bytes) + " bytes");
    }
    Napi::Uint8Array view = bm.As<Napi::Uint8Array>();
    bitmaps[i].assign(view.Data(), view.Data() + bytes);
    out.bitmap = bitmaps[i].data();
  }
  if (ioctl(fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) ThrowIoctl(env, "KVM_X86_SET_MSR_FILTER", errno);
  return env.Undefined();
}

}  // namespace

void RegisterMsrFilter(Napi::Env env, Napi::Object exports) {
  exports.Set("setMsrFilter", Napi::Function::New<SetMsrFilter>(env, "setMsrFilter"));
}

}  // namespace kvmdbg
