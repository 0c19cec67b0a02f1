#pragma once

#include <torch/types.h>

#include <cstdint>

namespace latflow {

/// A mean with its standard error.
struct Estimate {
  double mean = 0.0;
  double error = 0.0;
};

/// log sum exp of a 1-D float64 tensor, stable.
double logsumexp(const torch::Tensor& values);

/// Effective sample size per configuration, ESS/N in [0, 1], from log
/// importance weights: exp(2 lse(log w) - lse(2 log w)) / N, in float64.
double effective_sample_size(const torch::Tensor& log_w);

/// F_NIS = -(lse(log w) - log N), with its delta-method standard error
/// std(w) / (sqrt(N) mean(w)).
Estimate free_energy_nis(const torch::Tensor& log_w);

/// Self-normalised importance estimate of <O> with its delta-method error
/// sqrt(sum w^2 (O - mean)^2) / sum w. log_w null: plain mean and error.
Estimate nis_mean(const torch::Tensor& values, const torch::Tensor& log_w);

/// Plain mean and standard error of the mean.
Estimate sample_mean(const torch::Tensor& values);

/// Mean of a Markov-chain series with its error from the integrated
/// autocorrelation time, by Wolff's Gamma method (hep-lat/0306017).
struct ChainEstimate {
  /// Mean of the series.
  double mean = 0.0;
  /// Standard error of the mean, sqrt(C_F / N) = sqrt(2 tau_int var / N).
  double error = 0.0;
  /// Statistical error of `error`: error * sqrt((W + 1/2) / N).
  double error_error = 0.0;
  /// Integrated autocorrelation time; 0.5 for uncorrelated data.
  double tau_int = 0.5;
  /// Its error, 2 tau_int sqrt((W + 1/2 - tau_int) / N) (Madras-Sokal).
  double tau_int_error = 0.0;
  /// Summation window W chosen by the automatic windowing.
  int64_t window = 0;
  /// False when no window up to N/2 met the criterion (the chain is too
  /// short for its autocorrelation; window is then N/2) or the estimated
  /// variance C_F was not positive (error then the naive one).
  bool window_found = true;
  /// Length N of the series.
  int64_t samples = 0;
};

/// Gamma method of one series in chain order, in float64: the normalised
/// autocorrelation rho(t) = Gamma(t) / Gamma(0), with
/// Gamma(t) = sum_i (a_i - abar)(a_{i+t} - abar) / (N - t), is summed to
/// the first window W where g(W) = exp(-W / tau(W)) - tau(W) / sqrt(W N)
/// turns negative, tau(W) = s / log((2 tau_int(W) + 1) / (2 tau_int(W)
/// - 1)); s = 1.5 suits most chains (Wolff's automatic windowing). The
/// bias of Gamma from the estimated mean is then corrected as in Wolff. A
/// constant series gives error 0 and tau_int 0.5.
ChainEstimate gamma_method(const torch::Tensor& values, double s = 1.5);

/// A jackknife estimate on binned data.
struct BinnedEstimate {
  /// Mean of the values in whole bins.
  double mean = 0.0;
  /// Jackknife standard error of the mean.
  double error = 0.0;
  /// Consecutive values per bin.
  int64_t bin_size = 1;
  /// Number of bins.
  int64_t bins = 0;
};

/// Jackknife error of the mean of a series, in float64, on bins of
/// `bin_size` consecutive values (a tail shorter than a bin is left out;
/// the mean is that of the values used). With bin_size = 1 it equals the
/// standard error sqrt(var / N) exactly. bin_size <= 0 chooses it: twice
/// the Gamma-method window of the series (several tau_int, so that bins
/// are nearly independent), at most N / 20 so that 20 bins remain.
BinnedEstimate jackknife_mean(const torch::Tensor& values,
                              int64_t bin_size = 0);

/// Automatic bin size of jackknife_mean for a series: 2 W of the Gamma
/// method, between 1 and N / 20.
int64_t automatic_bin_size(const torch::Tensor& values);

}  // namespace latflow
