#pragma once

#include <latflow/action.h>
#include <latflow/component.h>
#include <latflow/flow.h>

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace latflow {

/// A chunk of samples. log_q, action and log_w are (B) float64;
/// log_w = -S - log q for flow samples, zero for exact-chain samplers.
struct SampleChunk {
  torch::Tensor configs;
  torch::Tensor log_q;
  torch::Tensor action;
  torch::Tensor log_w;
};

/// Draws configurations, from a trained flow (independent samples with
/// weights, neural MCMC) or from the action alone (HMC), handing them to
/// `sink` chunk by chunk so that no request is held in memory at once.
/// Chains report their statistics (acceptance, ...) through stats().
class BOOST_SYMBOL_VISIBLE Sampler : public Component {
 public:
  using Component::Component;
  static constexpr const char* kKind = "sampler";
  std::string kind() const override { return kKind; }

  using Sink = std::function<void(const SampleChunk&)>;
  /// flow may be null for samplers that do not use one.
  virtual void sample(Flow* flow, const Action& action,
                      torch::Dtype action_dtype, int64_t n,
                      const Sink& sink) = 0;
  /// Whether the samples are weighted (true) or a Markov chain (false).
  virtual bool weighted() const = 0;
  /// Figures of the last sample() call ("acceptance", ...).
  virtual std::map<std::string, double> stats() const { return {}; }
};

}  // namespace latflow
