// vCPU state get/set: registers, system registers, FPU/XSAVE, MSRs, CPUID,
// LAPIC, MP state, events, guest debug and address translation. Not hot.
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "kvm_abi.h"
#include "vcpu.h"

namespace kvmdbg {

namespace {

#define KVMDBG_REGS(X) \
  X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rsp) X(rbp) X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15) \
  X(rip) X(rflags)

#define KVMDBG_SEGS(X) X(cs) X(ds) X(es) X(fs) X(gs) X(ss) X(tr) X(ldt)
#define KVMDBG_CRS(X) X(cr0, cr0) X(cr2, cr2) X(cr3, cr3) X(cr4, cr4) X(cr8, cr8) X(efer, efer) X(apic_base, apicBase)

void Ioctl(Napi::Env env, int fd, unsigned long req, void* arg, const char* name) {
  if (ioctl(fd, req, arg) < 0) ThrowIoctl(env, name, errno);
}

Napi::Object Arg(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsObject()) ThrowType(info.Env(), std::string(what) + " must be an object");
  return info[0].As<Napi::Object>();
}

}  // namespace

Napi::Value Vcpu::GetRegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_regs r;
  if (Fd(env) >= 0 && (synced_ & KVM_SYNC_X86_REGS)) r = run_->s.regs.regs;
  else Ioctl(env, fd_, KVM_GET_REGS, &r, "KVM_GET_REGS");
  Napi::Object o = Napi::Object::New(env);
#define X(n) o.Set(#n, Big(env, r.n));
  KVMDBG_REGS(X)
#undef X
  return o;
}

