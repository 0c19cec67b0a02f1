#include "cli.h"

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/io.h>
#include <latflow/json.h>
#include <latflow/optimizer.h>
#include <latflow/runner.h>
#include <latflow/sweep.h>
#include <latflow/timer.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

extern char** environ;

namespace latflow::cli {

namespace {

constexpr const char* kPhases[] = {"forward", "action", "inverse",
                                   "backward", "optimizer"};

double median(std::vector<double> values) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// Times training steps of one combination in this process and prints one
/// JSON line: per-step seconds (median, min, max), the median of each
/// phase, and the peak resident memory.
int bench_child(const Experiment& exp, int64_t warmup, int64_t steps) {
  seed_everything(static_cast<uint64_t>(exp.experiment.get_int("seed")));
  const double rss_before = peak_rss_mb();
  Components c = build_components(exp, registry());
  FlowOptimizer optimizer(c.flow->parameters(), exp.train.get_float("lr"));
  const double clip = exp.train.get_float("grad_clip");
  const auto device = c.flow->parameters().front().device();
  auto skipped = torch::zeros({}, torch::dtype(torch::kLong).device(device));
  const int64_t batch = exp.train.get_int("batch");
  const int64_t micro = exp.train.get_int("micro_batches");
  const double rss_built = peak_rss_mb();

  std::vector<double> totals;
  std::map<std::string, std::vector<double>> phases;
  PhaseTimer timer;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    timer.clear();
    const auto start = std::chrono::steady_clock::now();
    timer.start();
    optimizer.zero_grad();
    auto loss = torch::zeros({}, torch::dtype(torch::kFloat64).device(device));
    for (int64_t m = 0; m < micro; ++m) {
      const auto result =
          c.estimator->step(*c.flow, *c.action, exp.action_dtype(),
                            batch / micro, 1.0 / micro, &timer);
      loss = loss + result.loss.to(torch::kFloat64) / micro;
    }
    timer.start();
    // The step training takes: clipping, the finite guard and, for a
    // half-width flow, the float32 master weights.
    optimizer.step(loss, clip, skipped);
    timer.mark("optimizer");
    const double total = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
    if (i < warmup) continue;
    totals.push_back(total);
    for (const auto* phase : kPhases) {
      const auto it = timer.seconds().find(phase);
      phases[phase].push_back(it == timer.seconds().end() ? 0.0
                                                          : it->second);
    }
  }

  Json out = Json::object();
  out["median"] = median(totals);
  out["min"] = *std::min_element(totals.begin(), totals.end());
  out["max"] = *std::max_element(totals.begin(), totals.end());
  for (const auto* phase : kPhases) out[phase] = median(phases[phase]);
  out["peak_rss_mb"] = peak_rss_mb();
  out["rss_built_mb"] = rss_built;
  out["rss_start_mb"] = rss_before;
  int64_t parameters = 0;
  for (const auto& p : c.flow->parameters()) parameters += p.numel();
  out["parameters"] = parameters;
  std::cout << out.dump() << std::endl;
  return 0;
}

/// Runs one combination in a child process so that peak memory never
/// mixes between combinations.
Json bench_in_child(const std::vector<std::string>& args) {
  // mkstemp replaces the six trailing X of the pattern.
  std::string pattern = (std::filesystem::temp_directory_path() /
                         ("latflow-bench-" + std::string(6, 'X')))
                            .string();
  const int fd = mkstemp(pattern.data());
  const char* path = pattern.c_str();
  if (fd < 0) throw RunError("bench: cannot create a temporary file");
  close(fd);
  std::vector<std::string> text = args;
  std::vector<char*> argv;
  for (auto& a : text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_TRUNC, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(),
                             environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw RunError("bench: cannot start the measuring process");
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string output = read_file(path);
  unlink(path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw RunError(fmt::format("bench: measuring {} failed (status {})",
                               fmt::join(args.begin() + 2, args.end(), " "),
                               status));
  }
  const auto line = output.substr(output.rfind('{'));
  return Json::parse(line, "bench output");
}

}  // namespace

int command_bench(const std::vector<std::string>& args) {
  Common common;
  int64_t steps = 5;
  int64_t warmup = 2;
  std::string estimators = "reinforce,reparam,path_gradient";
  std::string json_out;
  auto options = common_options(common);
  options.add_options()("steps", po::value<int64_t>(&steps), "timed steps")(
      "warmup", po::value<int64_t>(&warmup), "untimed steps first")(
      "estimators", po::value<std::string>(&estimators), "list")(
      "json", po::value<std::string>(&json_out), "write results as JSON")(
      "child", "measure one combination in this process");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout
        << "usage: latflow bench EXPERIMENT.toml [KEY=VALUE ...] [--steps N]"
           " [--warmup N]\n"
           "                     [--estimators a,b,...] [--json FILE]\n"
           "Times training steps of every combination of the experiment's "
           "[sweep]\n(or of the experiment itself) with each estimator, "
           "each in its own\nprocess: median/min/max seconds per step, the "
           "phases of a step, peak memory.\n";
    return 0;
  }
  apply_common(common);
  if (positional.empty()) {
    throw InputError("bench: expected an experiment file");
  }
  if (steps < 5) {
    throw InputError(fmt::format("--steps: expected an integer >= 5, got {}",
                                 steps));
  }
  if (warmup < 1) {
    throw InputError(fmt::format(
        "--warmup: expected an integer >= 1, got {}", warmup));
  }
  const std::filesystem::path file = positional[0];
  const std::vector<std::string> overrides(positional.begin() + 1,
                                           positional.end());
  if (vm.count("child")) {
    const auto exp = Experiment::load(file, overrides, registry());
    configure_threads(common.threads > 0 ? common.threads
                                         : exp.experiment.get_int("threads"));
    return bench_child(exp, warmup, steps);
  }

