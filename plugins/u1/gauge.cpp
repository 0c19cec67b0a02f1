#include "gauge.h"

#include <latflow/error.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

namespace latflow::u1 {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::string shape_text(const torch::Tensor& t) {
  std::string text = "(";
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d > 0) text += ", ";
    text += std::to_string(t.size(d));
  }
  return text + ")";
}

}  // namespace

torch::Tensor plaquettes(const torch::Tensor& theta) {
  const auto theta0 = theta.select(1, 0);
  const auto theta1 = theta.select(1, 1);
  // roll by -1 along an axis reads the neighbour at x + e_mu.
  return theta0 + torch::roll(theta1, {-1}, {1}) -
         torch::roll(theta0, {-1}, {2}) - theta1;
}

torch::Tensor gauge_action(const torch::Tensor& theta, double beta) {
  return -beta * torch::cos(plaquettes(theta)).sum({1, 2});
}

torch::Tensor mean_plaquette(const torch::Tensor& theta) {
  torch::NoGradGuard no_grad;
  return torch::cos(plaquettes(theta.to(torch::kFloat64))).mean({1, 2});
}

torch::Tensor topological_charge(const torch::Tensor& theta) {
  torch::NoGradGuard no_grad;
  const auto p = plaquettes(theta.to(torch::kFloat64));
  const auto windings = torch::floor((p + kPi) / (2 * kPi));
  // + 0 turns the -0 of an uncharged configuration into 0 for printing.
  return -windings.sum({1, 2}) + 0.0;
}

void check_links(const torch::Tensor& theta, int64_t L, const char* action) {
  LATFLOW_CHECK_INPUT(
      theta.dim() == 4 && theta.size(1) == 2 && theta.size(2) == L &&
          theta.size(3) == L,
      "action {}: expected link angles of shape (B, 2, {}, {}), got {}", action,
      L, L, shape_text(theta));
  LATFLOW_CHECK_INPUT(theta.is_floating_point(),
                      "action {}: expected real link angles, got {}", action,
                      std::string(c10::toString(theta.scalar_type())));
}

std::vector<std::shared_ptr<Observable>> gauge_observables(
    int64_t L, const char* action) {
  return {
      make_observable("mean_plaquette",
                      [L, action](const torch::Tensor& configs) {
                        check_links(configs, L, action);
                        return mean_plaquette(configs);
                      }),
      make_observable("topological_charge",
                      [L, action](const torch::Tensor& configs) {
                        check_links(configs, L, action);
                        return topological_charge(configs);
                      }),
      make_observable("q2",
                      [L, action](const torch::Tensor& configs) {
                        check_links(configs, L, action);
                        return topological_charge(configs).square();
                      }),
  };
}

}  // namespace latflow::u1
