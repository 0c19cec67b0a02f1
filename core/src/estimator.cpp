#include <latflow/estimator.h>

namespace latflow {

torch::Tensor evaluate_action(const Action& action, const torch::Tensor& x,
                              torch::Dtype action_dtype) {
  return action.evaluate(x.to(action_dtype)).to(torch::kFloat64);
}

}  // namespace latflow
