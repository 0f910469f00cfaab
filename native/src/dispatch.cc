// One generic entry point for every ATen operator: arguments are converted from JS by the
// operator's schema and the call goes through the dispatcher, so autograd, autocast and the
// device kernels behave exactly as they do under PyTorch.
#include <ATen/core/dispatch/Dispatcher.h>

#include <mutex>
#include <unordered_map>

#include "common.h"

namespace micronet {

namespace {

std::vector<c10::OperatorHandle> operators;
std::unordered_map<std::string, uint32_t> operatorIndex;

std::string describe(Napi::Value v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsNumber()) return "number";
  if (v.IsBoolean()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsBigInt()) return "bigint";
  if (v.IsArray()) return "array";
  if (v.IsExternal()) return "generator";
  return "object";
}

struct ArgContext {
  Napi::Env env;
  const c10::FunctionSchema& schema;
  const c10::Argument& arg;
  [[noreturn]] void mismatch(const std::string& expected, Napi::Value got) const {
    fail(env, schema.name() + (schema.overload_name().empty() ? "" : "." + schema.overload_name()) +
                  ": argument '" + arg.name() + "' expects " + expected + ", got " + describe(got));
  }
};

// Each argument's JS type is read once (napi_typeof) and passed along: every Is*() test is a call
// into node, and a call's host cost is what this file is about.
c10::IValue toIValue(const ArgContext& cx, Napi::Value v, napi_valuetype jt, const c10::TypePtr& type);

// The tensor a value names, or nullptr (not a number, or a stale handle).
const at::Tensor* tensorOf(Napi::Value v, napi_valuetype jt) {
  return jt == napi_number ? findTensor(v.As<Napi::Number>().DoubleValue()) : nullptr;
}

int64_t int64Of(const ArgContext& cx, Napi::Value v, napi_valuetype jt) {
  if (jt == napi_number) return toInt64(cx.env, v.As<Napi::Number>().DoubleValue(), cx.arg.name().c_str());
  return toInt64(cx.env, v, cx.arg.name().c_str());
}

// The items of a list argument, read one at a time: a JS array's elements, or a scalar repeated
// for a fixed-size list, as PyTorch does for `int[2] stride=1`.
struct ListItems {
  Napi::Value scalar;
  napi_valuetype scalarType;
  Napi::Array array;
  uint32_t size;

  ListItems(const ArgContext& cx, Napi::Value v, napi_valuetype jt, const c10::TypePtr& elem) : scalar(v), scalarType(jt) {
    if (jt == napi_object && v.IsArray()) {
      array = v.As<Napi::Array>();
      size = array.Length();
    } else if (jt == napi_number || jt == napi_bigint || jt == napi_boolean) {
      size = cx.arg.N() ? static_cast<uint32_t>(*cx.arg.N()) : 1;
    } else {
      cx.mismatch(elem->str() + "[]", v);
    }
  }
  // Item i and its JS type.
  std::pair<Napi::Value, napi_valuetype> operator[](uint32_t i) const {
    if (array.IsEmpty()) return {scalar, scalarType};
    Napi::Value item = array.Get(i);
    return {item, item.Type()};
  }
};

c10::IValue toIValue(const ArgContext& cx, Napi::Value v, napi_valuetype jt, const c10::TypePtr& type);

// Lists are built as c10::List directly (IValue's std::vector constructors copy into one).
c10::IValue toList(const ArgContext& cx, Napi::Value v, napi_valuetype jt, const c10::TypePtr& elem) {
  ListItems items(cx, v, jt, elem);
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> out;
      out.reserve(items.size);
      for (uint32_t i = 0; i < items.size; i++) {
        auto [item, t] = items[i];
        if (t != napi_number && t != napi_bigint) cx.mismatch("int[]", item);
        out.push_back(int64Of(cx, item, t));
      }
      return c10::IValue(std::move(out));
    }
    case c10::TypeKind::FloatType: {
      c10::List<double> out;
      out.reserve(items.size);
      for (uint32_t i = 0; i < items.size; i++) {
        auto [item, t] = items[i];
        if (t != napi_number) cx.mismatch("float[]", item);
        out.push_back(item.As<Napi::Number>().DoubleValue());
      }
      return c10::IValue(std::move(out));
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      out.reserve(items.size);
      for (uint32_t i = 0; i < items.size; i++) {
        auto [item, t] = items[i];
        if (t != napi_boolean) cx.mismatch("bool[]", item);
        out.push_back(item.As<Napi::Boolean>().Value());
      }
      return c10::IValue(std::move(out));
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      out.reserve(items.size);
      for (uint32_t i = 0; i < items.size; i++) {
        auto [item, t] = items[i];
        const at::Tensor* tensor = tensorOf(item, t);
        if (!tensor) cx.mismatch("Tensor[]", item);
        out.push_back(*tensor);
      }
      return c10::IValue(std::move(out));
    }
    case c10::TypeKind::OptionalType: {
      if (elem->expectRef<c10::OptionalType>().getElementType()->kind() != c10::TypeKind::TensorType) {
        // Other optional elements (oneDNN's Scalar?[]): a generic list of converted items.
        c10::impl::GenericList out(elem);
        out.reserve(items.size);
        for (uint32_t i = 0; i < items.size; i++) {
          auto [item, t] = items[i];
          out.push_back(toIValue(cx, item, t, elem));
        }
        return c10::IValue(std::move(out));
      }
      c10::List<c10::optional<at::Tensor>> out;
      out.reserve(items.size);
      for (uint32_t i = 0; i < items.size; i++) {
        auto [item, t] = items[i];
        if (t == napi_null || t == napi_undefined) {
          out.push_back(c10::nullopt);
        } else {
          const at::Tensor* tensor = tensorOf(item, t);
          if (!tensor) cx.mismatch("Tensor?[]", item);
          out.push_back(*tensor);
        }
      }
      return c10::IValue(std::move(out));
    }
    default:
      fail(cx.env, "unsupported list type " + elem->str() + " for argument '" + cx.arg.name() + "'");
  }
}

