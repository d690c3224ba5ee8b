#include "shared_view.h"

#include <string>

#include "errors.h"

namespace kvmdbg {

SharedView GetSharedView(Napi::Value v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray()) ThrowType(env, std::string(what) + " must be a Uint8Array over a SharedArrayBuffer");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  size_t byteOffset = 0;
  napi_status s = napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &byteOffset);
  if (s != napi_ok || type != napi_uint8_array) {
    ThrowType(env, std::string(what) + " must be a Uint8Array over a SharedArrayBuffer");
  }
  bool isPlain = false;
  napi_is_arraybuffer(env, buffer, &isPlain);
  if (isPlain) ThrowType(env, std::string(what) + " must be a SharedArrayBuffer, not an ArrayBuffer (which can be detached)");
  if (data == nullptr && length != 0) ThrowType(env, std::string(what) + ": could not obtain the buffer's memory");
  return SharedView{static_cast<uint8_t*>(data), length};
}

}  // namespace kvmdbg