  // Combinations: the sweep's points (or the experiment alone), each with
  // every estimator unless the sweep sets the estimator itself.
  auto points = select_sweep_points(expand_sweep(read_file(file), file),
                                     overrides, file);
  if (points.empty()) points.push_back(SweepPoint{"base", {}, {}});
  std::vector<std::string> estimator_list;
  {
    std::stringstream list(estimators);
    std::string item;
    while (std::getline(list, item, ',')) {
      if (!item.empty()) estimator_list.push_back(item);
    }
  }
  if (estimator_list.empty()) {
    throw InputError(fmt::format(
        "--estimators '{}': expected a comma-separated list of estimators, "
        "as reinforce,reparam",
        estimators));
  }
  // A sweep over estimator.type keeps the points of the listed estimators.
  if (vm.count("estimators")) {
    points.erase(
        std::remove_if(points.begin(), points.end(),
                       [&](const SweepPoint& point) {
                         for (const auto& [key, value] : point.values) {
                           if (key != "estimator.type") continue;
                           return std::find(estimator_list.begin(),
                                            estimator_list.end(),
                                            value) == estimator_list.end();
                         }
                         return false;
                       }),
        points.end());
    if (points.empty()) {
      throw InputError(fmt::format(
          "--estimators {}: none of them is in the sweep of {}", estimators,
          file.string()));
    }
  }
  struct Combination {
    std::string group;
    std::string estimator;
    std::vector<std::string> overrides;
  };
  std::vector<Combination> combinations;
  for (const auto& point : points) {
    const bool sets_estimator = std::any_of(
        point.values.begin(), point.values.end(),
        [](const auto& v) { return v.first == "estimator.type"; });
    std::vector<std::string> base = overrides;
    base.insert(base.end(), point.overrides.begin(), point.overrides.end());
    if (sets_estimator) {
      std::string estimator, group;
      for (const auto& [key, value] : point.values) {
        if (key == "estimator.type") {
          estimator = value;
        } else {
          group += (group.empty() ? "" : "-") + value;
        }
      }
      combinations.push_back({group.empty() ? "base" : group, estimator,
                              base});
      continue;
    }
    for (const auto& estimator : estimator_list) {
      auto with = base;
      with.push_back("estimator.type=" + estimator);
      combinations.push_back({point.label, estimator, with});
    }
  }
  // Validate everything before measuring anything.
  for (const auto& combination : combinations) {
    const auto exp = Experiment::load(file, combination.overrides,
                                      registry());
    build_components(exp, registry());
  }

  const std::string program = boost::dll::program_location().string();
  fmt::print("{:<28} {:<14} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} "
             "{:>9}\n",
             "combination", "estimator", "median s", "min s", "max s",
             "forward", "action", "inverse", "backward", "peak MiB");
  std::map<std::string, std::map<std::string, double>> medians;
  Json all = Json::array();
  for (const auto& combination : combinations) {
    std::vector<std::string> child{program, "bench", file.string()};
    child.insert(child.end(), combination.overrides.begin(),
                 combination.overrides.end());
    child.insert(child.end(),
                 {"--child", "--steps", std::to_string(steps), "--warmup",
                  std::to_string(warmup), "--log-level", "warn"});
    if (common.threads > 0) {
      child.insert(child.end(),
                   {"--threads", std::to_string(common.threads)});
    }
    auto result = bench_in_child(child);
    auto number = [&](const char* key) {
      const Json* value = result.find(key);
      return value == nullptr ? std::nan("") : value->number();
    };
    fmt::print("{:<28} {:<14} {:>9.4f} {:>9.4f} {:>9.4f} {:>8.4f} {:>8.4f} "
               "{:>8.4f} {:>8.4f} {:>9.1f}\n",
               combination.group, combination.estimator, number("median"),
               number("min"), number("max"), number("forward"),
               number("action"), number("inverse"), number("backward"),
               number("peak_rss_mb"));
    std::fflush(stdout);
    medians[combination.group][combination.estimator] = number("median");
    medians[combination.group][combination.estimator + ".rss"] =
        number("peak_rss_mb");
    result["combination"] = combination.group;
    result["estimator"] = combination.estimator;
    all.push_back(result);
  }

  fmt::print("\nratios to reinforce (time per step, peak memory), same run:\n");
  for (const auto& [group, of] : medians) {
    const auto base = of.find("reinforce");
    if (base == of.end()) continue;
    for (const auto* other : {"reparam", "path_gradient"}) {
      const auto it = of.find(other);
      if (it == of.end()) continue;
      fmt::print("  {:<28} {}/reinforce: time {:.2f}x, memory {:.2f}x\n",
                 group, other, it->second / base->second,
                 of.at(std::string(other) + ".rss") /
                     of.at("reinforce.rss"));
    }
  }
  if (!json_out.empty()) write_file_atomic(json_out, all.dump(2) + "\n");
  return 0;
}

}  // namespace latflow::cli