c10::IValue toIValue(const ArgContext& cx, Napi::Value v, napi_valuetype jt, const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType: {
      const at::Tensor* tensor = tensorOf(v, jt);
      if (!tensor) cx.mismatch("Tensor", v);
      return *tensor;
    }
    case c10::TypeKind::OptionalType:
      if (jt == napi_null || jt == napi_undefined) return c10::IValue();
      return toIValue(cx, v, jt, type->expectRef<c10::OptionalType>().getElementType());
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (jt != napi_number && jt != napi_bigint) cx.mismatch("int", v);
      return int64Of(cx, v, jt);
    case c10::TypeKind::FloatType:
      if (jt != napi_number) cx.mismatch("float", v);
      return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      if (jt != napi_boolean) cx.mismatch("bool", v);
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType: {
      // Scalar: integral numbers stay integers so integer tensors keep their dtype.
      if (jt == napi_boolean) return v.As<Napi::Boolean>().Value();
      if (jt == napi_bigint) return int64Of(cx, v, jt);
      if (jt != napi_number) cx.mismatch("Scalar", v);
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0) return static_cast<int64_t>(d);
      return d;
    }
    case c10::TypeKind::StringType:
      if (jt != napi_string) cx.mismatch("str", v);
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (jt != napi_string) cx.mismatch("Device (string)", v);
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      if (!isGeneratorHandle(cx.env, v)) cx.mismatch("Generator", v);
      return unwrapGenerator(cx.env, v, cx.arg.name().c_str());
    case c10::TypeKind::ListType:
      return toList(cx, v, jt, type->expectRef<c10::ListType>().getElementType());
    default:
      fail(cx.env, "unsupported argument type " + type->str() + " for '" + cx.arg.name() + "'");
  }
}

// Results are moved out of the stack, so a returned tensor changes hands without a refcount round trip.
Napi::Value fromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) return wrapTensor(env, std::move(v).toTensor());
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    return Napi::Number::New(env, s.toDouble());
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = std::move(v).toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), wrapTensor(env, list.extract(i)));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), static_cast<double>(list.get(i)));
    return out;
  }
  if (v.isTuple() || v.isList()) {
    auto elements = v.isTuple() ? v.toTupleRef().elements().vec() : v.toListRef().vec();
    auto out = Napi::Array::New(env, elements.size());
    for (size_t i = 0; i < elements.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, std::move(elements[i])));
    return out;
  }
  fail(env, std::string("unsupported return type ") + v.tagKind());
}

// findOp("aten::add", "Tensor") -> index for callOp
Napi::Value findOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString()) fail(env, "findOp(name, overload): expected two strings");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  std::string key = name + "." + overload;
  auto found = operatorIndex.find(key);
  if (found != operatorIndex.end()) return Napi::Number::New(env, found->second);
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) fail(env, "unknown operator " + name + (overload.empty() ? "" : "." + overload));
  operators.push_back(*handle);
  uint32_t index = static_cast<uint32_t>(operators.size() - 1);
  operatorIndex.emplace(key, index);
  return Napi::Number::New(env, index);
}

// The boxed stack, reused from call to call so that a call allocates none. Taken by move: a nested
// call (none is expected) would find it empty and simply allocate its own.
thread_local torch::jit::Stack spareStack;

struct PooledStack {
  torch::jit::Stack stack = std::move(spareStack);
  ~PooledStack() {
    stack.clear();  // frees the arguments and whatever results were not handed out, even after a throw
    spareStack = std::move(stack);
  }
};

// callOp(index, ...args): returns undefined, one value, or an array for several returns. The
// arguments come as the call's own (info[i]) rather than in an array: reading an array's elements
// costs a call into node each.
Napi::Value callOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  if (index >= operators.size()) fail(env, "callOp: unknown operator index");
  const c10::OperatorHandle& op = operators[index];
  const c10::FunctionSchema& schema = op.schema();
  const auto& params = schema.arguments();
  size_t given = info.Length() - 1;
  if (given > params.size()) {
    fail(env, schema.name() + ": " + std::to_string(given) + " arguments given, at most " +
                  std::to_string(params.size()) + " accepted");
  }
  PooledStack pooled;
  torch::jit::Stack& stack = pooled.stack;
  stack.reserve(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    const c10::Argument& param = params[i];
    Napi::Value v = info[i + 1];  // undefined past the last one given
    napi_valuetype jt = i < given ? v.Type() : napi_undefined;
    if (jt == napi_undefined && param.default_value()) {
      stack.push_back(*param.default_value());
    } else if (jt == napi_undefined && param.type()->kind() != c10::TypeKind::OptionalType) {
      fail(env, schema.name() + ": missing argument '" + param.name() + "'");
    } else {
      stack.push_back(toIValue(ArgContext{env, schema, param}, v, jt, param.type()));
    }
  }
  op.callBoxed(&stack);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, std::move(stack[0]));
  auto out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, std::move(stack[i])));
  return out;
}

Napi::Value opSchema(const Napi::CallbackInfo& info) {
  uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  if (index >= operators.size()) fail(info.Env(), "opSchema: unknown operator index");
  std::ostringstream s;
  s << operators[index].schema();
  return Napi::String::New(info.Env(), s.str());
}

}  // namespace

void registerDispatch(Exports& out) {
  out.emplace_back("findOp", guard<findOp>);
  out.emplace_back("callOp", guard<callOp>);
  out.emplace_back("opSchema", guard<opSchema>);
}

}  // namespace micronet
