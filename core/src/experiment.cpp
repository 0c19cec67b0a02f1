#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/io.h>
#include <latflow/version.h>

#include <torch/torch.h>

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace latflow {

namespace fs = std::filesystem;

namespace {

Schema experiment_schema() {
  Schema s;
  s.add_string("name", "", "run name (default: the file name without .toml)");
  s.add_int("seed", 1234, "seed of every random generator").at_least(0);
  s.add_string("device", "cpu", "\"cpu\", \"cuda\" or \"cuda:N\"");
  s.add_int("threads", 0, "intra-op threads (0: all cores available)")
      .at_least(0);
  s.add_string("description", "", "free text, kept with the run");
  return s;
}

Schema plugins_schema() {
  Schema s;
  s.add_string_list("paths", {},
                    "plugin files or folders, relative to this file");
  return s;
}

Schema precision_schema() {
  Schema s;
  s.add_choice("flow", "float32", {"float64", "float32", "bfloat16", "float16"},
               "dtype of the flow's parameters and activations");
  s.add_choice("action", "float64", {"float64", "float32"},
               "dtype of the action (complex128 / complex64 for fermions)");
  return s;
}

Schema train_schema() {
  Schema s;
  s.add_int("steps", 1000, "optimizer steps").at_least(1);
  s.add_int("batch", 256, "configurations per step").at_least(1);
  s.add_int("micro_batches", 1,
            "gradient accumulation: the batch is split into this many parts")
      .at_least(1);
  s.add_float("lr", 1e-3, "Adam learning rate").above(0).at_most(10);
  s.add_choice("lr_schedule", "constant", {"constant", "cosine"},
               "learning rate over the steps: constant, or cosine decay "
               "to zero at [train] steps");
  s.add_float("grad_clip", 0.0, "clip the gradient norm (0: off)")
      .at_least(0);
  s.add_int("log_every", 10, "steps between metrics rows").at_least(1);
  s.add_int("checkpoint_every", 100, "steps between checkpoints (0: end only)")
      .at_least(0);
  s.add_float("time_limit", 0.0,
              "stop training after this many seconds (0: no limit)")
      .at_least(0);
  s.add_choice("on_nonfinite", "skip", {"skip", "stop"},
               "a non-finite loss or gradient: skip the step, or stop and "
               "write checkpoint_nonfinite.pt");
  return s;
}

Schema evaluate_schema() {
  Schema s;
  s.add_int("batch", 4096, "configurations in the final evaluation")
      .at_least(2);
  s.add_int("chunk", 512, "configurations drawn at once").at_least(1);
  return s;
}

const std::vector<std::string>& core_sections() {
  static const std::vector<std::string> names{
      "experiment", "plugins",   "precision", "train",  "evaluate",
      "action",     "flow",      "estimator", "sampler", "sweep",
      "latflow"};
  return names;
}

Source source_of(const toml::source_region& region, const std::string& file) {
  return Source{file, static_cast<int64_t>(region.begin.line),
                static_cast<int64_t>(region.begin.column)};
}

std::string where(const Source& source) {
  const std::string text = source.str();
  return text.empty() ? "" : text + ": ";
}

std::string toml_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return fmt::format("the string \"{}\"", *node.value<std::string>());
    case toml::node_type::integer:
      return fmt::format("the integer {}", *node.value<int64_t>());
    case toml::node_type::floating_point:
      return fmt::format("the number {}", *node.value<double>());
    case toml::node_type::boolean:
      return fmt::format("the boolean {}", *node.value<bool>());
    default:
      return "a date or time";
  }
}

