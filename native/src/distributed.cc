// torch.distributed's engine (c10d), libtorch 2.x: a TCPStore rendezvous, a ProcessGroup whose
// backends are Gloo for CPU tensors and, in a CUDA build, NCCL (or Gloo) for CUDA tensors,
// collectives that wait for their result, and DDP's Reducer, which all-reduces gradients in
// buckets from autograd hooks while backward runs and averages them. Groups and reducers are
// type-tagged externals; every call checks its handles.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <type_traits>

#include "common.h"

// The wheel's headers declare Gloo's backend but not Gloo's own types: those come from Gloo's
// headers (Debian: libgloo-dev). Without them the build has no data-parallel training.
#if __has_include(<gloo/algorithm.h>)
#define MICRONET_DISTRIBUTED 1
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#if MICRONET_NCCL
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
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
  // The backend throws here when a peer has gone or the group's timeout passes.
  work->wait();
}

// A socket listening on host:port only (TCPStore's own listens on every interface): the store
// takes it over. For 127.0.0.1 that is the loopback interface alone.
int listenOn(Napi::Env env, const std::string& host, int64_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) fail(env, "groupNew: cannot resolve the master address " + host + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 2048) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    why = errno == EADDRINUSE ? "the port is in use: another run, or a second rank 0, holds it" : std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  fail(env, "groupNew: cannot listen on " + host + ":" + std::to_string(port) + " (" + why + ")");
}

// Each rank claims its number (a second process with the same RANK is refused by name), then all
// wait, within the timeout, until every rank has: a missing one is named instead of surfacing as
// a backend's key timeout. Rank 0, whose process holds the store, posts why it gives up and waits
// a moment before leaving, so that every rank reports the same reason rather than a lost connection.
void rendezvous(Napi::Env env, c10d::Store& store, int64_t rank, int64_t size, std::chrono::milliseconds timeout) {
  auto key = [](int64_t r) { return "micronet/rank/" + std::to_string(r); };
  const std::string abortKey = "micronet/abort";
  if (store.add(key(rank), 1) > 1)
    fail(env, "RANK " + std::to_string(rank) + " is taken twice: another process of this run has the same RANK");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string why;
  try {
    for (int64_t joined = store.add("micronet/joined", 1); joined < size; joined = store.add("micronet/joined", 0)) {
      if (store.check({abortKey})) {
        auto posted = store.get(abortKey);
        why.assign(posted.begin(), posted.end());
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::string missing;
        int shown = 0;
        for (int64_t r = 0; r < size && shown < 8; r++)
          if (!store.check({key(r)})) missing += (shown++ ? ", " : "") + std::to_string(r);
        why = std::to_string(joined) + " of " + std::to_string(size) + " ranks joined within " +
              (timeout.count() % 1000 ? std::to_string(timeout.count()) + " ms" : std::to_string(timeout.count() / 1000) + " s") +
              "; missing: rank " + missing + (size - joined > shown ? ", ..." : "");
        if (rank == 0) {
          store.set(abortKey, std::vector<uint8_t>(why.begin(), why.end()));
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception&) {
    why = "the rendezvous store (rank 0's process) went away before all " + std::to_string(size) + " ranks joined";
  }
  if (!why.empty()) fail(env, why);
}

// groupNew(host, port, rank, worldSize, timeoutMs, cudaBackend) -> group. Rank 0 serves the store
// on host's address only. CPU tensors go through Gloo; CUDA tensors through cudaBackend ('nccl'
// or 'gloo', in a CUDA build).
Napi::Value groupNew(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (!info[0].IsString()) fail(env, "groupNew: expected the master address");
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int64_t port = toInt64(env, info[1], "groupNew port");
  int64_t rank = toInt64(env, info[2], "groupNew rank");
  int64_t size = toInt64(env, info[3], "groupNew world size");
  int64_t timeoutMs = toInt64(env, info[4], "groupNew timeout");
  std::string cudaBackend = info[5].IsString() ? info[5].As<Napi::String>().Utf8Value() : "";
  if (port < 1 || port > 65535) fail(env, "groupNew: the port must be in 1..65535");
  if (size < 1 || rank < 0 || rank >= size) fail(env, "groupNew: the rank must be in 0..worldSize-1");
  if (timeoutMs < 1) fail(env, "groupNew: the timeout must be positive");
  if (cudaBackend != "gloo" && cudaBackend != "nccl") fail(env, "groupNew: the CUDA backend must be 'gloo' or 'nccl'");
#if !MICRONET_NCCL
  if (cudaBackend == "nccl") fail(env, "groupNew: this build has no NCCL (it needs a CUDA build of libtorch)");
#endif
  auto timeout = std::chrono::milliseconds(timeoutMs);
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<uint16_t>(port);
  storeOptions.isServer = rank == 0;
  storeOptions.numWorkers = static_cast<size_t>(size);
  storeOptions.waitWorkers = true;
  storeOptions.timeout = timeout;
  if (rank == 0) storeOptions.masterListenFd = listenOn(env, host, port);
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(host, storeOptions);
  rendezvous(env, *store, rank, size, timeout);

  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, static_cast<int>(rank), static_cast<int>(size));
  auto glooOptions = c10d::ProcessGroupGloo::Options::create(timeout);
  // Gloo's own connections bind the same interface as the store.
  glooOptions->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  glooOptions->threads = 2;
  auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo/", store),
                                                          static_cast<int>(rank), static_cast<int>(size), glooOptions);
  pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
  pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
#if MICRONET_CUDA
  if (cudaBackend == "gloo") pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, gloo);
#endif
#if MICRONET_NCCL
  if (cudaBackend == "nccl") {
    auto ncclOptions = c10d::ProcessGroupNCCL::Options::create();
    ncclOptions->timeout = timeout;
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl/", store),
                                                            static_cast<int>(rank), static_cast<int>(size), ncclOptions);
    pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
  }
