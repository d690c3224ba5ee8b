// KVM_X86_SET_MSR_FILTER: which guest RDMSR/WRMSR leave KVM for user space.
#pragma once
#include <napi.h>

namespace kvmdbg {

// Adds setMsrFilter(vmFd, flags, ranges) to the module's exports.
void RegisterMsrFilter(Napi::Env env, Napi::Object exports);

}  // namespace kvmdbg
