#pragma once

#include <latflow/action.h>
#include <latflow/context.h>
#include <latflow/flow.h>
#include <latflow/registry.h>
#include <latflow/sampler.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace latflow::test {

using Values = std::vector<std::pair<std::string, ParamValue>>;

/// A component of kind T built from the test registry with `values` over
/// the schema's defaults, in float64 on the CPU.
template <class T>
std::shared_ptr<T> build(const std::string& type, const Values& values,
                         const Action* action = nullptr) {
  BuildContext context;
  context.flow_dtype = torch::kFloat64;
  context.action_dtype = torch::kFloat64;
  context.action = action;
  const auto params = make_params(registry(), T::kKind, type, values);
  return registry().make<T>(params, context);
}

/// Everything a sampler handed out, concatenated in order, with the size
/// of each chunk.
struct Collected {
  torch::Tensor configs;
  torch::Tensor log_q;
  torch::Tensor action;
  torch::Tensor log_w;
  std::vector<int64_t> chunk_sizes;
};

inline Collected collect(Sampler& sampler, Flow* flow, const Action& action,
                         int64_t n) {
  std::vector<torch::Tensor> configs, log_q, s, log_w;
  Collected out;
  sampler.sample(flow, action, torch::kFloat64, n,
                 [&](const SampleChunk& chunk) {
                   configs.push_back(chunk.configs);
                   log_q.push_back(chunk.log_q);
                   s.push_back(chunk.action);
                   log_w.push_back(chunk.log_w);
                   out.chunk_sizes.push_back(chunk.configs.size(0));
                 });
  out.configs = torch::cat(configs);
  out.log_q = torch::cat(log_q);
  out.action = torch::cat(s);
  out.log_w = torch::cat(log_w);
  return out;
}

/// The values of the observable `name` of `action` on `configs`.
inline torch::Tensor measure(const Action& action, const std::string& name,
                             const torch::Tensor& configs) {
  for (const auto& o : action.observables()) {
    if (o->name() == name) return o->measure(configs);
  }
  throw std::runtime_error("no observable " + name);
}

}  // namespace latflow::test
