// Vm: a KVM VM fd. Owns the guest RAM mappings: it keeps a reference to each
// region's SharedArrayBuffer for as long as KVM may map it, that is until the
// VM fd and every vCPU fd (each of which keeps the kernel VM alive) are closed.
#pragma once
#include <napi.h>

#include <cstddef>
#include <map>

namespace kvmdbg {

struct VmInit {
  int fd;
  size_t vcpuMmapSize;
};

class Vm : public Napi::ObjectWrap<Vm> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Vm(const Napi::CallbackInfo& info);
  ~Vm() override;

  // Called by a Vcpu when it closes its fd.
  void VcpuClosed();

 private:
  int Fd(Napi::Env env) const;
  void ReleaseMemoryIfUnused();
  Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info);
  Napi::Value SetTssAddr(const Napi::CallbackInfo& info);
  Napi::Value SetIdentityMapAddr(const Napi::CallbackInfo& info);
  Napi::Value CreateIrqchip(const Napi::CallbackInfo& info);
  Napi::Value CreatePit2(const Napi::CallbackInfo& info);
  Napi::Value IrqLine(const Napi::CallbackInfo& info);
  Napi::Value CheckExtension(const Napi::CallbackInfo& info);
  Napi::Value EnableCap(const Napi::CallbackInfo& info);
  Napi::Value GetDirtyLog(const Napi::CallbackInfo& info);
  Napi::Value CreateVcpu(const Napi::CallbackInfo& info);
  Napi::Value FdNumber(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int fd_ = -1;
  size_t vcpuMmapSize_ = 0;
  int liveVcpus_ = 0;
  std::map<uint32_t, Napi::ObjectReference> regions_;
};

}  // namespace kvmdbg
