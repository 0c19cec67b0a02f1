#include <latflow/plugin.h>
#include <latflow/registry.h>

#include <doctest/doctest.h>
#include <torch/torch.h>

#include "support/test_support.h"

using namespace latflow;

namespace {

class Constant final : public Observable {
 public:
  using Observable::Observable;
  std::string name() const override { return "constant"; }
  torch::Tensor measure(const torch::Tensor& configs) const override {
    return torch::ones({configs.size(0)}, torch::kFloat64) *
           params().get_float("value");
  }
};

Factory<Observable> constant_factory() {
  return [](const Params& p, const BuildContext&) {
    return std::make_shared<Constant>(p);
  };
}

Schema constant_schema() {
  Schema s;
  s.add_float("value", 1.0, "the constant").at_least(0);
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("registry builds by kind and type, refusing unknown names") {
  Registry r;
  r.add<Observable>("constant", "a constant", constant_schema(),
                    constant_factory());
  r.add<Observable>("other", "another", {}, constant_factory());
  auto params = make_params(r, "observable", "constant", {{"value", 3.0}});
  auto o = r.make<Observable>(params, BuildContext{});
  CHECK(o->measure(torch::zeros({2, 4})).sum().item<double>() == 6.0);
  CHECK(o->type() == "constant");
  CHECK(o->kind() == "observable");

  CHECK(message_of([&] { r.find("observable", "constnt"); }) ==
        "unknown observable 'constnt' (did you mean 'constant'?); known: "
        "constant, other");
  CHECK(message_of([&] { r.find("action", "phi4"); }) ==
        "unknown action 'phi4'; known: none (no plugin provides one)");
  CHECK(message_of([&] {
          r.add<Observable>("constant", "again", {}, constant_factory());
        }) == "registry: observable/constant is already registered by "
              "plugin 'builtin'");
}

TEST_CASE("make_params checks keys, types and ranges") {
  Registry r;
  r.add<Observable>("constant", "a constant", constant_schema(),
                    constant_factory());
  CHECK(make_params(r, "observable", "constant", {{"value", int64_t{2}}})
            .get_float("value") == 2.0);
  CHECK(message_of([&] {
          make_params(r, "observable", "constant", {{"valu", 1.0}});
        }) == "observable/constant: unknown parameter 'valu'");
  CHECK(message_of([&] {
          make_params(r, "observable", "constant",
                      {{"value", std::string("x")}});
        }) == "observable/constant: value expects a number");
  CHECK(message_of([&] {
          make_params(r, "observable", "constant", {{"value", -1.0}});
        }) == "observable/constant: value: expected a number >= 0, got "
              "-1.0");
}

TEST_CASE("the project's plugins load and describe themselves") {
  auto& r = test::registry();
  for (const auto& id :
       {"action/phi4", "flow/affine_coupling", "estimator/reinforce",
        "estimator/reparam", "estimator/path_gradient"}) {
    const std::string text(id);
    const auto slash = text.find('/');
    const auto& entry =
        r.find(text.substr(0, slash), text.substr(slash + 1));
    CHECK(!entry.doc.empty());
    CHECK(entry.file.filename().string().rfind("latflow_", 0) == 0);
    for (const auto& spec : entry.schema.specs()) {
      CHECK_MESSAGE(!spec.doc.empty(), entry.id() << " " << spec.key);
    }
  }
}

TEST_CASE("objects keep their plugin loaded after the registry is gone") {
  std::shared_ptr<Action> action;
  {
    Registry r;
    r.load_directory(LATFLOW_TEST_PLUGIN_DIR, true);
    auto params = make_params(r, "action", "phi4", {{"L", int64_t{4}}});
    BuildContext context;
    action = r.make<Action>(params, context);
  }
  auto phi = torch::zeros({3, 4, 4}, torch::kFloat64);
  CHECK(action->evaluate(phi).abs().sum().item<double>() == 0.0);
  CHECK(action->field().shape == std::vector<int64_t>{4, 4});
}

TEST_CASE("the loader refuses what is not a latflow plugin") {
  Registry r;
  test::TempDir dir;
  const auto missing = dir.path() / "latflow_missing.so";
  CHECK(message_of([&] { r.load_plugin(missing); }) ==
        missing.string() + ": plugin file not found");

  const auto text = dir.write("latflow_text.so", "not a library\n");
  const auto text_error = message_of([&] { r.load_plugin(text); });
  CHECK(text_error.rfind(text.string() + ": not a loadable shared library",
                         0) == 0);
  CHECK(text_error.find('\n') == std::string::npos);

  CHECK(message_of([&] { r.load_plugin(LATFLOW_CORE_LIBRARY); }) ==
        std::string(LATFLOW_CORE_LIBRARY) +
            ": not a latflow plugin (it has no LATFLOW_PLUGIN entry point)");

  CHECK(message_of([&] { r.load_plugin(LATFLOW_BAD_ABI_PLUGIN); }) ==
        fmt::format("{}: plugin built for latflow ABI version {}, but this "
                    "latflow has ABI version {}; rebuild the plugin against "
                    "latflow {}",
                    LATFLOW_BAD_ABI_PLUGIN, LATFLOW_ABI_VERSION + 1000,
                    LATFLOW_ABI_VERSION, LATFLOW_VERSION));
  CHECK(r.plugins().empty());

  CHECK(message_of([&] { r.load_directory(dir.path() / "none", true); }) ==
        (dir.path() / "none").string() + ": plugin folder not found");
  CHECK_NOTHROW(r.load_directory(dir.path() / "none", false));
}

TEST_CASE("a plugin loaded twice is loaded once; its names are unique") {
  Registry r;
  r.load_directory(LATFLOW_TEST_PLUGIN_DIR, true);
  const auto count = r.plugins().size();
  r.load_directory(LATFLOW_TEST_PLUGIN_DIR, true);
  CHECK(r.plugins().size() == count);
  CHECK(count >= 3);
}
