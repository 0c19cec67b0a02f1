#include "cli.h"

#include <latflow/checkpoint.h>
#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/json.h>
#include <latflow/npy.h>
#include <latflow/stats.h>

#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

namespace latflow::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSampleUsage =
    "usage: latflow sample RUN_DIR [--n N] [--out FILE.npy] [--sampler TYPE]\n"
    "                      [--json] [KEY=VALUE ...]\n"
    "  samples from the run's checkpoint with its [sampler] (sampler/flow\n"
    "  when it has none) and prints each observable's mean, error and, for\n"
    "  chains, tau_int. KEY=VALUE overrides the run's config.toml\n"
    "  (sampler.thermalize=500, experiment.seed=7).\n"
    "  --n N            samples (default: [evaluate] batch of the run)\n"
    "  --out FILE.npy   also write the configurations, shape (N, field...)\n"
    "  --sampler TYPE   flow, nmcmc or hmc (or any registered sampler)\n"
    "  --json           print one JSON object instead of the table\n";

/// One observable's estimate: NIS for weighted samples, the Gamma method
/// for chains.
struct Row {
  std::string name;
  double mean = 0.0;
  double error = 0.0;
  std::optional<ChainEstimate> chain;
  std::optional<BinnedEstimate> jackknife;
  std::optional<double> exact;
};

/// Loads RUN_DIR/config.toml with the overrides, its [sampler] replaced by
/// `sampler_type` when that differs (a table of another sampler's keys
/// would not validate).
Experiment load_run(const fs::path& config, const std::string& sampler_type,
                    const std::vector<std::string>& overrides) {
  std::vector<std::string> other_overrides;
  for (const auto& item : overrides) {
    if (item.rfind("sampler.", 0) != 0) other_overrides.push_back(item);
  }
  Experiment exp = Experiment::load(config, other_overrides, registry());
  std::string type = sampler_type;
  if (type.empty()) {
    type = exp.sampler.type().empty() ? "flow" : exp.sampler.type();
  }
  if (type == exp.sampler.type()) {
    return Experiment::load(config, overrides, registry());
  }
  // resolved_toml() leaves out a sampler without a type.
  exp.sampler = Params();
  const std::string text =
      exp.resolved_toml() + fmt::format("\n[sampler]\ntype = \"{}\"\n", type);
  return Experiment::parse(text, config, overrides, registry());
}

std::string tau_text(const Row& row) {
  if (!row.chain) return "-";
  return fmt::format("{:.2f} +- {:.2f}", row.chain->tau_int,
                     row.chain->tau_int_error);
}

std::string exact_text(const Row& row) {
  if (!row.exact) return "";
  // No pull without an error: two samples of one state give error 0.
  if (!(row.error > 0)) return fmt::format("{:.6f} (- sigma)", *row.exact);
  const double pull = (row.mean - *row.exact) / row.error;
  return fmt::format("{:.6f} ({:+.1f} sigma)", *row.exact, pull);
}

Json estimate_json(double mean, double error) {
  Json j = Json::object();
  j["mean"] = mean;
  j["error"] = error;
  return j;
}

}  // namespace

