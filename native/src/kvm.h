// Kvm: the /dev/kvm system fd. Creates VMs and answers host capability and
// CPUID/MSR questions.
#pragma once
#include <napi.h>

namespace kvmdbg {

class Kvm : public Napi::ObjectWrap<Kvm> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Kvm(const Napi::CallbackInfo& info);
  ~Kvm() override;

 private:
  int Fd(Napi::Env env) const;
  Napi::Value ApiVersion(const Napi::CallbackInfo& info);
  Napi::Value CheckExtension(const Napi::CallbackInfo& info);
  Napi::Value VcpuMmapSize(const Napi::CallbackInfo& info);
  Napi::Value SupportedCpuid(const Napi::CallbackInfo& info);
  Napi::Value MsrIndexList(const Napi::CallbackInfo& info);
  Napi::Value CreateVm(const Napi::CallbackInfo& info);
  Napi::Value AdoptVm(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int fd_ = -1;
};

}  // namespace kvmdbg
