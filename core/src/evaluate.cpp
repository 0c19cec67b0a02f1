#include <latflow/estimator.h>
#include <latflow/evaluate.h>

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace latflow {

Evaluation evaluate_flow(Flow& flow, const Action& action,
                         torch::Dtype action_dtype, int64_t n,
                         int64_t chunk) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = flow.is_training();
  flow.eval();

  const auto observables = action.observables();
  std::vector<torch::Tensor> log_w_parts, log_q_parts, action_parts;
  std::vector<std::vector<torch::Tensor>> measured(observables.size());
  for (int64_t done = 0; done < n; done += chunk) {
    const int64_t size = std::min(chunk, n - done);
    const auto sample = sample_flow(flow, size);
    const auto configs = sample.x.to(action_dtype);
    const auto s = action.evaluate(configs).to(torch::kFloat64);
    log_q_parts.push_back(sample.log_q.to(torch::kCPU));
    action_parts.push_back(s.to(torch::kCPU));
    log_w_parts.push_back((-s - sample.log_q).to(torch::kCPU));
    for (size_t i = 0; i < observables.size(); ++i) {
      measured[i].push_back(
          observables[i]->measure(configs).to(torch::kCPU, torch::kFloat64));
    }
  }
  flow.train(was_training);

  auto log_w = torch::cat(log_w_parts);
  auto log_q = torch::cat(log_q_parts);
  auto s = torch::cat(action_parts);
  const auto finite = torch::isfinite(log_w);
  Evaluation result;
  result.samples = n;
  result.nonfinite = n - finite.sum().item<int64_t>();
  log_w = log_w.index({finite});
  log_q = log_q.index({finite});
  s = s.index({finite});
  if (log_w.numel() > 1) {
    result.ess = effective_sample_size(log_w);
    result.free_energy_q = sample_mean(log_q + s);
    result.free_energy_nis = free_energy_nis(log_w);
    for (size_t i = 0; i < observables.size(); ++i) {
      const auto values = torch::cat(measured[i]).index({finite});
      result.observables.emplace_back(observables[i]->name(),
                                      nis_mean(values, log_w));
    }
  } else {
    const double nan = std::nan("");
    result.free_energy_q = {nan, nan};
    result.free_energy_nis = {nan, nan};
  }
  result.exact_free_energy = action.exact_free_energy();
  result.exact_observables = action.exact_observables();
  result.seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  return result;
}

namespace {

Json estimate_json(const Estimate& e) {
  Json j = Json::object();
  j["mean"] = e.mean;
  j["error"] = e.error;
  return j;
}

}  // namespace

void add_to_summary(const Evaluation& evaluation, Json& summary) {
  summary["ess"] = evaluation.ess;
  summary["free_energy_q"] = estimate_json(evaluation.free_energy_q);
  summary["free_energy_nis"] = estimate_json(evaluation.free_energy_nis);
  summary["free_energy_exact"] =
      evaluation.exact_free_energy ? Json(*evaluation.exact_free_energy)
                                   : Json();
  Json observables = Json::object();
  for (const auto& [name, estimate] : evaluation.observables) {
    Json o = estimate_json(estimate);
    const auto exact = evaluation.exact_observables.find(name);
    if (exact != evaluation.exact_observables.end()) {
      o["exact"] = exact->second;
    }
    observables[name] = o;
  }
  summary["observables"] = observables;
  summary["evaluate_samples"] = evaluation.samples;
  summary["evaluate_nonfinite"] = evaluation.nonfinite;
  summary["evaluate_seconds"] = evaluation.seconds;
}

std::string format_evaluation(const Evaluation& e) {
  auto row = [](const std::string& name, const Estimate& estimate,
                std::optional<double> exact) {
    std::string text = fmt::format("  {:<20} {:>14.6f} +- {:<10.6f}", name,
                                   estimate.mean, estimate.error);
    if (exact) {
      const double pull =
          estimate.error > 0 ? (estimate.mean - *exact) / estimate.error : 0;
      text += fmt::format(" exact {:>12.6f} ({:+.1f} sigma)", *exact, pull);
    }
    return text + "\n";
  };
  std::string out = fmt::format(
      "evaluation on {} fresh samples ({:.1f} s)\n  {:<20} {:>14.4f}\n",
      e.samples, e.seconds, "ess", e.ess);
  out += row("free_energy_q", e.free_energy_q, std::nullopt);
  out += row("free_energy_nis", e.free_energy_nis, e.exact_free_energy);
  for (const auto& [name, estimate] : e.observables) {
    const auto exact = e.exact_observables.find(name);
    out += row(name, estimate,
               exact == e.exact_observables.end()
                   ? std::nullopt
                   : std::optional<double>(exact->second));
  }
  if (e.nonfinite > 0) {
    out += fmt::format("  {} samples with non-finite weights left out\n",
                       e.nonfinite);
  }
  return out;
}

}  // namespace latflow
