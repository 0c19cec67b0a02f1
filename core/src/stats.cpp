#include <latflow/error.h>
#include <latflow/stats.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace latflow {

namespace {

torch::Tensor as_float64(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
}

}  // namespace

double logsumexp(const torch::Tensor& values) {
  return torch::logsumexp(as_float64(values), 0).item<double>();
}

double effective_sample_size(const torch::Tensor& log_w) {
  const auto w = as_float64(log_w);
  LATFLOW_CHECK(w.numel() > 0, "effective_sample_size: no weights");
  const double n = static_cast<double>(w.numel());
  return std::exp(2 * logsumexp(w) - logsumexp(2 * w)) / n;
}

Estimate free_energy_nis(const torch::Tensor& log_w) {
  const auto w = as_float64(log_w);
  const double n = static_cast<double>(w.numel());
  Estimate estimate;
  estimate.mean = -(logsumexp(w) - std::log(n));
  // Delta method: var(log mean w) ~ var(w) / (N mean(w)^2).
  const auto scaled = torch::exp(w - w.max());
  const double mean = scaled.mean().item<double>();
  const double var = n > 1 ? scaled.var().item<double>() : 0.0;
  estimate.error = std::sqrt(var / n) / mean;
  return estimate;
}

Estimate nis_mean(const torch::Tensor& values, const torch::Tensor& log_w) {
  if (!log_w.defined()) return sample_mean(values);
  const auto o = as_float64(values);
  const auto w_log = as_float64(log_w);
  const auto w = torch::exp(w_log - w_log.max());
  const auto total = w.sum();
  Estimate estimate;
  estimate.mean = ((w * o).sum() / total).item<double>();
  const auto deviation = o - estimate.mean;
  estimate.error =
      (torch::sqrt((w * w * deviation * deviation).sum()) / total)
          .item<double>();
  return estimate;
}

Estimate sample_mean(const torch::Tensor& values) {
  const auto o = as_float64(values);
  Estimate estimate;
  estimate.mean = o.mean().item<double>();
  const double n = static_cast<double>(o.numel());
  estimate.error = n > 1 ? std::sqrt(o.var().item<double>() / n) : 0.0;
  return estimate;
}

namespace {

std::vector<double> as_vector(const torch::Tensor& values) {
  const auto t = as_float64(values).contiguous();
  const double* data = t.data_ptr<double>();
  return std::vector<double>(data, data + t.numel());
}

double mean_of(const std::vector<double>& a) {
  double sum = 0.0;
  for (const double x : a) sum += x;
  return sum / static_cast<double>(a.size());
}

/// Gamma(t) = sum_i d_i d_{i+t} / (N - t) for t = 0 .. N-1 of the
/// deviations d, by FFT on a zero-padded copy (no wrap-around), so that a
/// long autocorrelation costs O(N log N) and not O(N W).
std::vector<double> autocovariance(const std::vector<double>& deviation) {
  const auto n = static_cast<int64_t>(deviation.size());
  const auto d = torch::from_blob(const_cast<double*>(deviation.data()), {n},
                                  torch::kFloat64);
  const auto spectrum = torch::fft::rfft(d, 2 * n);
  const auto power = spectrum * spectrum.conj();
  const auto lagged = torch::fft::irfft(power, 2 * n).slice(0, 0, n);
  const auto sums = lagged.contiguous();
  const double* data = sums.data_ptr<double>();
  std::vector<double> gamma(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    gamma[static_cast<size_t>(t)] = data[t] / static_cast<double>(n - t);
  }
  return gamma;
}

}  // namespace

