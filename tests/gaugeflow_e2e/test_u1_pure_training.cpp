// End to end: pure U(1) of experiments/u1_pure.toml, trained with
// reinforce and with reparam through the latflow program, meets the exact
// finite-volume mean plaquette and <Q^2>. The two trainings run side by
// side with one thread each: on small tensors a run keeps one core busy,
// so two at once take the wall time of one.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reliability/reliability_support.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;

void check_pure_gauge(const std::string& estimator, const fs::path& out) {
  const auto summary = latflow::test::read_text(out / "summary.json");
  using latflow::test::json_number;
  const double ess = json_number(summary, "ess");
  const double seconds = json_number(summary, "seconds_per_step");
  const double plaquette =
      json_number(summary, "observables.mean_plaquette.mean");
  const double plaquette_error =
      json_number(summary, "observables.mean_plaquette.error");
  const double plaquette_exact =
      json_number(summary, "observables.mean_plaquette.exact");
  const double q2 = json_number(summary, "observables.q2.mean");
  const double q2_error = json_number(summary, "observables.q2.error");
  const double q2_exact = json_number(summary, "observables.q2.exact");
  const double f = json_number(summary, "free_energy_nis.mean");
  const double f_error = json_number(summary, "free_energy_nis.error");
  const double f_exact = json_number(summary, "free_energy_exact");
  MESSAGE(estimator << ": ess " << ess << ", " << seconds
                    << " s/step, plaquette " << plaquette << " +- "
                    << plaquette_error << " (exact " << plaquette_exact
                    << "), <Q^2> " << q2 << " +- " << q2_error << " (exact "
                    << q2_exact << "), F_NIS " << f << " +- " << f_error
                    << " (exact " << f_exact << ")");
  CHECK(ess >= 0.5);
  CHECK(plaquette_error > 0);
  CHECK(q2_error > 0);
  CHECK(std::abs(plaquette - plaquette_exact) < 3 * plaquette_error);
  CHECK(std::abs(q2 - q2_exact) < 3 * q2_error);
  CHECK(std::abs(f - f_exact) < 3 * f_error);
}

}  // namespace

TEST_CASE("pure U(1) trained with reinforce and with reparam") {
  latflow::test::TempDir dir;
  const auto experiment =
      latflow::test::source_path("experiments/u1_pure.toml");
  const std::vector<std::string> estimators{"reinforce", "reparam"};
  latflow::test::train_side_by_side(experiment, estimators, dir.path(),
                                    3000);
  for (const auto& estimator : estimators) {
    check_pure_gauge(estimator, dir.path() / estimator);
  }
}
