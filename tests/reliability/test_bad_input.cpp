// Bad input through the command line, case by case from bad_inputs.tsv and
// tests/core/bad_configs: each must exit with status 2 and one line of
// error, and leave every file as it was (no run directory, no temporary
// file). Plugins load only from the listed folders, and paths in an
// experiment file resolve against the file.

#include <torch/torch.h>

#include <doctest/doctest.h>

#include <latflow/version.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "reliability/reliability_support.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using latflow::test::differences;
using latflow::test::read_text;
using latflow::test::run_latflow;
using latflow::test::snapshot;

namespace {

/// One line of bad_inputs.tsv.
struct Case {
  std::string name;
  std::string expected;
  std::vector<std::string> args;
  std::vector<std::string> env;
};

/// The folders and files the cases name, made once in a temporary folder:
/// a finished run and copies of it with a damaged or foreign checkpoint or
/// config. The working folder is {scratch} for the whole suite.
class Fixtures {
 public:
  Fixtures() {
    // Only what a case sets: the default plugins of the build tree.
    ::unsetenv("LATFLOW_PLUGIN_PATH");
    places_["inputs"] = latflow::test::source_path("tests/reliability/inputs");
    places_["scratch"] = temp_.path() / "scratch";
    places_["bad_abi"] = LATFLOW_BAD_ABI_PLUGIN;
    places_["core_library"] = LATFLOW_CORE_LIBRARY;
    fs::create_directories(place("scratch"));
    // A file named as a plugin in the working folder: were plugins loaded
    // from there, every case would fail on it.
    places_["text_plugin"] =
        temp_.write("scratch/latflow_text.so", "not a library\n");

    const fs::path run = train("run", {});
    copy_run(run, "no_checkpoint_run");
    fs::remove(place("no_checkpoint_run") / "checkpoint.pt");
    copy_run(run, "no_config_run");
    fs::remove(place("no_config_run") / "config.toml");
    copy_run(run, "broken_config_run");
    temp_.write("broken_config_run/config.toml", "[[[ not toml\n");

    const std::string checkpoint = read_text(run / "checkpoint.pt");
    copy_run(run, "truncated_run");
    temp_.write("truncated_run/checkpoint.pt",
                checkpoint.substr(0, checkpoint.size() / 2));
    std::mt19937 random(7);
    std::string garbage(4096, '\0');
    for (auto& c : garbage) c = static_cast<char>(random() & 0xff);
    copy_run(run, "garbage_run");
    temp_.write("garbage_run/checkpoint.pt", garbage);
    copy_run(run, "empty_checkpoint_run");
    temp_.write("empty_checkpoint_run/checkpoint.pt", "");
    copy_run(run, "tensor_archive_run");
    torch::save(torch::ones({3}),
                (place("tensor_archive_run") / "checkpoint.pt").string());

    // Checkpoints of other experiments in a copy of the run.
    const std::vector<std::pair<std::string, std::string>> others{
        {"other_action_run", "action.m2=2.0"},
        {"other_flow_run", "flow.layers=3"},
        {"other_precision_run", "precision.flow=float64"}};
    for (const auto& [name, change] : others) {
      const fs::path other = train("trained_" + name, {change});
      copy_run(run, name);
      fs::copy_file(other / "checkpoint.pt", place(name) / "checkpoint.pt",
                    fs::copy_options::overwrite_existing);
    }
    fs::current_path(place("scratch"));
  }

  ~Fixtures() {
    std::error_code ignored;
    fs::current_path(temp_.path().parent_path(), ignored);
  }

  const fs::path& place(const std::string& name) const {
    return places_.at(name);
  }
  const fs::path& root() const { return temp_.path(); }

