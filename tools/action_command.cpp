#include "cli.h"

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/json.h>
#include <latflow/npy.h>

#include <torch/torch.h>

#include <iostream>

namespace latflow::cli {

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
    throw InputError("action: expected an experiment file");
  }
  if (configs.empty()) {
    throw InputError("action: expected --configs FILE.npy");
  }
  const std::vector<std::string> overrides(positional.begin() + 1,
                                           positional.end());
  const auto exp =
      Experiment::load(positional[0], overrides, registry());
  configure_threads(common.threads > 0
                                 ? common.threads
                                 : exp.experiment.get_int("threads"));
  const auto c = build_action(exp, registry());
  const auto field = c.action->field();

  auto data = read_npy(configs);
  std::vector<int64_t> expected{-1};
  expected.insert(expected.end(), field.shape.begin(), field.shape.end());
  const auto shape = data.sizes().vec();
  bool matches = shape.size() == expected.size();
  for (size_t i = 1; matches && i < shape.size(); ++i) {
    matches = shape[i] == expected[i];
  }
  if (!matches) {
    throw InputError(fmt::format(
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
      Json line = Json::object();
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

}  // namespace latflow::cli
