#include "vm.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "convert.h"
#include "errors.h"
#include "exit_buffer.h"
#include "instance.h"
#include "kvm_abi.h"
#include "shared_view.h"
#include "vcpu.h"

namespace kvmdbg {

static constexpr uint64_t kPage = 4096;

Napi::Function Vm::Define(Napi::Env env) {
  return DefineClass(env, "RawVm",
                     {
                         InstanceMethod<&Vm::SetUserMemoryRegion>("setUserMemoryRegion"),
                         InstanceMethod<&Vm::SetTssAddr>("setTssAddr"),
                         InstanceMethod<&Vm::SetIdentityMapAddr>("setIdentityMapAddr"),
                         InstanceMethod<&Vm::CreateIrqchip>("createIrqchip"),
                         InstanceMethod<&Vm::CreatePit2>("createPit2"),
                         InstanceMethod<&Vm::IrqLine>("irqLine"),
                         InstanceMethod<&Vm::CheckExtension>("checkExtension"),
                         InstanceMethod<&Vm::EnableCap>("enableCap"),
                         InstanceMethod<&Vm::GetDirtyLog>("getDirtyLog"),
                         InstanceMethod<&Vm::CreateVcpu>("createVcpu"),
                         InstanceMethod<&Vm::FdNumber>("fd"),
                         InstanceMethod<&Vm::Close>("close"),
                     });
}

Vm::Vm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vm>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "create a Vm with Kvm.createVm()");
  VmInit* init = info[0].As<Napi::External<VmInit>>().Data();
  fd_ = init->fd;
  vcpuMmapSize_ = init->vcpuMmapSize;
}

Vm::~Vm() {
  if (fd_ >= 0) close(fd_);
}

int Vm::Fd(Napi::Env env) const {
  if (fd_ < 0) ThrowKvm(env, "this Vm is closed", "close", EBADF);
  return fd_;
}

void Vm::VcpuClosed() {
  liveVcpus_--;
  ReleaseMemoryIfUnused();
}

void Vm::ReleaseMemoryIfUnused() {
  if (fd_ < 0 && liveVcpus_ == 0) regions_.clear();
}

// (slot, flags, guestPhys, size, view: Uint8Array over the SharedArrayBuffer, offset)
Napi::Value Vm::SetUserMemoryRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t slot = ToU32(info[0], "slot");
  uint32_t flags = ToU32(info[1], "flags");
  uint64_t guestPhys = ToSafeIndex(info[2], "guestPhys");
  uint64_t size = ToSafeIndex(info[3], "size");
  uint64_t offset = ToSafeIndex(info[5], "offset");
  kvm_userspace_memory_region r = {};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = guestPhys;
  r.memory_size = size;
  if (guestPhys % kPage || size % kPage) {
    ThrowRange(env, "memory region guestPhys and size must be multiples of 4096");
  }
  if (size != 0) {
    SharedView view = GetSharedView(info[4], "guest RAM buffer");
    if (offset > view.length || size > view.length - offset) {
      ThrowRange(env, "memory region (offset " + std::to_string(offset) + ", size " + std::to_string(size) +
                          ") does not fit in its " + std::to_string(view.length) + "-byte buffer");
    }
    uintptr_t host = reinterpret_cast<uintptr_t>(view.data) + offset;
    if (host % kPage) {
      ThrowRange(env, "memory region offset " + std::to_string(offset) +
                          " is not page-aligned in memory: start the first region at pageAlignedOffset(buffer)");
    }
    r.userspace_addr = host;
  }
  if (ioctl(fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) ThrowIoctl(env, "KVM_SET_USER_MEMORY_REGION", errno);
  if (size == 0) {
    regions_.erase(slot);
  } else {
    regions_[slot] = Napi::Persistent(info[4].As<Napi::Object>());
  }
  return env.Undefined();
}

