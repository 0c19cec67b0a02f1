#include <latflow/flow.h>

namespace latflow {

FlowSample sample_flow(Flow& flow, int64_t n) {
  FlowSample sample;
  sample.z = flow.sample_prior(n);
  auto [x, log_det] = flow.forward(sample.z);
  sample.x = x;
  sample.log_q = flow.prior_log_prob(sample.z) - log_det;
  return sample;
}

torch::Tensor flow_log_prob(Flow& flow, const torch::Tensor& x) {
  auto [z, log_det] = flow.inverse(x);
  return flow.prior_log_prob(z) + log_det;
}

}  // namespace latflow
