// `latflow new-plugin`: writes a plugin project that builds as is against
// the installed latflow package. The templates below are kept in step with
// docs/plugins.md; tests/external_plugin builds what they produce.

#include "cli.h"

#include <latflow/error.h>
#include <latflow/version.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace latflow::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp =
    R"t(usage: latflow new-plugin NAME --kind KIND [--out DIR]

Writes a plugin project in DIR (default ./NAME): CMakeLists.txt using
find_package(latflow), NAME.cpp registering KIND/NAME with a parameter
schema, a sample experiment.toml (all kinds but observable) and a README.
KIND is action, flow, estimator, sampler or observable. NAME is lower case
letters, digits and underscores, starting with a letter.
)t";

constexpr const char* kCMakeLists =
    R"t(# The latflow plugin @NAME@ (@KIND@/@NAME@).
cmake_minimum_required(VERSION 3.22)
project(latflow_@NAME@ VERSION 0.1.0 LANGUAGES CXX)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# Gives latflow::core and latflow_add_plugin(); point CMAKE_PREFIX_PATH at
# the prefix where latflow is installed.
find_package(latflow @LATFLOW_MAJOR_MINOR@ REQUIRED)

# Builds build/latflow_@NAME@.so; `cmake --install` puts it in
# <prefix>/lib/latflow/plugins.
latflow_add_plugin(@NAME@ SOURCES @NAME@.cpp)
)t";

constexpr const char* kAction = R"t(#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/plugin.h>

#include <torch/types.h>

#include <memory>
#include <utility>
#include <vector>

namespace {

/// A free real scalar field on a periodic L x L lattice, to be replaced by
/// your model:
///
///     S = sum_x [ (m2/2) phi_x^2 + (1/2) sum_mu (phi_{x+mu} - phi_x)^2 ]
///
/// Configurations are (B, L, L) in the action dtype
/// (BuildContext::action_dtype); S is (B) in the same dtype and
/// differentiable, which the reparametrization and path-gradient
/// estimators need.
class @CLASS@ final : public latflow::Action {
 public:
  explicit @CLASS@(latflow::Params params)
      : Action(std::move(params)),
        extent_(this->params().get_int("L")),
        m2_(this->params().get_float("m2")) {}

  latflow::FieldSpec field() const override {
    return {"scalar", {extent_, extent_}};
  }

  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    LATFLOW_CHECK(configs.dim() == 3 && configs.size(1) == extent_ &&
                      configs.size(2) == extent_,
                  "action/@NAME@: configurations must be (B, {}, {}), got {}",
                  extent_, extent_, c10::str(configs.sizes()));
    const auto d1 = torch::roll(configs, {-1}, {1}) - configs;
    const auto d2 = torch::roll(configs, {-1}, {2}) - configs;
    return (0.5 * m2_ * configs.square() +
            0.5 * (d1.square() + d2.square()))
        .sum({1, 2});
  }

  /// The model's observables, (B) float64 each. Override
  /// exact_free_energy() and exact_observables() too when the model has
  /// exact results: runs report them beside the estimates.
  std::vector<std::shared_ptr<latflow::Observable>> observables()
      const override {
    const double volume = static_cast<double>(extent_ * extent_);
    // Captures values, never `this`: the observable may be used after this
    // action is gone (though not after its plugin is unloaded).
    return {latflow::make_observable(
        "phi2", [volume](const torch::Tensor& configs) {
          return configs.to(torch::kFloat64).square().sum({1, 2}) / volume;
        })};
  }

 private:
  int64_t extent_;
  double m2_;
};

}  // namespace

LATFLOW_PLUGIN("@NAME@", "0.1.0") {
  latflow::Schema schema;
  schema.add_int("L", 8, "lattice extent in both directions").at_least(2);
  schema.add_float("m2", 1.0, "mass squared").above(0);
  registry.add<latflow::Action>(
      "@NAME@", "free scalar field on a periodic L x L lattice",
      std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<@CLASS@>(params);
      });
}
)t";

constexpr const char* kFlow = R"t(#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/flow.h>
#include <latflow/plugin.h>

#include <torch/types.h>

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

