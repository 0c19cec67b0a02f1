// Unit tests of action/xy: the force against finite differences of S, the
// symmetries of S, the refused parameters and the action dtype.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/registry.h>

#include <torch/types.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using Values = std::vector<std::pair<std::string, latflow::ParamValue>>;

constexpr double kPi = 3.141592653589793238462643383279502884;

/// The registry with this project's plugin, loaded once by file.
latflow::Registry& registry() {
  static latflow::Registry* instance = [] {
    auto* r = new latflow::Registry();
    r->load_plugin(XY_PLUGIN);
    return r;
  }();
  return *instance;
}

std::shared_ptr<latflow::Action> make_xy(
    const Values& values, torch::Dtype dtype = torch::kFloat64) {
  latflow::BuildContext context;
  context.action_dtype = dtype;
  return registry().make<latflow::Action>(
      latflow::make_params(registry(), "action", "xy", values), context);
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

}  // namespace

TEST_CASE("the force equals the analytic force and finite differences") {
  torch::manual_seed(3);
  const int64_t extent = 3;
  const double beta = 0.9;
  const auto action = make_xy({{"L", extent}, {"beta", beta}});
  const auto theta = (2 * kPi * torch::rand({2, extent, extent},
                                            torch::kFloat64))
                         .requires_grad_();
  action->evaluate(theta).sum().backward();
  const auto force = theta.grad();

  // dS/dtheta_x = beta sum_mu [sin(theta_x - theta_{x+mu})
  //                            + sin(theta_x - theta_{x-mu})]
  const auto t = theta.detach();
  auto analytic = torch::zeros_like(t);
  for (const int64_t mu : {1, 2}) {
    analytic += torch::sin(t - torch::roll(t, {-1}, {mu})) +
                torch::sin(t - torch::roll(t, {1}, {mu}));
  }
  CHECK(max_abs(force - beta * analytic) < 1e-12);

  // Central differences: truncation ~h^2 S''' ~ 1e-10, round-off
  // ~eps S / h ~ 1e-11.
  const double h = 1e-5;
  for (int64_t x0 = 0; x0 < extent; ++x0) {
    for (int64_t x1 = 0; x1 < extent; ++x1) {
      auto plus = t.clone();
      auto minus = t.clone();
      plus.select(1, x0).select(1, x1) += h;
      minus.select(1, x0).select(1, x1) -= h;
      const auto difference =
          (action->evaluate(plus) - action->evaluate(minus)) / (2 * h);
      CHECK(max_abs(difference - force.select(1, x0).select(1, x1)) < 1e-8);
    }
  }
}

TEST_CASE("S is invariant under a global rotation and whole turns") {
  torch::manual_seed(5);
  const auto action = make_xy({{"L", int64_t{4}}, {"beta", 1.1}});
  const auto theta = 2 * kPi * torch::rand({3, 4, 4}, torch::kFloat64);
  const auto s = action->evaluate(theta);
  CHECK(max_abs(action->evaluate(theta + 0.7) - s) < 1e-12);
  const auto turns = torch::randint(-3, 4, {3, 4, 4}, torch::kFloat64);
  CHECK(max_abs(action->evaluate(theta + 2 * kPi * turns) - s) < 1e-11);
  // Reflection theta -> -theta leaves every cosine as it is.
  CHECK(max_abs(action->evaluate(-theta) - s) < 1e-12);
}

TEST_CASE("the schema refuses what the model does not allow") {
  const auto message = [](const Values& values) {
    try {
      make_xy(values);
    } catch (const latflow::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message({{"beta", -0.5}}) ==
        "action/xy: beta: expected a number >= 0, got -0.5");
  CHECK(message({{"L", int64_t{1}}}) ==
        "action/xy: L: expected an integer >= 2, got 1");
}

TEST_CASE("S follows the action dtype") {
  torch::manual_seed(7);
  const Values values = {{"L", int64_t{4}}, {"beta", 0.8}};
  const auto theta = 2 * kPi * torch::rand({4, 4, 4}, torch::kFloat64);
  const auto s64 = make_xy(values)->evaluate(theta);
  const auto s32 = make_xy(values, torch::kFloat32)
                       ->evaluate(theta.to(torch::kFloat32));
  CHECK(std::string(c10::toString(s32.scalar_type())) == "Float");
  // 32 cosines of unit size, each within float32 round-off.
  CHECK(max_abs(s32.to(torch::kFloat64) - s64) < 1e-5);
}
