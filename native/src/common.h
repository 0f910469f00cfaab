// Shared pieces of the addon: the exception guard and the tensor/generator handles.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

namespace micronet {

// Every entry point goes through guard<>: a libtorch error escaping an N-API call would abort
// node, so it becomes a JS Error carrying libtorch's own message.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guard(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

[[noreturn]] void fail(Napi::Env env, const std::string& message);

// Objects the addon owns behind JS externals (generators, streams, graphs, process groups), each
// kind type-tagged so that one is never taken for another; deleted when the GC collects them.
template <typename T>
Napi::Value wrapExternal(Napi::Env env, T* object, const napi_type_tag& tag) {
  auto external = Napi::External<T>::New(env, object, [](Napi::Env, T* p) { delete p; });
  external.TypeTag(&tag);
  return external;
}

// The object behind an external of this tag, or nullptr.
template <typename T>
T* findExternal(Napi::Value value, const napi_type_tag& tag) {
  if (!value.IsExternal()) return nullptr;
  auto external = value.As<Napi::External<T>>();
  return external.CheckTypeTag(&tag) ? external.Data() : nullptr;
}

// The object, or the error "<what>: expected a <kind> handle".
template <typename T>
T* unwrapExternal(Napi::Env env, Napi::Value value, const napi_type_tag& tag, const char* what, const char* kind) {
  T* object = findExternal<T>(value, tag);
  if (!object) fail(env, std::string(what) + ": expected a " + kind + " handle");
  return object;
}

// A JS tensor handle owns one reference to a libtorch tensor until dispose() or GC.
Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor);  // undefined tensor -> null
bool isTensorHandle(Napi::Env env, Napi::Value value);
const at::Tensor& unwrapTensor(Napi::Env env, Napi::Value value, const char* what);
// The tensor a handle number names, or nullptr when it names none (stale, or not a handle).
const at::Tensor* findTensor(double handle);

Napi::Value wrapGenerator(Napi::Env env, at::Generator generator);
bool isGeneratorHandle(Napi::Env env, Napi::Value value);
at::Generator unwrapGenerator(Napi::Env env, Napi::Value value, const char* what);

int64_t toInt64(Napi::Env env, Napi::Value value, const char* what);
int64_t toInt64(Napi::Env env, double value, const char* what);

using Exports = std::vector<std::pair<const char*, Napi::Function::Callback>>;
void registerHandles(Exports& out);
void registerDispatch(Exports& out);
void registerTensorIo(Exports& out);
void registerEngineState(Exports& out);
void registerDistributed(Exports& out);
void registerCuda(Exports& out);

}  // namespace micronet
