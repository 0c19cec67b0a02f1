// Hybrid Monte Carlo (Duane, Kennedy, Pendleton, Roweth 1987): the
// baseline a flow sampler must beat, and a source of reference values
// (PHYSICS.md 5).

#include <latflow/error.h>
#include <latflow/log.h>
#include <latflow/stats.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "samplers.h"

namespace latflow::samplers {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559005768;

/// A point of phase space with the action and force at its field.
struct PhasePoint {
  torch::Tensor field;     ///< (1, field shape...), action dtype
  torch::Tensor momentum;  ///< same shape and dtype
  double action = 0.0;     ///< S(field)
  torch::Tensor force;     ///< dS/dfield
};

/// Leapfrog HMC with H = p^2 / 2 + S(phi), unit masses, momenta drawn from
/// the standard normal, forces dS/dphi by autograd through
/// Action::evaluate. Runs in the action dtype (float64 recommended: dH is
/// a difference of two sums over the lattice); H and dH accumulate in
/// float64. For U(1) link angles (field kind "u1") the angles are wrapped
/// into [0, 2 pi) after each trajectory, which leaves S unchanged.
///
/// Momenta and accept/reject draws come from torch's global generator, so
/// a seeded run repeats. The flow is not used (it may be null). Hands out
/// every `thin`-th trajectory's end state after `thermalize` trajectories;
/// log_q is NaN (no model density) and log_w zero. With
/// check_reversibility each trajectory is also run back from its end with
/// flipped momenta, which must return to the start to round-off; the
/// largest deviations appear in stats(). The check draws no random
/// numbers, so the chain is the same with or without it.
class Hmc final : public Sampler {
 public:
  Hmc(Params params, torch::Device device)
      : Sampler(std::move(params)), device_(device) {
    const auto& p = this->params();
    step_size_ = p.get_float("step_size");
    steps_ = p.get_int("n_steps");
    if (steps_ == 0) {
      steps_ = std::max<int64_t>(
          1, std::llround(p.get_float("trajectory_length") / step_size_));
    }
    thermalize_ = p.get_int("thermalize");
    thin_ = p.get_int("thin");
    chunk_ = p.get_int("chunk");
    hot_start_ = p.get_string("start") == "hot";
    check_reversibility_ = p.get_bool("check_reversibility");
  }

  void sample(Flow* /*flow*/, const Action& action, torch::Dtype dtype,
              int64_t n, const Sink& sink) override {
    LATFLOW_CHECK(action.differentiable(),
                  "sampler/hmc: action/{} is not differentiable; HMC needs "
                  "its force dS/dphi",
                  action.type());
    const auto field = action.field();
    const bool angles = field.kind == "u1";
    std::vector<int64_t> shape{1};
    shape.insert(shape.end(), field.shape.begin(), field.shape.end());
    const auto options = torch::TensorOptions().dtype(dtype).device(device_);

    PhasePoint state;
    if (!hot_start_) {
      state.field = torch::zeros(shape, options);
    } else if (angles) {
      state.field = torch::rand(shape, options) * kTwoPi;
    } else {
      state.field = torch::randn(shape, options);
    }
    evaluate(action, state);

    std::vector<torch::Tensor> configs;
    std::vector<double> actions;
    std::vector<double> boltzmann;  // exp(-dH) after thermalization
    double sum_abs_dh = 0.0;
    int64_t accepted = 0;
    int64_t accepted_thermalization = 0;
    max_field_deviation_ = 0.0;
    max_momentum_deviation_ = 0.0;
    const int64_t total = thermalize_ + n * thin_;
    for (int64_t t = 0; t < total; ++t) {
      const bool measuring = t >= thermalize_;
      state.momentum = torch::randn(shape, options);
      const double h_start = kinetic(state.momentum) + state.action;
      PhasePoint end = leapfrog(action, state);
      const double dh = kinetic(end.momentum) + end.action - h_start;
      if (check_reversibility_) check_reversal(action, state, end);

      const double u = torch::rand({}, torch::kFloat64).item<double>();
      // exp(-dH) > u in log space; a NaN dH is rejected.
      const bool accept = std::log(u) < -dh;
      if (accept) {
        if (angles) {
          end.field = torch::remainder(end.field, kTwoPi);
          evaluate(action, end);
        }
        state = std::move(end);
      }
      if (measuring) {
        accepted += accept ? 1 : 0;
        sum_abs_dh += std::abs(dh);
        boltzmann.push_back(std::exp(-dh));
        if ((t - thermalize_ + 1) % thin_ == 0) {
          configs.push_back(state.field.detach());
          actions.push_back(state.action);
        }
      } else {
        accepted_thermalization += accept ? 1 : 0;
      }
      if (static_cast<int64_t>(configs.size()) == chunk_ ||
          (t + 1 == total && !configs.empty())) {
        sink(make_chunk(configs, actions));
        configs.clear();
        actions.clear();
      }
    }

    const double measured = static_cast<double>(n * thin_);
    stats_.clear();
    stats_["samples"] = static_cast<double>(n);
    stats_["trajectories"] = measured;
    stats_["thermalize"] = static_cast<double>(thermalize_);
    stats_["step_size"] = step_size_;
    stats_["n_steps"] = static_cast<double>(steps_);
    if (n > 0) {
      stats_["acceptance"] = static_cast<double>(accepted) / measured;
      stats_["mean_abs_dh"] = sum_abs_dh / measured;
      const auto chain = gamma_method(torch::tensor(boltzmann));
      stats_["exp_minus_dh"] = chain.mean;
      stats_["exp_minus_dh_error"] = chain.error;
    }
    if (thermalize_ > 0) {
      stats_["acceptance_thermalization"] =
          static_cast<double>(accepted_thermalization) /
          static_cast<double>(thermalize_);
    }
    if (check_reversibility_) {
      stats_["reversibility_field"] = max_field_deviation_;
      stats_["reversibility_momentum"] = max_momentum_deviation_;
    }
    log::debug("sampler", "hmc: {} trajectories of {} steps of {}", total,
               steps_, step_size_);
  }

