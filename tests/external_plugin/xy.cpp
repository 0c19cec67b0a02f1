// The classical XY model, as a plugin built outside latflow against its
// installed package. docs/plugins.md walks through this file.

#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/plugin.h>

#include <torch/types.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

/// Refuses anything but a batch of L x L angles.
void check_configs(const torch::Tensor& configs, int64_t extent,
                   const char* where) {
  LATFLOW_CHECK(configs.dim() == 3 && configs.size(1) == extent &&
                    configs.size(2) == extent,
                "action/xy {}: configurations must be (B, {}, {}), got {}",
                where, extent, extent, c10::str(configs.sizes()));
}

/// The neighbour of every site in direction mu (1 or 2, the lattice axes
/// of a batch), periodic.
torch::Tensor forward_neighbour(const torch::Tensor& configs, int64_t mu) {
  return torch::roll(configs, {-1}, {mu});
}

/// sum_mu cos(theta_x - theta_{x+mu}) at every site, (B, L, L).
torch::Tensor bond_cosines(const torch::Tensor& theta) {
  return torch::cos(theta - forward_neighbour(theta, 1)) +
         torch::cos(theta - forward_neighbour(theta, 2));
}

/// An angle difference brought into [-pi, pi).
torch::Tensor wrap(const torch::Tensor& angle) {
  return torch::remainder(angle + kPi, 2 * kPi) - kPi;
}

/// Classical XY model on a periodic L x L lattice: one angle theta_x per
/// site and
///
///     S = -beta sum_x sum_mu cos(theta_x - theta_{x+mu}),
///
/// each bond counted once. Configurations are (B, L, L) angles (any real
/// value; S is 2 pi periodic in each) in the action dtype; S is (B) in the
/// same dtype and differentiable. The field kind is "circle", which the
/// flows shipped with latflow do not transform: they refuse it by name.
///
/// Observables, each (B) float64 per configuration:
/// - "energy_density": -(1/V) sum_x sum_mu cos(theta_x - theta_{x+mu}),
///   in [-2, 2]; S = beta V energy_density;
/// - "magnetisation": |sum_x exp(i theta_x)| / V, in [0, 1];
/// - "vortex_density": (1/V) sum over plaquettes of |w|, where the winding
///   w is the sum of the wrapped angle differences around the plaquette
///   divided by 2 pi.
class XyAction final : public latflow::Action {
 public:
  explicit XyAction(latflow::Params params)
      : Action(std::move(params)),
        extent_(this->params().get_int("L")),
        beta_(this->params().get_float("beta")) {}

  latflow::FieldSpec field() const override {
    return {"circle", {extent_, extent_}};
  }

  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    check_configs(configs, extent_, "evaluate");
    return -beta_ * bond_cosines(configs).sum({1, 2});
  }

  std::vector<std::shared_ptr<latflow::Observable>> observables()
      const override {
    const double volume = static_cast<double>(extent_ * extent_);
    // The functions capture values, never `this`: an observable may be
    // used after the action that made it is gone.
    const auto as_double = [extent = extent_](const torch::Tensor& configs) {
      check_configs(configs, extent, "observable");
      return configs.to(torch::kFloat64);
    };
    return {
        latflow::make_observable(
            "energy_density",
            [as_double, volume](const torch::Tensor& configs) {
              return -bond_cosines(as_double(configs)).sum({1, 2}) / volume;
            }),
        latflow::make_observable(
            "magnetisation",
            [as_double, volume](const torch::Tensor& configs) {
              const auto theta = as_double(configs);
              const auto mx = torch::cos(theta).sum({1, 2});
              const auto my = torch::sin(theta).sum({1, 2});
              return torch::sqrt(mx * mx + my * my) / volume;
            }),
        latflow::make_observable(
            "vortex_density",
            [as_double, volume](const torch::Tensor& configs) {
              // Corners of the plaquette at x, counter-clockwise:
              // x, x+1, x+1+2, x+2 (1 and 2 are the lattice axes).
              const auto a = as_double(configs);
              const auto b = forward_neighbour(a, 1);
              const auto c = forward_neighbour(b, 2);
              const auto d = forward_neighbour(a, 2);
              const auto circulation =
                  wrap(b - a) + wrap(c - b) + wrap(d - c) + wrap(a - d);
              const auto winding = torch::round(circulation / (2 * kPi));
              return winding.abs().sum({1, 2}) / volume;
            }),
    };
  }

 private:
  int64_t extent_;
  double beta_;
};

}  // namespace

LATFLOW_PLUGIN("xy_model", "1.0.0") {
  latflow::Schema schema;
  schema.add_int("L", 8, "lattice extent in both directions").at_least(2);
  schema.add_float("beta", 1.0, "coupling; the BKT transition is near 1.12")
      .at_least(0);
  registry.add<latflow::Action>(
      "xy",
      "classical XY model (angles on the circle) on a periodic L x L "
      "lattice",
      std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<XyAction>(params);
      });
}
