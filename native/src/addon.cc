// Addon entry: tunes malloc and exports the guarded entry points.
#include <malloc.h>

#include "common.h"

namespace micronet {

static void tuneMalloc() {
  // glibc hands large activation buffers back to the kernel on every free, so each training
  // step would page-fault its activations in again; keep them in the heap instead.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static bool tuned = false;
  if (!tuned) {
    tuneMalloc();
    tuned = true;
  }
  Exports all;
  registerHandles(all);
  registerDispatch(all);
  registerTensorIo(all);
  registerEngineState(all);
  registerDistributed(all);
  registerCuda(all);
  for (auto& [name, fn] : all) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace micronet

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return micronet::Init(env, exports); }

NODE_API_MODULE(micronet_native, InitAddon)