/// The value of `node` as the spec's type, or an empty optional.
std::optional<ParamValue> convert(const toml::node& node,
                                  const ParamSpec& spec) {
  auto element_as_double = [](const toml::node& n) -> std::optional<double> {
    if (n.is_integer()) return static_cast<double>(*n.value<int64_t>());
    if (n.is_floating_point()) return *n.value<double>();
    return std::nullopt;
  };
  switch (spec.type) {
    case ParamType::kBool:
      if (node.is_boolean()) return *node.value<bool>();
      return std::nullopt;
    case ParamType::kInt:
      if (node.is_integer()) return *node.value<int64_t>();
      return std::nullopt;
    case ParamType::kFloat:
      if (auto d = element_as_double(node)) return *d;
      return std::nullopt;
    case ParamType::kString:
      if (node.is_string()) return *node.value<std::string>();
      return std::nullopt;
    case ParamType::kIntList: {
      const auto* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      std::vector<int64_t> values;
      for (const auto& item : *array) {
        if (!item.is_integer()) return std::nullopt;
        values.push_back(*item.value<int64_t>());
      }
      return values;
    }
    case ParamType::kFloatList: {
      const auto* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      std::vector<double> values;
      for (const auto& item : *array) {
        auto d = element_as_double(item);
        if (!d) return std::nullopt;
        values.push_back(*d);
      }
      return values;
    }
    case ParamType::kStringList: {
      const auto* array = node.as_array();
      if (array == nullptr) return std::nullopt;
      std::vector<std::string> values;
      for (const auto& item : *array) {
        if (!item.is_string()) return std::nullopt;
        values.push_back(*item.value<std::string>());
      }
      return values;
    }
  }
  return std::nullopt;
}

/// Reads one experiment document into validated sections.
class Loader {
 public:
  Loader(fs::path file, Registry& registry)
      : file_(std::move(file)), name_(file_.string()), registry_(registry) {}

  Experiment load(const std::string& text,
                  const std::vector<std::string>& overrides) {
    try {
      document_ = toml::parse(std::string_view(text), std::string_view(name_));
    } catch (const toml::parse_error& e) {
      throw InputError(fmt::format(
          "{}: TOML syntax error: {}",
          source_of(e.source(), name_).str(), e.description()));
    }
    for (const auto& item : overrides) apply_override(item);
    check_top_level();

    Experiment exp;
    exp.file = file_;
    exp.experiment = section("experiment", experiment_schema(), false);
    if (!exp.experiment.written("name")) {
      exp.experiment.set("name", file_.stem().string(), std::nullopt);
    }
    exp.plugins = section("plugins", plugins_schema(), false);
    load_plugins(exp.plugins);
    exp.precision = section("precision", precision_schema(), false);
    exp.train = section("train", train_schema(), false);
    exp.evaluate = section("evaluate", evaluate_schema(), false);
    exp.action = component("action", true);
    exp.flow = component("flow", true);
    exp.estimator = component("estimator", true);
    exp.sampler = component("sampler", false);
    check_consistency(exp);

    toml::table kept = document_;
    kept.erase("sweep");
    std::ostringstream out;
    out << kept;
    exp.document = out.str();
    return exp;
  }

 private:
  void apply_override(const std::string& item) {
    const auto eq = item.find('=');
    const std::string label = fmt::format("override '{}'", item);
    if (eq == std::string::npos || eq == 0) {
      throw InputError(fmt::format(
          "{}: expected KEY=VALUE with a dotted key, as train.steps=100",
          label));
    }
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    std::vector<std::string> path;
    std::stringstream parts(key);
    std::string part;
    while (std::getline(parts, part, '.')) path.push_back(part);
    const bool bad_part =
        std::any_of(path.begin(), path.end(),
                    [](const std::string& p) { return p.empty(); });
    if (path.size() < 2 || bad_part || key.back() == '.') {
      throw InputError(fmt::format(
          "{}: expected a dotted key SECTION.KEY, as train.steps", label));
    }

    toml::table parsed;
    try {
      parsed = toml::parse(std::string_view("value = " + value),
                           std::string_view("override"));
    } catch (const toml::parse_error&) {
      // A bare word is taken as a string: estimator.type=reparam.
      const bool bare =
          !value.empty() &&
          std::all_of(value.begin(), value.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                   c == '-' || c == '.' || c == '/' || c == ':';
          });
      if (!bare) {
        throw InputError(fmt::format(
            "{}: the value is not TOML (quote strings, as "
            "key=\"two words\")",
            label));
      }
      parsed.insert_or_assign("value", value);
    }

