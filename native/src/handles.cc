// Tensor handles are numbers naming a slot of a per-thread table (index + generation), so that
// creating and disposing one allocates nothing in V8 and leaves nothing behind for the GC: the
// TypeScript side frees them explicitly, with a FinalizationRegistry as the safety net.
// Generators, few and long-lived, are type-tagged externals.
#include <atomic>

#include "common.h"

namespace micronet {

namespace {

constexpr napi_type_tag kGeneratorTag = {0x6d6963726f6e6574ULL, 0x67656e6572610001ULL};
constexpr uint64_t kIndexBits = 24;
constexpr uint64_t kIndexMask = (1ULL << kIndexBits) - 1;
constexpr uint64_t kMaxGeneration = 1ULL << 28;  // handle < 2^52: exact as a JS number

struct Slot {
  at::Tensor tensor;
  uint64_t generation = 1;
  int64_t hostBytes = 0;
};

thread_local std::vector<Slot> slots;
thread_local std::vector<uint32_t> freeSlots;
std::atomic<int64_t> liveTensors{0};

int64_t hostBytes(const at::Tensor& t) {
  // Only host memory is V8's business; views over one storage each count it (an overestimate
  // that only makes the GC safety net keener).
  if (!t.is_cpu() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

// V8 learns of the host memory held by live handles in steps of 1 GiB. Reporting every tensor
// made V8 start a collection for each large activation although dispose() frees it at once, and
// its concurrent marking then competed with the compute threads; leaks still add up to a report.
constexpr int64_t kReportStep = int64_t{1} << 30;
thread_local int64_t liveHostBytes = 0;
thread_local int64_t reportedHostBytes = 0;

void accountHostBytes(Napi::Env env, int64_t delta) {
  liveHostBytes += delta;
  int64_t unreported = liveHostBytes - reportedHostBytes;
  if (unreported >= kReportStep || unreported <= -kReportStep) {
    Napi::MemoryManagement::AdjustExternalMemory(env, unreported);
    reportedHostBytes = liveHostBytes;
  }
}

// The live slot a handle number names, or nullptr.
Slot* lookup(double d) {
  if (!(d >= 0 && d < 4503599627370496.0)) return nullptr;
  auto h = static_cast<uint64_t>(d);
  if (static_cast<double>(h) != d) return nullptr;
  uint64_t index = h & kIndexMask;
  if (index >= slots.size()) return nullptr;
  Slot& slot = slots[index];
  if (slot.generation != (h >> kIndexBits) || !slot.tensor.defined()) return nullptr;
  return &slot;
}

// The live slot a JS value names, or nullptr.
Slot* lookup(Napi::Value value) {
  return value.IsNumber() ? lookup(value.As<Napi::Number>().DoubleValue()) : nullptr;
}

Napi::Value disposeTensor(const Napi::CallbackInfo& info) {
  Slot* slot = lookup(info[0]);
  if (!slot) return Napi::Boolean::New(info.Env(), false);  // already freed: disposal is idempotent
  slot->tensor.reset();
  accountHostBytes(info.Env(), -slot->hostBytes);
  slot->hostBytes = 0;
  slot->generation = slot->generation + 1 < kMaxGeneration ? slot->generation + 1 : 1;
  freeSlots.push_back(static_cast<uint32_t>(slot - slots.data()));
  liveTensors.fetch_sub(1, std::memory_order_relaxed);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value isTensor(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), lookup(info[0]) != nullptr);
}

Napi::Value liveTensorCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(liveTensors.load()));
}

}  // namespace

void fail(Napi::Env env, const std::string& message) { throw Napi::Error::New(env, message); }

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  uint32_t index;
  if (!freeSlots.empty()) {
    index = freeSlots.back();
    freeSlots.pop_back();
  } else {
    if (slots.size() > kIndexMask) fail(env, "too many live tensors (16,777,216): dispose() what is no longer needed");
    index = static_cast<uint32_t>(slots.size());
    slots.emplace_back();
  }
  Slot& slot = slots[index];
  slot.tensor = std::move(tensor);
  slot.hostBytes = hostBytes(slot.tensor);
  accountHostBytes(env, slot.hostBytes);
  liveTensors.fetch_add(1, std::memory_order_relaxed);
  return Napi::Number::New(env, static_cast<double>((slot.generation << kIndexBits) | index));
}

bool isTensorHandle(Napi::Env, Napi::Value value) { return lookup(value) != nullptr; }

const at::Tensor* findTensor(double handle) {
  Slot* slot = lookup(handle);
  return slot ? &slot->tensor : nullptr;
}

const at::Tensor& unwrapTensor(Napi::Env env, Napi::Value value, const char* what) {
  Slot* slot = lookup(value);
  if (!slot) fail(env, std::string(what) + ": expected a live tensor handle");
  return slot->tensor;
}

Napi::Value wrapGenerator(Napi::Env env, at::Generator generator) {
  return wrapExternal(env, new at::Generator(std::move(generator)), kGeneratorTag);
}

bool isGeneratorHandle(Napi::Env, Napi::Value value) { return findExternal<at::Generator>(value, kGeneratorTag) != nullptr; }

at::Generator unwrapGenerator(Napi::Env env, Napi::Value value, const char* what) {
  return *unwrapExternal<at::Generator>(env, value, kGeneratorTag, what, "generator");
}

int64_t toInt64(Napi::Env env, Napi::Value value, const char* what) {
  if (value.IsBigInt()) {
    bool lossless = false;
    int64_t v = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) fail(env, std::string(what) + ": integer out of int64 range");
    return v;
  }
  if (value.IsNumber()) return toInt64(env, value.As<Napi::Number>().DoubleValue(), what);
  fail(env, std::string(what) + ": expected an integer");
}

int64_t toInt64(Napi::Env env, double d, const char* what) {
  if (!(std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0)) {
    fail(env, std::string(what) + ": expected an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

void registerHandles(Exports& out) {
  out.emplace_back("dispose", guard<disposeTensor>);
  out.emplace_back("isTensor", guard<isTensor>);
  out.emplace_back("liveTensors", guard<liveTensorCount>);
}

}  // namespace micronet
