#include "convert.h"

#include <cmath>
#include <cstring>

#include "errors.h"

namespace kvmdbg {

static constexpr double kMaxSafe = 9007199254740991.0;

uint64_t ToU64(Napi::Value v, const char* what) {
  Napi::Env env = v.Env();
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      // Accept negative values in the signed 64-bit range as their two's complement.
      int64_t s = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) ThrowRange(env, std::string(what) + " does not fit in 64 bits");
      r = static_cast<uint64_t>(s);
    }
    return r;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= kMaxSafe && std::floor(d) == d)) {
      ThrowRange(env, std::string(what) + " must be a non-negative integer (use a bigint above 2^53)");
    }
    return static_cast<uint64_t>(d);
  }
  ThrowType(env, std::string(what) + " must be a bigint or a number");
}

uint32_t ToU32(Napi::Value v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0 && std::floor(d) == d)) {
    ThrowRange(env, std::string(what) + " must be an integer in 0..2^32-1");
  }
  return static_cast<uint32_t>(d);
}

uint64_t ToSafeIndex(Napi::Value v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= kMaxSafe && std::floor(d) == d)) {
    ThrowRange(env, std::string(what) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

bool ToBool(Napi::Value v) { return v.ToBoolean().Value(); }

Napi::BigInt Big(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

Napi::Object Field(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) ThrowType(o.Env(), std::string(key) + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Object SegmentToJs(Napi::Env env, const kvm_segment& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("base", Big(env, s.base));
  o.Set("limit", Napi::Number::New(env, s.limit));
  o.Set("selector", Napi::Number::New(env, s.selector));
  o.Set("type", Napi::Number::New(env, s.type));
  o.Set("present", Napi::Boolean::New(env, s.present));
  o.Set("dpl", Napi::Number::New(env, s.dpl));
  o.Set("db", Napi::Boolean::New(env, s.db));
  o.Set("s", Napi::Boolean::New(env, s.s));
  o.Set("l", Napi::Boolean::New(env, s.l));
  o.Set("g", Napi::Boolean::New(env, s.g));
  o.Set("avl", Napi::Boolean::New(env, s.avl));
  o.Set("unusable", Napi::Boolean::New(env, s.unusable));
  return o;
}

void SegmentFromJs(Napi::Value v, kvm_segment* s, const char* what) {
  if (!v.IsObject()) ThrowType(v.Env(), std::string(what) + " must be a Segment object");
  Napi::Object o = v.As<Napi::Object>();
  std::memset(s, 0, sizeof *s);
  s->base = ToU64(o.Get("base"), "segment base");
  s->limit = ToU32(o.Get("limit"), "segment limit");
  s->selector = static_cast<uint16_t>(ToU32(o.Get("selector"), "segment selector"));
  s->type = static_cast<uint8_t>(ToU32(o.Get("type"), "segment type") & 0xf);
  s->present = ToBool(o.Get("present"));
  s->dpl = static_cast<uint8_t>(ToU32(o.Get("dpl"), "segment dpl") & 3);
  s->db = ToBool(o.Get("db"));
  s->s = ToBool(o.Get("s"));
  s->l = ToBool(o.Get("l"));
  s->g = ToBool(o.Get("g"));
  s->avl = ToBool(o.Get("avl"));
  s->unusable = ToBool(o.Get("unusable"));
}

Napi::Object DtableToJs(Napi::Env env, const kvm_dtable& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("base", Big(env, d.base));
  o.Set("limit", Napi::Number::New(env, d.limit));
  return o;
}

void DtableFromJs(Napi::Value v, kvm_dtable* d, const char* what) {
  if (!v.IsObject()) ThrowType(v.Env(), std::string(what) + " must be a DescriptorTable object");
  Napi::Object o = v.As<Napi::Object>();
  std::memset(d, 0, sizeof *d);
  d->base = ToU64(o.Get("base"), "descriptor table base");
  d->limit = static_cast<uint16_t>(ToU32(o.Get("limit"), "descriptor table limit"));
}

Napi::Uint8Array CopyOut(Napi::Env env, const void* p, size_t n) {
  Napi::Uint8Array a = Napi::Uint8Array::New(env, n);
  if (n) std::memcpy(a.Data(), p, n);
  return a;
}

void CopyIn(Napi::Value v, void* p, size_t n, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(v.Env(), std::string(what) + " must be a Uint8Array");
  }
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() != n) {
    ThrowRange(v.Env(), std::string(what) + " must be exactly " + std::to_string(n) + " bytes, got " +
                            std::to_string(a.ByteLength()));
  }
  std::memcpy(p, a.Data(), n);
}

}  // namespace kvmdbg
