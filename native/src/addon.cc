// Module registration: the raw classes, kick(token), pageAlignedOffset, the futex calls and
// the constants native/index.ts needs. Typed privately in native/binding.ts.
#include <napi.h>

#include "convert.h"
#include "errors.h"
#include "exit_buffer.h"
#include "futex.h"
#include "instance.h"
#include "kick.h"
#include "kvm.h"
#include "msr_filter.h"
#include "shared_view.h"
#include "vcpu.h"
#include "vm.h"

namespace kvmdbg {

namespace {

// Any thread may kick any vCPU by token: Node objects cannot cross threads.
Napi::Value KickToken(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), kick::Kick(ToU32(info[0], "kick token")));
}

// Bytes to skip in a SharedArrayBuffer so guest RAM starts on a page.
Napi::Value PageAlignedOffset(const Napi::CallbackInfo& info) {
  SharedView v = GetSharedView(info[0], "guest RAM buffer");
  uintptr_t p = reinterpret_cast<uintptr_t>(v.data);
  return Napi::Number::New(info.Env(), static_cast<double>((4096 - p % 4096) % 4096));
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowType(info.Env(), "setErrorClass takes a constructor");
  Instance::Get(info.Env())->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* inst = new Instance();
  env.SetInstanceData(inst);
  Napi::Function kvm = Kvm::Define(env), vm = Vm::Define(env), vcpu = Vcpu::Define(env);
  inst->kvmClass = Napi::Persistent(kvm);
  inst->vmClass = Napi::Persistent(vm);
  inst->vcpuClass = Napi::Persistent(vcpu);
  exports.Set("RawKvm", kvm);
  exports.Set("RawVm", vm);
  exports.Set("RawVcpu", vcpu);
  exports.Set("kick", Napi::Function::New<KickToken>(env, "kick"));
  exports.Set("pageAlignedOffset", Napi::Function::New<PageAlignedOffset>(env, "pageAlignedOffset"));
  exports.Set("setErrorClass", Napi::Function::New<SetErrorClass>(env, "setErrorClass"));
  exports.Set("exitBufferSize", Napi::Number::New(env, exitbuf::kSize));
  exports.Set("exitInterrupted", Napi::Number::New(env, exitbuf::kInterrupted));
  exports.Set("kickSignal", Napi::Number::New(env, kick::Signal()));
  exports.Set("kvmApiVersion", Napi::Number::New(env, KVM_API_VERSION));
  RegisterMsrFilter(env, exports);
  RegisterFutex(env, exports);
  return exports;
}

}  // namespace

}  // namespace kvmdbg

static Napi::Object InitKvmAddon(Napi::Env env, Napi::Object exports) { return kvmdbg::Init(env, exports); }

NODE_API_MODULE(kvm, InitKvmAddon)
