// Long chains against exact results: HMC on the free scalar field and on
// pure U(1) gauge theory, and neural MCMC from a briefly trained flow
// (unbiased whatever the flow). Labelled slow.

#include <latflow/estimator.h>
#include <latflow/stats.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cmath>

#include "sampling_helpers.h"

using namespace latflow;
using latflow::test::build;
using latflow::test::collect;

namespace {

/// Checks the chain estimate of `name` against the action's exact value
/// within 3 tau_int-corrected standard errors.
void check_exact(const Action& action, const std::string& name,
                 const torch::Tensor& configs) {
  const auto g = gamma_method(test::measure(action, name, configs));
  const double exact = action.exact_observables().at(name);
  MESSAGE(name << " = " << g.mean << " +- " << g.error << " (tau_int "
               << g.tau_int << " +- " << g.tau_int_error << ", window "
               << g.window << "), exact " << exact << ", pull "
               << (g.mean - exact) / g.error);
  CHECK(g.window_found);
  CHECK(std::abs(g.mean - exact) < 3 * g.error);
}

}  // namespace

TEST_CASE("HMC: free phi^4 at L = 8, m2 = 1.25") {
  torch::set_num_threads(1);
  auto action =
      build<Action>("phi4", {{"L", int64_t{8}}, {"m2", 1.25}, {"lambda", 0.0}});
  auto sampler = build<Sampler>("hmc", {{"step_size", 0.2},
                                        {"trajectory_length", 1.0},
                                        {"thermalize", int64_t{100}}});
  torch::manual_seed(1234);
  const auto out = collect(*sampler, nullptr, *action, 10000);
  const auto stats = sampler->stats();
  MESSAGE("acceptance " << stats.at("acceptance") << ", <exp(-dH)> "
                        << stats.at("exp_minus_dh") << " +- "
                        << stats.at("exp_minus_dh_error"));
  CHECK(std::abs(stats.at("exp_minus_dh") - 1) <
        3 * stats.at("exp_minus_dh_error"));
  for (const auto* name :
       {"phi2", "susceptibility", "abs_magnetisation", "magnetisation"}) {
    check_exact(*action, name, out.configs);
  }
}

TEST_CASE("HMC: U(1) gauge mean plaquette at L = 8, beta = 2") {
  if (!test::registry().contains("action", "u1_gauge")) {
    MESSAGE("action/u1_gauge not built: skipped");
    return;
  }
  torch::set_num_threads(1);
  auto action = build<Action>("u1_gauge", {{"L", int64_t{8}}, {"beta", 2.0}});
  auto sampler = build<Sampler>("hmc", {{"step_size", 0.1},
                                        {"trajectory_length", 1.0},
                                        {"thermalize", int64_t{200}}});
  torch::manual_seed(4321);
  const auto out = collect(*sampler, nullptr, *action, 5000);
  const auto stats = sampler->stats();
  MESSAGE("acceptance " << stats.at("acceptance") << ", <exp(-dH)> "
                        << stats.at("exp_minus_dh") << " +- "
                        << stats.at("exp_minus_dh_error"));
  CHECK(std::abs(stats.at("exp_minus_dh") - 1) <
        3 * stats.at("exp_minus_dh_error"));
  check_exact(*action, "mean_plaquette", out.configs);
  // Topology moves slowly under HMC; <Q^2> is reported, not asserted.
  const auto q2 = gamma_method(test::measure(*action, "q2", out.configs));
  MESSAGE("<Q^2> = " << q2.mean << " +- " << q2.error << " (tau_int "
                     << q2.tau_int << "), exact "
                     << action->exact_observables().at("q2"));
}

TEST_CASE("neural MCMC from a briefly trained flow is exact: free phi^4") {
  torch::set_num_threads(2);
  torch::manual_seed(99);
  auto action =
      build<Action>("phi4", {{"L", int64_t{8}}, {"m2", 1.25}, {"lambda", 0.0}});
  auto flow = build<Flow>("affine_coupling",
                          {{"layers", int64_t{4}}, {"hidden", int64_t{8}}},
                          action.get());
  auto estimator = build<Estimator>("reinforce", {});
  torch::optim::Adam optimizer(flow->parameters(),
                               torch::optim::AdamOptions(2e-3));
  for (int step = 0; step < 150; ++step) {
    optimizer.zero_grad();
    estimator->step(*flow, *action, torch::kFloat64, 128, 1.0, nullptr);
    optimizer.step();
  }

  auto sampler = build<Sampler>(
      "nmcmc", {{"chunk", int64_t{2048}}, {"thermalize", int64_t{200}}});
  const auto out = collect(*sampler, flow.get(), *action, 40000);
  const auto stats = sampler->stats();
  MESSAGE("acceptance " << stats.at("acceptance") << ", proposal ESS "
                        << stats.at("proposal_ess")
                        << ", longest rejection run "
                        << stats.at("longest_rejection_run"));
  CHECK(stats.at("acceptance") > 0.1);
  for (const auto* name : {"phi2", "susceptibility"}) {
    check_exact(*action, name, out.configs);
  }
}
