// Tensor and generator handles: type-tagged externals, a live counter, memory reported to V8.
#include <atomic>

#include "common.h"

namespace micronet {

namespace {

constexpr napi_type_tag kTensorTag = {0x6d6963726f6e6574ULL, 0x74656e736f720001ULL};
constexpr napi_type_tag kGeneratorTag = {0x6d6963726f6e6574ULL, 0x67656e6572610001ULL};

std::atomic<int64_t> liveTensors{0};

struct TensorBox {
  at::Tensor tensor;
  int64_t reportedBytes = 0;
};

int64_t hostBytes(const at::Tensor& t) {
  // Only host memory is V8's business; views over one storage each report it (an overestimate
  // that only makes the GC safety net keener).
  if (!t.defined() || !t.is_cpu() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

void release(Napi::Env env, TensorBox* box) {
  if (!box->tensor.defined()) return;
  box->tensor.reset();
  liveTensors.fetch_sub(1, std::memory_order_relaxed);
  if (box->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
  box->reportedBytes = 0;
}

bool hasTag(Napi::Env env, Napi::Value value, const napi_type_tag& tag) {
  if (!value.IsExternal()) return false;
  bool result = false;
  napi_status status = napi_check_object_type_tag(env, value, &tag, &result);
  return status == napi_ok && result;
}

TensorBox* box(Napi::Env env, Napi::Value value, const char* what) {
  if (!hasTag(env, value, kTensorTag)) fail(env, std::string(what) + ": expected a tensor handle");
  return value.As<Napi::External<TensorBox>>().Data();
}

Napi::Value disposeTensor(const Napi::CallbackInfo& info) {
  TensorBox* b = box(info.Env(), info[0], "dispose");
  bool wasLive = b->tensor.defined();
  release(info.Env(), b);
  return Napi::Boolean::New(info.Env(), wasLive);
}

Napi::Value isTensor(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), isTensorHandle(info.Env(), info[0]));
}

Napi::Value liveTensorCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(liveTensors.load()));
}

}  // namespace

void fail(Napi::Env env, const std::string& message) { throw Napi::Error::New(env, message); }

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  auto* b = new TensorBox{std::move(tensor), 0};
  auto external = Napi::External<TensorBox>::New(env, b, [](Napi::Env env, TensorBox* b) {
    release(env, b);  // GC finalisation: the safety net behind dispose()
    delete b;
  });
  napi_type_tag_object(env, external, &kTensorTag);
  liveTensors.fetch_add(1, std::memory_order_relaxed);
  b->reportedBytes = hostBytes(b->tensor);
  if (b->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, b->reportedBytes);
  return external;
}

bool isTensorHandle(Napi::Env env, Napi::Value value) { return hasTag(env, value, kTensorTag); }

const at::Tensor& unwrapTensor(Napi::Env env, Napi::Value value, const char* what) {
  TensorBox* b = box(env, value, what);
  if (!b->tensor.defined()) fail(env, std::string(what) + ": tensor was used after dispose()");
  return b->tensor;
}

Napi::Value wrapGenerator(Napi::Env env, at::Generator generator) {
  auto external = Napi::External<at::Generator>::New(env, new at::Generator(std::move(generator)),
                                                     [](Napi::Env, at::Generator* g) { delete g; });
  napi_type_tag_object(env, external, &kGeneratorTag);
  return external;
}

bool isGeneratorHandle(Napi::Env env, Napi::Value value) { return hasTag(env, value, kGeneratorTag); }

at::Generator unwrapGenerator(Napi::Env env, Napi::Value value, const char* what) {
  if (!isGeneratorHandle(env, value)) fail(env, std::string(what) + ": expected a generator handle");
  return *value.As<Napi::External<at::Generator>>().Data();
}

int64_t toInt64(Napi::Env env, Napi::Value value, const char* what) {
  if (value.IsBigInt()) {
    bool lossless = false;
    int64_t v = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) fail(env, std::string(what) + ": integer out of int64 range");
    return v;
  }
  if (value.IsNumber()) {
    double d = value.As<Napi::Number>().DoubleValue();
    if (!(d == static_cast<double>(static_cast<int64_t>(d))) || d > 9007199254740992.0 || d < -9007199254740992.0) {
      fail(env, std::string(what) + ": expected an integer, got " + std::to_string(d));
    }
    return static_cast<int64_t>(d);
  }
  fail(env, std::string(what) + ": expected an integer");
}

void registerHandles(Exports& out) {
  out.emplace_back("dispose", guard<disposeTensor>);
  out.emplace_back("isTensor", guard<isTensor>);
  out.emplace_back("liveTensors", guard<liveTensorCount>);
}

}  // namespace micronet