ChainEstimate gamma_method(const torch::Tensor& values, double s) {
  LATFLOW_CHECK(s > 0, "gamma_method: S must be positive, got {}", s);
  const auto a = as_vector(values);
  LATFLOW_CHECK(!a.empty(), "gamma_method: no values");
  const auto n = static_cast<int64_t>(a.size());
  const double size = static_cast<double>(n);
  ChainEstimate result;
  result.samples = n;
  result.mean = mean_of(a);
  if (n < 2) return result;

  std::vector<double> deviation(a.size());
  for (size_t i = 0; i < a.size(); ++i) deviation[i] = a[i] - result.mean;
  auto gamma = autocovariance(deviation);
  // Exactly zero only for a constant series: nothing to estimate.
  if (!(gamma[0] > 0)) return result;

  // Automatic windowing (hep-lat/0306017): stop at the first W where
  // the estimated truncation bias exp(-W / tau) falls below the growing
  // statistical error tau / sqrt(W N) of the sum.
  const int64_t max_window = n / 2;
  int64_t window = max_window;
  bool found = false;
  double summed_rho = 0.0;
  for (int64_t w = 1; w <= max_window; ++w) {
    summed_rho += gamma[static_cast<size_t>(w)] / gamma[0];
    // tau_int(W) = 1/2 + summed_rho, so (2 tau + 1)/(2 tau - 1) =
    // (summed_rho + 1) / summed_rho; a non-positive sum ends the window.
    const double tau = summed_rho > 0
                           ? s / std::log((summed_rho + 1) / summed_rho)
                           : std::numeric_limits<double>::min();
    const double g = std::exp(-static_cast<double>(w) / tau) -
                     tau / std::sqrt(static_cast<double>(w) * size);
    if (g < 0) {
      window = w;
      found = true;
      break;
    }
  }

  double variance_sum = gamma[0];
  for (int64_t t = 1; t <= window; ++t) {
    variance_sum += 2 * gamma[static_cast<size_t>(t)];
  }
  if (!(variance_sum > 0)) {
    const Estimate naive = sample_mean(values);
    result.error = naive.error;
    result.window = window;
    result.window_found = false;
    return result;
  }
  // The mean is estimated from the same data: every Gamma(t) is biased
  // low by about C_F / N (hep-lat/0306017).
  const double bias = variance_sum / size;
  const double gamma0 = gamma[0] + bias;
  variance_sum *= 1 + (2 * static_cast<double>(window) + 1) / size;

  const double w = static_cast<double>(window);
  result.window = window;
  result.window_found = found;
  result.error = std::sqrt(variance_sum / size);
  result.error_error = result.error * std::sqrt((w + 0.5) / size);
  result.tau_int = variance_sum / (2 * gamma0);
  result.tau_int_error =
      2 * result.tau_int *
      std::sqrt(std::max(0.0, w + 0.5 - result.tau_int) / size);
  return result;
}

int64_t automatic_bin_size(const torch::Tensor& values) {
  const int64_t n = values.numel();
  const int64_t most = std::max<int64_t>(1, n / 20);
  if (n < 2) return 1;
  const int64_t window = gamma_method(values).window;
  return std::clamp<int64_t>(2 * window, 1, most);
}

BinnedEstimate jackknife_mean(const torch::Tensor& values, int64_t bin_size) {
  const auto a = as_vector(values);
  const auto n = static_cast<int64_t>(a.size());
  LATFLOW_CHECK(n > 0, "jackknife_mean: no values");
  BinnedEstimate result;
  result.bin_size = bin_size > 0 ? bin_size : automatic_bin_size(values);
  LATFLOW_CHECK(result.bin_size <= n,
                "jackknife_mean: bin size {} exceeds the {} values",
                result.bin_size, n);
  result.bins = n / result.bin_size;

  std::vector<double> bin_sums(static_cast<size_t>(result.bins), 0.0);
  for (int64_t i = 0; i < result.bins * result.bin_size; ++i) {
    bin_sums[static_cast<size_t>(i / result.bin_size)] +=
        a[static_cast<size_t>(i)];
  }
  double total = 0.0;
  for (const double b : bin_sums) total += b;
  const double used = static_cast<double>(result.bins * result.bin_size);
  result.mean = total / used;
  if (result.bins < 2) return result;

  // Leave-one-bin-out means; their spread times (M - 1)/M is the variance
  // of the mean.
  const double rest = used - static_cast<double>(result.bin_size);
  double sum_squares = 0.0;
  for (const double b : bin_sums) {
    const double deviation = (total - b) / rest - result.mean;
    sum_squares += deviation * deviation;
  }
  const double bins = static_cast<double>(result.bins);
  result.error = std::sqrt((bins - 1) / bins * sum_squares);
  return result;
}

}  // namespace latflow