namespace {

constexpr double kLogTwoPi = 1.837877066409345483560659472811235279723;

/// A site-wise affine flow for scalar fields, to be replaced by your own:
/// phi = exp(s) * z + t with one learnable s and t per site, and a
/// standard normal prior per site (a diagonal Gaussian).
///
/// Parameters are in the flow dtype; configurations are (B, field
/// shape...) in the field dtype (latflow::field_dtype: float32 for a
/// 16-bit flow) on the flow's device; log-dets and log densities are (B)
/// float64, summed in float64. inverse(forward(z)) = z and the two
/// log-dets cancel.
class @CLASS@ final : public latflow::Flow {
 public:
  @CLASS@(latflow::Params params, std::vector<int64_t> shape,
          const latflow::BuildContext& context)
      : Flow(std::move(params)),
        shape_(std::move(shape)),
        dtype_(latflow::field_dtype(context.flow_dtype)),
        device_(context.device) {
    const double init_scale = this->params().get_float("init_scale");
    log_scale_ = register_parameter(
        "log_scale", torch::full(shape_, std::log(init_scale)));
    shift_ = register_parameter("shift", torch::zeros(shape_));
    to(device_, context.flow_dtype);
  }

  torch::Tensor sample_prior(int64_t n) override {
    std::vector<int64_t> size{n};
    size.insert(size.end(), shape_.begin(), shape_.end());
    return torch::randn(size,
                        torch::TensorOptions().dtype(dtype_).device(device_));
  }

  torch::Tensor prior_log_prob(const torch::Tensor& z) override {
    const auto sites = static_cast<double>(z[0].numel());
    return -0.5 * z.to(torch::kFloat64).square().flatten(1).sum(1) -
           0.5 * sites * kLogTwoPi;
  }

  latflow::FlowOutput forward(const torch::Tensor& z) override {
    check_configs(z, "forward");
    return {z * torch::exp(log_scale_) + shift_, log_det(z.size(0))};
  }

  latflow::FlowOutput inverse(const torch::Tensor& x) override {
    check_configs(x, "inverse");
    return {(x - shift_) * torch::exp(-log_scale_), -log_det(x.size(0))};
  }

 private:
  /// log|det| of forward, the same for every configuration: (batch).
  torch::Tensor log_det(int64_t batch) const {
    return log_scale_.to(torch::kFloat64).sum().expand({batch});
  }

  void check_configs(const torch::Tensor& configs, const char* where) const {
    std::vector<int64_t> expected{configs.size(0)};
    expected.insert(expected.end(), shape_.begin(), shape_.end());
    LATFLOW_CHECK(configs.sizes().vec() == expected,
                  "flow/@NAME@ {}: configurations must be (B, {}), got {}",
                  where, fmt::join(shape_, ", "), c10::str(configs.sizes()));
  }

  std::vector<int64_t> shape_;
  torch::Dtype dtype_;  ///< of the field
  torch::Device device_;
  torch::Tensor log_scale_;
  torch::Tensor shift_;
};

std::shared_ptr<latflow::Flow> make_flow(const latflow::Params& params,
                                         const latflow::BuildContext& context) {
  LATFLOW_CHECK(context.action != nullptr,
                "flow/@NAME@: built without an action");
  const auto field = context.action->field();
  if (field.kind != "scalar") {
    throw params.error(
        "type", fmt::format("@NAME@ transforms scalar fields, but action/{} "
                            "has a \"{}\" field",
                            context.action->type(), field.kind));
  }
  return std::make_shared<@CLASS@>(params, field.shape, context);
}

}  // namespace

LATFLOW_PLUGIN("@NAME@", "0.1.0") {
  latflow::Schema schema;
  schema.add_float("init_scale", 1.0, "initial exp(s) of every site").above(0);
  registry.add<latflow::Flow>("@NAME@",
                              "site-wise affine flow for scalar fields",
                              std::move(schema), make_flow);
}
)t";

constexpr const char* kEstimator = R"t(#include <latflow/estimator.h>
#include <latflow/plugin.h>

#include <torch/types.h>

#include <memory>
#include <utility>

namespace {

/// Reparametrization estimator with a weighted entropy term, to be replaced
/// by your own: the loss mean(w log q + S) is differentiated through the
/// flow and the action with the prior samples z held fixed. Its minimum is
/// q proportional to exp(-S / w); w = 1 is the target itself, w > 1
/// anneals towards it from a flatter distribution.
class @CLASS@ final : public latflow::Estimator {
 public:
  explicit @CLASS@(latflow::Params params)
      : Estimator(std::move(params)),
        entropy_weight_(this->params().get_float("entropy_weight")) {}

