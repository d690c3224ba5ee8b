#include "vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "convert.h"
#include "errors.h"
#include "exit_buffer.h"
#include "kick.h"
#include "vm.h"

namespace kvmdbg {

namespace {

uint64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

}  // namespace

Napi::Function Vcpu::Define(Napi::Env env) {
  return DefineClass(env, "RawVcpu",
                     {
                         InstanceMethod<&Vcpu::Run>("run"),
                         InstanceMethod<&Vcpu::CompletePendingIo>("completePendingIo"),
                         InstanceMethod<&Vcpu::KickToken>("kickToken"),
                         InstanceMethod<&Vcpu::Id>("id"),
                         InstanceMethod<&Vcpu::Kick>("kick"),
                         InstanceMethod<&Vcpu::SetTiming>("setTiming"),
                         InstanceMethod<&Vcpu::RunStats>("runStats"),
                         InstanceMethod<&Vcpu::Close>("close"),
                         InstanceMethod<&Vcpu::SetSyncRegs>("setSyncRegs"),
                         InstanceMethod<&Vcpu::ReadState>("readState"),
                         InstanceMethod<&Vcpu::GetRegs>("getRegs"),
                         InstanceMethod<&Vcpu::SetRegs>("setRegs"),
                         InstanceMethod<&Vcpu::GetSregs>("getSregs"),
                         InstanceMethod<&Vcpu::SetSregs>("setSregs"),
                         InstanceMethod<&Vcpu::GetFpu>("getFpu"),
                         InstanceMethod<&Vcpu::SetFpu>("setFpu"),
                         InstanceMethod<&Vcpu::GetXsave>("getXsave"),
                         InstanceMethod<&Vcpu::SetXsave>("setXsave"),
                         InstanceMethod<&Vcpu::GetMsrs>("getMsrs"),
                         InstanceMethod<&Vcpu::SetMsrs>("setMsrs"),
                         InstanceMethod<&Vcpu::SetCpuid2>("setCpuid2"),
                         InstanceMethod<&Vcpu::GetLapic>("getLapic"),
                         InstanceMethod<&Vcpu::SetLapic>("setLapic"),
                         InstanceMethod<&Vcpu::GetMpState>("getMpState"),
                         InstanceMethod<&Vcpu::SetMpState>("setMpState"),
                         InstanceMethod<&Vcpu::GetVcpuEvents>("getVcpuEvents"),
                         InstanceMethod<&Vcpu::DropException>("dropException"),
                         InstanceMethod<&Vcpu::GetDebugRegs>("getDebugRegs"),
                         InstanceMethod<&Vcpu::SetGuestDebug>("setGuestDebug"),
                         InstanceMethod<&Vcpu::Translate>("translate"),
                     });
}

// (External<VcpuInit>, the Vm object, the exit buffer view)
Vcpu::Vcpu(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vcpu>(info) {
  if (info.Length() < 3 || !info[0].IsExternal()) ThrowType(info.Env(), "create a Vcpu with Vm.createVcpu()");
  VcpuInit* init = info[0].As<Napi::External<VcpuInit>>().Data();
  fd_ = init->fd;
  run_ = init->run;
  mmapSize_ = init->mmapSize;
  id_ = init->id;
  vm_ = init->vm;
  exit_ = init->exitBuffer;
  xsaveSize_ = init->xsaveSize;
  // The Vm (and with it guest RAM) must outlive this vCPU fd; the exit buffer
  // must outlive our pointer into it.
  vmRef_ = Napi::Persistent(info[1].As<Napi::Object>());
  exitRef_ = Napi::Persistent(info[2].As<Napi::Object>());
  kick::InstallHandler();
  token_ = kick::Register(run_, &kickEntry_);
}

Vcpu::~Vcpu() {
  // Finalizer order at environment teardown is arbitrary: do not call into vm_.
  vm_ = nullptr;
  Release();
}

void Vcpu::Release() {
  if (fd_ < 0) return;
  kick::Unregister(token_);  // before munmap: no kick may touch run_ afterwards
  kickEntry_ = nullptr;
  munmap(run_, mmapSize_);
  close(fd_);
  fd_ = -1;
  run_ = nullptr;
  copyBack_ = nullptr;
  copyLen_ = 0;
}

int Vcpu::Fd(Napi::Env env) const {
  if (fd_ < 0) ThrowKvm(env, "this Vcpu is closed", "close", EBADF);
  return fd_;
}

void Vcpu::CopyBack() {
  if (copyLen_) std::memcpy(copyBack_, exit_ + exitbuf::kData, copyLen_);
  copyLen_ = 0;
}

uint32_t Vcpu::EnterRun(Napi::Env env) {
  CopyBack();
  ioPending_ = false;
  kick::Enter(kickEntry_);
  // Only the ioctl is timed: the kick bracket is our own overhead.
  uint64_t t0 = timing_ ? NowNs() : 0;
  int r;
  int err;
  // EAGAIN: an AP left the wait-for-SIPI state (INIT received) without an
  // exit for us; KVM wants KVM_RUN again, as QEMU and kvmtool do.
  do {
    r = ioctl(fd_, KVM_RUN, 0);
    err = errno;
  } while (r < 0 && err == EAGAIN);
  if (timing_) {
    nsInRun_ += NowNs() - t0;
    runs_++;
  }
  bool interrupted = (r < 0 && err == EINTR) || (r == 0 && run_->exit_reason == KVM_EXIT_INTR);
  NoteSynced(r == 0 || interrupted);
  kick::Leave(kickEntry_, interrupted);
  if (interrupted) {
    exitbuf::WriteReason(exit_, exitbuf::kInterrupted);
    return exitbuf::kInterrupted;
  }
  if (r < 0) ThrowIoctl(env, "KVM_RUN", err);
  exitbuf::Decoded d = exitbuf::Decode(run_, mmapSize_, exit_);
  if (!d.error.empty()) ThrowKvm(env, "KVM_RUN returned an " + d.error, "KVM_RUN");
  copyBack_ = d.copyBack;
  copyLen_ = d.copyLen;
  ioPending_ = d.ioPending;
  return d.reason;
}

Napi::Value Vcpu::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd(env);
  return Napi::Number::New(env, EnterRun(env));
}

// Re-enters KVM_RUN with immediate_exit set: KVM finishes the pending IN/OUT
// or MMIO instruction (advancing RIP) before it checks immediate_exit, so the
// registers are consistent. Returns kInterrupted when done, or the reason of a
// further exit (a string I/O instruction can need more than one).
Napi::Value Vcpu::CompletePendingIo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd(env);
  if (!ioPending_) return Napi::Number::New(env, exitbuf::kInterrupted);
  CopyBack();
  ioPending_ = false;
  kick::ForceImmediateExit(kickEntry_);
  int r = ioctl(fd_, KVM_RUN, 0);
  int err = errno;
  NoteSynced(r == 0 || err == EINTR);
  kick::RestoreImmediateExit(kickEntry_);
  if (r < 0 && err == EINTR) return Napi::Number::New(env, exitbuf::kInterrupted);
  if (r < 0) ThrowIoctl(env, "KVM_RUN", err);
  if (run_->exit_reason == KVM_EXIT_INTR) return Napi::Number::New(env, exitbuf::kInterrupted);
  exitbuf::Decoded d = exitbuf::Decode(run_, mmapSize_, exit_);
  if (!d.error.empty()) ThrowKvm(env, "KVM_RUN returned an " + d.error, "KVM_RUN");
  copyBack_ = d.copyBack;
  copyLen_ = d.copyLen;
  ioPending_ = d.ioPending;
  return Napi::Number::New(env, d.reason);
}

