#include <latflow/error.h>
#include <latflow/stats.h>

#include <torch/torch.h>

#include <cmath>

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

}  // namespace latflow
