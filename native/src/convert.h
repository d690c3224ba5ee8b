// JS <-> C value conversion with range checks. 64-bit values are bigint on the
// way out; on the way in a bigint or a safe integer Number is accepted.
#pragma once
#include <linux/kvm.h>
#include <napi.h>

#include <cstdint>
#include <string>

namespace kvmdbg {

uint64_t ToU64(Napi::Value v, const char* what);
uint32_t ToU32(Napi::Value v, const char* what);
bool ToBool(Napi::Value v);
// A Number that is a non-negative safe integer (guest addresses, sizes).
uint64_t ToSafeIndex(Napi::Value v, const char* what);
Napi::BigInt Big(Napi::Env env, uint64_t v);
Napi::Object Field(Napi::Object o, const char* key);

Napi::Object SegmentToJs(Napi::Env env, const kvm_segment& s);
void SegmentFromJs(Napi::Value v, kvm_segment* s, const char* what);
Napi::Object DtableToJs(Napi::Env env, const kvm_dtable& d);
void DtableFromJs(Napi::Value v, kvm_dtable* d, const char* what);

// A copy of native bytes into a new JS-owned Uint8Array (never external).
Napi::Uint8Array CopyOut(Napi::Env env, const void* p, size_t n);
// Copies exactly n bytes from a Uint8Array argument, or throws.
void CopyIn(Napi::Value v, void* p, size_t n, const char* what);

}  // namespace kvmdbg
