// The latflow command-line program.

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/json.h>
#include <latflow/log.h>
#include <latflow/npy.h>
#include <latflow/registry.h>
#include <latflow/runner.h>
#include <latflow/version.h>

#include <boost/program_options.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(usage: latflow COMMAND [ARGS...]

Train normalizing flows as samplers of lattice field theories.

commands:
  run EXPERIMENT.toml [KEY=VALUE ...] [--out DIR] [--dry-run]
                       train and evaluate one experiment
  plugins [KIND/NAME]  list components, or one component's parameters
  action EXPERIMENT.toml --configs FILE.npy [KEY=VALUE ...]
                       print the action and observables of configurations,
                       one JSON object per line

common options:
  --threads N          intra-op threads (default: [experiment] threads, or
                       all cores)
  --log-level LEVEL    debug, info, warn, error or quiet (default info)
  --log-channels LIST  comma-separated channels shown (run, train, plugins)
  -h, --help           this text, or a command's with `latflow COMMAND -h`
  --version            print the version

exit status: 0 success, 1 failed run, 2 bad input.
KEY=VALUE overrides a dotted key of the experiment; VALUE is TOML
(a bare word is a string): train.steps=50 estimator.type=reparam
)";

struct Common {
  int64_t threads = -1;
  std::string log_level = "info";
  std::string log_channels;
};

po::options_description common_options(Common& common) {
  po::options_description options("common options");
  options.add_options()
      ("help,h", "help")
      ("threads", po::value<int64_t>(&common.threads), "threads")
      ("log-level", po::value<std::string>(&common.log_level), "level")
      ("log-channels", po::value<std::string>(&common.log_channels),
       "channels");
  return options;
}

void apply_common(const Common& common) {
  latflow::log::set_level(latflow::log::parse_level(common.log_level));
  if (!common.log_channels.empty()) {
    std::vector<std::string> channels;
    std::stringstream list(common.log_channels);
    std::string item;
    while (std::getline(list, item, ',')) channels.push_back(item);
    latflow::log::set_channels(channels);
  }
  if (common.threads == 0 || common.threads < -1) {
    throw latflow::InputError(fmt::format(
        "--threads: expected an integer >= 1, got {}", common.threads));
  }
}

/// Parses a command's arguments; positional ones land in `positional`.
po::variables_map parse(const std::vector<std::string>& args,
                        const po::options_description& options,
                        std::vector<std::string>& positional) {
  po::options_description all;
  all.add(options);
  all.add_options()("positional", po::value(&positional), "");
  po::positional_options_description p;
  p.add("positional", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(p).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw latflow::InputError(e.what());
  }
  return vm;
}

latflow::Registry& registry() {
  // Never destroyed: plugins stay loaded until the process ends.
  static auto* instance = new latflow::Registry();
  return *instance;
}

int command_run(const std::vector<std::string>& args) {
  Common common;
  std::string out;
  auto options = common_options(common);
  options.add_options()("out", po::value<std::string>(&out), "run dir")(
      "dry-run", "validate and print the resolved experiment only");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow run EXPERIMENT.toml [KEY=VALUE ...] "
                 "[--out DIR] [--dry-run]\n";
    return 0;
  }
  apply_common(common);
  if (positional.empty()) {
    throw latflow::InputError("run: expected an experiment file");
  }
  latflow::RunOptions run;
  run.file = positional[0];
  run.overrides.assign(positional.begin() + 1, positional.end());
  run.out = out;
  run.threads = common.threads;

  if (vm.count("dry-run")) {
    const auto exp =
        latflow::Experiment::load(run.file, run.overrides, registry());
    // Building checks what the schemas cannot (divisibility, kinds).
    latflow::build_components(exp, registry());
    std::cout << exp.resolved_toml();
    return 0;
  }
  latflow::install_stop_handlers();
  return latflow::run_experiment(run, registry()).exit_code;
}

std::string plugin_source(const latflow::ComponentEntry& entry) {
  return entry.file.empty() ? std::string("built in") : entry.file.string();
}

