#pragma once

#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/observable.h>
#include <latflow/registry.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace latflow::u1_test {

using Values = std::vector<std::pair<std::string, ParamValue>>;

constexpr double kPi = 3.141592653589793238462643383279502884;

/// An action of the u1 plugin built through the registry.
inline std::shared_ptr<Action> make_action(
    const std::string& type, const Values& values,
    torch::Dtype dtype = torch::kFloat64) {
  auto& registry = test::registry();
  BuildContext context;
  context.action_dtype = dtype;
  return registry.make<Action>(make_params(registry, "action", type, values),
                               context);
}

/// The message of the InputError thrown by fn, or "" if none is thrown.
inline std::string input_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

/// n link configurations uniform in [0, 2 pi), (n, 2, L, L) float64.
inline torch::Tensor random_links(int64_t n, int64_t L) {
  return torch::rand({n, 2, L, L}, torch::kFloat64) * (2 * kPi);
}

/// theta_mu(x) + a(x) - a(x + mu) for random a(x), wrapped to [0, 2 pi).
inline torch::Tensor gauge_transform(const torch::Tensor& theta) {
  const auto a = torch::rand({theta.size(0), theta.size(2), theta.size(3)},
                             torch::kFloat64) *
                 (2 * kPi);
  const auto t0 = theta.select(1, 0) + a - torch::roll(a, {-1}, {1});
  const auto t1 = theta.select(1, 1) + a - torch::roll(a, {-1}, {2});
  return torch::remainder(torch::stack({t0, t1}, 1), 2 * kPi);
}

/// The observable of `action` called `name`.
inline std::shared_ptr<Observable> observable(const Action& action,
                                              const std::string& name) {
  for (auto& o : action.observables()) {
    if (o->name() == name) return o;
  }
  throw std::runtime_error("no observable " + name);
}

/// The part of `action` called `name`.
inline torch::Tensor part(const Action& action, const torch::Tensor& configs,
                          const std::string& name) {
  for (auto& [key, value] : action.parts(configs)) {
    if (key == name) return value;
  }
  throw std::runtime_error("no part " + name);
}

/// Largest |a - b|.
inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64))
      .abs()
      .max()
      .item<double>();
}

/// dS/dtheta by autograd, summed over the batch.
inline torch::Tensor autograd_force(const Action& action,
                                    const torch::Tensor& configs) {
  const auto theta = configs.detach().clone().requires_grad_(true);
  const auto s = action.evaluate(theta).sum();
  return torch::autograd::grad({s}, {theta})[0];
}

/// dS/dtheta by central differences with step h, one configuration
/// (1, 2, L, L), every link angle.
inline torch::Tensor finite_difference_force(const Action& action,
                                             const torch::Tensor& config,
                                             double h) {
  torch::NoGradGuard no_grad;
  const auto flat = config.reshape({-1});
  const int64_t n = flat.numel();
  // All 2n shifted copies in one batch.
  auto shifted = flat.unsqueeze(0).repeat({2 * n, 1});
  const auto rows = torch::arange(n);
  shifted.index_put_({rows, rows}, flat + h);
  shifted.index_put_({rows + n, rows}, flat - h);
  const auto s =
      action.evaluate(shifted.view({2 * n, 2, config.size(2), config.size(3)}))
          .to(torch::kFloat64);
  return ((s.slice(0, 0, n) - s.slice(0, n)) / (2 * h)).view(config.sizes());
}

}  // namespace latflow::u1_test
