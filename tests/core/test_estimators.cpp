// The three estimators target the same gradient of F_q. Averaged over many
// independent batches their means must agree within the standard errors
// measured from the same batches.

#include <latflow/estimator.h>
#include <latflow/registry.h>

#include <doctest/doctest.h>
#include <torch/torch.h>

#include "support/test_support.h"

using namespace latflow;

namespace {

struct GradientStats {
  torch::Tensor mean;
  torch::Tensor error;
};

/// Mean and standard error of the flattened gradient over `repeats`
/// batches of `batch` samples.
GradientStats gradient_stats(Flow& flow, Estimator& estimator,
                             const Action& action, int64_t batch,
                             int repeats) {
  std::vector<torch::Tensor> samples;
  for (int r = 0; r < repeats; ++r) {
    flow.zero_grad();
    estimator.step(flow, action, torch::kFloat64, batch, 1.0, nullptr);
    std::vector<torch::Tensor> parts;
    for (const auto& p : flow.parameters()) {
      parts.push_back(p.grad().reshape({-1}).clone());
    }
    samples.push_back(torch::cat(parts));
  }
  const auto all = torch::stack(samples);
  return {all.mean(0), all.std(0) / std::sqrt(static_cast<double>(repeats))};
}

}  // namespace

TEST_CASE("reparam, reinforce and path gradient agree in expectation") {
  torch::manual_seed(11);
  auto& r = test::registry();
  BuildContext context;
  context.flow_dtype = torch::kFloat64;
  auto action = r.make<Action>(
      make_params(r, "action", "phi4",
                  {{"L", int64_t{4}}, {"m2", -0.5}, {"lambda", 3.0}}),
      context);
  context.action = action.get();
  auto flow = r.make<Flow>(
      make_params(r, "flow", "affine_coupling",
                  {{"layers", int64_t{2}}, {"hidden", int64_t{4}},
                   {"init_scale", 0.3}}),
      context);
  auto make = [&](const std::string& type,
                  std::vector<std::pair<std::string, ParamValue>> values) {
    return r.make<Estimator>(make_params(r, "estimator", type, values),
                             context);
  };
  // N/(N-1) undoes the batch-mean baseline's scaling of the expectation.
  auto reinforce = make("reinforce", {{"rescale", true}});
  auto reparam = make("reparam", {});
  auto path = make("path_gradient", {});

  const int64_t batch = 32;
  const int repeats = 300;
  const auto a = gradient_stats(*flow, *reparam, *action, batch, repeats);
  const auto b = gradient_stats(*flow, *reinforce, *action, batch, repeats);
  const auto c = gradient_stats(*flow, *path, *action, batch, repeats);

  // The gradient is clearly non-zero: many components lie far from 0.
  const auto signal = (a.mean.abs() / a.error).gt(5).sum().item<int64_t>();
  CHECK(signal > a.mean.numel() / 10);

  // Pulls between estimators: for unbiased estimators they are standard
  // normal (up to correlations), so none lies beyond 5 and their mean
  // square stays near 1.
  for (const auto& [name, other] :
       {std::pair{"reinforce", b}, std::pair{"path_gradient", c}}) {
    const auto pull =
        (a.mean - other.mean) / torch::sqrt(a.error.pow(2) +
                                            other.error.pow(2));
    const double max_pull = pull.abs().max().item<double>();
    const double mean_square = pull.pow(2).mean().item<double>();
    CAPTURE(name);
    CAPTURE(max_pull);
    CAPTURE(mean_square);
    CHECK(max_pull < 5.0);
    CHECK(mean_square < 2.0);
    CHECK(mean_square > 0.3);
  }
  // The path gradient has the lowest variance of the three near a good
  // flow; here it must at least not exceed reinforce's.
  CHECK(c.error.pow(2).sum().item<double>() <
        b.error.pow(2).sum().item<double>());
}

TEST_CASE("reinforce's mean baseline scales the gradient by (N-1)/N") {
  auto& r = test::registry();
  BuildContext context;
  context.flow_dtype = torch::kFloat64;
  auto action = r.make<Action>(
      make_params(r, "action", "phi4", {{"L", int64_t{4}}}), context);
  context.action = action.get();
  auto flow = r.make<Flow>(
      make_params(r, "flow", "affine_coupling",
                  {{"layers", int64_t{2}}, {"hidden", int64_t{4}},
                   {"init_scale", 0.3}}),
      context);
  auto plain = r.make<Estimator>(
      make_params(r, "estimator", "reinforce", {}), context);
  auto rescaled = r.make<Estimator>(
      make_params(r, "estimator", "reinforce", {{"rescale", true}}), context);
  const int64_t batch = 8;
  auto gradient = [&](Estimator& e) {
    torch::manual_seed(5);
    flow->zero_grad();
    e.step(*flow, *action, torch::kFloat64, batch, 1.0, nullptr);
    std::vector<torch::Tensor> parts;
    for (const auto& p : flow->parameters()) {
      parts.push_back(p.grad().reshape({-1}).clone());
    }
    return torch::cat(parts);
  };
  const auto g_plain = gradient(*plain);
  const auto g_rescaled = gradient(*rescaled);
  CHECK(torch::allclose(g_rescaled * (batch - 1.0) / batch, g_plain, 1e-12,
                        1e-14));
  CHECK(g_plain.abs().sum().item<double>() > 0);
}