  bool weighted() const override { return false; }
  std::map<std::string, double> stats() const override { return stats_; }

 private:
  static double kinetic(const torch::Tensor& momentum) {
    return 0.5 * momentum.to(torch::kFloat64).square().sum().item<double>();
  }

  /// Sets point.action and point.force at point.field.
  static void evaluate(const Action& action, PhasePoint& point) {
    torch::AutoGradMode enable(true);
    const auto leaf = point.field.detach().requires_grad_(true);
    const auto s = action.evaluate(leaf).sum();
    point.force = torch::autograd::grad({s}, {leaf})[0].detach();
    point.action = s.detach().to(torch::kFloat64).item<double>();
  }

  /// steps_ leapfrog steps of size step_size_ from `start` (which holds
  /// the force at its field); the end point holds its action and force.
  PhasePoint leapfrog(const Action& action, const PhasePoint& start) const {
    PhasePoint point;
    point.field = start.field;
    point.momentum = start.momentum - 0.5 * step_size_ * start.force;
    for (int64_t i = 0; i < steps_; ++i) {
      point.field = point.field + step_size_ * point.momentum;
      evaluate(action, point);
      const double kick = i + 1 < steps_ ? step_size_ : 0.5 * step_size_;
      point.momentum = point.momentum - kick * point.force;
    }
    return point;
  }

  /// Integrates back from `end` with flipped momenta and records how far
  /// from `start` it lands.
  void check_reversal(const Action& action, const PhasePoint& start,
                      const PhasePoint& end) {
    PhasePoint flipped = end;
    flipped.momentum = -end.momentum;
    const PhasePoint back = leapfrog(action, flipped);
    const auto field_deviation =
        (back.field - start.field).abs().max().to(torch::kFloat64);
    const auto momentum_deviation =
        (back.momentum + start.momentum).abs().max().to(torch::kFloat64);
    max_field_deviation_ =
        std::max(max_field_deviation_, field_deviation.item<double>());
    max_momentum_deviation_ =
        std::max(max_momentum_deviation_, momentum_deviation.item<double>());
  }

  static SampleChunk make_chunk(const std::vector<torch::Tensor>& configs,
                                const std::vector<double>& actions) {
    const auto size = static_cast<int64_t>(configs.size());
    SampleChunk chunk;
    chunk.configs = torch::cat(configs);
    chunk.log_q = torch::full({size}, std::numeric_limits<double>::quiet_NaN(),
                              torch::kFloat64);
    chunk.action = torch::tensor(actions, torch::kFloat64);
    chunk.log_w = torch::zeros({size}, torch::kFloat64);
    return chunk;
  }

  /// The experiment's device, where the action evaluates.
  torch::Device device_;
  double step_size_ = 0.1;
  int64_t steps_ = 10;
  int64_t thermalize_ = 0;
  int64_t thin_ = 1;
  int64_t chunk_ = 256;
  bool hot_start_ = true;
  bool check_reversibility_ = false;
  double max_field_deviation_ = 0.0;
  double max_momentum_deviation_ = 0.0;
  std::map<std::string, double> stats_;
};

}  // namespace

Schema hmc_schema() {
  Schema s;
  s.add_float("step_size", 0.1, "leapfrog step size").above(0);
  s.add_float("trajectory_length", 1.0,
              "molecular-dynamics time per trajectory (n_steps = its ratio "
              "to step_size, rounded)")
      .above(0);
  s.add_int("n_steps", 0,
            "leapfrog steps per trajectory; 0: from trajectory_length")
      .at_least(0);
  s.add_int("thermalize", 100,
            "trajectories discarded before the first "
            "state handed out")
      .at_least(0);
  s.add_int("thin", 1, "trajectories per state handed out").at_least(1);
  s.add_int("chunk", 256, "states handed out at once").at_least(1);
  s.add_choice("start", "hot", {"hot", "cold"},
               "first field: random (normal, or uniform angles) or zero");
  s.add_bool("check_reversibility", false,
             "also run each trajectory back with flipped momenta and report "
             "the largest deviation from its start (doubles the cost)");
  return s;
}

std::shared_ptr<Sampler> make_hmc(const Params& params,
                                  const BuildContext& context) {
  return std::make_shared<Hmc>(params, context.device);
}

}  // namespace latflow::samplers
