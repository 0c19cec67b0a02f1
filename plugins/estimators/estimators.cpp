// Gradient estimators of the variational free energy F_q = E_q[log q + S]
// (PHYSICS.md 2).

#include <latflow/estimator.h>
#include <latflow/plugin.h>

#include <torch/torch.h>

namespace latflow {

namespace {

/// Reparametrization trick: differentiate log q(f(z)) + S(f(z)) through
/// the flow and the action with z fixed.
class Reparam final : public Estimator {
 public:
  using Estimator::Estimator;

  static Schema schema() { return {}; }

  StepResult step(Flow& flow, const Action& action,
                  torch::Dtype action_dtype, int64_t batch, double weight,
                  PhaseTimer* timer) override {
    auto sample = sample_flow(flow, batch);
    mark(timer, "forward");
    auto s = evaluate_action(action, sample.x, action_dtype);
    mark(timer, "action");
    auto loss = (sample.log_q + s).mean();
    (loss * weight).backward();
    mark(timer, "backward");
    return {sample.log_q.detach(), s.detach(), loss.detach()};
  }

  bool needs_action_gradient() const override { return true; }
};

/// REINFORCE (score function): the action is evaluated without autograd,
/// and log q_theta(phi) is recomputed through the inverse flow with phi
/// held constant; loss = mean[log q_theta(phi) (s - mean s)].
/// The batch-mean baseline scales the expected gradient by (N-1)/N
/// (arXiv 2308.13294); `rescale` undoes that.
class Reinforce final : public Estimator {
 public:
  explicit Reinforce(Params params)
      : Estimator(std::move(params)),
        baseline_(this->params().get_string("baseline")),
        rescale_(this->params().get_bool("rescale")) {}

  static Schema schema() {
    Schema s;
    s.add_choice("baseline", "mean", {"mean", "none"},
                 "subtract the micro-batch mean of log q + S (variance "
                 "reduction)");
    s.add_bool("rescale", false,
               "multiply by N/(N-1) so that the mean baseline leaves the "
               "expected gradient unscaled");
    return s;
  }

  StepResult step(Flow& flow, const Action& action,
                  torch::Dtype action_dtype, int64_t batch, double weight,
                  PhaseTimer* timer) override {
    FlowSample sample;
    torch::Tensor s;
    {
      torch::NoGradGuard no_grad;
      sample = sample_flow(flow, batch);
      mark(timer, "forward");
      s = evaluate_action(action, sample.x, action_dtype);
      mark(timer, "action");
    }
    auto signal = sample.log_q + s;
    if (baseline_ == "mean") signal = signal - signal.mean();
    if (rescale_ && batch > 1) {
      signal = signal * (static_cast<double>(batch) / (batch - 1));
    }
    auto log_q = flow_log_prob(flow, sample.x);
    mark(timer, "inverse");
    auto loss = (log_q * signal).mean();
    (loss * weight).backward();
    mark(timer, "backward");
    return {sample.log_q, s, loss.detach()};
  }

  bool needs_action_gradient() const override { return false; }

 private:
  std::string baseline_;
  bool rescale_;
};

/// Path gradient (Vaitl et al., arXiv 2207.08219): only the path
/// derivative of log q + S through phi = f_theta(z) is kept,
///   grad F_q = E_z[ d(log q_theta + S)/dphi |_theta fixed . dphi/dtheta ],
/// whose score term has zero mean and is dropped. The derivative with
/// respect to phi at fixed theta comes from the inverse flow.
class PathGradient final : public Estimator {
 public:
  using Estimator::Estimator;

  static Schema schema() { return {}; }

  StepResult step(Flow& flow, const Action& action,
                  torch::Dtype action_dtype, int64_t batch, double weight,
                  PhaseTimer* timer) override {
    torch::Tensor z, x;
    torch::Tensor log_q_sample;
    {
      torch::NoGradGuard no_grad;
      auto sample = sample_flow(flow, batch);
      z = sample.z;
      x = sample.x;
      log_q_sample = sample.log_q;
    }
    mark(timer, "forward");
    auto x_leaf = x.detach().requires_grad_(true);
    auto s = evaluate_action(action, x_leaf, action_dtype);
    mark(timer, "action");
    auto log_q = flow_log_prob(flow, x_leaf);
    auto direction = torch::autograd::grad({(log_q + s).sum()}, {x_leaf})[0];
    mark(timer, "inverse");

    auto [x_path, log_det] = flow.forward(z);
    auto loss = (x_path * direction.detach()).sum() / batch;
    (loss * weight).backward();
    mark(timer, "backward");
    return {log_q_sample, s.detach(), loss.detach()};
  }

  bool needs_action_gradient() const override { return true; }
};

template <class T>
Factory<Estimator> factory() {
  return [](const Params& params, const BuildContext&) {
    return std::make_shared<T>(params);
  };
}

}  // namespace

}  // namespace latflow

LATFLOW_PLUGIN("estimators", "1.0.0") {
  using namespace latflow;
  registry.add<Estimator>(
      "reparam",
      "reparametrization trick: autograd through the flow and the action",
      Reparam::schema(), factory<Reparam>());
  registry.add<Estimator>(
      "reinforce",
      "REINFORCE: action without autograd, log q through the inverse flow",
      Reinforce::schema(), factory<Reinforce>());
  registry.add<Estimator>(
      "path_gradient",
      "path gradient (arXiv 2207.08219): path derivative of log q + S only",
      PathGradient::schema(), factory<PathGradient>());
}
