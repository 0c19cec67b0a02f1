#include <latflow/error.h>
#include <latflow/estimator.h>
#include <latflow/flow.h>
#include <latflow/stats.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "sampling_helpers.h"

using namespace latflow;
using latflow::test::build;
using latflow::test::collect;

namespace {

/// Interacting phi^4 at L = 6 and an affine flow in float64, random
/// (non-trivial last layers) or trained for 80 steps, after which neural
/// MCMC accepts about a third of its proposals.
struct Phi4Setup {
  explicit Phi4Setup(bool trained) {
    action = build<Action>("phi4",
                           {{"L", int64_t{6}}, {"m2", -1.0}, {"lambda", 2.0}});
    flow = build<Flow>("affine_coupling",
                       {{"layers", int64_t{4}},
                        {"hidden", int64_t{4}},
                        {"init_scale", trained ? 0.0 : 0.3}},
                       action.get());
    if (!trained) return;
    auto estimator = build<Estimator>("reinforce", {});
    torch::optim::Adam optimizer(flow->parameters(),
                                 torch::optim::AdamOptions(5e-3));
    for (int step = 0; step < 80; ++step) {
      optimizer.zero_grad();
      estimator->step(*flow, *action, torch::kFloat64, 64, 1.0, nullptr);
      optimizer.step();
    }
  }

