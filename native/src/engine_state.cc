// Thread-local and global engine switches: grad mode, autocast, threads, seeds, devices, generators.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include "common.h"

namespace micronet {

namespace {

bool autocastEnabled(bool cuda) { return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU); }

at::ScalarType autocastDtype(bool cuda) { return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU); }

void setAutocast(bool cuda, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = at::GradMode::is_enabled();
  if (!info[0].IsBoolean()) fail(info.Env(), "setGradEnabled: expected a boolean");
  at::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

bool isCuda(Napi::Env env, Napi::Value v) {
  std::string device = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (device != "cpu" && device != "cuda") fail(env, "autocast: device type must be 'cpu' or 'cuda'");
  return device == "cuda";
}

// autocastState(deviceType) -> [enabled, dtypeCode]
Napi::Value autocastState(const Napi::CallbackInfo& info) {
  bool cuda = isCuda(info.Env(), info[0]);
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, autocastEnabled(cuda));
  out.Set(1u, static_cast<int>(autocastDtype(cuda)));
  return out;
}

void applyAutocast(Napi::Env env, bool cuda, Napi::Value enabled, Napi::Value dtypeCode) {
  if (!enabled.IsBoolean()) fail(env, "autocast: expected a boolean");
  setAutocast(cuda, enabled.As<Napi::Boolean>().Value(), static_cast<at::ScalarType>(toInt64(env, dtypeCode, "autocast dtype")));
}

// autocastEnter(deviceType, enabled, dtypeCode) / autocastExit(deviceType, enabled, dtypeCode)
// mirror torch.autocast's __enter__/__exit__: the cast cache lives until the outermost exit.
Napi::Value autocastEnter(const Napi::CallbackInfo& info) {
  applyAutocast(info.Env(), isCuda(info.Env(), info[0]), info[1], info[2]);
  at::autocast::increment_nesting();
  return info.Env().Undefined();
}

Napi::Value autocastExit(const Napi::CallbackInfo& info) {
  bool cuda = isCuda(info.Env(), info[0]);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  applyAutocast(info.Env(), cuda, info[1], info[2]);
  return info.Env().Undefined();
}

// setDeterministic(enabled): torch.use_deterministic_algorithms(enabled, warn_only=True) and
// cudnn.deterministic: the same results run after run where kernels allow it.
Napi::Value setDeterministic(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) fail(info.Env(), "setDeterministic: expected a boolean");
  bool enabled = info[0].As<Napi::Boolean>().Value();
  at::globalContext().setDeterministicAlgorithms(enabled, /*warn_only=*/true);
  at::globalContext().setDeterministicCuDNN(enabled);
  return info.Env().Undefined();
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = toInt64(info.Env(), info[0], "setNumThreads");
  if (n < 1) fail(info.Env(), "setNumThreads: need at least one thread");
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(toInt64(info.Env(), info[0], "manualSeed")));
  return info.Env().Undefined();
}

Napi::Value cudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? static_cast<double>(at::getNumGPUs()) : 0);
}

Napi::Value builtWithCuda(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), MICRONET_CUDA != 0);
}

// engineVersions() -> { libtorch: '2.13.0', cuda: '13.0' | null, cudnn: '9.13.0' | null }: the
// release the addon was built against and, in a CUDA build, the runtime's and cuDNN's versions.
Napi::Value engineVersions(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("libtorch", Napi::String::New(env, TORCH_VERSION));
  auto dotted = [&](long v, long major, long minor) -> Napi::Value {
    if (v <= 0) return env.Null();
    return Napi::String::New(env, std::to_string(v / major) + "." + std::to_string(v % major / minor) +
                                      (minor > 1 ? "." + std::to_string(v % minor) : ""));
  };
  const auto& hooks = at::detail::getCUDAHooks();
  bool cuda = MICRONET_CUDA != 0 && hooks.hasCUDA();
  // CUDART_VERSION is 1000*major + 10*minor; cuDNN 9 writes 10000*major + 100*minor + patch.
  out.Set("cuda", MICRONET_CUDA ? dotted(hooks.versionCUDART() / 10, 100, 1) : env.Null());
  out.Set("cudnn", cuda && hooks.compiledWithCuDNN() ? dotted(hooks.versionCuDNN(), 10000, 100) : env.Null());
  return out;
}

Napi::Value newGenerator(const Napi::CallbackInfo& info) {
  auto seed = static_cast<uint64_t>(toInt64(info.Env(), info[0], "generator seed"));
  return wrapGenerator(info.Env(), at::detail::createCPUGenerator(seed));
}

// The generator behind unseeded random ops (dropout) on a device ("cpu" when absent): its state
// belongs in training checkpoints.
Napi::Value defaultGenerator(const Napi::CallbackInfo& info) {
  if (info.Length() == 0 || info[0].IsUndefined()) return wrapGenerator(info.Env(), at::detail::getDefaultCPUGenerator());
  if (!info[0].IsString()) fail(info.Env(), "defaultGenerator: expected a device string");
  c10::Device device(info[0].As<Napi::String>().Utf8Value());
  return wrapGenerator(info.Env(), at::globalContext().defaultGenerator(device));
}

Napi::Value generatorGetState(const Napi::CallbackInfo& info) {
  auto g = unwrapGenerator(info.Env(), info[0], "generatorGetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  return wrapTensor(info.Env(), g.get_state());
}

Napi::Value generatorSetState(const Napi::CallbackInfo& info) {
  auto g = unwrapGenerator(info.Env(), info[0], "generatorSetState");
  auto state = unwrapTensor(info.Env(), info[1], "generatorSetState");
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
  return info.Env().Undefined();
}

Napi::Value generatorInitialSeed(const Napi::CallbackInfo& info) {
  auto g = unwrapGenerator(info.Env(), info[0], "generatorInitialSeed");
  return Napi::BigInt::New(info.Env(), g.current_seed());
}

}  // namespace

void registerEngineState(Exports& out) {
  out.emplace_back("setGradEnabled", guard<setGradEnabled>);
  out.emplace_back("isGradEnabled", guard<isGradEnabled>);
  out.emplace_back("autocastState", guard<autocastState>);
  out.emplace_back("autocastEnter", guard<autocastEnter>);
  out.emplace_back("autocastExit", guard<autocastExit>);
  out.emplace_back("setDeterministic", guard<setDeterministic>);
  out.emplace_back("setNumThreads", guard<setNumThreads>);
  out.emplace_back("getNumThreads", guard<getNumThreads>);
  out.emplace_back("manualSeed", guard<manualSeed>);
  out.emplace_back("cudaDeviceCount", guard<cudaDeviceCount>);
  out.emplace_back("builtWithCuda", guard<builtWithCuda>);
  out.emplace_back("engineVersions", guard<engineVersions>);
  out.emplace_back("newGenerator", guard<newGenerator>);
  out.emplace_back("defaultGenerator", guard<defaultGenerator>);
  out.emplace_back("generatorGetState", guard<generatorGetState>);
  out.emplace_back("generatorSetState", guard<generatorSetState>);
  out.emplace_back("generatorInitialSeed", guard<generatorInitialSeed>);
}

}  // namespace micronet
