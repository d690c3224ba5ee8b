#include "kick.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace kvmdbg::kick {

struct Entry {
  kvm_run* run;
  std::atomic<pthread_t> thread{};
  std::atomic<bool> inRun{false};
  std::atomic<bool> pending{false};
};

namespace {

std::mutex mu;
std::unordered_map<uint32_t, Entry*>* entries = new std::unordered_map<uint32_t, Entry*>();  // never freed: outlives every env
uint32_t nextToken = 1;
std::once_flag installed;
thread_local bool unblocked = false;

void OnKick(int) {}

// Node, libuv or an embedder may have blocked signals in this thread; KVM_RUN
// only returns for a signal that can be delivered.
void UnblockHere() {
  if (unblocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, Signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  unblocked = true;
}

}  // namespace

int Signal() { return SIGRTMIN + 3; }

void InstallHandler() {
  std::call_once(installed, [] {
    struct sigaction sa = {};
    sa.sa_handler = OnKick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    sigaction(Signal(), &sa, nullptr);
  });
}

uint32_t Register(kvm_run* run, Entry** entry) {
  std::lock_guard<std::mutex> lock(mu);
  uint32_t token = nextToken++;
  if (nextToken == 0) nextToken = 1;
  Entry* e = new Entry();
  e->run = run;
  (*entries)[token] = e;
  *entry = e;
  return token;
}

void Unregister(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it == entries->end()) return;
  delete it->second;
  entries->erase(it);
}

bool Kick(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it == entries->end()) return false;
  Entry* e = it->second;
  e->pending.store(true);
  // immediate_exit covers a vCPU about to enter KVM_RUN; the signal one inside it.
  __atomic_store_n(&e->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (e->inRun.load()) pthread_kill(e->thread.load(), Signal());
  return true;
}

void Enter(Entry* e) {
  UnblockHere();
  e->thread.store(pthread_self(), std::memory_order_relaxed);
  e->inRun.store(true);
}

bool Leave(Entry* e, bool interrupted) {
  e->inRun.store(false);
  if (interrupted) {
    e->pending.store(false);
    __atomic_store_n(&e->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  }
  return interrupted;
}

void ForceImmediateExit(Entry* e) {
  __atomic_store_n(&e->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

void RestoreImmediateExit(Entry* e) {
  __atomic_store_n(&e->run->immediate_exit, e->pending.load() ? 1 : 0, __ATOMIC_SEQ_CST);
}

}  // namespace kvmdbg::kick
