// Times one forward and one inverse pass of the reference gauge flow
// (PHYSICS.md 4): 48 layers, albergo8 masks, 6 -> 64 -> 64 -> 25
// conditioners, 8-bin splines, L = 8, batch 64, float32.
#include <latflow/action.h>
#include <latflow/experiment.h>
#include <latflow/flow.h>
#include <latflow/registry.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace {

/// Only the field matters to the flow.
class U1Field final : public latflow::Action {
 public:
  latflow::FieldSpec field() const override { return {"u1", {2, 8, 8}}; }
  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    return torch::zeros({configs.size(0)}, torch::kFloat64);
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

TEST_CASE("bench: reference gauge flow, forward and inverse") {
  U1Field action;
  auto& registry = latflow::test::registry();
  latflow::BuildContext context;
  context.flow_dtype = torch::kFloat32;
  context.action = &action;
  auto flow = registry.make<latflow::Flow>(
      latflow::make_params(registry, "flow", "u1_equivariant",
                           {{"layers", int64_t{48}},
                            {"masks", std::string("albergo8")},
                            {"map", std::string("spline")},
                            {"bins", int64_t{8}},
                            {"hidden", std::vector<int64_t>{64, 64}},
                            {"kernel", int64_t{3}},
                            {"dilations", std::vector<int64_t>{1, 2, 3}}}),
      context);

  // As a run would: one LibTorch thread per available core.
  const int threads = latflow::configure_threads(0);
  int64_t count = 0;
  for (const auto& p : flow->parameters()) count += p.numel();

  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  const auto z = flow->sample_prior(64);
  flow->forward(flow->sample_prior(2));  // warm-up

  const auto start = std::chrono::steady_clock::now();
  const auto fwd = flow->forward(z);
  const double forward_s = seconds_since(start);
  const auto middle = std::chrono::steady_clock::now();
  const auto inv = flow->inverse(fwd.x);
  const double inverse_s = seconds_since(middle);

  fmt::print(
      "u1_equivariant reference: {} parameters, {} threads; batch 64: "
      "forward {:.3f} s, inverse {:.3f} s\n",
      count, threads, forward_s, inverse_s);
  CHECK(count == 2633904);
  CHECK(torch::isfinite(inv.log_det).all().item<bool>());
}
