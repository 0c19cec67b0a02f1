// Samplers that draw from a trained flow (PHYSICS.md 5): independent
// samples with importance weights, and neural MCMC.

#include <latflow/error.h>
#include <latflow/estimator.h>
#include <latflow/stats.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "samplers.h"

namespace latflow::samplers {

namespace {

/// One chunk of flow proposals: configurations in the action dtype, and
/// log q, S and log w = -S - log q as (B) float64 on the CPU.
struct Proposals {
  torch::Tensor configs;
  torch::Tensor log_q;
  torch::Tensor action;
  torch::Tensor log_w;
};

Proposals propose(Flow& flow, const Action& action, torch::Dtype action_dtype,
                  int64_t size) {
  torch::NoGradGuard no_grad;
  const auto sample = sample_flow(flow, size);
  Proposals p;
  p.configs = sample.x.to(action_dtype);
  p.log_q = sample.log_q.to(torch::kCPU, torch::kFloat64);
  p.action = evaluate_action(action, p.configs, action_dtype)
                 .to(torch::kCPU, torch::kFloat64);
  p.log_w = -p.action - p.log_q;
  return p;
}

void require_flow(const Flow* flow, const char* sampler) {
  LATFLOW_CHECK(flow != nullptr, "sampler/{}: needs a trained flow, got none",
                sampler);
}

/// Independent samples phi = f(z), z ~ prior, each with its log importance
/// weight log w = -S - log q, drawn `chunk` at a time.
class FlowSampler final : public Sampler {
 public:
  explicit FlowSampler(Params params)
      : Sampler(std::move(params)), chunk_(this->params().get_int("chunk")) {}

  void sample(Flow* flow, const Action& action, torch::Dtype action_dtype,
              int64_t n, const Sink& sink) override {
    require_flow(flow, "flow");
    std::vector<torch::Tensor> log_w;
    for (int64_t done = 0; done < n; done += chunk_) {
      const int64_t size = std::min(chunk_, n - done);
      auto p = propose(*flow, action, action_dtype, size);
      log_w.push_back(p.log_w);
      sink({p.configs, p.log_q, p.action, p.log_w});
    }

    stats_.clear();
    stats_["samples"] = static_cast<double>(n);
    if (log_w.empty()) return;
    const auto all = torch::cat(log_w);
    const auto finite = torch::isfinite(all);
    const auto kept = all.index({finite});
    stats_["nonfinite"] = static_cast<double>(n - kept.numel());
    if (kept.numel() > 0) stats_["ess"] = effective_sample_size(kept);
  }

  bool weighted() const override { return true; }
  std::map<std::string, double> stats() const override { return stats_; }

 private:
  int64_t chunk_;
  std::map<std::string, double> stats_;
};

/// Neural MCMC: an independence Metropolis chain whose proposals are
/// independent flow samples, accepted with probability
/// min(1, w_new / w_old), w = exp(-S) / q (arXiv 1904.12072). The chain is
/// exact whatever the flow; the flow sets the acceptance and the
/// autocorrelation.
///
/// Every state carries the log q and S computed when it was proposed: a
/// rejected proposal repeats the previous state with the previous state's
/// log q and S. The chain starts from one proposal that is never handed
/// out, takes `thermalize` steps that are discarded, then hands out one
/// state per step, `chunk` proposals at a time. Samples are unweighted
/// (log_w zero).
class NeuralMcmc final : public Sampler {
 public:
  explicit NeuralMcmc(Params params)
      : Sampler(std::move(params)),
        chunk_(this->params().get_int("chunk")),
        thermalize_(this->params().get_int("thermalize")) {}