// Registers absent from the object keep their current values.
Napi::Value Vcpu::SetRegs(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  Napi::Object o = Arg(info, "regs");
  kvm_regs r;
  Ioctl(env, Fd(env), KVM_GET_REGS, &r, "KVM_GET_REGS");
#define X(n) \
  if (o.Has(#n) && !o.Get(#n).IsUndefined()) r.n = ToU64(o.Get(#n), #n);
  KVMDBG_REGS(X)
#undef X
  Ioctl(env, fd_, KVM_SET_REGS, &r, "KVM_SET_REGS");
  return env.Undefined();
}

Napi::Value Vcpu::GetSregs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_sregs s;
  if (Fd(env) >= 0 && (synced_ & KVM_SYNC_X86_SREGS)) s = run_->s.regs.sregs;
  else Ioctl(env, fd_, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
  Napi::Object o = Napi::Object::New(env);
#define X(n) o.Set(#n, SegmentToJs(env, s.n));
  KVMDBG_SEGS(X)
#undef X
  o.Set("gdt", DtableToJs(env, s.gdt));
  o.Set("idt", DtableToJs(env, s.idt));
#define X(c, js) o.Set(#js, Big(env, s.c));
  KVMDBG_CRS(X)
#undef X
  constexpr size_t kWords = sizeof s.interrupt_bitmap / sizeof s.interrupt_bitmap[0];
  Napi::Array bitmap = Napi::Array::New(env, kWords);
  for (size_t i = 0; i < kWords; i++) bitmap.Set(static_cast<uint32_t>(i), Big(env, s.interrupt_bitmap[i]));
  o.Set("interruptBitmap", bitmap);
  return o;
}

// Fields absent from the object keep their current values (a BootCpuState's
// sregs has no tr/ldt/cr2/cr8), so callers can set only what they mean to.
Napi::Value Vcpu::SetSregs(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  Napi::Object o = Arg(info, "sregs");
  kvm_sregs s;
  Ioctl(env, Fd(env), KVM_GET_SREGS, &s, "KVM_GET_SREGS");
  auto has = [&](const char* k) { return o.Has(k) && !o.Get(k).IsUndefined(); };
#define X(n) \
  if (has(#n)) SegmentFromJs(o.Get(#n), &s.n, #n);
  KVMDBG_SEGS(X)
#undef X
  if (has("gdt")) DtableFromJs(o.Get("gdt"), &s.gdt, "gdt");
  if (has("idt")) DtableFromJs(o.Get("idt"), &s.idt, "idt");
#define X(c, js) \
  if (has(#js)) s.c = ToU64(o.Get(#js), #js);
  KVMDBG_CRS(X)
#undef X
  if (has("interruptBitmap")) {
    Napi::Value v = o.Get("interruptBitmap");
    if (!v.IsArray()) ThrowType(env, "interruptBitmap must be an array of 4 bigints");
    Napi::Array a = v.As<Napi::Array>();
    constexpr size_t kWords = sizeof s.interrupt_bitmap / sizeof s.interrupt_bitmap[0];
    for (uint32_t i = 0; i < kWords; i++) {
      s.interrupt_bitmap[i] = i < a.Length() ? ToU64(a.Get(i), "interruptBitmap word") : 0;
    }
  }
  Ioctl(env, fd_, KVM_SET_SREGS, &s, "KVM_SET_SREGS");
  return env.Undefined();
}

Napi::Value Vcpu::GetFpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_fpu f;
  Ioctl(env, Fd(env), KVM_GET_FPU, &f, "KVM_GET_FPU");
  Napi::Object o = Napi::Object::New(env);
  o.Set("fpr", CopyOut(env, f.fpr, sizeof f.fpr));
  o.Set("fcw", Napi::Number::New(env, f.fcw));
  o.Set("fsw", Napi::Number::New(env, f.fsw));
  o.Set("ftwx", Napi::Number::New(env, f.ftwx));
  o.Set("lastOpcode", Napi::Number::New(env, f.last_opcode));
  o.Set("lastIp", Big(env, f.last_ip));
  o.Set("lastDp", Big(env, f.last_dp));
  o.Set("xmm", CopyOut(env, f.xmm, sizeof f.xmm));
  o.Set("mxcsr", Napi::Number::New(env, f.mxcsr));
  return o;
}

Napi::Value Vcpu::SetFpu(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  Napi::Object o = Arg(info, "fpu");
  kvm_fpu f = {};
  CopyIn(o.Get("fpr"), f.fpr, sizeof f.fpr, "fpu.fpr");
  CopyIn(o.Get("xmm"), f.xmm, sizeof f.xmm, "fpu.xmm");
  f.fcw = static_cast<uint16_t>(ToU32(o.Get("fcw"), "fcw"));
  f.fsw = static_cast<uint16_t>(ToU32(o.Get("fsw"), "fsw"));
  f.ftwx = static_cast<uint8_t>(ToU32(o.Get("ftwx"), "ftwx"));
  f.last_opcode = static_cast<uint16_t>(ToU32(o.Get("lastOpcode"), "lastOpcode"));
  f.last_ip = ToU64(o.Get("lastIp"), "lastIp");
  f.last_dp = ToU64(o.Get("lastDp"), "lastDp");
  f.mxcsr = ToU32(o.Get("mxcsr"), "mxcsr");
  Ioctl(env, Fd(env), KVM_SET_FPU, &f, "KVM_SET_FPU");
  return env.Undefined();
}

Napi::Value Vcpu::GetXsave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Hosts with large XSAVE features (AMX) refuse KVM_GET_XSAVE: use
  // KVM_GET_XSAVE2 with the size KVM_CAP_XSAVE2 gave (the Vm passed it in).
  if (xsaveSize_ > sizeof(abi::Xsave)) {
    std::vector<uint8_t> x(xsaveSize_);
    Ioctl(env, Fd(env), abi::kGetXsave2, x.data(), "KVM_GET_XSAVE2");
    return CopyOut(env, x.data(), x.size());
  }
  abi::Xsave x;
  Ioctl(env, Fd(env), abi::kGetXsave, &x, "KVM_GET_XSAVE");
  return CopyOut(env, x.region, sizeof x.region);
}

Napi::Value Vcpu::SetXsave(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  // KVM_SET_XSAVE reads as many bytes as KVM_GET_XSAVE2 wrote.
  std::vector<uint8_t> x(xsaveSize_ > sizeof(abi::Xsave) ? xsaveSize_ : sizeof(abi::Xsave));
  CopyIn(info[0], x.data(), x.size(), "xsave");
  Ioctl(env, Fd(env), abi::kSetXsave, x.data(), "KVM_SET_XSAVE");
  return env.Undefined();
}

// (indices: number[]) -> MsrEntry[] for the prefix KVM could read: KVM stops
// at the first MSR it refuses.
Napi::Value Vcpu::GetMsrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "getMsrs takes an array of MSR indices");
  Napi::Array idx = info[0].As<Napi::Array>();
  uint32_t n = idx.Length();
  if (n > 4096) ThrowRange(env, "too many MSRs in one call");
  std::vector<uint8_t> mem(sizeof(abi::MsrsHeader) + n * sizeof(kvm_msr_entry));
  auto* m = reinterpret_cast<abi::MsrsHeader*>(mem.data());
  auto* entries = reinterpret_cast<kvm_msr_entry*>(m + 1);
  m->nmsrs = n;
  for (uint32_t i = 0; i < n; i++) entries[i].index = ToU32(idx.Get(i), "MSR index");
  int r = ioctl(Fd(env), abi::kGetMsrs, m);
  if (r < 0) ThrowIoctl(env, "KVM_GET_MSRS", errno);
  Napi::Array out = Napi::Array::New(env, r);
  for (uint32_t i = 0; i < static_cast<uint32_t>(r) && i < n; i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("index", Napi::Number::New(env, entries[i].index));
    e.Set("value", Big(env, entries[i].data));
    out.Set(i, e);
  }
  return out;
}

Napi::Value Vcpu::SetMsrs(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "setMsrs takes an array of { index, value }");
  Napi::Array in = info[0].As<Napi::Array>();
  uint32_t n = in.Length();
  if (n > 4096) ThrowRange(env, "too many MSRs in one call");
  std::vector<uint8_t> mem(sizeof(abi::MsrsHeader) + n * sizeof(kvm_msr_entry));
  auto* m = reinterpret_cast<abi::MsrsHeader*>(mem.data());
  auto* entries = reinterpret_cast<kvm_msr_entry*>(m + 1);
  m->nmsrs = n;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = in.Get(i);
    if (!v.IsObject()) ThrowType(env, "setMsrs entries must be { index, value }");
    Napi::Object e = v.As<Napi::Object>();
    entries[i].index = ToU32(e.Get("index"), "MSR index");
    entries[i].data = ToU64(e.Get("value"), "MSR value");
  }
  int r = ioctl(Fd(env), abi::kSetMsrs, m);
  if (r < 0) ThrowIoctl(env, "KVM_SET_MSRS", errno);
  if (static_cast<uint32_t>(r) < n) {
    char hex[16];
    snprintf(hex, sizeof hex, "0x%x", entries[r].index);
    ThrowKvm(env,
             "KVM_SET_MSRS set " + std::to_string(r) + " of " + std::to_string(n) + " MSRs: KVM refused MSR " + hex,
             "KVM_SET_MSRS");
  }
  return Napi::Number::New(env, r);
}