  latflow::StepResult step(latflow::Flow& flow, const latflow::Action& action,
                           torch::Dtype action_dtype, int64_t batch,
                           double weight,
                           latflow::PhaseTimer* timer) override {
    auto sample = latflow::sample_flow(flow, batch);
    latflow::mark(timer, "forward");
    // Cast to the action dtype and back to float64 by the core helper.
    auto s = latflow::evaluate_action(action, sample.x, action_dtype);
    latflow::mark(timer, "action");
    auto loss = (entropy_weight_ * sample.log_q + s).mean();
    (loss * weight).backward();
    latflow::mark(timer, "backward");
    return {sample.log_q.detach(), s.detach(), loss.detach()};
  }

  bool needs_action_gradient() const override { return true; }

 private:
  double entropy_weight_;
};

}  // namespace

LATFLOW_PLUGIN("@NAME@", "0.1.0") {
  latflow::Schema schema;
  schema
      .add_float("entropy_weight", 1.0,
                 "w in the loss mean(w log q + S); 1 trains towards exp(-S)")
      .above(0);
  registry.add<latflow::Estimator>(
      "@NAME@", "reparametrization gradient of E_q[w log q + S]",
      std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<@CLASS@>(params);
      });
}
)t";

constexpr const char* kSampler = R"t(#include <latflow/error.h>
#include <latflow/estimator.h>
#include <latflow/plugin.h>
#include <latflow/sampler.h>

#include <torch/types.h>

#include <algorithm>
#include <memory>
#include <utility>

namespace {

/// Independent samples from a trained flow with their importance weights
/// log w = -S - log q, handed to the sink in chunks of `chunk`; to be
/// replaced by your own sampler. Configurations are in the field dtype;
/// log q, S and log w are (B) float64.
class @CLASS@ final : public latflow::Sampler {
 public:
  explicit @CLASS@(latflow::Params params)
      : Sampler(std::move(params)), chunk_(this->params().get_int("chunk")) {}

  void sample(latflow::Flow* flow, const latflow::Action& action,
              torch::Dtype action_dtype, int64_t n,
              const Sink& sink) override {
    LATFLOW_CHECK(flow != nullptr, "sampler/@NAME@: needs a flow");
    torch::NoGradGuard no_grad;
    for (int64_t done = 0; done < n; done += chunk_) {
      const auto draw = latflow::sample_flow(*flow, std::min(chunk_, n - done));
      const auto s = latflow::evaluate_action(action, draw.x, action_dtype);
      sink(latflow::SampleChunk{draw.x, draw.log_q, s, -s - draw.log_q});
    }
  }

  bool weighted() const override { return true; }

 private:
  int64_t chunk_;
};

}  // namespace

LATFLOW_PLUGIN("@NAME@", "0.1.0") {
  latflow::Schema schema;
  schema.add_int("chunk", 1024, "configurations drawn at once").at_least(1);
  registry.add<latflow::Sampler>(
      "@NAME@", "independent flow samples with importance weights",
      std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<@CLASS@>(params);
      });
}
)t";

constexpr const char* kObservable = R"t(#include <latflow/observable.h>
#include <latflow/plugin.h>

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>

namespace {

/// The site average of phi^power for each configuration of any field
/// layout, to be replaced by your own: (B, field shape...) -> (B) float64.
class @CLASS@ final : public latflow::Observable {
 public:
  explicit @CLASS@(latflow::Params params)
      : Observable(std::move(params)),
        power_(this->params().get_int("power")) {}

  std::string name() const override { return "@NAME@"; }

  torch::Tensor measure(const torch::Tensor& configs) const override {
    return configs.to(torch::kFloat64).pow(power_).flatten(1).mean(1);
  }

 private:
  int64_t power_;
};

}  // namespace

LATFLOW_PLUGIN("@NAME@", "0.1.0") {
  latflow::Schema schema;
  schema.add_int("power", 2, "power of the field averaged over the sites")
      .at_least(1);
  registry.add<latflow::Observable>(
      "@NAME@", "site average of phi^power", std::move(schema),
      [](const latflow::Params& params, const latflow::BuildContext&) {
        return std::make_shared<@CLASS@>(params);
      });
}
)t";

constexpr const char* kExperimentHead =
    R"t(# A short run with @KIND@/@NAME@ and components shipped with latflow.
# Build the plugin first (see README.md), then: latflow run experiment.toml