#endif
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

// The Reducer's constructor gains trailing options from one 2.x release to the next; the defaults
// of DDP (no unused-parameter search, gradients copied into the buckets) are passed to whichever
// form this libtorch has.
template <typename R>
std::shared_ptr<R> makeReducer(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> buckets,
                               c10::intrusive_ptr<c10d::ProcessGroup> pg, std::vector<bool> sparse, int64_t cap, int64_t firstCap) {
  using Names = std::unordered_map<size_t, std::string>;
  if constexpr (std::is_constructible_v<R, std::vector<at::Tensor>, std::vector<std::vector<size_t>>, c10::intrusive_ptr<c10d::ProcessGroup>,
                                        std::vector<bool>, int64_t, bool, bool, Names, int64_t, bool, bool, std::vector<int64_t>>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), pg, std::move(sparse), cap, false, false, Names{}, firstCap,
                               /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, std::vector<int64_t>{});
  } else if constexpr (std::is_constructible_v<R, std::vector<at::Tensor>, std::vector<std::vector<size_t>>, c10::intrusive_ptr<c10d::ProcessGroup>,
                                               std::vector<bool>, int64_t, bool, bool, Names, int64_t, bool, bool>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), pg, std::move(sparse), cap, false, false, Names{}, firstCap, false, false);
  } else {
    return std::make_shared<R>(std::move(params), std::move(buckets), pg, std::move(sparse), cap, false, false, Names{}, firstCap);
  }
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
  auto buckets = std::get<0>(c10d::compute_bucket_assignment_by_size(params, {firstBucketBytes, bucketBytes}, sparse, reversed));
  const size_t bucketCount = buckets.size();
  auto reducer = makeReducer<c10d::Reducer>(std::move(params), std::move(buckets), g.pg, std::move(sparse),
                                            static_cast<int64_t>(bucketBytes), static_cast<int64_t>(firstBucketBytes));
  auto out = Napi::Object::New(env);
  out.Set("reducer", wrapExternal(env, new ReducerHandle{reducer}, kReducerTag));
  out.Set("buckets", Napi::Number::New(env, static_cast<double>(bucketCount)));
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

// distributedBackends() -> { gloo: boolean, nccl: version string or null }.
Napi::Value distributedBackends(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("gloo", Napi::Boolean::New(info.Env(), MICRONET_DISTRIBUTED != 0));
#if MICRONET_DISTRIBUTED && MICRONET_NCCL
  out.Set("nccl", Napi::String::New(info.Env(), c10d::getNcclVersion()));
#else
  out.Set("nccl", info.Env().Null());
#endif
  return out;
}

}  // namespace

void registerDistributed(Exports& out) {
  out.emplace_back("distributedBackends", guard<distributedBackends>);
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
