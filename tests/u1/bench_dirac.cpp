// Timings of the Wilson-Dirac operator of action/schwinger_wilson: batched
// assembly, log|det D| dense and even-odd, and the backward pass of the
// log-determinant to the link angles. Not a test of the default run:
//
//   build/bin/bench_dirac            (L = 8, 16, 24; a few minutes)
//   LATFLOW_BENCH_SIZES=8,16 build/bin/bench_dirac
//   LATFLOW_BENCH_FULL=1 ...         (also the dense backward at L >= 24)
//
// Each figure is the median of LATFLOW_BENCH_REPEATS (default 5) timed runs
// after one warm-up, batch 64, two threads. On a machine shared with other
// jobs, set OMP_WAIT_POLICY=passive: libgomp's threads otherwise spin while
// they wait for a descheduled peer, and every figure grows tenfold.
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "wilson_dirac.h"

namespace {

constexpr int64_t kBatch = 64;
constexpr double kKappa = 0.276;
constexpr double kPi = 3.141592653589793238462643383279502884;

int64_t env_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::stoll(value);
}

std::vector<int64_t> sizes() {
  const char* value = std::getenv("LATFLOW_BENCH_SIZES");
  if (value == nullptr) return {8, 16, 24};
  std::vector<int64_t> result;
  std::stringstream text(value);
  std::string item;
  while (std::getline(text, item, ',')) result.push_back(std::stoll(item));
  return result;
}

/// Median seconds of `repeats` runs of fn after one warm-up; `prepare`
/// runs untimed before each.
double median_seconds(
    int64_t repeats, const std::function<void()>& fn,
    const std::function<void()>& prepare = [] {}) {
  std::vector<double> seconds;
  for (int64_t i = 0; i <= repeats; ++i) {
    prepare();
    const auto start = std::chrono::steady_clock::now();
    fn();
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    if (i > 0) seconds.push_back(elapsed.count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

struct Row {
  int64_t L = 0;
  std::string dtype;
  double assemble_dense = 0;
  double assemble_even_odd = 0;
  double log_det_dense = 0;
  double log_det_even_odd = 0;
  double backward_dense = -1;  ///< -1: not run
  double backward_even_odd = 0;

  double speed_up() const {
    return (assemble_dense + log_det_dense) /
           (assemble_even_odd + log_det_even_odd);
  }
};

Row measure(int64_t L, torch::Dtype dtype, int64_t repeats, bool full) {
  using latflow::u1::log_abs_det;
  const latflow::u1::WilsonDirac dirac(L, kKappa, true, torch::kCPU);
  const auto theta =
      torch::rand({kBatch, 2, L, L}, torch::kFloat64) * (2 * kPi);
  Row row;
  row.L = L;
  row.dtype = dtype == torch::kComplexDouble ? "complex128" : "complex64";
  {
    torch::NoGradGuard no_grad;
    torch::Tensor matrix;
    row.assemble_dense =
        median_seconds(repeats, [&] { matrix = dirac.dense(theta, dtype); });
    row.log_det_dense = median_seconds(repeats, [&] { log_abs_det(matrix); });
    matrix = torch::Tensor();
    row.assemble_even_odd =
        median_seconds(repeats, [&] { matrix = dirac.even_odd(theta, dtype); });
    row.log_det_even_odd =
        median_seconds(repeats, [&] { log_abs_det(matrix); });
  }
  // Backward only: the forward pass that records the graph is untimed.
  torch::Tensor leaf;
  torch::Tensor total;
  auto backward = [&] { total.backward(); };
  auto forward = [&](bool even_odd) {
    return [&, even_odd] {
      total = torch::Tensor();
      leaf = theta.clone().requires_grad_(true);
      total = log_abs_det(even_odd ? dirac.even_odd(leaf, dtype)
                                   : dirac.dense(leaf, dtype))
                  .sum();
    };
  };
  row.backward_even_odd = median_seconds(repeats, backward, forward(true));
  if (full || L < 24) {
    row.backward_dense = median_seconds(repeats, backward, forward(false));
  }
  total = torch::Tensor();
  return row;
}

std::string seconds_text(double s) {
  if (s < 0) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", s);
  return buffer;
}

}  // namespace

TEST_CASE("bench: Wilson-Dirac assembly, log det and backward") {
  torch::set_num_threads(2);
  torch::manual_seed(1);
  const int64_t repeats =
      std::max<int64_t>(5, env_int("LATFLOW_BENCH_REPEATS", 5));
  const bool full = env_int("LATFLOW_BENCH_FULL", 0) != 0;

  std::printf(
      "Wilson-Dirac operator, batch %lld, kappa %.3f, %d threads, median of "
      "%lld after a warm-up (seconds)\n\n",
      static_cast<long long>(kBatch), kKappa, torch::get_num_threads(),
      static_cast<long long>(repeats));
  std::printf(
      "| L | dtype | assemble dense | assemble even-odd | log det dense | "
      "log det even-odd | backward dense | backward even-odd | even-odd "
      "speed-up |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  for (const int64_t L : sizes()) {
    for (const auto dtype : {torch::kComplexDouble, torch::kComplexFloat}) {
      const Row row = measure(L, dtype, repeats, full);
      std::printf("| %lld | %s | %s | %s | %s | %s | %s | %s | %.1fx |\n",
                  static_cast<long long>(row.L), row.dtype.c_str(),
                  seconds_text(row.assemble_dense).c_str(),
                  seconds_text(row.assemble_even_odd).c_str(),
                  seconds_text(row.log_det_dense).c_str(),
                  seconds_text(row.log_det_even_odd).c_str(),
                  seconds_text(row.backward_dense).c_str(),
                  seconds_text(row.backward_even_odd).c_str(), row.speed_up());
      std::fflush(stdout);
      // The acceptance figure of the even-odd reduction.
      if (L == 16 && dtype == torch::kComplexDouble) {
        CHECK(row.speed_up() >= 4.0);
      }
    }
  }
}