    toml::table* table = &document_;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      toml::node* next = table->get(path[i]);
      if (next == nullptr) {
        table->insert_or_assign(path[i], toml::table{});
        next = table->get(path[i]);
      }
      table = next->as_table();
      if (table == nullptr) {
        throw InputError(fmt::format("{}: '{}' is not a table", label,
                                     path[i]));
      }
    }
    table->insert_or_assign(path.back(), *parsed.get("value"));
    overridden_[key] = Source{label};
  }

  void check_top_level() {
    for (const auto& [key, node] : document_) {
      const std::string name(key.str());
      const auto& known = core_sections();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        const std::string near = closest(name, known);
        throw InputError(fmt::format(
            "{}unknown table [{}]{}; expected one of {}",
            where(source_of(key.source(), name_)), name,
            near.empty() ? "" : fmt::format(" (did you mean [{}]?)", near),
            fmt::join(known.begin(), known.end() - 1, ", ")));
      }
      if (!node.is_table()) {
        throw InputError(fmt::format(
            "{}'{}' must be a table [{}], got {}",
            where(source_of(node.source(), name_)), name, name,
            toml_type(node)));
      }
    }
  }

  Source source_for(const std::string& section, const std::string& key,
                    const toml::node& node) const {
    const auto it = overridden_.find(section + "." + key);
    if (it != overridden_.end()) return it->second;
    return source_of(node.source(), name_);
  }

  Params validate(const toml::table* table, const Schema& schema,
                  const std::string& section, const std::string& type,
                  const std::set<std::string>& skip) {
    Source table_source{name_};
    if (table != nullptr) table_source = source_of(table->source(), name_);
    Params params(section, type, table_source);
    for (const auto& spec : schema.specs()) {
      params.set(spec.key, spec.default_value, std::nullopt);
    }
    if (table == nullptr) return params;

    std::vector<std::string> keys;
    for (const auto& spec : schema.specs()) keys.push_back(spec.key);
    for (const auto& [key_node, node] : *table) {
      const std::string key(key_node.str());
      if (skip.count(key) > 0) continue;
      const Source source = source_for(section, key, node);
      const auto* spec = schema.find(key);
      const Source key_source = overridden_.count(section + "." + key) > 0
                                    ? source
                                    : source_of(key_node.source(), name_);
      const std::string owner =
          type.empty() ? fmt::format("[{}]", section)
                       : fmt::format("{}/{}", section, type);
      if (spec == nullptr) {
        const std::string near = closest(key, keys);
        throw InputError(fmt::format(
            "{}[{}] {}: unknown key for {}{}; known keys: {}",
            where(key_source),
            section, key, owner,
            near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
            keys.empty() ? "none" : fmt::format("{}", fmt::join(keys, ", "))));
      }
      auto value = convert(node, *spec);
      if (!value) {
        throw InputError(fmt::format("{}[{}] {}: expected {}, got {}",
                                     where(source), section, key,
                                     spec->expectation(), toml_type(node)));
      }
      const std::string why = spec->violation(*value);
      if (!why.empty()) {
        throw InputError(
            fmt::format("{}[{}] {}: {}", where(source), section, key, why));
      }
      params.set(key, *value, source);
    }
    return params;
  }

  Params section(const std::string& name, const Schema& schema,
                 bool required) {
    const toml::table* table = document_[name].as_table();
    if (table == nullptr && required) {
      throw InputError(fmt::format("{}: missing table [{}]", name_, name));
    }
    return validate(table, schema, name, "", {});
  }

  Params component(const std::string& kind, bool required) {
    const toml::table* table = document_[kind].as_table();
    if (table == nullptr) {
      if (!required) return Params();
      throw InputError(fmt::format(
          "{}: missing table [{}] (it needs type = one of {})", name_, kind,
          fmt::join(registry_.types(kind), ", ")));
    }
    const toml::node* type_node = table->get("type");
    if (type_node == nullptr) {
      throw InputError(fmt::format(
          "{}[{}] type: missing; expected one of {}",
          where(source_of(table->source(), name_)), kind,
          fmt::join(registry_.types(kind), ", ")));
    }
    const Source source = source_for(kind, "type", *type_node);
    if (!type_node->is_string()) {
      throw InputError(fmt::format("{}[{}] type: expected a string, got {}",
                                   where(source), kind,
                                   toml_type(*type_node)));
    }
    const std::string type = *type_node->value<std::string>();
    const ComponentEntry* entry = nullptr;
    try {
      entry = &registry_.find(kind, type);
    } catch (const InputError& e) {
      throw InputError(
          fmt::format("{}[{}] type: {}", where(source), kind, e.what()));
    }
    return validate(table, entry->schema, kind, type, {"type"});
  }

  /// Loads the default plugins and those of [plugins] paths, whose entries
  /// become absolute so that the resolved experiment loads from anywhere.
  void load_plugins(Params& plugins) {
    registry_.load_default_plugins();
    const fs::path base = file_.parent_path();
    std::vector<std::string> resolved;
    for (const auto& entry : plugins.get_string_list("paths")) {
      const fs::path path = fs::absolute(fs::path(entry).is_absolute()
                                             ? fs::path(entry)
                                             : base / fs::path(entry))
                                .lexically_normal();
      resolved.push_back(path.string());
      std::error_code error;
      try {
        if (fs::is_directory(path, error)) {
          registry_.load_directory(path, true);
        } else {
          registry_.load_plugin(path);
        }
      } catch (const InputError& e) {
        // Named as written in the file, which says where it was looked for.
        std::string why = e.what();
        if (why.rfind(path.string(), 0) == 0) {
          why = entry + why.substr(path.string().size());
        }
        throw plugins.error("paths", why);
      }
    }
    if (plugins.written("paths")) {
      plugins.set("paths", resolved, plugins.source("paths"));
    }
  }

  void check_consistency(const Experiment& exp) {
    const int64_t batch = exp.train.get_int("batch");
    const int64_t micro = exp.train.get_int("micro_batches");
    if (batch % micro != 0) {
      throw exp.train.error(
          "micro_batches", fmt::format("must divide [train] batch = {}; got "
                                       "{}",
                                       batch, micro));
    }
    const std::string device = exp.experiment.get_string("device");
    torch::Device parsed = torch::kCPU;
    try {
      parsed = torch::Device(device);
    } catch (const std::exception&) {
      throw exp.experiment.error(
          "device", fmt::format("expected \"cpu\", \"cuda\" or \"cuda:N\", got "
                                "\"{}\"",
                                device));
    }
    if (parsed.is_cuda() && !torch::cuda::is_available()) {
      throw exp.experiment.error(
          "device", "CUDA is not available in this LibTorch build or machine");
    }
    if (parsed.is_cpu() && exp.precision.get_string("flow") == "float16") {
      throw exp.precision.error(
          "flow",
          "float16 needs a CUDA device: LibTorch on CPU has no half-precision "
          "matmul or convolution; use bfloat16 on CPU");
    }
  }

  fs::path file_;
  std::string name_;
  Registry& registry_;
  toml::table document_;
  std::map<std::string, Source> overridden_;
};

