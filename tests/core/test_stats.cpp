#include <latflow/stats.h>

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

using namespace latflow;

TEST_CASE("ESS of known weights") {
  const auto f64 = torch::kFloat64;
  CHECK(effective_sample_size(torch::full({100}, -3.0, f64)) ==
        doctest::Approx(1.0).epsilon(1e-14));
  // One weight dominates: ESS/N = 1/N.
  auto one = torch::full({10}, -1e4, f64);
  one[3] = 0.0;
  CHECK(effective_sample_size(one) == doctest::Approx(0.1).epsilon(1e-12));
  // w = 1, 2, 3, 4: (sum w)^2 / (N sum w^2) = 100 / 120.
  auto log_w = torch::log(torch::tensor({1.0, 2.0, 3.0, 4.0}, f64)) + 700.0;
  CHECK(effective_sample_size(log_w) ==
        doctest::Approx(100.0 / 120.0).epsilon(1e-12));
}

TEST_CASE("NIS free energy and observables") {
  const auto f64 = torch::kFloat64;
  const auto constant = free_energy_nis(torch::full({50}, 2.5, f64));
  CHECK(constant.mean == doctest::Approx(-2.5).epsilon(1e-14));
  CHECK(constant.error == doctest::Approx(0.0));

  // w = 1, 3: F = -log(2); error = std(w)/(sqrt(N) mean w) = sqrt(2)/(sqrt2 2)
  const auto log_w = torch::log(torch::tensor({1.0, 3.0}, f64));
  const auto f = free_energy_nis(log_w);
  CHECK(f.mean == doctest::Approx(-std::log(2.0)).epsilon(1e-14));
  CHECK(f.error == doctest::Approx(0.5).epsilon(1e-14));

  const auto o = nis_mean(torch::tensor({1.0, 2.0}, f64), log_w);
  CHECK(o.mean == doctest::Approx(1.75).epsilon(1e-14));
  // sqrt(1 * 0.75^2 + 9 * 0.25^2) / 4
  CHECK(o.error ==
        doctest::Approx(std::sqrt(0.5625 + 0.5625) / 4).epsilon(1e-14));

  const auto plain = sample_mean(torch::tensor({1.0, 2.0, 3.0, 4.0}, f64));
  CHECK(plain.mean == doctest::Approx(2.5));
  CHECK(plain.error ==
        doctest::Approx(std::sqrt((5.0 / 3.0) / 4.0)).epsilon(1e-14));
}
