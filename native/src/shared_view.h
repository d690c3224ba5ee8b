// Raw pointers into JavaScript SharedArrayBuffers. Node 20's Node-API has no
// SharedArrayBuffer getter, but napi_get_typedarray_info on a Uint8Array over
// one yields its backing pointer. Only shared buffers are accepted: a plain
// ArrayBuffer can be detached while KVM or we still hold the pointer.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace kvmdbg {

struct SharedView {
  uint8_t* data;
  size_t length;
};

// `v` must be a Uint8Array over a SharedArrayBuffer.
SharedView GetSharedView(Napi::Value v, const char* what);

}  // namespace kvmdbg