  /// `text` with every {name} replaced by its path.
  std::string expand(std::string text) const {
    for (const auto& [name, path] : places_) {
      const std::string key = "{" + name + "}";
      for (auto at = text.find(key); at != std::string::npos;
           at = text.find(key, at)) {
        text.replace(at, key.size(), path.string());
        at += path.string().size();
      }
    }
    const bool expanded = text.find('{') == std::string::npos ||
                          text.find("'{'") != std::string::npos;
    CHECK_MESSAGE(expanded, "unknown placeholder in ", text);
    return text;
  }

 private:
  fs::path train(const std::string& name,
                 const std::vector<std::string>& overrides) {
    const fs::path dir = temp_.path() / name;
    std::vector<std::string> args{
        "run",         (place("inputs") / "tiny.toml").string(),
        "--out",       dir.string(),
        "--threads",   "1",
        "--log-level", "error"};
    args.insert(args.end(), overrides.begin(), overrides.end());
    const auto result = run_latflow(args);
    INFO(result.err);
    REQUIRE(result.status == 0);
    places_[name] = dir;
    return dir;
  }

  void copy_run(const fs::path& run, const std::string& name) {
    places_[name] = temp_.path() / name;
    fs::copy(run, place(name), fs::copy_options::recursive);
  }

  latflow::test::TempDir temp_;
  std::map<std::string, fs::path> places_;
};

Fixtures& fixtures() {
  static Fixtures instance;
  return instance;
}

std::vector<Case> read_cases(const fs::path& table) {
  std::ifstream in(table);
  REQUIRE(in.good());
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream parts(line);
    std::string field;
    while (std::getline(parts, field, '\t')) fields.push_back(field);
    REQUIRE_MESSAGE(fields.size() >= 2, "malformed line: ", line);
    Case c{fields[0], fields[1], {}, {}};
    for (size_t i = 2; i < fields.size(); ++i) {
      if (fields[i].rfind("env:", 0) == 0) {
        c.env.push_back(fields[i].substr(4));
      } else {
        c.args.push_back(fields[i]);
      }
    }
    cases.push_back(c);
  }
  return cases;
}

/// Runs latflow with `args` and checks the contract of bad input: status
/// 2, one line on stderr holding `expected`, no file written or changed
/// under the fixtures' folder or in `also`.
void check_refused(const std::vector<std::string>& args,
                   const std::vector<std::string>& env,
                   const std::string& expected, const fs::path& also) {
  const auto before = snapshot(fixtures().root());
  const auto before_also = snapshot(also);
  const auto result = run_latflow(args, env);
  CAPTURE(result.err);
  CHECK(result.status == 2);
  CHECK(result.err.rfind("error: ", 0) == 0);
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  CHECK(result.err.back() == '\n');
  CHECK(result.err.find(expected) != std::string::npos);
  CHECK(differences(before, snapshot(fixtures().root())) == "");
  CHECK(differences(before_also, snapshot(also)) == "");
}

}  // namespace

TEST_CASE("bad input from bad_inputs.tsv: exit 2, one line, nothing written") {
  const auto& f = fixtures();
  const auto cases = read_cases(
      latflow::test::source_path("tests/reliability/bad_inputs.tsv"));
  for (const auto& c : cases) {
    std::vector<std::string> args;
    for (const auto& a : c.args) args.push_back(f.expand(a));
    std::vector<std::string> env;
    for (const auto& e : c.env) env.push_back(f.expand(e));
    CAPTURE(c.name);
    check_refused(args, env, f.expand(c.expected), f.place("inputs"));
  }
  MESSAGE(cases.size(), " bad inputs through the command line refused");
  CHECK(cases.size() >= 80);
}

TEST_CASE("malformed experiments, run for real, leave no run directory") {
  const auto& f = fixtures();
  const fs::path folder = latflow::test::source_path("tests/core/bad_configs");
  std::ifstream table(folder / "expected.tsv");
  std::string line;
  int cases = 0;
  while (std::getline(table, line)) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    const std::string file = line.substr(0, tab);
    CAPTURE(file);
    // Without --out the run would go to runs/ in the working folder; every
    // other file is tried both ways.
    std::vector<std::string> args{"run", (folder / file).string()};
    if (cases % 2 == 1) {
      args.insert(args.end(), {"--out", (f.place("scratch") / "out").string()});
    }
    check_refused(args, {}, line.substr(tab + 1), folder);
    ++cases;
  }
  MESSAGE(cases, " malformed experiment files refused");
  CHECK(cases >= 40);
}

