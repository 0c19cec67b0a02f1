#pragma once

#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <vector>

namespace latflow {

/// Adam over a flow's weights, with the step guarded against non-finite
/// numbers. Weights in bfloat16 or float16 are trained through float32
/// master copies: Adam's moments and updates live in float32 and the
/// weights are the masters rounded after every step, so that updates below
/// the half-width resolution (1 part in 256 for bfloat16) accumulate
/// instead of being rounded away.
class FlowOptimizer {
 public:
  FlowOptimizer(std::vector<torch::Tensor> weights, double lr);

  void zero_grad();
  void set_lr(double lr);

  /// Clips the gradient to norm `clip` (when clip > 0), then steps only if
  /// `loss` and the gradient norm are finite, deciding on the device: a
  /// non-finite step leaves the weights as they were, enters Adam's moment
  /// averages as a zero gradient and adds one to `skipped`. Returns the
  /// gradient norm before clipping (float64, on the device).
  torch::Tensor step(const torch::Tensor& loss, double clip,
                     torch::Tensor& skipped);

  /// Whether the weights are trained through float32 master copies.
  bool has_masters() const { return !masters_.empty(); }
  /// Whether every master copy is finite (true when there are none).
  bool finite() const;

  /// Writes Adam's state under "optimizer" and the master copies, if any,
  /// under "masters"; load reads them back (masters are taken from the
  /// weights when the archive has none).
  void save(torch::serialize::OutputArchive& checkpoint);
  void load(torch::serialize::InputArchive& checkpoint);

 private:
  /// The tensors Adam updates: the masters when there are any.
  std::vector<torch::Tensor>& updated() {
    return masters_.empty() ? weights_ : masters_;
  }

  std::vector<torch::Tensor> weights_;
  std::vector<torch::Tensor> masters_;
  torch::optim::Adam adam_;
};

}  // namespace latflow
