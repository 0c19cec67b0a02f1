// End to end: the free field of experiments/phi4_free.toml, trained with
// each estimator through the latflow program, meets the exact results. The
// two trainings run side by side with one thread each.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reliability/reliability_support.h"
#include "support/test_support.h"

namespace {

void check_free_field(const std::string& estimator,
                      const std::filesystem::path& out) {
  const auto summary = latflow::test::read_text(out / "summary.json");
  using latflow::test::json_number;
  const double ess = json_number(summary, "ess");
  const double f = json_number(summary, "free_energy_nis.mean");
  const double f_error = json_number(summary, "free_energy_nis.error");
  const double f_exact = json_number(summary, "free_energy_exact");
  const double phi2 = json_number(summary, "observables.phi2.mean");
  const double phi2_error = json_number(summary, "observables.phi2.error");
  const double phi2_exact = json_number(summary, "observables.phi2.exact");
  MESSAGE(estimator << ": ess " << ess << ", F_nis " << f << " +- "
                    << f_error << " (exact " << f_exact << "), <phi^2> "
                    << phi2 << " +- " << phi2_error << " (exact "
                    << phi2_exact << ")");
  CHECK(ess >= 0.7);
  CHECK(std::abs(f - f_exact) < 3 * f_error);
  CHECK(std::abs(phi2 - phi2_exact) < 3 * phi2_error);
  CHECK(f_error < 0.05);
}

}  // namespace

TEST_CASE("free phi^4 trained with reinforce and with reparam") {
  latflow::test::TempDir dir;
  const auto experiment =
      latflow::test::source_path("experiments/phi4_free.toml");
  const std::vector<std::string> estimators{"reinforce", "reparam"};
  latflow::test::train_side_by_side(experiment, estimators, dir.path(),
                                    1800);
  for (const auto& estimator : estimators) {
    CAPTURE(estimator);
    check_free_field(estimator, dir.path() / estimator);
  }
}
