// Tensor data in and out of JS memory, tensor metadata, and autograd's entry points.
#include "common.h"

namespace micronet {

namespace {

at::ScalarType scalarType(Napi::Env env, Napi::Value v) {
  int64_t code = toInt64(env, v, "dtype");
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions)) fail(env, "unknown dtype code " + std::to_string(code));
  return static_cast<at::ScalarType>(code);
}

std::vector<int64_t> shapeOf(Napi::Env env, Napi::Value v) {
  if (!v.IsArray()) fail(env, "shape: expected an array of integers");
  auto array = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); i++) {
    int64_t d = toInt64(env, array.Get(i), "shape");
    if (d < 0) fail(env, "shape: negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  return shape;
}

Napi::Array intArray(Napi::Env env, c10::IntArrayRef values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) out.Set(static_cast<uint32_t>(i), static_cast<double>(values[i]));
  return out;
}

// fromBuffer(typedArrayOrArrayBuffer, shape, dtypeCode): one copy into a new CPU tensor.
Napi::Value fromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t byteLength = 0;
  if (info[0].IsTypedArray()) {
    auto array = info[0].As<Napi::TypedArray>();
    data = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    byteLength = array.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto buffer = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(buffer.Data());
    byteLength = buffer.ByteLength();
  } else {
    fail(env, "fromBuffer: expected a TypedArray or ArrayBuffer");
  }
  auto shape = shapeOf(env, info[1]);
  auto dtype = scalarType(env, info[2]);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t expected = t.nbytes();
  if (byteLength != expected) {
    fail(env, "fromBuffer: " + std::to_string(byteLength) + " bytes given, shape " + c10::str(t.sizes()) + " of " +
                  std::string(c10::toString(dtype)) + " needs " + std::to_string(expected));
  }
  if (expected) std::memcpy(t.data_ptr(), data, expected);
  return wrapTensor(env, t);
}

// toBuffer(tensor): one copy of the (host, contiguous) values into a new ArrayBuffer.
Napi::Value toBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = unwrapTensor(env, info[0], "toBuffer").detach().to(at::kCPU).contiguous();
  auto buffer = Napi::ArrayBuffer::New(env, t.nbytes());
  if (t.nbytes()) std::memcpy(buffer.Data(), t.data_ptr(), t.nbytes());
  return buffer;
}

Napi::Value shape(const Napi::CallbackInfo& info) {
  return intArray(info.Env(), unwrapTensor(info.Env(), info[0], "shape").sizes());
}

Napi::Value strides(const Napi::CallbackInfo& info) {
  return intArray(info.Env(), unwrapTensor(info.Env(), info[0], "strides").strides());
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  auto t = unwrapTensor(info.Env(), info[0], "dtype");
  return Napi::Number::New(info.Env(), static_cast<int>(t.scalar_type()));
}

Napi::Value device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrapTensor(info.Env(), info[0], "device").device().str());
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0], "requiresGrad").requires_grad());
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0], "isLeaf").is_leaf());
}

// isContiguous(tensor, memoryFormatCode)
Napi::Value isContiguous(const Napi::CallbackInfo& info) {
  auto t = unwrapTensor(info.Env(), info[0], "isContiguous");
  int64_t format = toInt64(info.Env(), info[1], "memoryFormat");
  if (format != static_cast<int64_t>(at::MemoryFormat::Contiguous) && format != static_cast<int64_t>(at::MemoryFormat::ChannelsLast)) {
    fail(info.Env(), "isContiguous: memory format must be contiguous or channels_last");
  }
  return Napi::Boolean::New(info.Env(), t.is_contiguous(static_cast<at::MemoryFormat>(format)));
}

Napi::Value grad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), unwrapTensor(info.Env(), info[0], "grad").grad());
}

// setGrad(tensor, gradOrNull)
Napi::Value setGrad(const Napi::CallbackInfo& info) {
  auto t = unwrapTensor(info.Env(), info[0], "setGrad");
  if (info[1].IsNull() || info[1].IsUndefined()) {
    t.mutable_grad() = at::Tensor();
  } else {
    auto g = unwrapTensor(info.Env(), info[1], "setGrad");
    if (g.sizes() != t.sizes()) fail(info.Env(), "setGrad: gradient shape " + c10::str(g.sizes()) + " differs from tensor shape " + c10::str(t.sizes()));
    t.mutable_grad() = g;
  }
  return info.Env().Undefined();
}

// backward(tensor, gradientOrNull, retainGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  auto t = unwrapTensor(info.Env(), info[0], "backward");
  c10::optional<at::Tensor> gradient;
  if (!info[1].IsNull() && !info[1].IsUndefined()) gradient = unwrapTensor(info.Env(), info[1], "backward");
  if (!t.requires_grad()) fail(info.Env(), "backward: tensor does not require grad and has no grad_fn");
  if (!gradient && t.numel() != 1) fail(info.Env(), "backward: a gradient is needed for a non-scalar output of shape " + c10::str(t.sizes()));
  bool retain = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  t.backward(gradient.value_or(at::Tensor()), retain, false);
  return info.Env().Undefined();
}

}  // namespace

void registerTensorIo(Exports& out) {
  out.emplace_back("fromBuffer", guard<fromBuffer>);
  out.emplace_back("toBuffer", guard<toBuffer>);
  out.emplace_back("shape", guard<shape>);
  out.emplace_back("strides", guard<strides>);
  out.emplace_back("dtype", guard<dtype>);
  out.emplace_back("device", guard<device>);
  out.emplace_back("requiresGrad", guard<requiresGrad>);
  out.emplace_back("isLeaf", guard<isLeaf>);
  out.emplace_back("isContiguous", guard<isContiguous>);
  out.emplace_back("grad", guard<grad>);
  out.emplace_back("setGrad", guard<setGrad>);
  out.emplace_back("backward", guard<backward>);
}

}  // namespace micronet
