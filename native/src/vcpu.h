// Vcpu: a vCPU fd and its mmap'd kvm_run area. run() is the hot path: it
// copies each exit into the exit buffer and returns only the reason number.
#pragma once
#include <linux/kvm.h>
#include <napi.h>

#include "kick.h"

#include <cstddef>
#include <cstdint>

namespace kvmdbg {

class Vm;

struct VcpuInit {
  int fd;
  kvm_run* run;
  size_t mmapSize;
  uint32_t id;
  Vm* vm;
  uint8_t* exitBuffer;
  size_t xsaveSize;
};

class Vcpu : public Napi::ObjectWrap<Vcpu> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Vcpu(const Napi::CallbackInfo& info);
  ~Vcpu() override;

  int Fd(Napi::Env env) const;

 private:
  void Release();
  uint32_t EnterRun(Napi::Env env);
  void CopyBack();
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value CompletePendingIo(const Napi::CallbackInfo& info);
  Napi::Value KickToken(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Kick(const Napi::CallbackInfo& info);
  Napi::Value SetTiming(const Napi::CallbackInfo& info);
  Napi::Value RunStats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetSyncRegs(const Napi::CallbackInfo& info);
  Napi::Value ReadState(const Napi::CallbackInfo& info);
  /** The registers in kvm_run.s.regs no longer match the vCPU (a KVM_SET_* changed it). */
  void ForgetSynced() { synced_ = 0; }
  /** Records which registers the last KVM_RUN left in kvm_run.s.regs (KVM_SYNC_X86_*). */
  void NoteSynced(bool ok) { synced_ = ok && run_ ? run_->kvm_valid_regs : 0; }

  // vcpu_state.cc
  Napi::Value GetRegs(const Napi::CallbackInfo& info);
  Napi::Value SetRegs(const Napi::CallbackInfo& info);
  Napi::Value GetSregs(const Napi::CallbackInfo& info);
  Napi::Value SetSregs(const Napi::CallbackInfo& info);
  Napi::Value GetFpu(const Napi::CallbackInfo& info);
  Napi::Value SetFpu(const Napi::CallbackInfo& info);
  Napi::Value GetXsave(const Napi::CallbackInfo& info);
  Napi::Value SetXsave(const Napi::CallbackInfo& info);
  Napi::Value GetMsrs(const Napi::CallbackInfo& info);
  Napi::Value SetMsrs(const Napi::CallbackInfo& info);
  Napi::Value SetCpuid2(const Napi::CallbackInfo& info);
  Napi::Value GetLapic(const Napi::CallbackInfo& info);
  Napi::Value SetLapic(const Napi::CallbackInfo& info);
  Napi::Value GetMpState(const Napi::CallbackInfo& info);
  Napi::Value SetMpState(const Napi::CallbackInfo& info);
  Napi::Value GetVcpuEvents(const Napi::CallbackInfo& info);
  Napi::Value DropException(const Napi::CallbackInfo& info);
  Napi::Value GetDebugRegs(const Napi::CallbackInfo& info);
  Napi::Value SetGuestDebug(const Napi::CallbackInfo& info);
  Napi::Value Translate(const Napi::CallbackInfo& info);

  int fd_ = -1;
  kvm_run* run_ = nullptr;
  size_t mmapSize_ = 0;
  size_t xsaveSize_ = 4096;
  uint32_t id_ = 0;
  uint32_t token_ = 0;
  kick::Entry* kickEntry_ = nullptr;
  Vm* vm_ = nullptr;
  uint8_t* exit_ = nullptr;
  Napi::ObjectReference vmRef_;
  Napi::ObjectReference exitRef_;
  // The guest's result for the last IN / MMIO read, copied in before re-entry.
  uint8_t* copyBack_ = nullptr;
  size_t copyLen_ = 0;
  bool ioPending_ = false;
  bool timing_ = false;
  // KVM_SYNC_X86_* bits valid in run_->s.regs since the last KVM_RUN (none after a KVM_SET_*).
  uint64_t synced_ = 0;
  uint64_t runs_ = 0;
  uint64_t nsInRun_ = 0;
};

}  // namespace kvmdbg
