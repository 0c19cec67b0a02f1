#include <latflow/observable.h>
#include <torch/torch.h>

#include <cmath>

#include "actions.h"
#include "gauge.h"
#include "u1_exact.h"

namespace latflow::u1 {

namespace {

constexpr const char* kName = "u1_gauge";

/// S = -beta sum_x cos P(x) on (B, 2, L, L) link angles (PHYSICS.md 3.2).
class U1GaugeAction final : public Action {
 public:
  U1GaugeAction(const Params& params, const BuildContext& context)
      : Action(params),
        L_(params.get_int("L")),
        beta_(params.get_float("beta")),
        dtype_(context.action_dtype) {}

  FieldSpec field() const override { return {"u1", {2, L_, L_}}; }

  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    check_links(configs, L_, kName);
    return gauge_action(configs.to(dtype_), beta_);
  }

  std::vector<std::pair<std::string, torch::Tensor>> parts(
      const torch::Tensor& configs) const override {
    return {{"gauge", evaluate(configs)}};
  }

  std::vector<std::shared_ptr<Observable>> observables() const override {
    return gauge_observables(L_, kName);
  }

  /// F = -2V log(2 pi) - log sum_n I_n(beta)^V (flat measure).
  std::optional<double> exact_free_energy() const override {
    return u1_exact(beta_, L_ * L_).free_energy;
  }

  /// Keyed by observable name; "topological_susceptibility" is
  /// <Q^2> / V.
  std::map<std::string, double> exact_observables() const override {
    const auto exact = u1_exact(beta_, L_ * L_);
    return {{"mean_plaquette", exact.mean_plaquette},
            {"topological_charge", 0.0},
            {"q2", exact.q2},
            {"topological_susceptibility",
             exact.q2 / static_cast<double>(L_ * L_)}};
  }

 private:
  int64_t L_;
  double beta_;
  torch::Dtype dtype_;
};

}  // namespace

Schema u1_gauge_schema() {
  Schema schema;
  schema.add_int("L", 8, "lattice extent in both directions").at_least(2);
  schema.add_float("beta", 2.0, "gauge coupling").at_least(0);
  return schema;
}

std::shared_ptr<Action> make_u1_gauge(const Params& params,
                                      const BuildContext& context) {
  return std::make_shared<U1GaugeAction>(params, context);
}

}  // namespace latflow::u1