torch::Dtype dtype_named(const std::string& name) {
  if (name == "float64") return torch::kFloat64;
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  throw std::logic_error("unknown dtype " + name);
}

std::vector<std::pair<std::string, const Params*>> sections_of(
    const Experiment& exp) {
  std::vector<std::pair<std::string, const Params*>> list{
      {"experiment", &exp.experiment}, {"plugins", &exp.plugins},
      {"precision", &exp.precision},   {"train", &exp.train},
      {"evaluate", &exp.evaluate},     {"action", &exp.action},
      {"flow", &exp.flow},             {"estimator", &exp.estimator}};
  if (!exp.sampler.type().empty()) list.emplace_back("sampler", &exp.sampler);
  return list;
}

}  // namespace

Experiment Experiment::load(const fs::path& file,
                            const std::vector<std::string>& overrides,
                            Registry& registry) {
  return parse(read_file(file), file, overrides, registry);
}

Experiment Experiment::parse(const std::string& text, const fs::path& file,
                             const std::vector<std::string>& overrides,
                             Registry& registry) {
  if (text.find('\0') != std::string::npos) {
    throw InputError(fmt::format(
        "{}: not a TOML text file (it contains NUL bytes)", file.string()));
  }
  return Loader(file, registry).load(text, overrides);
}