Napi::Value Vcpu::SetCpuid2(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "setCpuid2 takes an array of CpuidEntry");
  Napi::Array in = info[0].As<Napi::Array>();
  uint32_t n = in.Length();
  if (n > 4096) ThrowRange(env, "too many CPUID entries");
  std::vector<uint8_t> mem(sizeof(abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
  auto* c = reinterpret_cast<abi::Cpuid2Header*>(mem.data());
  auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(c + 1);
  c->nent = n;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = in.Get(i);
    if (!v.IsObject()) ThrowType(env, "CPUID entries must be objects");
    Napi::Object e = v.As<Napi::Object>();
    kvm_cpuid_entry2& d = entries[i];
    d.function = ToU32(e.Get("function"), "cpuid function");
    d.index = ToU32(e.Get("index"), "cpuid index");
    d.flags = ToU32(e.Get("flags"), "cpuid flags");
    d.eax = ToU32(e.Get("eax"), "eax");
    d.ebx = ToU32(e.Get("ebx"), "ebx");
    d.ecx = ToU32(e.Get("ecx"), "ecx");
    d.edx = ToU32(e.Get("edx"), "edx");
  }
  Ioctl(env, Fd(env), abi::kSetCpuid2, c, "KVM_SET_CPUID2");
  return env.Undefined();
}

Napi::Value Vcpu::GetLapic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_lapic_state l;
  Ioctl(env, Fd(env), KVM_GET_LAPIC, &l, "KVM_GET_LAPIC");
  return CopyOut(env, l.regs, sizeof l.regs);
}

Napi::Value Vcpu::SetLapic(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  kvm_lapic_state l;
  CopyIn(info[0], l.regs, sizeof l.regs, "lapic");
  Ioctl(env, Fd(env), KVM_SET_LAPIC, &l, "KVM_SET_LAPIC");
  return env.Undefined();
}