int command_sample(const std::vector<std::string>& args) {
  Common common;
  int64_t n = 0;
  std::string out;
  std::string sampler_type;
  auto options = common_options(common);
  options.add_options()("n", po::value<int64_t>(&n), "samples")(
      "out", po::value<std::string>(&out), "configurations (.npy)")(
      "sampler", po::value<std::string>(&sampler_type), "sampler type")(
      "json", "one JSON object");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << kSampleUsage;
    return 0;
  }
  apply_common(common);
  const bool json = vm.count("json") > 0;
  if (positional.empty()) {
    throw InputError("sample: expected a run directory");
  }
  const fs::path dir = positional[0];
  const std::vector<std::string> overrides(positional.begin() + 1,
                                           positional.end());
  for (const auto& item : overrides) {
    if (item.find('=') == std::string::npos) {
      throw InputError(fmt::format(
          "sample: expected one run directory and KEY=VALUE overrides, got "
          "'{}'",
          item));
    }
  }
  if (vm.count("n") && n < 1) {
    throw InputError(fmt::format("--n: expected an integer >= 1, got {}", n));
  }
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw InputError(fmt::format("{}: no such run directory", dir.string()));
  }
  if (!fs::is_regular_file(dir / "config.toml", error)) {
    throw InputError(
        fmt::format("{}: not a run directory (no config.toml)", dir.string()));
  }
  const fs::path checkpoint = dir / "checkpoint.pt";
  if (!fs::is_regular_file(checkpoint, error)) {
    throw InputError(
        fmt::format("{}: no checkpoint.pt; the run wrote none (train it first)",
                    dir.string()));
  }
  if (!out.empty() && fs::path(out).extension() != ".npy") {
    throw InputError(fmt::format("--out {}: expected a .npy file name", out));
  }
  if (sampler_type.rfind("sampler/", 0) == 0) {
    sampler_type = sampler_type.substr(8);
  }
  if (!sampler_type.empty()) {
    registry().load_default_plugins();
    try {
      registry().find("sampler", sampler_type);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--sampler: {}", e.what()));
    }
  }

  const Experiment exp = load_run(dir / "config.toml", sampler_type, overrides);
  if (!vm.count("n")) n = exp.evaluate.get_int("batch");
  configure_threads(common.threads > 0 ? common.threads
                                       : exp.experiment.get_int("threads"));
  seed_everything(static_cast<uint64_t>(exp.experiment.get_int("seed")));
  Components c = build_components(exp, registry());
  load_checkpoint_flow(checkpoint, *c.flow);
  c.flow->eval();

  // Measure chunk by chunk; only the observables' values (and the
  // configurations, for --out) are kept.
  const auto observables = c.action->observables();
  std::vector<std::vector<torch::Tensor>> measured(observables.size());
  std::vector<torch::Tensor> log_w_parts;
  std::vector<torch::Tensor> config_parts;
  const auto file_dtype =
      exp.action_dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto start = std::chrono::steady_clock::now();
  c.sampler->sample(
      c.flow.get(), *c.action, exp.action_dtype(), n,
      [&](const SampleChunk& chunk) {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < observables.size(); ++i) {
          measured[i].push_back(observables[i]
                                    ->measure(chunk.configs)
                                    .to(torch::kCPU, torch::kFloat64));
        }
        log_w_parts.push_back(chunk.log_w.to(torch::kCPU, torch::kFloat64));
        if (!out.empty()) {
          config_parts.push_back(
              chunk.configs.detach().to(torch::kCPU, file_dtype));
        }
      });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  const bool weighted = c.sampler->weighted();
  const auto log_w = torch::cat(log_w_parts);
  const auto finite = torch::isfinite(log_w);
  const int64_t nonfinite = log_w.numel() - finite.sum().item<int64_t>();
  const auto exact = c.action->exact_observables();
  std::vector<Row> rows;
  for (size_t i = 0; i < observables.size(); ++i) {
    Row row;
    row.name = observables[i]->name();
    const auto values = torch::cat(measured[i]);
    if (weighted) {
      const auto estimate =
          nis_mean(values.index({finite}), log_w.index({finite}));
      row.mean = estimate.mean;
      row.error = estimate.error;
    } else {
      row.chain = gamma_method(values);
      row.jackknife = jackknife_mean(values);
      row.mean = row.chain->mean;
      row.error = row.chain->error;
    }
    const auto it = exact.find(row.name);
    if (it != exact.end()) row.exact = it->second;
    rows.push_back(row);
  }
  std::optional<Estimate> free_energy;
  if (weighted && nonfinite < log_w.numel()) {
    free_energy = free_energy_nis(log_w.index({finite}));
  }
  if (!out.empty()) write_npy(out, torch::cat(config_parts));

  const auto stats = c.sampler->stats();
  if (json) {
    Json j = Json::object();
    j["run"] = dir.string();
    j["sampler"] = exp.sampler.type();
    j["samples"] = n;
    j["weighted"] = weighted;
    j["seconds"] = seconds;
    Json figures = Json::object();
    for (const auto& [key, value] : stats) figures[key] = value;
    j["stats"] = figures;
    if (free_energy) {
      j["free_energy_nis"] =
          estimate_json(free_energy->mean, free_energy->error);
      const auto f = c.action->exact_free_energy();
      j["free_energy_exact"] = f ? Json(*f) : Json();
    }
    Json values = Json::object();
    for (const auto& row : rows) {
      Json o = estimate_json(row.mean, row.error);
      if (row.chain) {
        o["tau_int"] = row.chain->tau_int;
        o["tau_int_error"] = row.chain->tau_int_error;
        o["window"] = row.chain->window;
        o["window_found"] = row.chain->window_found;
        o["jackknife_error"] = row.jackknife->error;
        o["jackknife_bin"] = row.jackknife->bin_size;
      }
      if (row.exact) o["exact"] = *row.exact;
      values[row.name] = o;
    }
    j["observables"] = values;
    j["out"] = out.empty() ? Json() : Json(out);
    std::cout << j.dump() << '\n';
    return 0;
  }

  fmt::print("sampler/{}: {} {} from {} in {:.2f} s\n", exp.sampler.type(), n,
             weighted ? "weighted samples" : "states of a chain", dir.string(),
             seconds);
  size_t width = 16;
  for (const auto& [key, value] : stats) width = std::max(width, key.size());
  for (const auto& row : rows) width = std::max(width, row.name.size());
  for (const auto& [key, value] : stats) {
    fmt::print("  {:<{}} {:>14.6g}\n", key, width, value);
  }
  if (free_energy) {
    fmt::print("  {:<{}} {:>14.6f} +- {:.6f}\n", "free_energy_nis", width,
               free_energy->mean, free_energy->error);
  }
  if (weighted && nonfinite > 0) {
    fmt::print("  {} samples with non-finite weights left out\n", nonfinite);
  }
  fmt::print("  {:<{}} {:>14} {:>12} {:>16}  {}\n", "observable", width, "mean",
             "error", "tau_int", "exact");
  for (const auto& row : rows) {
    fmt::print("  {:<{}} {:>14.6f} {:>12.6f} {:>16}  {}\n", row.name, width,
               row.mean, row.error, tau_text(row), exact_text(row));
  }
  if (!out.empty()) {
    fmt::print("configurations written to {}\n", out);
  }
  return 0;
}

}  // namespace latflow::cli
