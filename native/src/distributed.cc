// torch.distributed's engine (c10d) for data-parallel training: a TCPStore rendezvous, a Gloo
// process group (CPU tensors), collectives that wait for their result, and DDP's Reducer, which
// all-reduces gradients in buckets from autograd hooks while backward runs and averages them.
// Groups and reducers are type-tagged externals; every call checks its handles.
#include "common.h"

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

// c10d's C++ API changed with libtorch 2 (process groups wrap backends); this layer speaks 1.x's.
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
#define MICRONET_DISTRIBUTED 0
#elif __has_include(<gloo/algorithm.h>)
#define MICRONET_DISTRIBUTED 1
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#else
#define MICRONET_DISTRIBUTED 0
#endif

namespace micronet {

namespace {

#if MICRONET_DISTRIBUTED

constexpr napi_type_tag kGroupTag = {0x6d6963726f6e6574ULL, 0x67726f7570000001ULL};
constexpr napi_type_tag kReducerTag = {0x6d6963726f6e6574ULL, 0x7265647563650001ULL};

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
};

Group& group(Napi::Env env, Napi::Value value, const char* what) {
  Group* g = unwrapExternal<Group>(env, value, kGroupTag, what, "process group");
  if (!g->pg) fail(env, std::string(what) + ": the process group is closed");
  return *g;
}

std::vector<at::Tensor> tensorList(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsArray()) fail(env, std::string(what) + ": expected an array of tensors");
  auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(unwrapTensor(env, array.Get(i), what));
  return out;
}

void waitFor(const c10::intrusive_ptr<c10d::Work>& work) {
  // Gloo throws here when a peer has gone or the group's timeout passes.
  work->wait();
}

// groupNew(host, port, rank, worldSize, timeoutMs) -> group. Rank 0 serves the store.
Napi::Value groupNew(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsString()) fail(env, "groupNew: expected the master address");
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int64_t port = toInt64(env, info[1], "groupNew port");
  int64_t rank = toInt64(env, info[2], "groupNew rank");
  int64_t size = toInt64(env, info[3], "groupNew world size");
  int64_t timeoutMs = toInt64(env, info[4], "groupNew timeout");
  if (port < 1 || port > 65535) fail(env, "groupNew: the port must be in 1..65535");
  if (size < 1 || rank < 0 || rank >= size) fail(env, "groupNew: the rank must be in 0..worldSize-1");
  if (timeoutMs < 1) fail(env, "groupNew: the timeout must be positive");
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<uint16_t>(port);
  storeOptions.isServer = rank == 0;
  storeOptions.numWorkers = static_cast<size_t>(size);
  storeOptions.waitWorkers = true;
  storeOptions.timeout = std::chrono::milliseconds(timeoutMs);
  auto store = c10::make_intrusive<c10d::TCPStore>(host, storeOptions);
  auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeoutMs));
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  options->threads = 2;
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(size), options);
  return wrapExternal(env, new Group{store, pg}, kGroupTag);
}

// groupAllReduce(group, tensors, op: 'sum' | 'max'): in place, once every rank has called it.
Napi::Value groupAllReduce(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& g = group(env, info[0], "groupAllReduce");
  auto tensors = tensorList(env, info[1], "groupAllReduce");
  std::string op = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  c10d::AllreduceOptions options;
  if (op == "sum") options.reduceOp = c10d::ReduceOp::SUM;
  else if (op == "max") options.reduceOp = c10d::ReduceOp::MAX;
  else fail(env, "groupAllReduce: op must be 'sum' or 'max'");
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    waitFor(g.pg->allreduce(one, options));
  }
  return env.Undefined();
}

// groupBroadcast(group, tensors, root): in place, from the root rank.
Napi::Value groupBroadcast(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& g = group(env, info[0], "groupBroadcast");
  auto tensors = tensorList(env, info[1], "groupBroadcast");
  c10d::BroadcastOptions options;
  options.rootRank = toInt64(env, info[2], "groupBroadcast root");
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    waitFor(g.pg->broadcast(one, options));
  }
  return env.Undefined();
}

Napi::Value groupBarrier(const Napi::CallbackInfo& info) {
  waitFor(group(info.Env(), info[0], "groupBarrier").pg->barrier());
  return info.Env().Undefined();
}

// groupClose(group): drops the connections (what a finished or failed rank does before exiting).
Napi::Value groupClose(const Napi::CallbackInfo& info) {
  Group* g = unwrapExternal<Group>(info.Env(), info[0], kGroupTag, "groupClose", "process group");
  g->pg.reset();
  g->store.reset();
  return info.Env().Undefined();
}

struct ReducerHandle {
  std::shared_ptr<c10d::Reducer> reducer;
};

// reducerNew(group, params, bucketBytes, firstBucketBytes) -> reducer. Buckets follow the
// parameters in reverse, the order backward produces their gradients in, as DDP does.
Napi::Value reducerNew(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& g = group(env, info[0], "reducerNew");
  auto params = tensorList(env, info[1], "reducerNew");
  auto bucketBytes = static_cast<size_t>(toInt64(env, info[2], "reducerNew bucket bytes"));
  auto firstBucketBytes = static_cast<size_t>(toInt64(env, info[3], "reducerNew first bucket bytes"));
  if (params.empty()) fail(env, "reducerNew: no parameters");
  std::vector<int64_t> reversed(params.size());
  for (size_t i = 0; i < params.size(); i++) reversed[i] = static_cast<int64_t>(params.size() - 1 - i);
  std::vector<bool> sparse(params.size(), false);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(params, {firstBucketBytes, bucketBytes}, sparse, reversed);
  auto reducer = std::make_shared<c10d::Reducer>(params, buckets, limits, g.pg, sparse, static_cast<int64_t>(bucketBytes),
                                                 /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                                                 std::unordered_map<size_t, std::string>{}, static_cast<int64_t>(firstBucketBytes));
  auto out = Napi::Object::New(env);
  out.Set("reducer", wrapExternal(env, new ReducerHandle{reducer}, kReducerTag));
  out.Set("buckets", Napi::Number::New(env, static_cast<double>(buckets.size())));
  return out;
}

// reducerPrepare(reducer, outputs): arms the gradient hooks for the coming backward.
Napi::Value reducerPrepare(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto* r = unwrapExternal<ReducerHandle>(env, info[0], kReducerTag, "reducerPrepare", "reducer");
  r->reducer->prepare_for_backward(tensorList(env, info[1], "reducerPrepare"));
  return env.Undefined();
}

#endif

Napi::Value distributedAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), MICRONET_DISTRIBUTED != 0);
}

}  // namespace

void registerDistributed(Exports& out) {
  out.emplace_back("distributedAvailable", guard<distributedAvailable>);
#if MICRONET_DISTRIBUTED
  out.emplace_back("groupNew", guard<groupNew>);
  out.emplace_back("groupAllReduce", guard<groupAllReduce>);
  out.emplace_back("groupBroadcast", guard<groupBroadcast>);
  out.emplace_back("groupBarrier", guard<groupBarrier>);
  out.emplace_back("groupClose", guard<groupClose>);
  out.emplace_back("reducerNew", guard<reducerNew>);
  out.emplace_back("reducerPrepare", guard<reducerPrepare>);
#endif
}

}  // namespace micronet