[experiment]
name = "@NAME@"
seed = 1

# Relative to this file: the build folder of this project.
[plugins]
paths = ["build"]

)t";

constexpr const char* kExperimentTail = R"t(
[train]
steps = 200
batch = 256
lr = 2e-3

[evaluate]
batch = 1024
)t";

constexpr const char* kPhi4Table = R"t([action]
type = "phi4"
L = 8
m2 = 1.25
lambda = 0.0
)t";

constexpr const char* kReadme = R"t(# @NAME@: a latflow @KIND@ plugin

`@KIND@/@NAME@` in one source file, `@NAME@.cpp`, started by
`latflow new-plugin`. Replace the model in it with yours; the structure
(component class, schema, registration) stays.

## Build

    cmake -S . -B build -DCMAKE_PREFIX_PATH=@PREFIX@
    cmake --build build

This builds `build/latflow_@NAME@.so` against the installed latflow
(`find_package(latflow)` gives `latflow::core` and `latflow_add_plugin`).
The plugin must be built against the same LibTorch as latflow, and its
latflow ABI version must match: otherwise latflow refuses to load it and
names both versions.

## Load

latflow finds a plugin in any of these places:

- `LATFLOW_PLUGIN_PATH=build latflow plugins @KIND@/@NAME@` (a colon
  separated list of folders or files);
- `[plugins] paths = ["build"]` in an experiment file, relative to it;
- after `cmake --install build --prefix P`, in `P/lib/latflow/plugins`,
  which the latflow program installed in `P` searches by itself.

`latflow plugins @KIND@/@NAME@` prints its parameters.
@USE@
## Test

docs/plugins.md of latflow lists what to check for each kind: for an
action, autograd forces against finite differences of S and values known
by hand; for a flow, inverse(forward(z)) == z and the log-det against a
brute-force Jacobian; for any kind, the refused parameters.
)t";

constexpr const char* kUseWithExperiment = R"t(
## Use

    latflow run experiment.toml

trains for a few seconds with components shipped with latflow; its
`[plugins] paths` loads this build.
)t";

constexpr const char* kUseObservable = R"t(
## Use

Experiments do not name observables: an action returns its model's
observables from `Action::observables()`. A registered observable is
listed by `latflow plugins` and made by programs through
`Registry::make<latflow::Observable>` with `latflow::make_params`.
)t";

const std::vector<std::string> kKinds = {"action", "flow", "estimator",
                                         "sampler", "observable"};

std::string replace_all(std::string text, const std::string& from,
                        const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

/// "my_model", "action" -> "MyModelAction".
std::string class_name(const std::string& name, const std::string& kind) {
  std::string result;
  bool upper = true;
  for (const char c : name + "_" + kind) {
    if (c == '_') {
      upper = true;
    } else {
      result += upper ? static_cast<char>(std::toupper(c)) : c;
      upper = false;
    }
  }
  return result;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 40 || !std::islower(name[0])) return false;
  for (const char c : name) {
    if (!std::islower(c) && !std::isdigit(c) && c != '_') return false;
  }
  return true;
}

/// The experiment's component tables for a plugin of `kind`.
std::string experiment_tables(const std::string& kind) {
  const std::string flow = "\n[flow]\ntype = \"affine_coupling\"\nlayers = 4\n";
  const std::string reinforce = "\n[estimator]\ntype = \"reinforce\"\n";
  if (kind == "action") {
    return "[action]\ntype = \"@NAME@\"\nL = 8\nm2 = 1.0\n" + flow + reinforce;
  }
  if (kind == "flow") {
    return std::string(kPhi4Table) + "\n[flow]\ntype = \"@NAME@\"\n" +
           reinforce;
  }
  if (kind == "estimator") {
    return std::string(kPhi4Table) + flow +
           "\n[estimator]\ntype = \"@NAME@\"\n";
  }
  return std::string(kPhi4Table) + flow + reinforce +
         "\n[sampler]\ntype = \"@NAME@\"\n";
}

/// Where CMake finds the latflow package of this program, when installed.
std::string package_prefix() {
  const fs::path lib = bundled_plugin_dir().parent_path().parent_path();
  if (fs::exists(lib / "cmake" / "latflow" / "latflowConfig.cmake")) {
    return lib.parent_path().lexically_normal().string();
  }
  return "<latflow prefix>";
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    throw InputError(fmt::format("{}: cannot write the file", file.string()));
  }
}

}  // namespace

