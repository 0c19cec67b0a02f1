#pragma once

#include <latflow/action.h>
#include <latflow/flow.h>
#include <latflow/json.h>
#include <latflow/stats.h>

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace latflow {

/// Figures of a trained flow on a fresh batch of independent samples.
struct Evaluation {
  int64_t samples = 0;
  double ess = 0.0;  ///< ESS per configuration, 0..1
  Estimate free_energy_q;    ///< mean of log q + S and its error
  Estimate free_energy_nis;  ///< -log of the mean weight, delta-method error
  /// NIS estimates keyed by observable name, in the action's order.
  std::vector<std::pair<std::string, Estimate>> observables;
  std::optional<double> exact_free_energy;
  std::map<std::string, double> exact_observables;
  double seconds = 0.0;
  /// Samples whose log weight was not finite (left out of the estimates).
  int64_t nonfinite = 0;
};

/// Draws n samples in chunks without autograd and estimates ESS, free
/// energies and the action's observables with importance weights, all in
/// float64.
Evaluation evaluate_flow(Flow& flow, const Action& action,
                         torch::Dtype action_dtype, int64_t n, int64_t chunk);

/// The evaluation as summary.json fields (ess, free_energy_q,
/// free_energy_nis, free_energy_exact, observables).
void add_to_summary(const Evaluation& evaluation, Json& summary);

/// A short aligned table of the evaluation for the terminal.
std::string format_evaluation(const Evaluation& evaluation);

}  // namespace latflow
