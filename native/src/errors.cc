#include "errors.h"

#include <cstring>

#include "instance.h"

namespace kvmdbg {

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  char buf[128];
  const char* text = strerror_r(err, buf, sizeof buf);  // GNU variant returns the string
  std::string out = name ? name : ("errno " + std::to_string(err));
  return out + " (" + text + ")";
}

Napi::Error MakeKvmError(Napi::Env env, const std::string& message, const char* ioctl, int err) {
  const char* code = err ? strerrorname_np(err) : nullptr;
  Napi::Value codeValue = code ? Napi::Value(Napi::String::New(env, code)) : env.Undefined();
  Instance* inst = Instance::Get(env);
  if (inst && !inst->errorClass.IsEmpty()) {
    Napi::Object e = inst->errorClass.New({Napi::String::New(env, message), Napi::String::New(env, ioctl),
                                           Napi::Number::New(env, err), codeValue});
    return Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("name", "KvmError");
  e.Set("ioctl", ioctl);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", codeValue);
  return e;
}

void ThrowIoctl(Napi::Env env, const char* ioctl, int err) {
  throw MakeKvmError(env, std::string(ioctl) + " failed: " + ErrnoText(err), ioctl, err);
}

void ThrowKvm(Napi::Env env, const std::string& message, const char* ioctl, int err) {
  throw MakeKvmError(env, message, ioctl, err);
}

void ThrowType(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }
void ThrowRange(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

}  // namespace kvmdbg
