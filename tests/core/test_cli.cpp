#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_support.h"

using latflow::test::run_latflow;
namespace fs = std::filesystem;

namespace {

const char* kTinyRun = R"([experiment]
name = "tiny"
seed = 3

[action]
type = "phi4"
L = 4

[flow]
type = "affine_coupling"
layers = 2
hidden = 4

[estimator]
type = "reinforce"

[train]
steps = 6
batch = 16
micro_batches = 2
log_every = 2
checkpoint_every = 3

[evaluate]
batch = 64
chunk = 16
)";

}  // namespace

TEST_CASE("each malformed experiment gives one line and exit status 2") {
  const fs::path folder = latflow::test::source_path("tests/core/bad_configs");
  std::ifstream table(folder / "expected.tsv");
  std::string line;
  int cases = 0;
  while (std::getline(table, line)) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    const std::string file = line.substr(0, tab);
    const std::string expected = line.substr(tab + 1);
    const auto path = folder / file;
    const auto result = run_latflow({"run", path.string(), "--dry-run"});
    CAPTURE(file);
    CAPTURE(result.err);
    CHECK(result.status == 2);
    CHECK(result.err.find(expected) != std::string::npos);
    CHECK(result.err.rfind("error: " + path.string(), 0) == 0);
    // One line: the message and its newline.
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    ++cases;
  }
  CHECK(cases >= 20);
}

TEST_CASE("overrides are parsed as TOML, bare words as strings") {
  latflow::test::TempDir dir;
  const auto file = dir.write("tiny.toml", kTinyRun);
  auto ok = run_latflow({"run", file.string(), "--dry-run", "train.steps=9",
                         "estimator.type=reparam", "flow.hidden=8",
                         "train.lr=2e-3"});
  CHECK(ok.status == 0);
  CHECK(ok.out.find("steps = 9\n") != std::string::npos);
  CHECK(ok.out.find("type = \"reparam\"") != std::string::npos);
  CHECK(ok.out.find("hidden = 8\n") != std::string::npos);
  CHECK(ok.out.find("lr = 0.002\n") != std::string::npos);

  const std::vector<std::pair<std::string, std::string>> bad{
      {"train.steps=-1",
       "override 'train.steps=-1': [train] steps: expected an integer >= 1, "
       "got -1"},
      {"steps=10", "override 'steps=10': expected a dotted key"},
      {"train.steps", "override 'train.steps': expected KEY=VALUE"},
      {"train.lr=\"x", "override 'train.lr=\"x': the value is not TOML"},
      {"train.stepz=3",
       "override 'train.stepz=3': [train] stepz: unknown key for [train] "
       "(did you mean 'steps'?)"},
      {"estimator.type=reinforc",
       "override 'estimator.type=reinforc': [estimator] type: unknown "
       "estimator 'reinforc' (did you mean 'reinforce'?)"},
  };
  for (const auto& [item, expected] : bad) {
    const auto r = run_latflow({"run", file.string(), "--dry-run", item});
    CAPTURE(item);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(expected) != std::string::npos);
  }
}

TEST_CASE("a run leaves a complete run directory and refuses to overwrite") {
  latflow::test::TempDir dir;
  const auto file = dir.write("tiny.toml", kTinyRun);
  const auto out = dir.path() / "run";
  const auto r = run_latflow({"run", file.string(), "--out", out.string(),
                              "--threads", "1"});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  for (const auto* name :
       {"config.toml", "metrics.csv", "summary.json", "checkpoint.pt",
        "log.txt"}) {
    CHECK_MESSAGE(fs::file_size(out / name) > 0, name);
  }
  const auto summary = latflow::test::read_text(out / "summary.json");
  CHECK(summary.find("\"status\": \"finished\"") != std::string::npos);
  CHECK(summary.find("\"estimator\": \"reinforce\"") != std::string::npos);
  CHECK(latflow::test::json_number(summary, "steps") == 6);
  const double ess = latflow::test::json_number(summary, "ess");
  CHECK(ess > 0.0);
  CHECK(ess <= 1.0);
  CHECK(latflow::test::json_number(summary, "peak_rss_mb") > 10);
  CHECK(std::isfinite(
      latflow::test::json_number(summary, "free_energy_nis.error")));
  CHECK(std::isfinite(
      latflow::test::json_number(summary, "observables.phi2.mean")));

  // Rows every 2 steps: header plus 3 whole rows.
  const auto metrics = latflow::test::read_text(out / "metrics.csv");
  CHECK(metrics.rfind("step,loss,free_energy_q,ess,", 0) == 0);
  CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 4);
  const auto log = latflow::test::read_text(out / "log.txt");
  CHECK(log.find("[train] steps") != std::string::npos);

  // The resolved config reloads to the same experiment.
  const auto again =
      run_latflow({"run", (out / "config.toml").string(), "--dry-run"});
  CHECK(again.status == 0);
  const auto config = latflow::test::read_text(out / "config.toml");
  CHECK(again.out == config);

  const auto refused = run_latflow({"run", file.string(), "--out",
                                    out.string()});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("folder is not empty") != std::string::npos);
  CHECK(latflow::test::read_text(out / "summary.json") == summary);
}

TEST_CASE("plugins, help and version") {
  const auto list = run_latflow({"plugins"});
  CHECK(list.status == 0);
  for (const auto* name : {"phi4", "affine_coupling", "reinforce", "reparam",
                           "path_gradient"}) {
    CHECK_MESSAGE(list.out.find(name) != std::string::npos, name);
  }
  const auto phi4 = run_latflow({"plugins", "action/phi4"});
  CHECK(phi4.status == 0);
  CHECK(phi4.out.find("an integer >= 2") != std::string::npos);
  const auto unknown = run_latflow({"plugins", "action/phi5"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("did you mean 'phi4'") != std::string::npos);

  CHECK(run_latflow({"--version"}).out.rfind("latflow ", 0) == 0);
  CHECK(run_latflow({"--help"}).status == 0);
  CHECK(run_latflow({}).status == 2);
  const auto typo = run_latflow({"rn"});
  CHECK(typo.status == 2);
  CHECK(typo.err == "error: unknown command 'rn' (did you mean 'run'?); run "
                    "latflow --help\n");
  const auto option = run_latflow({"run", "--bogus"});
  CHECK(option.status == 2);
  CHECK(option.err.find("bogus") != std::string::npos);
}
