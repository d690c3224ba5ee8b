// The process-wide kick registry: any thread (the DAP main thread, another
// worker) can make a vCPU's KVM_RUN return by token, because Node objects
// cannot cross threads but integers can. A kick sets kvm_run->immediate_exit
// (covers the window before KVM_RUN is entered) and signals the thread inside
// KVM_RUN (covers a guest spinning with interrupts off), as kvmtool and
// Firecracker do.
#pragma once
#include <linux/kvm.h>

#include <cstdint>

namespace kvmdbg::kick {

// A real-time signal no one else in Node uses; its handler does nothing: the
// point is only that KVM_RUN returns EINTR.
int Signal();
// Installs the handler (once per process).
void InstallHandler();

// One vCPU's kick state. Its address is stable from Register to Unregister,
// so the vCPU thread brackets each KVM_RUN with atomics and no lock; only
// Kick and Unregister take the registry's mutex.
struct Entry;

// Registers `run` and returns its token and entry.
uint32_t Register(kvm_run* run, Entry** entry);
// After this returns, no kick will touch `run` again and the entry is freed
// (call before munmap).
void Unregister(uint32_t token);

// Returns false if the token names no live vCPU.
bool Kick(uint32_t token);

// Bracket KVM_RUN. Leave() reports whether this run should count as a kick
// (an EINTR), consuming the pending kick; a kick that raced with a normal exit
// stays pending, so the next run returns at once: no kick is ever lost.
void Enter(Entry* entry);
bool Leave(Entry* entry, bool interrupted);
// Forces immediate_exit for one KVM_RUN (to complete pending I/O) and restores
// it afterwards without losing a kick that arrives meanwhile.
void ForceImmediateExit(Entry* entry);
void RestoreImmediateExit(Entry* entry);

}  // namespace kvmdbg::kick