Napi::Value Vcpu::KickToken(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), token_); }
Napi::Value Vcpu::Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

Napi::Value Vcpu::Kick(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_ >= 0 && kick::Kick(token_));
}

Napi::Value Vcpu::SetTiming(const Napi::CallbackInfo& info) {
  timing_ = ToBool(info[0]);
  if (info.Length() > 1 && ToBool(info[1])) runs_ = nsInRun_ = 0;
  return info.Env().Undefined();
}

Napi::Value Vcpu::RunStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("runs", Napi::Number::New(env, static_cast<double>(runs_)));
  o.Set("nsInKvmRun", Napi::Number::New(env, static_cast<double>(nsInRun_)));
  return o;
}

// KVM_SYNC_X86_REGS / _SREGS: KVM copies the registers into kvm_run on every
// exit, so reading them after a step costs no ioctl (each is tens of
// microseconds on some hosts). The caller checks KVM_CAP_SYNC_REGS first.
Napi::Value Vcpu::SetSyncRegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd(env);
  run_->kvm_valid_regs = ToU32(info[0], "sync mask") & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
  return env.Undefined();
}

// (view: Uint8Array of at least sizeof kvm_regs + sizeof kvm_sregs, mask of
// KVM_SYNC_X86_REGS/_SREGS) -> kvm_regs at 0 and/or kvm_sregs after it, raw:
// from kvm_run where the last exit synced them, else by ioctl. Decoding is
// the caller's (state-layout.ts): building the objects through Node-API
// costs more than the ioctls.
Napi::Value Vcpu::ReadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd(env);
  if (info.Length() < 2 || !info[0].IsTypedArray()) ThrowType(env, "readState wants a Uint8Array and a mask");
  Napi::Uint8Array view = info[0].As<Napi::Uint8Array>();
  if (view.ByteLength() < sizeof(kvm_regs) + sizeof(kvm_sregs)) ThrowType(env, "readState: the view is too small");
  uint32_t mask = ToU32(info[1], "state mask");
  uint8_t* out = view.Data();
  if (mask & KVM_SYNC_X86_REGS) {
    if (synced_ & KVM_SYNC_X86_REGS) std::memcpy(out, &run_->s.regs.regs, sizeof(kvm_regs));
    else if (ioctl(fd_, KVM_GET_REGS, out) < 0) ThrowIoctl(env, "KVM_GET_REGS", errno);
  }
  if (mask & KVM_SYNC_X86_SREGS) {
    uint8_t* s = out + sizeof(kvm_regs);
    if (synced_ & KVM_SYNC_X86_SREGS) std::memcpy(s, &run_->s.regs.sregs, sizeof(kvm_sregs));
    else if (ioctl(fd_, KVM_GET_SREGS, s) < 0) ThrowIoctl(env, "KVM_GET_SREGS", errno);
  }
  return env.Undefined();
}

Napi::Value Vcpu::Close(const Napi::CallbackInfo& info) {
  bool wasOpen = fd_ >= 0;
  Release();
  if (wasOpen && vm_) vm_->VcpuClosed();
  vm_ = nullptr;
  vmRef_.Reset();
  return info.Env().Undefined();
}

}  // namespace kvmdbg
