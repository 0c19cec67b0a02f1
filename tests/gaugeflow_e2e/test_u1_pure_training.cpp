// End to end: pure U(1) of experiments/u1_pure.toml, trained with
// reinforce and with reparam through the latflow program, meets the exact
// finite-volume mean plaquette and <Q^2>.

#include <doctest/doctest.h>

#include <cmath>

#include "support/test_support.h"

namespace {

void check_pure_gauge(const std::string& estimator) {
  latflow::test::TempDir dir;
  const auto out = dir.path() / estimator;
  const auto experiment =
      latflow::test::source_path("experiments/u1_pure.toml");
  const auto r = latflow::test::run_latflow(
      {"run", experiment.string(), "--out", out.string(),
       "estimator.type=" + estimator, "--log-level", "warn"});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
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
  MESSAGE(estimator << ": ess " << ess << ", " << seconds
                    << " s/step, plaquette " << plaquette << " +- "
                    << plaquette_error << " (exact " << plaquette_exact
                    << "), <Q^2> " << q2 << " +- " << q2_error << " (exact "
                    << q2_exact << ")");
  CHECK(ess >= 0.5);
  CHECK(plaquette_error > 0);
  CHECK(q2_error > 0);
  CHECK(std::abs(plaquette - plaquette_exact) < 3 * plaquette_error);
  CHECK(std::abs(q2 - q2_exact) < 3 * q2_error);
}

}  // namespace

TEST_CASE("pure U(1) trained with reinforce") { check_pure_gauge("reinforce"); }

TEST_CASE("pure U(1) trained with reparam") { check_pure_gauge("reparam"); }