int command_plugins(const std::vector<std::string>& args) {
  Common common;
  auto options = common_options(common);
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow plugins [KIND/NAME]\n";
    return 0;
  }
  apply_common(common);
  auto& reg = registry();
  reg.load_default_plugins();
  if (positional.empty()) {
    std::string kind;
    for (const auto* entry : reg.entries()) {
      if (entry->kind != kind) {
        kind = entry->kind;
        fmt::print("{}:\n", kind);
      }
      fmt::print("  {:<20} {}\n  {:<20} plugin {} {} ({})\n", entry->type,
                 entry->doc, "", entry->plugin, entry->plugin_version,
                 plugin_source(*entry));
    }
    return 0;
  }
  const std::string id = positional[0];
  const auto slash = id.find('/');
  if (slash == std::string::npos || positional.size() > 1) {
    throw latflow::InputError(fmt::format(
        "plugins: expected KIND/NAME, as action/phi4; got '{}'", id));
  }
  const auto& entry = reg.find(id.substr(0, slash), id.substr(slash + 1));
  fmt::print("{}: {}\nplugin {} {} ({})\n\n", entry.id(), entry.doc,
             entry.plugin, entry.plugin_version, plugin_source(entry));
  size_t width = 4;
  for (const auto& spec : entry.schema.specs()) {
    width = std::max(width, spec.key.size());
  }
  fmt::print("{:<{}}  {:<12}  {:<14}  {}\n", "key", width, "default", 14,
             "allowed");
  for (const auto& spec : entry.schema.specs()) {
    fmt::print("{:<{}}  {:<12}  {}\n{:<{}}  {}\n", spec.key, width,
               latflow::to_toml(spec.default_value), spec.expectation(), "",
               width, spec.doc);
  }
  return 0;
}

int command_action(const std::vector<std::string>& args) {
  Common common;
  std::string configs;
  auto options = common_options(common);
  options.add_options()("configs", po::value<std::string>(&configs),
                        "configurations (.npy)");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow action EXPERIMENT.toml --configs FILE.npy "
                 "[KEY=VALUE ...]\n";
    return 0;
  }
  apply_common(common);
  if (positional.empty()) {
    throw latflow::InputError("action: expected an experiment file");
  }
  if (configs.empty()) {
    throw latflow::InputError("action: expected --configs FILE.npy");
  }
  const std::vector<std::string> overrides(positional.begin() + 1,
                                           positional.end());
  const auto exp =
      latflow::Experiment::load(positional[0], overrides, registry());
  latflow::configure_threads(common.threads > 0
                                 ? common.threads
                                 : exp.experiment.get_int("threads"));
  const auto c = latflow::build_action(exp, registry());
  const auto field = c.action->field();

  auto data = latflow::read_npy(configs);
  std::vector<int64_t> expected{-1};
  expected.insert(expected.end(), field.shape.begin(), field.shape.end());
  const auto shape = data.sizes().vec();
  bool matches = shape.size() == expected.size();
  for (size_t i = 1; matches && i < shape.size(); ++i) {
    matches = shape[i] == expected[i];
  }
  if (!matches) {
    throw latflow::InputError(fmt::format(
        "{}: shape ({}) does not match action/{}: expected (N, {})", configs,
        fmt::join(shape, ", "), exp.action.type(),
        fmt::join(field.shape, ", ")));
  }

  torch::NoGradGuard no_grad;
  const auto x = data.to(c.context.device, exp.action_dtype());
  const auto observables = c.action->observables();
  const int64_t chunk = 64;
  for (int64_t begin = 0; begin < x.size(0); begin += chunk) {
    const auto part = x.slice(0, begin, std::min(begin + chunk, x.size(0)));
    const auto s = c.action->evaluate(part).to(torch::kCPU, torch::kFloat64);
    const auto parts = c.action->parts(part);
    std::vector<torch::Tensor> measured;
    for (const auto& o : observables) {
      measured.push_back(o->measure(part).to(torch::kCPU, torch::kFloat64));
    }
    for (int64_t i = 0; i < part.size(0); ++i) {
      latflow::Json line = latflow::Json::object();
      line["index"] = begin + i;
      line["action"] = s[i].item<double>();
      for (const auto& [name, values] : parts) {
        line[name] = values.to(torch::kCPU, torch::kFloat64)[i].item<double>();
      }
      for (size_t k = 0; k < observables.size(); ++k) {
        line[observables[k]->name()] = measured[k][i].item<double>();
      }
      std::cout << line.dump() << '\n';
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" ||
        args[0] == "help") {
      std::cout << kUsage;
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
      fmt::print("latflow {} (LibTorch {}, plugin ABI {})\n", LATFLOW_VERSION,
                 LATFLOW_TORCH_VERSION, LATFLOW_ABI_VERSION);
      return 0;
    }
    const std::string command = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "run") return command_run(rest);
    if (command == "plugins") return command_plugins(rest);
    if (command == "action") return command_action(rest);
    const std::vector<std::string> commands{"run", "plugins", "action"};
    const std::string near = latflow::closest(command, commands);
    throw latflow::InputError(fmt::format(
        "unknown command '{}'{}; run latflow --help", command,
        near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
  } catch (const latflow::InputError& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