TEST_CASE("plugins load only from the listed folders, never the working one") {
  const auto& f = fixtures();
  const fs::path scratch = f.place("scratch");
  // A plugin that is refused whenever it is loaded, planted where a careless
  // loader would look: the working folder and its plugins/ and lib/.
  for (const auto* folder : {".", "plugins", "lib/latflow/plugins"}) {
    fs::create_directories(scratch / folder);
    fs::copy_file(f.place("bad_abi"), scratch / folder / "latflow_abi.so");
  }
  for (const std::vector<std::string>& env : {std::vector<std::string>{},
                                              {"LATFLOW_PLUGIN_PATH="},
                                              {"LATFLOW_PLUGIN_PATH=:"}}) {
    const auto list = run_latflow({"plugins"}, env);
    CAPTURE(list.err);
    CHECK(list.status == 0);
    CHECK(list.out.find("bad_abi") == std::string::npos);
    CHECK(list.out.find("plugin phi4 ") != std::string::npos);
    const auto run = run_latflow(
        {"run", (f.place("inputs") / "tiny.toml").string(), "--dry-run"}, env);
    CHECK(run.status == 0);
  }
  // Named, the same folder is loaded, and the plugin refused.
  const auto named =
      run_latflow({"plugins"}, {"LATFLOW_PLUGIN_PATH=" + scratch.string()});
  CHECK(named.status == 2);
  CHECK(named.err.find("latflow_abi.so: plugin built for latflow ABI") !=
        std::string::npos);
  for (const auto* folder : {"plugins", "lib"})
    fs::remove_all(scratch / folder);
  fs::remove(scratch / "latflow_abi.so");
}

TEST_CASE("paths in an experiment file resolve against the file") {
  const auto& f = fixtures();
  const fs::path scratch = f.place("scratch");
  const fs::path sub = scratch / "experiments";
  fs::create_directories(sub / "plug");
  fs::create_directories(sub / "more_plugins");
  fs::copy_file(f.place("bad_abi"), sub / "plug" / "latflow_bad_abi.so");
  const std::string body = read_text(f.place("inputs") / "tiny.toml");
  std::ofstream(sub / "foreign.toml")
      << "[plugins]\npaths = [\"plug/latflow_bad_abi.so\"]\n"
      << body;
  std::ofstream(sub / "folder.toml")
      << "[plugins]\npaths = [\"more_plugins\"]\n"
      << body;

  // From the working folder, which has no plug/: found beside the file.
  CHECK_FALSE(fs::exists(scratch / "plug"));
  const auto from_scratch =
      run_latflow({"run", "experiments/foreign.toml", "--dry-run"});
  CHECK(from_scratch.status == 2);
  CHECK(from_scratch.err ==
        "error: experiments/foreign.toml:2:9: [plugins] paths: "
        "plug/latflow_bad_abi.so: plugin built for latflow ABI version " +
            std::to_string(LATFLOW_ABI_VERSION + 1000) +
            ", but this latflow has ABI version " +
            std::to_string(LATFLOW_ABI_VERSION) +
            "; rebuild the plugin against latflow " LATFLOW_VERSION "\n");

  // From another folder, and for a plugin folder: the resolved experiment
  // names it by its absolute path.
  fs::current_path(sub / "plug");
  const auto from_plug = run_latflow({"run", "../folder.toml", "--dry-run"});
  fs::current_path(scratch);
  CAPTURE(from_plug.err);
  CHECK(from_plug.status == 0);
  CHECK(from_plug.out.find("paths = [\"" + (sub / "more_plugins").string() +
                           "\"]") != std::string::npos);
  fs::remove_all(sub);
}
