// KvmError: every failure becomes a JS exception that names the operation and
// the errno in words (ARCHITECTURE rule 7). Never Napi::Error::Fatal.
#pragma once
#include <napi.h>
#include <string>

namespace kvmdbg {

// "EBUSY (Device or resource busy)"
std::string ErrnoText(int err);

// Builds a KvmError (the class index.ts registers) or, before registration, an
// Error carrying the same fields.
Napi::Error MakeKvmError(Napi::Env env, const std::string& message, const char* ioctl, int err);

// "<ioctl> failed: EBUSY (Device or resource busy)"
[[noreturn]] void ThrowIoctl(Napi::Env env, const char* ioctl, int err);
[[noreturn]] void ThrowKvm(Napi::Env env, const std::string& message, const char* ioctl, int err = 0);
// Bad arguments from JS are TypeErrors/RangeErrors, not KvmErrors.
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message);

}  // namespace kvmdbg
