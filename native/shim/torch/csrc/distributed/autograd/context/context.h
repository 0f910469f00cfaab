// Stand-in for distributed autograd's context header, which c10d's reducer.hpp includes but
// Debian's libtorch-dev does not ship. The Reducer only names these two types (a shared pointer
// member and a callback signature it checks), so declaring them keeps its layout unchanged; this
// directory comes after libtorch's own includes, so a full libtorch's header wins.
#pragma once

#include <functional>
#include <memory>

#include <ATen/core/Tensor.h>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
