#include "futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>

#include "convert.h"
#include "errors.h"
#include "shared_view.h"

namespace kvmdbg {

namespace {

// The word at byte `offset` of the Uint8Array `view` (over a SharedArrayBuffer), bounds- and alignment-checked.
std::atomic<int32_t>* Word(const Napi::CallbackInfo& info) {
  SharedView v = GetSharedView(info[0], "futex buffer");
  uint64_t offset = ToSafeIndex(info[1], "futex word offset");
  if (offset % 4 != 0 || offset + 4 > v.length) {
    ThrowRange(info.Env(), "futex word offset " + std::to_string(offset) + " is not an aligned word inside the " +
                               std::to_string(v.length) + "-byte buffer");
  }
  static_assert(sizeof(std::atomic<int32_t>) == 4 && std::atomic<int32_t>::is_always_lock_free);
  return reinterpret_cast<std::atomic<int32_t>*>(v.data + offset);
}

int64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// (view, offset, expected, timeoutMs): waits while the word equals `expected`.
// 'changed' (the word differs now), or 'timed-out'. Spurious wakes and signals
// are absorbed here.
Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::atomic<int32_t>* word = Word(info);
  if (!info[2].IsNumber() || !info[3].IsNumber()) ThrowType(env, "futexWait takes (view, offset, expected, timeoutMs) numbers");
  int32_t expected = info[2].As<Napi::Number>().Int32Value();
  double timeoutMs = info[3].As<Napi::Number>().DoubleValue();
  if (!(timeoutMs >= 0)) ThrowRange(env, "futexWait: the timeout must be a non-negative number of ms");
  const int64_t deadline = NowNs() + static_cast<int64_t>(timeoutMs * 1e6);
  while (word->load(std::memory_order_seq_cst) == expected) {
    int64_t now = NowNs();
    if (now >= deadline) return Napi::String::New(env, "timed-out");
    int64_t left = deadline - now;
    timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
    long r = syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
    if (r != 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) ThrowIoctl(env, "futex(FUTEX_WAIT)", errno);
  }
  return Napi::String::New(env, "changed");
}

// (view, offset, count): wakes up to `count` threads waiting in FutexWait on the word; how many it woke.
Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  std::atomic<int32_t>* word = Word(info);
  uint32_t count = ToU32(info[2], "futex wake count");
  long r = syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAKE_PRIVATE, static_cast<int>(count > INT32_MAX ? INT32_MAX : count), nullptr, nullptr, 0);
  if (r < 0) ThrowIoctl(info.Env(), "futex(FUTEX_WAKE)", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(r));
}

}  // namespace

void RegisterFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWait", Napi::Function::New<FutexWait>(env, "futexWait"));
  exports.Set("futexWake", Napi::Function::New<FutexWake>(env, "futexWake"));
}

}  // namespace kvmdbg
