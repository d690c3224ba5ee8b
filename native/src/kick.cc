#include "kick.h"

#include <pthread.h>
#include <signal.h>

#include <mutex>
#include <unordered_map>

namespace kvmdbg::kick {

namespace {

struct Entry {
  kvm_run* run;
  pthread_t thread;
  bool inRun;
  bool pending;
};

std::mutex mu;
std::unordered_map<uint32_t, Entry>* entries = new std::unordered_map<uint32_t, Entry>();  // never freed: outlives every env
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

uint32_t Register(kvm_run* run) {
  std::lock_guard<std::mutex> lock(mu);
  uint32_t token = nextToken++;
  if (nextToken == 0) nextToken = 1;
  (*entries)[token] = Entry{run, pthread_t{}, false, false};
  return token;
}

void Unregister(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  entries->erase(token);
}

bool Kick(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it == entries->end()) return false;
  Entry& e = it->second;
  e.pending = true;
  __atomic_store_n(&e.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (e.inRun) pthread_kill(e.thread, Signal());
  return true;
}

void Enter(uint32_t token) {
  UnblockHere();
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it == entries->end()) return;
  it->second.inRun = true;
  it->second.thread = pthread_self();
}

bool Leave(uint32_t token, bool interrupted) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it == entries->end()) return interrupted;
  Entry& e = it->second;
  e.inRun = false;
  if (interrupted) {
    e.pending = false;
    __atomic_store_n(&e.run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  }
  return interrupted;
}

void ForceImmediateExit(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it != entries->end()) __atomic_store_n(&it->second.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

void RestoreImmediateExit(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries->find(token);
  if (it != entries->end()) {
    __atomic_store_n(&it->second.run->immediate_exit, it->second.pending ? 1 : 0, __ATOMIC_SEQ_CST);
  }
}

}  // namespace kvmdbg::kick
