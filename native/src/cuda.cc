// CUDA streams and graphs: a training step is captured once into a CUDA graph and replayed for
// every batch, which saves the host the launch of a thousand small kernels per step. The step
// itself is recorded through the ordinary operator calls; these entry points only open and close
// the capture, choose the stream and replay. Builds without CUDA export them as clear errors.
#include "common.h"

#if MICRONET_CUDA
#include <c10/core/Event.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace micronet {

namespace {

#if MICRONET_CUDA

constexpr napi_type_tag kStreamTag = {0x6d6963726f6e6574ULL, 0x73747265616d0001ULL};
constexpr napi_type_tag kGraphTag = {0x6d6963726f6e6574ULL, 0x6772617068000001ULL};

// A stream of the current device's pool, for work that must not run on the default stream
// (graphs cannot be captured there).
Napi::Value streamNew(const Napi::CallbackInfo& info) {
  return wrapExternal(info.Env(), new c10::cuda::CUDAStream(c10::cuda::getStreamFromPool()), kStreamTag);
}

// streamSet(streamOrNull): makes a stream (null: the default one) current on this thread. Work
// queued on the previous stream comes first: the new one waits for it.
Napi::Value streamSet(const Napi::CallbackInfo& info) {
  auto from = c10::cuda::getCurrentCUDAStream();
  auto to = info[0].IsNull() || info[0].IsUndefined()
                ? c10::cuda::getDefaultCUDAStream()
                : *unwrapExternal<c10::cuda::CUDAStream>(info.Env(), info[0], kStreamTag, "streamSet", "stream");
  if (from != to) {
    // c10's device-generic event: no direct CUDA runtime call, so no link against cudart.
    c10::Event done(c10::DeviceType::CUDA);
    done.record(from.unwrap());
    done.block(to.unwrap());
    c10::cuda::setCurrentCUDAStream(to);
  }
  return info.Env().Undefined();
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  c10::cuda::device_synchronize();
  return info.Env().Undefined();
}

Napi::Value graphNew(const Napi::CallbackInfo& info) {
  return wrapExternal(info.Env(), new at::cuda::CUDAGraph(), kGraphTag);
}

// Everything queued on the current stream between begin and end is recorded, not run; tensors
// allocated meanwhile come from the graph's private memory pool and keep their addresses.
Napi::Value graphCaptureBegin(const Napi::CallbackInfo& info) {
  if (c10::cuda::getCurrentCUDAStream() == c10::cuda::getDefaultCUDAStream()) {
    fail(info.Env(), "graphCaptureBegin: make a side stream current first (graphs cannot be captured on the default stream)");
  }
  unwrapExternal<at::cuda::CUDAGraph>(info.Env(), info[0], kGraphTag, "graphCaptureBegin", "graph")->capture_begin();
  return info.Env().Undefined();
}

Napi::Value graphCaptureEnd(const Napi::CallbackInfo& info) {
  unwrapExternal<at::cuda::CUDAGraph>(info.Env(), info[0], kGraphTag, "graphCaptureEnd", "graph")->capture_end();
  return info.Env().Undefined();
}

Napi::Value graphReplay(const Napi::CallbackInfo& info) {
  unwrapExternal<at::cuda::CUDAGraph>(info.Env(), info[0], kGraphTag, "graphReplay", "graph")->replay();
  return info.Env().Undefined();
}

// Frees the graph and its memory pool now rather than at garbage collection.
Napi::Value graphReset(const Napi::CallbackInfo& info) {
  unwrapExternal<at::cuda::CUDAGraph>(info.Env(), info[0], kGraphTag, "graphReset", "graph")->reset();
  return info.Env().Undefined();
}

#define CUDA_ONLY(fn) fn

#else

// Without CUDA every entry point is the same clear error.
Napi::Value noCuda(const Napi::CallbackInfo& info) {
  fail(info.Env(), "this build of the engine has no CUDA (rebuild the addon against a CUDA libtorch)");
}

#define CUDA_ONLY(fn) noCuda

#endif

}  // namespace

void registerCuda(Exports& out) {
  out.emplace_back("cudaStreamNew", guard<CUDA_ONLY(streamNew)>);
  out.emplace_back("cudaStreamSet", guard<CUDA_ONLY(streamSet)>);
  out.emplace_back("cudaSynchronize", guard<CUDA_ONLY(synchronize)>);
  out.emplace_back("cudaGraphNew", guard<CUDA_ONLY(graphNew)>);
  out.emplace_back("cudaGraphCaptureBegin", guard<CUDA_ONLY(graphCaptureBegin)>);
  out.emplace_back("cudaGraphCaptureEnd", guard<CUDA_ONLY(graphCaptureEnd)>);
  out.emplace_back("cudaGraphReplay", guard<CUDA_ONLY(graphReplay)>);
  out.emplace_back("cudaGraphReset", guard<CUDA_ONLY(graphReset)>);
}

}  // namespace micronet
