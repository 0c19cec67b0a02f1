#pragma once

#include <torch/types.h>

namespace latflow {

class Action;

/// What a factory may use to build a component: where tensors live, the
/// precisions chosen in `[precision]`, and, for flows and samplers, the
/// action whose field they must produce.
struct BuildContext {
  torch::Device device = torch::kCPU;
  /// Real dtype of the flow's parameters and activations.
  torch::Dtype flow_dtype = torch::kFloat32;
  /// Real dtype in which the action is evaluated (its complex counterpart
  /// is used for fermion matrices).
  torch::Dtype action_dtype = torch::kFloat64;
  /// The experiment's action; null while the action itself is built.
  const Action* action = nullptr;
};

}  // namespace latflow
