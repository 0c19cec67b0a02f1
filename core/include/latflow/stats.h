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

}  // namespace latflow
