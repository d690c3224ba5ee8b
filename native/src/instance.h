// Per-environment state. Each worker_thread is its own Node-API env, so class
// constructors and the registered KvmError class live here, never in globals.
#pragma once
#include <napi.h>

namespace kvmdbg {

struct Instance {
  Napi::FunctionReference kvmClass, vmClass, vcpuClass;
  Napi::FunctionReference errorClass;

  static Instance* Get(Napi::Env env) { return env.GetInstanceData<Instance>(); }
};

}  // namespace kvmdbg
