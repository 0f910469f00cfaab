// Addon entry: tunes malloc, quiets the engine's own log, and exports the guarded entry points.
#include <c10/util/Logging.h>
#include <malloc.h>

#include <cstdlib>

#include "common.h"

namespace micronet {

static void tuneMalloc() {
  // glibc hands large activation buffers back to the kernel on every free, so each training
  // step would page-fault its activations in again; keep them in the heap instead.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

// The engine logs its errors to stderr with source locations and stack frames (c10d's socket
// retries, for one); micronet reports every failure itself, in words. TORCH_CPP_LOG_LEVEL, as in
// PyTorch, brings the log back for debugging.
static void quietLog() {
  if (std::getenv("TORCH_CPP_LOG_LEVEL")) c10::initLogging();
  else FLAGS_caffe2_log_level = 3;  // FATAL only
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static bool tuned = false;
  if (!tuned) {
    tuneMalloc();
    quietLog();
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
