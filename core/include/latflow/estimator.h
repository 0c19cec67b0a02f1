#pragma once

#include <latflow/action.h>
#include <latflow/component.h>
#include <latflow/flow.h>
#include <latflow/timer.h>

#include <torch/types.h>

#include <cstdint>

namespace latflow {

/// Detached results of one micro-batch, float64, shape (B).
struct StepResult {
  torch::Tensor log_q;
  torch::Tensor action;
  /// The surrogate loss of this micro-batch, (); its value is
  /// estimator-specific and only its gradient is meaningful.
  torch::Tensor loss;
};

/// One micro-batch of a gradient estimator of grad F_q.
///
/// step() draws `batch` samples from the flow, builds the surrogate loss and
/// calls backward on loss * weight, accumulating into the flow's gradients
/// (the trainer zeroes them and steps the optimizer). The action is called
/// in its own dtype: configs are cast to action_dtype before evaluate().
class BOOST_SYMBOL_VISIBLE Estimator : public Component {
 public:
  using Component::Component;
  static constexpr const char* kKind = "estimator";
  std::string kind() const override { return kKind; }

  virtual StepResult step(Flow& flow, const Action& action,
                          torch::Dtype action_dtype, int64_t batch,
                          double weight, PhaseTimer* timer) = 0;
  /// Whether the estimator differentiates the action.
  virtual bool needs_action_gradient() const = 0;
};

/// S for flow samples, evaluated in the action dtype, returned as float64.
/// Keeps the autograd graph (use under NoGradGuard when not needed).
torch::Tensor evaluate_action(const Action& action, const torch::Tensor& x,
                              torch::Dtype action_dtype);

}  // namespace latflow