Napi::Value Vcpu::GetMpState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_mp_state m;
  Ioctl(env, Fd(env), KVM_GET_MP_STATE, &m, "KVM_GET_MP_STATE");
  return Napi::Number::New(env, m.mp_state);
}

Napi::Value Vcpu::SetMpState(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  kvm_mp_state m;
  m.mp_state = ToU32(info[0], "mp state");
  Ioctl(env, Fd(env), KVM_SET_MP_STATE, &m, "KVM_SET_MP_STATE");
  return env.Undefined();
}

Napi::Value Vcpu::GetVcpuEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_vcpu_events e;
  Ioctl(env, Fd(env), KVM_GET_VCPU_EVENTS, &e, "KVM_GET_VCPU_EVENTS");
  Napi::Object o = Napi::Object::New(env);
  o.Set("exceptionInjected", Napi::Boolean::New(env, e.exception.injected));
  o.Set("exceptionNr", Napi::Number::New(env, e.exception.nr));
  o.Set("exceptionHasErrorCode", Napi::Boolean::New(env, e.exception.has_error_code));
  o.Set("exceptionErrorCode", Napi::Number::New(env, e.exception.error_code));
  o.Set("interruptInjected", Napi::Boolean::New(env, e.interrupt.injected));
  o.Set("interruptNr", Napi::Number::New(env, e.interrupt.nr));
  o.Set("nmiInjected", Napi::Boolean::New(env, e.nmi.injected));
  o.Set("nmiPending", Napi::Boolean::New(env, e.nmi.pending));
  o.Set("nmiMasked", Napi::Boolean::New(env, e.nmi.masked));
  return o;
}

// Drops an exception KVM queued or injected for the guest (KVM_SET_VCPU_EVENTS with it
// cleared; interrupts and NMIs as they were). Some hosts queue a #UD when their
// emulator gives up, before the internal-error exit: a retry after the cause is
// gone must not deliver it. True when there was one.
Napi::Value Vcpu::DropException(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_vcpu_events e;
  Ioctl(env, Fd(env), KVM_GET_VCPU_EVENTS, &e, "KVM_GET_VCPU_EVENTS");
  const bool had = e.exception.injected || e.exception.pending;
  if (had) {
    e.exception.injected = 0;
    e.exception.pending = 0;
    e.exception.nr = 0;
    e.exception.has_error_code = 0;
    e.exception.error_code = 0;
    e.flags = 0;
    Ioctl(env, Fd(env), KVM_SET_VCPU_EVENTS, &e, "KVM_SET_VCPU_EVENTS");
  }
  return Napi::Boolean::New(env, had);
}

// The guest's own DR0-3/DR6/DR7 (KVM_GET_DEBUGREGS), for the register view.
Napi::Value Vcpu::GetDebugRegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_debugregs d;
  Ioctl(env, Fd(env), KVM_GET_DEBUGREGS, &d, "KVM_GET_DEBUGREGS");
  Napi::Object o = Napi::Object::New(env);
  Napi::Array db = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; i++) db.Set(i, Big(env, d.db[i]));
  o.Set("db", db);
  o.Set("dr6", Big(env, d.dr6));
  o.Set("dr7", Big(env, d.dr7));
  return o;
}

// (control: number, debugreg: bigint[8])
Napi::Value Vcpu::SetGuestDebug(const Napi::CallbackInfo& info) {
  ForgetSynced();
  Napi::Env env = info.Env();
  kvm_guest_debug g = {};
  g.control = ToU32(info[0], "guest debug control");
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 8; i++) g.arch.debugreg[i] = ToU64(a.Get(i), "debugreg");
  }
  Ioctl(env, Fd(env), KVM_SET_GUEST_DEBUG, &g, "KVM_SET_GUEST_DEBUG");
  return env.Undefined();
}

Napi::Value Vcpu::Translate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_translation t = {};
  t.linear_address = ToU64(info[0], "guest virtual address");
  Ioctl(env, Fd(env), KVM_TRANSLATE, &t, "KVM_TRANSLATE");
  Napi::Object o = Napi::Object::New(env);
  o.Set("physicalAddress", Big(env, t.physical_address));
  o.Set("valid", Napi::Boolean::New(env, t.valid));
  o.Set("writeable", Napi::Boolean::New(env, t.writeable));
  o.Set("usermode", Napi::Boolean::New(env, t.usermode));
  return o;
}

}  // namespace kvmdbg