  void sample(Flow* flow, const Action& action, torch::Dtype action_dtype,
              int64_t n, const Sink& sink) override {
    require_flow(flow, "nmcmc");
    Chain chain;
    int64_t steps_left = thermalize_ + n;
    int64_t accepted = 0;
    int64_t run = 0;
    int64_t longest_run = 0;
    int64_t proposed = 0;
    std::vector<torch::Tensor> proposal_log_w;

    while (steps_left > 0) {
      // The first chunk also holds the starting state.
      const int64_t size =
          std::min(chunk_, steps_left + (chain.started ? 0 : 1));
      const auto p = propose(*flow, action, action_dtype, size);
      proposal_log_w.push_back(p.log_w);
      proposed += size;
      // One uniform per proposal, from the global generator, so that a
      // seeded run repeats.
      const auto uniform = torch::rand({size}, torch::kFloat64);
      const double* log_w = p.log_w.data_ptr<double>();
      const double* u = uniform.data_ptr<double>();

      // Source of each handed-out state: -1 is the state carried in from
      // before this chunk, j >= 0 is proposal j of the chunk.
      std::vector<int64_t> source;
      int64_t current = -1;
      for (int64_t j = 0; j < size; ++j) {
        if (!chain.started) {
          // Start from the first proposal with a finite weight.
          if (std::isfinite(log_w[j])) {
            chain.started = true;
            chain.log_w = log_w[j];
            current = j;
          }
          continue;
        }
        const double difference = log_w[j] - chain.log_w;
        // log u < log w_new - log w_old, in float64; a NaN weight never
        // enters the chain.
        const bool accept = !std::isnan(log_w[j]) &&
                            (difference >= 0 || std::log(u[j]) < difference);
        const bool recorded = steps_left <= n;
        if (accept) {
          chain.log_w = log_w[j];
          current = j;
        }
        if (recorded) {
          if (accept) {
            ++accepted;
            run = 0;
          } else {
            longest_run = std::max(longest_run, ++run);
          }
          source.push_back(current);
        }
        --steps_left;
      }

      LATFLOW_CHECK(chain.started,
                    "sampler/nmcmc: none of the first {} flow proposals has "
                    "a finite weight -S - log q",
                    proposed);
      if (!source.empty()) {
        sink(gather(chain, p, source, action_dtype));
      }
      if (current >= 0) {
        chain.config = p.configs.slice(0, current, current + 1).clone();
        chain.log_q = p.log_q.slice(0, current, current + 1).clone();
        chain.action = p.action.slice(0, current, current + 1).clone();
      }
    }

    stats_.clear();
    stats_["samples"] = static_cast<double>(n);
    stats_["thermalize"] = static_cast<double>(thermalize_);
    stats_["acceptance"] =
        n > 0 ? static_cast<double>(accepted) / static_cast<double>(n) : 0.0;
    stats_["longest_rejection_run"] = static_cast<double>(longest_run);
    stats_["proposals"] = static_cast<double>(proposed);
    if (proposal_log_w.empty()) return;
    const auto all = torch::cat(proposal_log_w);
    const auto kept = all.index({torch::isfinite(all)});
    if (kept.numel() > 0) stats_["proposal_ess"] = effective_sample_size(kept);
  }

  bool weighted() const override { return false; }
  std::map<std::string, double> stats() const override { return stats_; }

 private:
  /// The state of the chain between chunks: configuration (1, ...) and its
  /// own log q and S (1) float64.
  struct Chain {
    bool started = false;
    double log_w = -std::numeric_limits<double>::infinity();
    torch::Tensor config;
    torch::Tensor log_q;
    torch::Tensor action;
  };

  /// The handed-out states of one chunk, taken from the carried state and
  /// the chunk's proposals.
  static SampleChunk gather(const Chain& chain, const Proposals& p,
                            const std::vector<int64_t>& source,
                            torch::Dtype action_dtype) {
    const bool carried = chain.config.defined();
    const auto configs =
        carried ? torch::cat({chain.config, p.configs}) : p.configs;
    const auto log_q = carried ? torch::cat({chain.log_q, p.log_q}) : p.log_q;
    const auto s = carried ? torch::cat({chain.action, p.action}) : p.action;
    std::vector<int64_t> rows(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      rows[i] = source[i] + (carried ? 1 : 0);
    }
    const auto index = torch::tensor(rows, torch::kInt64);
    SampleChunk chunk;
    chunk.configs =
        configs.index_select(0, index.to(configs.device())).to(action_dtype);
    chunk.log_q = log_q.index_select(0, index);
    chunk.action = s.index_select(0, index);
    chunk.log_w = torch::zeros({index.numel()}, torch::kFloat64);
    return chunk;
  }

  int64_t chunk_;
  int64_t thermalize_;
  std::map<std::string, double> stats_;
};

}  // namespace

Schema flow_schema() {
  Schema s;
  s.add_int("chunk", 512, "configurations drawn at once").at_least(1);
  return s;
}

std::shared_ptr<Sampler> make_flow(const Params& params, const BuildContext&) {
  return std::make_shared<FlowSampler>(params);
}

Schema nmcmc_schema() {
  Schema s;
  s.add_int("chunk", 512, "flow proposals drawn at once").at_least(1);
  s.add_int("thermalize", 100,
            "Metropolis steps discarded before the first state handed out")
      .at_least(0);
  return s;
}

std::shared_ptr<Sampler> make_nmcmc(const Params& params, const BuildContext&) {
  return std::make_shared<NeuralMcmc>(params);
}

}  // namespace latflow::samplers