  std::shared_ptr<Action> action;
  std::shared_ptr<Flow> flow;
};

/// Longest run of states equal to the one before.
int64_t longest_repeat(const torch::Tensor& configs) {
  int64_t longest = 0, run = 0;
  for (int64_t i = 1; i < configs.size(0); ++i) {
    run = torch::equal(configs[i], configs[i - 1]) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

}  // namespace

TEST_CASE("sampler/flow: weighted samples in chunks, log w = -S - log q") {
  torch::manual_seed(11);
  Phi4Setup setup(false);
  auto sampler = build<Sampler>("flow", {{"chunk", int64_t{30}}});
  CHECK(sampler->weighted());
  const auto out = collect(*sampler, setup.flow.get(), *setup.action, 100);
  CHECK(out.chunk_sizes == std::vector<int64_t>{30, 30, 30, 10});
  CHECK(out.configs.sizes().vec() == std::vector<int64_t>{100, 6, 6});
  CHECK((out.log_w.scalar_type() == torch::kFloat64));
  CHECK(torch::allclose(out.log_w, -out.action - out.log_q, 0, 1e-12));
  const auto recomputed =
      flow_log_prob(*setup.flow, out.configs).to(torch::kFloat64);
  CHECK((recomputed - out.log_q).abs().max().item<double>() < 1e-10);
  const auto stats = sampler->stats();
  CHECK(stats.at("ess") == doctest::Approx(effective_sample_size(out.log_w)));
  CHECK(stats.at("nonfinite") == 0);

  CHECK_THROWS_WITH(sampler->sample(nullptr, *setup.action, torch::kFloat64, 4,
                                    [](const SampleChunk&) {}),
                    "sampler/flow: needs a trained flow, got none");
}

TEST_CASE("sampler/nmcmc: every state keeps its own log q and S") {
  torch::manual_seed(5);
  Phi4Setup setup(true);
  // A chunk of 7 proposals: most chunks start with the state carried over
  // from the previous one.
  auto sampler = build<Sampler>(
      "nmcmc", {{"chunk", int64_t{7}}, {"thermalize", int64_t{13}}});
  CHECK_FALSE(sampler->weighted());
  const int64_t n = 400;
  torch::manual_seed(6);
  const auto out = collect(*sampler, setup.flow.get(), *setup.action, n);
  REQUIRE(out.configs.size(0) == n);
  for (const auto size : out.chunk_sizes) CHECK(size <= 7);
  CHECK(torch::all(out.log_w == 0).item<bool>());

  torch::NoGradGuard no_grad;
  const auto log_q = flow_log_prob(*setup.flow, out.configs);
  const auto s = setup.action->evaluate(out.configs);
  const double log_q_deviation = (log_q - out.log_q).abs().max().item<double>();
  const double action_deviation = (s - out.action).abs().max().item<double>();
  MESSAGE("recomputed log q within " << log_q_deviation << ", S within "
                                     << action_deviation);
  CHECK(log_q_deviation < 1e-10);
  CHECK(action_deviation < 1e-10);

  const auto stats = sampler->stats();
  const double acceptance = stats.at("acceptance");
  MESSAGE("acceptance " << acceptance << ", longest rejection run "
                        << stats.at("longest_rejection_run"));
  CHECK(acceptance > 0.1);
  CHECK(acceptance < 0.9);
  // 1 + 13 + 400 proposals: the start, thermalization, the chain.
  CHECK(stats.at("proposals") == 1 + 13 + n);

  // Accepted steps are changes of state; whether the first state handed
  // out was an acceptance is not visible from the states alone.
  int64_t changes = 0;
  for (int64_t i = 1; i < n; ++i) {
    changes += torch::equal(out.configs[i], out.configs[i - 1]) ? 0 : 1;
  }
  const double accepted = acceptance * n;
  CHECK(accepted - changes >= -1e-9);
  CHECK(accepted - changes <= 1 + 1e-9);
  const auto run = stats.at("longest_rejection_run");
  CHECK(run - longest_repeat(out.configs) >= 0);
  CHECK(run - longest_repeat(out.configs) <= 1);

  // A seeded run repeats.
  torch::manual_seed(6);
  const auto repeat = collect(*sampler, setup.flow.get(), *setup.action, n);
  CHECK(torch::equal(repeat.configs, out.configs));
}

TEST_CASE(
    "sampler/hmc: reversible to round-off, chain unchanged by the "
    "check") {
  auto action =
      build<Action>("phi4", {{"L", int64_t{8}}, {"m2", -1.0}, {"lambda", 3.0}});
  const test::Values values{
      {"step_size", 0.1}, {"n_steps", int64_t{10}}, {"thermalize", int64_t{5}}};
  auto checked_values = values;
  checked_values.emplace_back("check_reversibility", true);
  auto checked = build<Sampler>("hmc", checked_values);
  torch::manual_seed(3);
  const auto out = collect(*checked, nullptr, *action, 20);
  const auto stats = checked->stats();
  MESSAGE("phi4: back to start within "
          << stats.at("reversibility_field") << " (field), "
          << stats.at("reversibility_momentum") << " (momentum)");
  CHECK(stats.at("reversibility_field") < 1e-10);
  CHECK(stats.at("reversibility_momentum") < 1e-10);
  CHECK(stats.at("reversibility_field") > 0);  // the check ran
  CHECK(stats.at("n_steps") == 10);

  auto plain = build<Sampler>("hmc", values);
  torch::manual_seed(3);
  const auto again = collect(*plain, nullptr, *action, 20);
  CHECK(torch::equal(again.configs, out.configs));
  CHECK(plain->stats().count("reversibility_field") == 0);

  // Every state's S is that of its configuration; no model density.
  torch::NoGradGuard no_grad;
  CHECK(
      (action->evaluate(out.configs) - out.action).abs().max().item<double>() <
      1e-10);
  CHECK(torch::all(torch::isnan(out.log_q)).item<bool>());
  CHECK(torch::all(out.log_w == 0).item<bool>());
}

TEST_CASE("sampler/hmc on U(1) link angles: reversible, angles wrapped") {
  if (!test::registry().contains("action", "u1_gauge")) {
    MESSAGE("action/u1_gauge not built: skipped");
    return;
  }
  auto action = build<Action>("u1_gauge", {{"L", int64_t{6}}, {"beta", 2.0}});
  auto sampler = build<Sampler>("hmc", {{"step_size", 0.1},
                                        {"n_steps", int64_t{10}},
                                        {"thermalize", int64_t{5}},
                                        {"check_reversibility", true}});
  torch::manual_seed(4);
  const auto out = collect(*sampler, nullptr, *action, 30);
  const auto stats = sampler->stats();
  MESSAGE("u1: back to start within "
          << stats.at("reversibility_field") << " (field), "
          << stats.at("reversibility_momentum") << " (momentum), acceptance "
          << stats.at("acceptance"));
  CHECK(stats.at("reversibility_field") < 1e-10);
  CHECK(stats.at("reversibility_momentum") < 1e-10);
  CHECK(out.configs.sizes().vec() == std::vector<int64_t>{30, 2, 6, 6});
  CHECK(out.configs.min().item<double>() >= 0);
  CHECK(out.configs.max().item<double>() < 2 * M_PI);
  CHECK(stats.at("acceptance") > 0.5);
  torch::NoGradGuard no_grad;
  CHECK(
      (action->evaluate(out.configs) - out.action).abs().max().item<double>() <
      1e-10);
}

TEST_CASE("sampler/hmc on the Schwinger model: reversible to round-off") {
  if (!test::registry().contains("action", "schwinger_wilson")) {
    MESSAGE("action/schwinger_wilson not built: skipped");
    return;
  }
  // The force includes d(-2 log|det D|)/dtheta through the complex LU.
  auto action = build<Action>("schwinger_wilson", {{"L", int64_t{4}}});
  auto sampler = build<Sampler>("hmc", {{"step_size", 0.1},
                                        {"n_steps", int64_t{10}},
                                        {"thermalize", int64_t{2}},
                                        {"check_reversibility", true}});
  torch::manual_seed(12);
  const auto out = collect(*sampler, nullptr, *action, 6);
  const auto stats = sampler->stats();
  MESSAGE("schwinger: back to start within "
          << stats.at("reversibility_field") << " (field), "
          << stats.at("reversibility_momentum") << " (momentum)");
  CHECK(stats.at("reversibility_field") < 1e-10);
  CHECK(stats.at("reversibility_momentum") < 1e-10);
  CHECK(stats.at("acceptance") > 0);
}

TEST_CASE("sampler/hmc: <exp(-dH)> = 1 and |dH| ~ step^2") {
  auto action = build<Action>("phi4", {{"L", int64_t{8}}, {"m2", 1.25}});
  std::vector<double> mean_abs_dh;
  for (const double step : {0.1, 0.2}) {
    CAPTURE(step);
    // The same trajectory length, 1, for both step sizes.
    auto sampler = build<Sampler>(
        "hmc", {{"step_size", step}, {"thermalize", int64_t{20}}});
    torch::manual_seed(8);
    collect(*sampler, nullptr, *action, 600);
    const auto stats = sampler->stats();
    MESSAGE("step " << step << ": <exp(-dH)> = " << stats.at("exp_minus_dh")
                    << " +- " << stats.at("exp_minus_dh_error")
                    << ", <|dH|> = " << stats.at("mean_abs_dh")
                    << ", acceptance " << stats.at("acceptance"));
    CHECK(std::abs(stats.at("exp_minus_dh") - 1) <
          3 * stats.at("exp_minus_dh_error"));
    CHECK(stats.at("trajectories") == 600);
    mean_abs_dh.push_back(stats.at("mean_abs_dh"));
  }
  // Leapfrog: dH = O(step^2) per trajectory.
  const double ratio = mean_abs_dh[1] / mean_abs_dh[0];
  MESSAGE("<|dH|> ratio for twice the step: " << ratio);
  CHECK(ratio > 3.0);
  CHECK(ratio < 5.5);
}

TEST_CASE("sampler/hmc reproduces the free-field <phi^2>") {
  // L = 8, m2 = 1.25, lambda = 0: the free field, exact by lattice momenta.
  auto action =
      build<Action>("phi4", {{"L", int64_t{8}}, {"m2", 1.25}, {"lambda", 0.0}});
  auto sampler = build<Sampler>("hmc", {{"step_size", 0.2},
                                        {"trajectory_length", 1.0},
                                        {"thermalize", int64_t{50}},
                                        {"start", std::string("cold")}});
  torch::manual_seed(21);
  const auto out = collect(*sampler, nullptr, *action, 2000);
  const double exact = action->exact_observables().at("phi2");
  const auto g = gamma_method(test::measure(*action, "phi2", out.configs));
  MESSAGE("<phi^2> = " << g.mean << " +- " << g.error << " (tau_int "
                       << g.tau_int << " +- " << g.tau_int_error << "), exact "
                       << exact << ", acceptance "
                       << sampler->stats().at("acceptance"));
  CHECK(g.window_found);
  CHECK(std::abs(g.mean - exact) < 3 * g.error);
  // The error is small enough for the check to mean something.
  CHECK(g.error < 0.01 * exact);
}

TEST_CASE("sampler schemas refuse bad values") {
  const auto& entry = test::registry().find("sampler", "hmc");
  CHECK_FALSE(entry.schema.find("step_size")->violation(0.0).empty());
  CHECK_FALSE(entry.schema.find("thin")->violation(int64_t{0}).empty());
  CHECK(entry.schema.find("n_steps")->violation(int64_t{0}).empty());
  for (const auto* type : {"flow", "nmcmc"}) {
    const auto& e = test::registry().find("sampler", type);
    CHECK_FALSE(e.schema.find("chunk")->violation(int64_t{0}).empty());
  }
}