Napi::Value Vm::SetTssAddr(const Napi::CallbackInfo& info) {
  uint64_t addr = ToU64(info[0], "TSS address");
  if (ioctl(Fd(info.Env()), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) {
    ThrowIoctl(info.Env(), "KVM_SET_TSS_ADDR", errno);
  }
  return info.Env().Undefined();
}

Napi::Value Vm::SetIdentityMapAddr(const Napi::CallbackInfo& info) {
  uint64_t addr = ToU64(info[0], "identity map address");
  if (ioctl(Fd(info.Env()), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
    ThrowIoctl(info.Env(), "KVM_SET_IDENTITY_MAP_ADDR", errno);
  }
  return info.Env().Undefined();
}

Napi::Value Vm::CreateIrqchip(const Napi::CallbackInfo& info) {
  if (ioctl(Fd(info.Env()), KVM_CREATE_IRQCHIP, 0) < 0) ThrowIoctl(info.Env(), "KVM_CREATE_IRQCHIP", errno);
  return info.Env().Undefined();
}

Napi::Value Vm::CreatePit2(const Napi::CallbackInfo& info) {
  kvm_pit_config c = {};
  c.flags = info.Length() > 0 && !info[0].IsUndefined() ? ToU32(info[0], "PIT flags") : 0;
  if (ioctl(Fd(info.Env()), KVM_CREATE_PIT2, &c) < 0) ThrowIoctl(info.Env(), "KVM_CREATE_PIT2", errno);
  return info.Env().Undefined();
}

Napi::Value Vm::IrqLine(const Napi::CallbackInfo& info) {
  kvm_irq_level l = {};
  l.irq = ToU32(info[0], "irq");
  l.level = ToU32(info[1], "level");
  if (ioctl(Fd(info.Env()), KVM_IRQ_LINE, &l) < 0) ThrowIoctl(info.Env(), "KVM_IRQ_LINE", errno);
  return info.Env().Undefined();
}

Napi::Value Vm::CheckExtension(const Napi::CallbackInfo& info) {
  int r = ioctl(Fd(info.Env()), KVM_CHECK_EXTENSION, ToU32(info[0], "capability"));
  if (r < 0) ThrowIoctl(info.Env(), "KVM_CHECK_EXTENSION", errno);
  return Napi::Number::New(info.Env(), r);
}

// (cap, args: bigint[] up to 4)
Napi::Value Vm::EnableCap(const Napi::CallbackInfo& info) {
  kvm_enable_cap c = {};
  c.cap = ToU32(info[0], "capability");
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 4; i++) c.args[i] = ToU64(a.Get(i), "capability argument");
  }
  if (ioctl(Fd(info.Env()), KVM_ENABLE_CAP, &c) < 0) ThrowIoctl(info.Env(), "KVM_ENABLE_CAP", errno);
  return info.Env().Undefined();
}

// (slot, bitmap: Uint8Array with one bit a page of the slot, rounded up to 8 bytes)
// KVM_GET_DIRTY_LOG copies the slot's dirty bits out and clears them.
Napi::Value Vm::GetDirtyLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  uint32_t slot = ToU32(info[0], "slot");
  if (info.Length() < 2 || !info[1].IsTypedArray()) ThrowType(env, "getDirtyLog needs a Uint8Array bitmap");
  Napi::Uint8Array bitmap = info[1].As<Napi::Uint8Array>();
  if (bitmap.ByteLength() % 8) ThrowRange(env, "the dirty bitmap's length must be a multiple of 8 bytes");
  kvm_dirty_log log = {};
  log.slot = slot;
  log.dirty_bitmap = bitmap.Data();
  if (ioctl(fd, KVM_GET_DIRTY_LOG, &log) < 0) ThrowIoctl(env, "KVM_GET_DIRTY_LOG", errno);
  return env.Undefined();
}

// (id, exitView: Uint8Array over a SharedArrayBuffer of at least exitbuf::kSize bytes)
Napi::Value Vm::CreateVcpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int vmfd = Fd(env);
  uint32_t id = ToU32(info[0], "vCPU id");
  SharedView exitView = GetSharedView(info[1], "exit buffer");
  if (exitView.length < exitbuf::kSize) ThrowRange(env, "exit buffer is too small");
  int fd = ioctl(vmfd, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) ThrowIoctl(env, "KVM_CREATE_VCPU", errno);
  void* run = mmap(nullptr, vcpuMmapSize_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) {
    int err = errno;
    close(fd);
    ThrowKvm(env, "mapping the vCPU's kvm_run area failed: " + ErrnoText(err), "mmap", err);
  }
  int xsave2 = ioctl(vmfd, KVM_CHECK_EXTENSION, abi::kCapXsave2);
  size_t xsaveSize = xsave2 > 0 ? static_cast<size_t>(xsave2) : sizeof(abi::Xsave);
  VcpuInit init{fd, static_cast<kvm_run*>(run), vcpuMmapSize_, id, this, exitView.data, xsaveSize};
  Napi::Object vcpu = Instance::Get(env)->vcpuClass.New(
      {Napi::External<VcpuInit>::New(env, &init), Value(), info[1]});
  liveVcpus_++;
  return vcpu;
}

Napi::Value Vm::FdNumber(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Fd(info.Env()));
}

Napi::Value Vm::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  ReleaseMemoryIfUnused();
  return info.Env().Undefined();
}

}  // namespace kvmdbg