std::string Experiment::resolved_toml() const {
  std::string out = fmt::format(
      "# Resolved experiment: every key with the value used.\n"
      "[latflow]\nversion = \"{}\"\n",
      LATFLOW_VERSION);
  for (const auto& [name, params] : sections_of(*this)) {
    out += fmt::format("\n[{}]\n", name);
    if (!params->type().empty()) {
      out += fmt::format("type = {}\n", to_toml(params->type()));
    }
    for (const auto& [key, value] : params->values()) {
      out += fmt::format("{} = {}\n", key, to_toml(value));
    }
  }
  return out;
}

std::string Experiment::resolved_table() const {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const auto& [name, params] : sections_of(*this)) {
    if (!params->type().empty()) {
      rows.emplace_back(fmt::format("[{}] type", name),
                        to_toml(params->type()));
    }
    for (const auto& [key, value] : params->values()) {
      rows.emplace_back(fmt::format("[{}] {}", name, key), to_toml(value));
    }
  }
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out;
  for (const auto& [key, value] : rows) {
    out += fmt::format("{:<{}} = {}\n", key, width, value);
  }
  return out;
}

torch::Dtype Experiment::flow_dtype() const {
  return dtype_named(precision.get_string("flow"));
}

torch::Dtype Experiment::action_dtype() const {
  return dtype_named(precision.get_string("action"));
}

torch::Device Experiment::device() const {
  return torch::Device(experiment.get_string("device"));
}

Components build_action(const Experiment& exp, const Registry& registry) {
  Components c;
  c.context.device = exp.device();
  c.context.flow_dtype = exp.flow_dtype();
  c.context.action_dtype = exp.action_dtype();
  c.action = registry.make<Action>(exp.action, c.context);
  c.context.action = c.action.get();
  return c;
}

Components build_components(const Experiment& exp, const Registry& registry) {
  Components c = build_action(exp, registry);
  c.flow = registry.make<Flow>(exp.flow, c.context);
  c.estimator = registry.make<Estimator>(exp.estimator, c.context);
  if (c.estimator->needs_action_gradient() && !c.action->differentiable()) {
    throw exp.estimator.error(
        "type", fmt::format("estimator '{}' differentiates the action, but "
                            "action '{}' is not differentiable; use "
                            "reinforce",
                            exp.estimator.type(), exp.action.type()));
  }
  if (!exp.sampler.type().empty()) {
    c.sampler = registry.make<Sampler>(exp.sampler, c.context);
  }
  return c;
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  std::srand(static_cast<unsigned>(seed));
}

int configure_threads(int64_t threads) {
  int count = static_cast<int>(threads);
  if (count <= 0) {
    count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  torch::set_num_threads(count);
  return count;
}

}  // namespace latflow
