#pragma once

#include <latflow/component.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace latflow {

/// Result of a flow pass: transformed configurations and the log of the
/// absolute Jacobian determinant of that pass, (B) float64.
struct FlowOutput {
  torch::Tensor x;
  torch::Tensor log_det;
};

/// A normalizing flow with its prior: phi = f(z), z ~ prior.
///
/// forward(z) returns (phi, log|det df/dz|); inverse(phi) returns
/// (z, log|det df^-1/dphi|), so inverse(forward(z)) = z and the log-dets
/// cancel. Parameters and activations use the flow dtype of the
/// BuildContext; log-dets and log densities accumulate in float64.
/// Configurations use the flow's field dtype: the flow dtype, or float32
/// for a 16-bit flow (networks in 16 bits, fields and maps in float32, so
/// that log q belongs to the configuration handed out).
class BOOST_SYMBOL_VISIBLE Flow : public Component, public torch::nn::Module {
 public:
  using Component::Component;
  static constexpr const char* kKind = "flow";
  std::string kind() const override { return kKind; }

  /// n prior samples (n, field shape...) in the field dtype on its device.
  virtual torch::Tensor sample_prior(int64_t n) = 0;
  /// log density of the prior, (B) float64.
  virtual torch::Tensor prior_log_prob(const torch::Tensor& z) = 0;
  virtual FlowOutput forward(const torch::Tensor& z) = 0;
  virtual FlowOutput inverse(const torch::Tensor& x) = 0;
};

/// The dtype of a flow's fields for a given flow dtype: float32 for the
/// 16-bit dtypes (their networks run in 16 bits on float32 fields), the
/// flow dtype otherwise.
inline torch::Dtype field_dtype(torch::Dtype flow_dtype) {
  return flow_dtype == torch::kBFloat16 || flow_dtype == torch::kFloat16
             ? torch::kFloat32
             : flow_dtype;
}

/// Samples from a flow with their model log density.
struct FlowSample {
  torch::Tensor z;
  torch::Tensor x;      ///< configurations, field dtype
  torch::Tensor log_q;  ///< (B) float64
};

/// Draws n samples: z ~ prior, x = f(z), log q = log prior(z) - log J.
FlowSample sample_flow(Flow& flow, int64_t n);

/// log q(x) through the inverse flow: log prior(f^-1(x)) + log J^-1.
torch::Tensor flow_log_prob(Flow& flow, const torch::Tensor& x);

}  // namespace latflow
