#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/plugin.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr int64_t kDimensions = 2;
constexpr double kPi = 3.141592653589793238462643383279502884;

/// Sum over the lattice dimensions of a batch (B, L, L) -> (B).
torch::Tensor sum_sites(const torch::Tensor& field) {
  return field.sum({1, 2});
}

/// Refuses anything but a batch of L x L configurations.
void check_configs(const torch::Tensor& configs, int64_t extent,
                   const char* where) {
  LATFLOW_CHECK(configs.dim() == 3 && configs.size(1) == extent &&
                    configs.size(2) == extent,
                "action/phi4 {}: configurations must be (B, {}, {}), got {}",
                where, extent, extent, c10::str(configs.sizes()));
}

/// Real scalar phi^4 theory on a periodic L x L lattice:
///
///     S = sum_x [ (m2/2 + d) phi_x^2 + (lambda/24) phi_x^4
///                 - sum_mu phi_x phi_{x+mu} ]
///
/// Configurations are (B, L, L) in the action dtype; S is (B) in the same
/// dtype and differentiable. At lambda = 0 and m2 > 0 the theory is free
/// and its free energy and observables are exact (lattice momenta).
///
/// Observables, each (B) float64 per configuration:
/// - "magnetisation": M / V, the mean field per site;
/// - "abs_magnetisation": |M| / V;
/// - "susceptibility": M^2 / V, whose mean is the susceptibility <M^2>/V;
/// - "phi2": the mean of phi_x^2 over the sites.
class Phi4Action final : public latflow::Action {
 public:
  explicit Phi4Action(latflow::Params params)
      : Action(std::move(params)),
        extent_(this->params().get_int("L")),
        m2_(this->params().get_float("m2")),
        lambda_(this->params().get_float("lambda")) {}

  latflow::FieldSpec field() const override {
    return {"scalar", {extent_, extent_}};
  }

  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    check_configs(configs, extent_, "evaluate");
    // Each pair of neighbours is counted once: only the forward neighbour
    // in each direction.
    const auto hopping = configs * (torch::roll(configs, {-1}, {1}) +
                                    torch::roll(configs, {-1}, {2}));
    const auto square = configs * configs;
    return sum_sites((m2_ / 2 + kDimensions) * square +
                     (lambda_ / 24) * square * square - hopping);
  }

  std::vector<std::shared_ptr<latflow::Observable>> observables()
      const override {
    const double volume = static_cast<double>(extent_ * extent_);
    // Observables may outlive this object: they capture values only.
    const auto as_double = [extent = extent_](const torch::Tensor& configs) {
      check_configs(configs, extent, "observable");
      return configs.to(torch::kFloat64);
    };
    return {
        latflow::make_observable(
            "magnetisation",
            [as_double, volume](const torch::Tensor& configs) {
              return sum_sites(as_double(configs)) / volume;
            }),
        latflow::make_observable(
            "abs_magnetisation",
            [as_double, volume](const torch::Tensor& configs) {
              return sum_sites(as_double(configs)).abs() / volume;
            }),
        latflow::make_observable(
            "susceptibility",
            [as_double, volume](const torch::Tensor& configs) {
              return sum_sites(as_double(configs)).square() / volume;
            }),
        latflow::make_observable(
            "phi2",
            [as_double, volume](const torch::Tensor& configs) {
              return sum_sites(as_double(configs).square()) / volume;
            }),
    };
  }

  /// F = -(V/2) log(2 pi) + (1/2) sum_k log(k^2 + m2), free field only.
  std::optional<double> exact_free_energy() const override {
    if (!is_free_field()) return std::nullopt;
    const double volume = static_cast<double>(extent_ * extent_);
    double log_det = 0.0;
    for_each_momentum([&](double k2) { log_det += std::log(k2 + m2_); });
    return -volume / 2 * std::log(2 * kPi) + log_det / 2;
  }

  /// Free field only. The zero mode alone carries M: M is Gaussian with
  /// variance V / m2, so <M^2>/V = 1/m2 and <|M|>/V = sqrt(2/(pi m2 V)).
  std::map<std::string, double> exact_observables() const override {
    if (!is_free_field()) return {};
    const double volume = static_cast<double>(extent_ * extent_);
    double propagator_trace = 0.0;
    for_each_momentum([&](double k2) { propagator_trace += 1 / (k2 + m2_); });
    return {
        {"magnetisation", 0.0},
        {"abs_magnetisation", std::sqrt(2 / (kPi * m2_ * volume))},
        {"susceptibility", 1 / m2_},
        {"phi2", propagator_trace / volume},
    };
  }

 private:
  /// Whether the exact free-field results apply (Z is finite only for
  /// m2 > 0 at lambda = 0).
  bool is_free_field() const { return lambda_ == 0.0 && m2_ > 0.0; }

  /// Calls fn(k^2) for every lattice momentum, k^2 = sum_mu 4 sin^2(pi
  /// n_mu / L).
  template <class Fn>
  void for_each_momentum(Fn fn) const {
    std::vector<double> k2(extent_);
    for (int64_t n = 0; n < extent_; ++n) {
      const double s =
          std::sin(kPi * static_cast<double>(n) / static_cast<double>(extent_));
      k2[n] = 4 * s * s;
    }
    for (int64_t n0 = 0; n0 < extent_; ++n0) {
      for (int64_t n1 = 0; n1 < extent_; ++n1) fn(k2[n0] + k2[n1]);
    }
  }

  int64_t extent_;
  double m2_;
  double lambda_;
};

}  // namespace

LATFLOW_PLUGIN("phi4", "1.0.0") {
  latflow::Schema schema;
  schema.add_int("L", 8, "lattice extent in both directions").at_least(2);
  schema.add_float("m2", 1.25, "bare mass squared; may be negative");
  schema.add_float("lambda", 0.0, "quartic coupling (lambda/24) phi^4")
      .at_least(0);
  registry.add<latflow::Action>(
      "phi4",
      "real scalar phi^4 on a periodic L x L lattice; exact at lambda = 0, "
      "m2 > 0",
      std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<Phi4Action>(params);
      });
}
