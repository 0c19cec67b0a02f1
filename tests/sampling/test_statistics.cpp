#include <latflow/stats.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

using namespace latflow;

namespace {

/// Knuth's MMIX linear congruential generator, the top 53 bits as a double
/// in [0, 1): the same numbers as gamma_reference.py.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  double next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) * (1.0 / 9007199254740992.0);
  }

 private:
  uint64_t state_;
};

/// AR(1) series of gamma_reference.py: innovations are sums of 12
/// uniforms minus 6, added in the same order.
torch::Tensor reference_series(uint64_t seed, double rho, int64_t n) {
  Lcg lcg(seed);
  std::vector<double> series;
  double x = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double e = -6.0;
    for (int k = 0; k < 12; ++k) e += lcg.next();
    x = i == 0 ? e : rho * x + e;
    series.push_back(x);
  }
  return torch::tensor(series, torch::kFloat64);
}

/// Stationary AR(1) with unit variance: x_i = rho x_{i-1} +
/// sqrt(1 - rho^2) e_i. Its tau_int is (1 + rho) / (2 (1 - rho)).
torch::Tensor ar1(double rho, int64_t n, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal;
  std::vector<double> series(static_cast<size_t>(n));
  double x = normal(engine);
  const double scale = std::sqrt(1 - rho * rho);
  for (auto& value : series) {
    value = x;
    x = rho * x + scale * normal(engine);
  }
  return torch::tensor(series, torch::kFloat64);
}

}  // namespace

TEST_CASE("Gamma method and jackknife repeat the reference script") {
  std::ifstream file(
      latflow::test::source_path("tests/sampling/gamma_reference.txt"));
  REQUIRE(file.good());
  std::string line;
  int cases = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    uint64_t seed = 0;
    double rho = 0, mean = 0, error = 0, tau = 0, tau_error = 0;
    double jack_mean = 0, jack_error = 0;
    int64_t n = 0, window = 0, bin = 0;
    in >> seed >> rho >> n >> mean >> error >> tau >> tau_error >> window >>
        bin >> jack_mean >> jack_error;
    REQUIRE(!in.fail());
    CAPTURE(line);
    const auto series = reference_series(seed, rho, n);
    const auto g = gamma_method(series);
    CHECK(g.window == window);
    CHECK(g.window_found);
    CHECK(g.samples == n);
    CHECK(g.mean == doctest::Approx(mean).epsilon(1e-12));
    CHECK(g.error == doctest::Approx(error).epsilon(1e-10));
    CHECK(g.tau_int == doctest::Approx(tau).epsilon(1e-10));
    CHECK(g.tau_int_error == doctest::Approx(tau_error).epsilon(1e-9));
    const auto j = jackknife_mean(series, bin);
    CHECK(j.bin_size == bin);
    CHECK(j.bins == n / bin);
    CHECK(j.mean == doctest::Approx(jack_mean).epsilon(1e-12));
    CHECK(j.error == doctest::Approx(jack_error).epsilon(1e-10));
    ++cases;
  }
  CHECK(cases == 4);
}

TEST_CASE("tau_int of AR(1) series matches (1 + rho) / (2 (1 - rho))") {
  const int64_t n = 200000;
  for (const double rho : {0.5, 0.9}) {
    CAPTURE(rho);
    const auto series = ar1(rho, n, rho == 0.5 ? 101 : 202);
    const auto g = gamma_method(series);
    const double exact_tau = (1 + rho) / (2 * (1 - rho));
    MESSAGE("rho " << rho << ": tau_int " << g.tau_int << " +- "
                   << g.tau_int_error << " (exact " << exact_tau << "), window "
                   << g.window);
    CHECK(g.window_found);
    CHECK(std::abs(g.tau_int - exact_tau) < 3 * g.tau_int_error);
    // Unit variance: the error of the mean is sqrt(2 tau_int / N).
    const double exact_error = std::sqrt(2 * exact_tau / n);
    CHECK(std::abs(g.error - exact_error) < 3 * g.error_error);
    CHECK(std::abs(g.mean) < 4 * exact_error);

    // Bins of a few tau_int: the jackknife agrees with the Gamma method.
    const auto j = jackknife_mean(series);
    MESSAGE("  jackknife bin " << j.bin_size << ": error " << j.error << " vs "
                               << exact_error);
    CHECK(j.bin_size >= 2 * g.window);
    CHECK(j.error == doctest::Approx(exact_error).epsilon(0.1));
  }
}

TEST_CASE("uncorrelated and constant series") {
  const auto iid = ar1(0.0, 20000, 303);
  const auto g = gamma_method(iid);
  CHECK(std::abs(g.tau_int - 0.5) < 3 * g.tau_int_error);
  CHECK(g.error == doctest::Approx(sample_mean(iid).error).epsilon(0.05));

  const auto constant = torch::full({100}, 2.5, torch::kFloat64);
  const auto c = gamma_method(constant);
  CHECK(c.mean == 2.5);
  CHECK(c.error == 0.0);
  CHECK(c.tau_int == 0.5);
  const auto jc = jackknife_mean(constant, 10);
  CHECK(jc.mean == 2.5);
  CHECK(jc.error == 0.0);

  CHECK_THROWS_WITH(gamma_method(torch::zeros({0}, torch::kFloat64)),
                    "gamma_method: no values");
  CHECK_THROWS_WITH(jackknife_mean(iid.slice(0, 0, 5), 6),
                    "jackknife_mean: bin size 6 exceeds the 5 values");
}

TEST_CASE("jackknife of known data") {
  // Bin size 1: exactly the standard error sqrt(var / N).
  const auto iid = ar1(0.0, 1001, 404);
  const auto plain = sample_mean(iid);
  const auto j1 = jackknife_mean(iid, 1);
  CHECK(j1.bins == 1001);
  CHECK(j1.mean == doctest::Approx(plain.mean).epsilon(1e-14));
  CHECK(j1.error == doctest::Approx(plain.error).epsilon(1e-12));

  // 1..7 in bins of 2: the 7 is left out; bin means 1.5, 3.5, 5.5 have
  // standard error 2 / sqrt(3).
  const auto data = torch::arange(1, 8, torch::kFloat64);
  const auto j2 = jackknife_mean(data, 2);
  CHECK(j2.bins == 3);
  CHECK(j2.mean == doctest::Approx(3.5).epsilon(1e-15));
  CHECK(j2.error == doctest::Approx(2 / std::sqrt(3.0)).epsilon(1e-14));
  // float32 input is accumulated in float64.
  const auto j3 = jackknife_mean(data.to(torch::kFloat32), 2);
  CHECK(j3.error == doctest::Approx(2 / std::sqrt(3.0)).epsilon(1e-14));
}

TEST_CASE("ESS of known weights") {
  // Half the weights 1, half 3: (sum w)^2 / (N sum w^2) = 16 / 20.
  auto log_w = torch::zeros({1000}, torch::kFloat64);
  log_w.slice(0, 500) = std::log(3.0);
  CHECK(effective_sample_size(log_w - 1e3) ==
        doctest::Approx(0.8).epsilon(1e-13));
  // Weights 2^k, k = 0..9: (2^10 - 1)^2 / (10 (4^10 - 1) / 3).
  const auto powers = torch::arange(10, torch::kFloat64) * std::log(2.0);
  const double expected = 1023.0 * 1023.0 / (10 * (1048575.0 / 3));
  CHECK(effective_sample_size(powers) ==
        doctest::Approx(expected).epsilon(1e-13));
}
