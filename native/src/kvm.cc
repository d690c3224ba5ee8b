#include "kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "instance.h"
#include "kvm_abi.h"
#include "vm.h"

namespace kvmdbg {

namespace {

[[noreturn]] void ThrowOpen(Napi::Env env, const std::string& path, int err) {
  const std::string prefix = "KVM is not available on this host: ";
  if (err == ENOENT || err == ENXIO || err == ENODEV) {
    ThrowKvm(env,
             prefix + path +
                 " does not exist (enable virtualization in the firmware and load kvm-intel or kvm-amd, or run "
                 "inside the project's KVM sandbox)",
             "open", err);
  }
  if (err == EACCES || err == EPERM) {
    ThrowKvm(env,
             prefix + "permission denied opening " + path +
                 ": add your user to the kvm group: sudo usermod -aG kvm $USER, then log in again",
             "open", err);
  }
  ThrowKvm(env, prefix + "opening " + path + " failed: " + ErrnoText(err), "open", err);
}

}  // namespace

Napi::Function Kvm::Define(Napi::Env env) {
  return DefineClass(env, "RawKvm",
                     {
                         InstanceMethod<&Kvm::ApiVersion>("apiVersion"),
                         InstanceMethod<&Kvm::CheckExtension>("checkExtension"),
                         InstanceMethod<&Kvm::VcpuMmapSize>("vcpuMmapSize"),
                         InstanceMethod<&Kvm::SupportedCpuid>("supportedCpuid"),
                         InstanceMethod<&Kvm::MsrIndexList>("msrIndexList"),
                         InstanceMethod<&Kvm::CreateVm>("createVm"),
                         InstanceMethod<&Kvm::AdoptVm>("adoptVm"),
                         InstanceMethod<&Kvm::Close>("close"),
                     });
}

Kvm::Kvm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Kvm>(info) {
  Napi::Env env = info.Env();
  std::string path = "/dev/kvm";
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) ThrowType(env, "the KVM device path must be a string");
    path = info[0].As<Napi::String>().Utf8Value();
  }
  fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) ThrowOpen(env, path, errno);
  int version = ioctl(fd_, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    int err = version < 0 ? errno : 0;
    close(fd_);
    fd_ = -1;
    if (err) ThrowIoctl(env, "KVM_GET_API_VERSION", err);
    ThrowKvm(env,
             "KVM on this host speaks API version " + std::to_string(version) + "; kvmdbg needs version " +
                 std::to_string(KVM_API_VERSION),
             "KVM_GET_API_VERSION");
  }
}

Kvm::~Kvm() {
  if (fd_ >= 0) close(fd_);
}

int Kvm::Fd(Napi::Env env) const {
  if (fd_ < 0) ThrowKvm(env, "this Kvm handle is closed", "close", EBADF);
  return fd_;
}

Napi::Value Kvm::ApiVersion(const Napi::CallbackInfo& info) {
  int r = ioctl(Fd(info.Env()), KVM_GET_API_VERSION, 0);
  if (r < 0) ThrowIoctl(info.Env(), "KVM_GET_API_VERSION", errno);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Kvm::CheckExtension(const Napi::CallbackInfo& info) {
  uint32_t cap = ToU32(info[0], "capability");
  int r = ioctl(Fd(info.Env()), KVM_CHECK_EXTENSION, cap);
  if (r < 0) ThrowIoctl(info.Env(), "KVM_CHECK_EXTENSION", errno);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Kvm::VcpuMmapSize(const Napi::CallbackInfo& info) {
  int r = ioctl(Fd(info.Env()), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r < 0) ThrowIoctl(info.Env(), "KVM_GET_VCPU_MMAP_SIZE", errno);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Kvm::SupportedCpuid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  for (uint32_t n = 128;; n *= 2) {
    std::vector<uint8_t> mem(sizeof(abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    auto* c = reinterpret_cast<abi::Cpuid2Header*>(mem.data());
    auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(c + 1);
    c->nent = n;
    if (ioctl(fd, abi::kGetSupportedCpuid, c) < 0) {
      if (errno == E2BIG && n < 65536) continue;
      ThrowIoctl(env, "KVM_GET_SUPPORTED_CPUID", errno);
    }
    uint32_t count = c->nent < n ? c->nent : n;
    Napi::Array out = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) {
      const kvm_cpuid_entry2& e = entries[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("function", Napi::Number::New(env, e.function));
      o.Set("index", Napi::Number::New(env, e.index));
      o.Set("flags", Napi::Number::New(env, e.flags));
      o.Set("eax", Napi::Number::New(env, e.eax));
      o.Set("ebx", Napi::Number::New(env, e.ebx));
      o.Set("ecx", Napi::Number::New(env, e.ecx));
      o.Set("edx", Napi::Number::New(env, e.edx));
      out.Set(i, o);
    }
    return out;
  }
}

Napi::Value Kvm::MsrIndexList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  abi::MsrListHeader probe = {};
  // With nmsrs = 0 KVM fails with E2BIG and reports the count it needs.
  if (ioctl(fd, abi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG) {
    ThrowIoctl(env, "KVM_GET_MSR_INDEX_LIST", errno);
  }
  uint32_t n = probe.nmsrs;
  std::vector<uint8_t> mem(sizeof(abi::MsrListHeader) + n * sizeof(uint32_t));
  auto* list = reinterpret_cast<abi::MsrListHeader*>(mem.data());
  auto* indices = reinterpret_cast<uint32_t*>(list + 1);
  list->nmsrs = n;
  if (ioctl(fd, abi::kGetMsrIndexList, list) < 0) ThrowIoctl(env, "KVM_GET_MSR_INDEX_LIST", errno);
  uint32_t count = list->nmsrs < n ? list->nmsrs : n;
  Napi::Array out = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; i++) out.Set(i, Napi::Number::New(env, indices[i]));
  return out;
}

Napi::Value Kvm::CreateVm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  int mmapSize = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmapSize < 0) ThrowIoctl(env, "KVM_GET_VCPU_MMAP_SIZE", errno);
  int vmfd;
  do {
    vmfd = ioctl(fd, KVM_CREATE_VM, 0);
  } while (vmfd < 0 && errno == EINTR);
  if (vmfd < 0) ThrowIoctl(env, "KVM_CREATE_VM", errno);
  VmInit init{vmfd, static_cast<size_t>(mmapSize)};
  return Instance::Get(env)->vmClass.New({Napi::External<VmInit>::New(env, &init)});
}

// (fd): a Vm over a duplicate of another thread's VM fd, so that a worker can
// create its own vCPU on the same VM (Node objects cannot cross threads; fd
// numbers can). The duplicate is checked to be a KVM VM fd.
Napi::Value Kvm::AdoptVm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(env);
  int source = static_cast<int>(ToU32(info[0], "VM fd"));
  int mmapSize = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmapSize < 0) ThrowIoctl(env, "KVM_GET_VCPU_MMAP_SIZE", errno);
  int vmfd = fcntl(source, F_DUPFD_CLOEXEC, 0);
  if (vmfd < 0) ThrowKvm(env, "fd " + std::to_string(source) + " cannot be shared: " + ErrnoText(errno), "dup", errno);
  if (ioctl(vmfd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) < 0) {
    int err = errno;
    close(vmfd);
    ThrowKvm(env, "fd " + std::to_string(source) + " is not a KVM VM", "KVM_CHECK_EXTENSION", err);
  }
  VmInit init{vmfd, static_cast<size_t>(mmapSize)};
  return Instance::Get(env)->vmClass.New({Napi::External<VmInit>::New(env, &init)});
}

Napi::Value Kvm::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

}  // namespace kvmdbg
