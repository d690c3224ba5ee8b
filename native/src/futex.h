// Futex wait and wake on one 32-bit word of a SharedArrayBuffer, for the step
// lane between the DAP thread and a vCPU thread (vmm/machine/step-lane.ts).
// Why not Atomics.wait/notify: V8 routes every waiter and notifier through
// one process-wide mutex and a condition variable per waiter, so a woken
// thread first blocks on the mutex its notifier still holds. strace of an
// instruction step on the PVM host showed six futex handoffs between the two
// threads where one each way is enough, and a cross-CPU wake-up costs ~27 us
// there. A raw futex is one wake.
#pragma once
#include <napi.h>

namespace kvmdbg {

void RegisterFutex(Napi::Env env, Napi::Object exports);

}  // namespace kvmdbg
