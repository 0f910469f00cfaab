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

c10::IValue toIValue(const ArgContext& cx, Napi::Value v, const c10::TypePtr& type);

std::vector<Napi::Value> listItems(const ArgContext& cx, Napi::Value v, const c10::TypePtr& elem) {
  std::vector<Napi::Value> items;
  if (v.IsArray()) {
    auto array = v.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) items.push_back(array.Get(i));
  } else if (v.IsNumber() || v.IsBigInt() || v.IsBoolean()) {
    // A scalar for a fixed-size list is repeated, as PyTorch does for `int[2] stride=1`.
    size_t n = cx.arg.N() ? static_cast<size_t>(*cx.arg.N()) : 1;
    items.assign(n, v);
  } else {
    cx.mismatch(elem->str() + "[]", v);
  }
  return items;
}

c10::IValue toList(const ArgContext& cx, Napi::Value v, const c10::TypePtr& elem) {
  auto items = listItems(cx, v, elem);
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      std::vector<int64_t> out;
      for (auto& item : items) {
        if (!item.IsNumber() && !item.IsBigInt()) cx.mismatch("int[]", item);
        out.push_back(toInt64(cx.env, item, cx.arg.name().c_str()));
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> out;
      for (auto& item : items) {
        if (!item.IsNumber()) cx.mismatch("float[]", item);
        out.push_back(item.As<Napi::Number>().DoubleValue());
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (auto& item : items) {
        if (!item.IsBoolean()) cx.mismatch("bool[]", item);
        out.push_back(item.As<Napi::Boolean>().Value());
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> out;
      for (auto& item : items) {
        if (!isTensorHandle(cx.env, item)) cx.mismatch("Tensor[]", item);
        out.push_back(unwrapTensor(cx.env, item, cx.arg.name().c_str()));
      }
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      for (auto& item : items) {
        if (item.IsNull() || item.IsUndefined()) {
          out.push_back(c10::nullopt);
        } else {
          if (!isTensorHandle(cx.env, item)) cx.mismatch("Tensor?[]", item);
          out.push_back(unwrapTensor(cx.env, item, cx.arg.name().c_str()));
        }
      }
      return c10::IValue(out);
    }
    default:
      fail(cx.env, "unsupported list type " + elem->str() + " for argument '" + cx.arg.name() + "'");
  }
}

c10::IValue toIValue(const ArgContext& cx, Napi::Value v, const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      if (!isTensorHandle(cx.env, v)) cx.mismatch("Tensor", v);
      return unwrapTensor(cx.env, v, cx.arg.name().c_str());
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(cx, v, type->expectRef<c10::OptionalType>().getElementType());
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (!v.IsNumber() && !v.IsBigInt()) cx.mismatch("int", v);
      return toInt64(cx.env, v, cx.arg.name().c_str());
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) cx.mismatch("float", v);
      return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) cx.mismatch("bool", v);
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType: {
      // Scalar: integral numbers stay integers so integer tensors keep their dtype.
      if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
      if (v.IsBigInt()) return toInt64(cx.env, v, cx.arg.name().c_str());
      if (!v.IsNumber()) cx.mismatch("Scalar", v);
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0) return static_cast<int64_t>(d);
      return d;
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) cx.mismatch("str", v);
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) cx.mismatch("Device (string)", v);
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      if (!isGeneratorHandle(cx.env, v)) cx.mismatch("Generator", v);
      return unwrapGenerator(cx.env, v, cx.arg.name().c_str());
    case c10::TypeKind::ListType:
      return toList(cx, v, type->expectRef<c10::ListType>().getElementType());
    default:
      fail(cx.env, "unsupported argument type " + type->str() + " for '" + cx.arg.name() + "'");
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
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
    auto list = v.toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), wrapTensor(env, list.get(i)));
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
    for (size_t i = 0; i < elements.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, elements[i]));
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

// callOp(index, args): returns undefined, one value, or an array for several returns.
Napi::Value callOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  if (index >= operators.size()) fail(env, "callOp: unknown operator index");
  if (!info[1].IsArray()) fail(env, "callOp: expected an argument array");
  const c10::OperatorHandle& op = operators[index];
  const c10::FunctionSchema& schema = op.schema();
  const auto& params = schema.arguments();
  auto args = info[1].As<Napi::Array>();
  if (args.Length() > params.size()) {
    fail(env, schema.name() + ": " + std::to_string(args.Length()) + " arguments given, at most " +
                  std::to_string(params.size()) + " accepted");
  }
  torch::jit::Stack stack;
  stack.reserve(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    const c10::Argument& param = params[i];
    Napi::Value v = i < args.Length() ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
    ArgContext cx{env, schema, param};
    if (v.IsUndefined() && param.default_value()) {
      stack.push_back(*param.default_value());
    } else if (v.IsUndefined() && param.type()->kind() != c10::TypeKind::OptionalType) {
      fail(env, schema.name() + ": missing argument '" + param.name() + "'");
    } else {
      stack.push_back(toIValue(cx, v, param.type()));
    }
  }
  op.callBoxed(&stack);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  auto out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
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