int command_new_plugin(const std::vector<std::string>& args) {
  Common common;
  std::string kind;
  std::string out;
  auto options = common_options(common);
  options.add_options()("kind", po::value<std::string>(&kind), "kind")(
      "out", po::value<std::string>(&out), "project folder");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << kHelp;
    return 0;
  }
  apply_common(common);
  if (positional.size() != 1) {
    throw InputError(
        "new-plugin: expected one NAME, as "
        "`latflow new-plugin my_model --kind action`");
  }
  const std::string name = positional[0];
  if (!valid_name(name)) {
    throw InputError(fmt::format(
        "new-plugin: NAME '{}' must be lower case letters, digits and "
        "underscores, starting with a letter (at most 40)",
        name));
  }
  if (kind.empty()) {
    throw InputError(fmt::format("new-plugin: expected --kind, one of {}",
                                 fmt::join(kKinds, ", ")));
  }
  if (std::find(kKinds.begin(), kKinds.end(), kind) == kKinds.end()) {
    const std::string near = closest(kind, kKinds);
    throw InputError(fmt::format(
        "new-plugin: --kind '{}' is not one of {}{}", kind,
        fmt::join(kKinds, ", "),
        near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
  }

  // Two plugins of one name cannot be loaded together.
  auto& reg = registry();
  reg.load_default_plugins();
  if (reg.contains(kind, name)) {
    const auto& entry = reg.find(kind, name);
    throw InputError(fmt::format(
        "new-plugin: {} already exists (plugin {}, {}); choose another NAME",
        entry.id(), entry.plugin,
        entry.file.empty() ? "built in" : entry.file.string()));
  }
  for (const auto& plugin : reg.plugins()) {
    if (plugin.name == name) {
      throw InputError(fmt::format(
          "new-plugin: a plugin named '{}' already exists ({}); choose "
          "another NAME",
          name, plugin.file.string()));
    }
  }

  const fs::path dir = out.empty() ? fs::path(name) : fs::path(out);
  std::error_code error;
  if (fs::exists(dir, error) &&
      !(fs::is_directory(dir, error) && fs::is_empty(dir, error))) {
    throw InputError(fmt::format(
        "new-plugin: {} exists and is not an empty folder; choose another "
        "--out",
        dir.string()));
  }
  fs::create_directories(dir, error);
  if (error) {
    throw InputError(fmt::format("new-plugin: cannot create {}: {}",
                                 dir.string(), error.message()));
  }

  const std::map<std::string, const char*> sources = {
      {"action", kAction},
      {"flow", kFlow},
      {"estimator", kEstimator},
      {"sampler", kSampler},
      {"observable", kObservable}};
  const std::string version = LATFLOW_VERSION;
  const std::string major_minor =
      version.substr(0, version.find('.', version.find('.') + 1));
  const auto fill = [&](std::string text) {
    text = replace_all(std::move(text), "@NAME@", name);
    text = replace_all(std::move(text), "@KIND@", kind);
    text = replace_all(std::move(text), "@CLASS@", class_name(name, kind));
    text = replace_all(std::move(text), "@LATFLOW_MAJOR_MINOR@", major_minor);
    return replace_all(std::move(text), "@PREFIX@", package_prefix());
  };

  std::vector<std::string> written = {"CMakeLists.txt", name + ".cpp",
                                      "README.md"};
  write_file(dir / "CMakeLists.txt", fill(kCMakeLists));
  write_file(dir / (name + ".cpp"), fill(sources.at(kind)));
  const bool has_experiment = kind != "observable";
  write_file(
      dir / "README.md",
      fill(replace_all(kReadme, "@USE@",
                       has_experiment ? kUseWithExperiment : kUseObservable)));
  if (has_experiment) {
    write_file(
        dir / "experiment.toml",
        fill(kExperimentHead + experiment_tables(kind) + kExperimentTail));
    written.push_back("experiment.toml");
  }

  fmt::print("wrote {}: {}\n\nnext:\n", dir.string(), fmt::join(written, ", "));
  fmt::print(
      "  cmake -S {0} -B {0}/build -DCMAKE_PREFIX_PATH={1}\n"
      "  cmake --build {0}/build\n"
      "  LATFLOW_PLUGIN_PATH={0}/build latflow plugins {2}/{3}\n",
      dir.string(), package_prefix(), kind, name);
  return 0;
}

}  // namespace latflow::cli
