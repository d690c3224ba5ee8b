#include "exit_buffer.h"

#include <cstring>

namespace kvmdbg::exitbuf {

namespace {

template <typename T>
void Put(uint8_t* buf, size_t off, T v) {
  std::memcpy(buf + off, &v, sizeof v);
}

void PutWords(uint8_t* buf, const __u64* words, uint32_t n) {
  std::memcpy(buf + kWords, words, n * sizeof(__u64));
}

Decoded Io(kvm_run* run, size_t mmapSize, uint8_t* buf) {
  Decoded d{KVM_EXIT_IO, nullptr, 0, true, {}};
  const auto& io = run->io;
  uint64_t len = static_cast<uint64_t>(io.count) * io.size;
  if (io.size != 1 && io.size != 2 && io.size != 4) {
    d.error = "io exit with access size " + std::to_string(io.size);
    return d;
  }
  if (len > kDataMax || io.data_offset > mmapSize || len > mmapSize - io.data_offset) {
    d.error = "io exit whose data (offset " + std::to_string(io.data_offset) + ", " + std::to_string(len) +
              " bytes) lies outside kvm_run";
    return d;
  }
  Put<uint32_t>(buf, kA, io.direction);
  Put<uint32_t>(buf, kB, io.port);
  Put<uint32_t>(buf, kC, io.size);
  Put<uint32_t>(buf, kD, io.count);
  uint8_t* src = reinterpret_cast<uint8_t*>(run) + io.data_offset;
  if (io.direction == KVM_EXIT_IO_OUT) {
    std::memcpy(buf + kData, src, len);
  } else {
    std::memset(buf + kData, 0, len);
    d.copyBack = src;
    d.copyLen = len;
  }
  return d;
}

Decoded Mmio(kvm_run* run, uint8_t* buf) {
  Decoded d{KVM_EXIT_MMIO, nullptr, 0, true, {}};
  const auto& m = run->mmio;
  if (m.len > sizeof m.data) {
    d.error = "mmio exit with length " + std::to_string(m.len);
    return d;
  }
  Put<uint32_t>(buf, kA, m.is_write ? 1 : 0);
  Put<uint32_t>(buf, kC, m.len);
  Put<double>(buf, kAddr, static_cast<double>(m.phys_addr));
  Put<uint64_t>(buf, kX0, m.phys_addr);
  if (m.is_write) {
    std::memcpy(buf + kData, m.data, m.len);
  } else {
    std::memset(buf + kData, 0, m.len);
    d.copyBack = run->mmio.data;
    d.copyLen = m.len;
  }
  return d;
}

}  // namespace

void WriteReason(uint8_t* buf, uint32_t reason) { Put<uint32_t>(buf, kReason, reason); }

Decoded Decode(kvm_run* run, size_t mmapSize, uint8_t* buf) {
  uint32_t reason = run->exit_reason;
  WriteReason(buf, reason);
  switch (reason) {
    case KVM_EXIT_IO:
      return Io(run, mmapSize, buf);
    case KVM_EXIT_MMIO:
      return Mmio(run, buf);
    case KVM_EXIT_DEBUG:
      Put<uint32_t>(buf, kA, run->debug.arch.exception);
      Put<uint64_t>(buf, kX0, run->debug.arch.pc);
      Put<uint64_t>(buf, kX1, run->debug.arch.dr6);
      Put<uint64_t>(buf, kX2, run->debug.arch.dr7);
      break;
    case KVM_EXIT_FAIL_ENTRY:
      Put<uint64_t>(buf, kX0, run->fail_entry.hardware_entry_failure_reason);
      Put<uint32_t>(buf, kA, run->fail_entry.cpu);
      break;
    case KVM_EXIT_INTERNAL_ERROR: {
      uint32_t n = run->internal.ndata < kMaxWords ? run->internal.ndata : kMaxWords;
      Put<uint32_t>(buf, kA, run->internal.suberror);
      Put<uint32_t>(buf, kB, n);
      PutWords(buf, run->internal.data, n);
      break;
    }
    case KVM_EXIT_SYSTEM_EVENT: {
      uint32_t n = run->system_event.ndata < kMaxWords ? run->system_event.ndata : kMaxWords;
      Put<uint32_t>(buf, kA, run->system_event.type);
      Put<uint32_t>(buf, kB, n);
      PutWords(buf, run->system_event.data, n);
      break;
    }
    case KVM_EXIT_HYPERCALL:
      Put<uint64_t>(buf, kX0, run->hypercall.nr);
      Put<uint64_t>(buf, kX1, run->hypercall.ret);
      Put<uint32_t>(buf, kA, run->hypercall.longmode);
      PutWords(buf, run->hypercall.args, 6);
      // The answer (ret) goes back into kvm_run.hypercall before the next KVM_RUN.
      std::memcpy(buf + kData, &run->hypercall, sizeof run->hypercall);
      return Decoded{reason, reinterpret_cast<uint8_t*>(&run->hypercall), sizeof run->hypercall, false, {}};
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      Put<uint32_t>(buf, kA, run->msr.index);
      Put<uint32_t>(buf, kB, run->msr.reason);
      Put<uint64_t>(buf, kX0, run->msr.data);
      // The answer (error, and data for a read) goes back into kvm_run.msr before the next KVM_RUN.
      std::memcpy(buf + kData, &run->msr, sizeof run->msr);
      return Decoded{reason, reinterpret_cast<uint8_t*>(&run->msr), sizeof run->msr, false, {}};
    default:
      break;
  }
  return Decoded{reason, nullptr, 0, false, {}};
}

}  // namespace kvmdbg::exitbuf
