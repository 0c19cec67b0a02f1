// Training interrupted and resumed: SIGKILL at random moments, SIGINT and
// SIGTERM, a run killed before its first checkpoint, resumption bit for bit
// in float64 and bfloat16, and non-finite steps skipped or stopped.

#include <torch/torch.h>

#include <doctest/doctest.h>

#include <latflow/checkpoint.h>
#include <latflow/experiment.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "reliability/reliability_support.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using latflow::test::metrics_row_count;
using latflow::test::metrics_rows;
using latflow::test::Program;
using latflow::test::read_text;
using latflow::test::run_latflow;
using latflow::test::wait_until;

namespace {

/// phi^4 on 4 x 4 with a small float64 flow: a checkpoint and a metrics row
/// every step, and more steps than any test lets it finish.
constexpr const char* kExperiment = R"([experiment]
name = "interrupted"
seed = 11

[action]
type = "phi4"
L = 4
m2 = -1.0
lambda = 4.0

[flow]
type = "affine_coupling"
layers = 2
hidden = 4

[estimator]
type = "reinforce"

[precision]
flow = "float64"

[train]
steps = 100000
batch = 16
lr = 0.01
log_every = 1
checkpoint_every = 1

[evaluate]
batch = 64
chunk = 32
)";

/// Arguments shared by every launch: one thread, so that runs repeat bit
/// for bit, and only warnings printed.
std::vector<std::string> with_common(std::vector<std::string> args) {
  for (const auto* a : {"--threads", "1", "--log-level", "warn"}) {
    args.push_back(a);
  }
  return args;
}

/// The step and flow parameters of a run's checkpoint, loaded as `latflow
/// sample` loads them.
struct Checkpoint {
  int64_t step = -1;
  std::vector<torch::Tensor> parameters;
};

Checkpoint load_checkpoint(const fs::path& dir,
                           const std::string& name = "checkpoint.pt") {
  auto& registry = latflow::test::registry();
  const auto exp = latflow::Experiment::load(dir / "config.toml", {}, registry);
  const auto c = latflow::build_components(exp, registry);
  latflow::load_checkpoint_flow(dir / name, *c.flow);
  torch::serialize::InputArchive archive;
  archive.load_from((dir / name).string());
  torch::Tensor step;
  archive.read("step", step);
  Checkpoint checkpoint;
  checkpoint.step = step.item<int64_t>();
  for (const auto& p : c.flow->parameters()) {
    checkpoint.parameters.push_back(p.detach().clone());
  }
  return checkpoint;
}

bool all_finite(const Checkpoint& checkpoint) {
  for (const auto& p : checkpoint.parameters) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

bool same_parameters(const Checkpoint& a, const Checkpoint& b) {
  if (a.parameters.size() != b.parameters.size()) return false;
  for (size_t i = 0; i < a.parameters.size(); ++i) {
    if (!torch::equal(a.parameters[i], b.parameters[i])) return false;
  }
  return true;
}

/// The metrics rows without the seconds column, which is all that may
/// differ between a run and its repetition.
std::vector<std::vector<std::string>> rows_without_time(const fs::path& dir) {
  auto rows = metrics_rows(dir / "metrics.csv");
  for (auto& row : rows) {
    if (row.size() == 7) row.erase(row.begin() + 5);
  }
  return rows;
}

/// The step column, checked to count 1, 2, 3, ... without gap or repeat.
int64_t consecutive_steps(const fs::path& dir) {
  const auto rows = metrics_rows(dir / "metrics.csv");
  for (size_t i = 0; i < rows.size(); ++i) {
    REQUIRE_MESSAGE(rows[i][0] == std::to_string(i + 1), "metrics.csv row ",
                    i + 1, " has step ", rows[i][0]);
  }
  return static_cast<int64_t>(rows.size());
}

std::string status_of(const fs::path& dir) {
  const auto summary = read_text(dir / "summary.json");
  const auto at = summary.find("\"status\": \"");
  if (at == std::string::npos) return "";
  const auto begin = at + 11;
  return summary.substr(begin, summary.find('"', begin) - begin);
}

/// Starts a fresh run and waits until it has written `rows` metrics rows.
std::unique_ptr<Program> start_and_wait(const std::vector<std::string>& args,
                                        const fs::path& dir,
                                        const fs::path& log, int64_t rows) {
  auto program = std::make_unique<Program>(with_common(args), log);
  const bool progressed = wait_until(
      [&] { return metrics_row_count(dir / "metrics.csv") >= rows; }, 120);
  INFO(program->err());
  REQUIRE(progressed);
  return program;
}

}  // namespace

TEST_CASE(
    "SIGKILL at random moments: a loadable checkpoint, whole rows, "
    "and resumption to the same end") {
  latflow::test::TempDir temp;
  const auto file = temp.write("interrupted.toml", kExperiment);
  const fs::path dir = temp.path() / "run";
  const int kills_wanted = 25;
  uint64_t seed = 20261204;
  if (const char* text = std::getenv("LATFLOW_KILL_SEED")) {
    seed = std::strtoull(text, nullptr, 10);
  }
  MESSAGE("kill moments drawn with LATFLOW_KILL_SEED=", seed);
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> moment(0.0, 2.0);

  int kills = 0;
  int before_config = 0;
  int before_checkpoint = 0;
  int sampled = 0;
  for (int launch = 0; kills < kills_wanted; ++launch) {
    REQUIRE(launch < 4 * kills_wanted);
    const bool fresh = !fs::exists(dir / "config.toml");
    const auto args =
        fresh ? with_common({"run", file.string(), "--out", dir.string()})
              : with_common({"run", "--resume", dir.string()});
    Program program(args, temp.path() / "launch");
    const double seconds = moment(random);
    if (wait_until([&] { return program.ended(); }, seconds)) {
      FAIL("latflow ended before it was killed: ", program.err());
    }
    program.signal(SIGKILL);
    REQUIRE(program.wait(60) == 128 + SIGKILL);
    ++kills;
    CAPTURE(kills);
    CAPTURE(seconds);

    // Killed before config.toml: nothing to resume, the folder is new or
    // empty, and the next launch starts afresh into it.
    if (!fs::exists(dir / "config.toml")) {
      ++before_config;
      CHECK((!fs::exists(dir) || fs::is_empty(dir)));
      continue;
    }
    const int64_t rows =
        fs::exists(dir / "metrics.csv") ? consecutive_steps(dir) : 0;
    if (!fs::exists(dir / "checkpoint.pt")) {
      // The next launch starts again from step 0.
      ++before_checkpoint;
      CHECK(rows <= 1);
      continue;
    }
    const auto checkpoint = load_checkpoint(dir);
    CHECK(all_finite(checkpoint));
    // A row is written before the checkpoint of its step.
    CHECK(rows >= checkpoint.step);
    CHECK(rows <= checkpoint.step + 1);
    if (kills % 8 == 0) {
      const auto sample = run_latflow(
          with_common({"sample", dir.string(), "--n", "32", "--json"}));
      CAPTURE(sample.err);
      CHECK(sample.status == 0);
      ++sampled;
    }
  }

  // The end: 10 steps past the last checkpoint, then the same run without
  // interruption for comparison.
  const int64_t done =
      fs::exists(dir / "checkpoint.pt") ? load_checkpoint(dir).step : 0;
  const std::string steps = "train.steps=" + std::to_string(done + 10);
  const auto last = run_latflow(with_common(
      fs::exists(dir / "config.toml")
          ? std::vector<std::string>{"run", "--resume", dir.string(), steps}
          : std::vector<std::string>{"run", file.string(), "--out",
                                     dir.string(), steps}));
  CAPTURE(last.err);
  REQUIRE(last.status == 0);
  CHECK(status_of(dir) == "finished");
  CHECK(consecutive_steps(dir) == done + 10);
  for (const auto& item : fs::directory_iterator(dir)) {
    CHECK_MESSAGE(item.path().filename().string()[0] != '.',
                  "temporary file left: ", item.path());
  }
  const fs::path reference = temp.path() / "reference";
  const auto whole = run_latflow(
      with_common({"run", file.string(), "--out", reference.string(), steps}));
  REQUIRE(whole.status == 0);
  CHECK(rows_without_time(dir) == rows_without_time(reference));
  CHECK(same_parameters(load_checkpoint(dir), load_checkpoint(reference)));

  MESSAGE(kills, " kills survived (", before_config, " before config.toml, ",
          before_checkpoint, " before the first checkpoint), ", done,
          " steps done through "
          "them, ",
          sampled, " checked with latflow sample");
  CHECK(kills == kills_wanted);
}

TEST_CASE("a run killed before its first checkpoint starts again at step 0") {
  latflow::test::TempDir temp;
  const auto file = temp.write("interrupted.toml", kExperiment);
  const fs::path dir = temp.path() / "run";
  {
    auto program = start_and_wait({"run", file.string(), "--out", dir.string(),
                                   "train.checkpoint_every=0"},
                                  dir, temp.path() / "launch", 3);
    program->signal(SIGKILL);
    REQUIRE(program->wait(60) == 128 + SIGKILL);
  }
  REQUIRE_FALSE(fs::exists(dir / "checkpoint.pt"));
  CHECK(consecutive_steps(dir) >= 3);

  const auto resumed = run_latflow(
      with_common({"run", "--resume", dir.string(), "train.steps=6"}));
  CHECK(resumed.status == 0);
  CHECK(resumed.err.find("no checkpoint.pt in " + dir.string() +
                         ": the run was stopped before its first "
                         "checkpoint; starting again from step 0") !=
        std::string::npos);
  CHECK(status_of(dir) == "finished");
  CHECK(consecutive_steps(dir) == 6);

  const fs::path reference = temp.path() / "reference";
  REQUIRE(run_latflow(
              with_common({"run", file.string(), "--out", reference.string(),
                           "train.steps=6", "train.checkpoint_every=0"}))
              .status == 0);
  CHECK(rows_without_time(dir) == rows_without_time(reference));
  CHECK(same_parameters(load_checkpoint(dir), load_checkpoint(reference)));
}

TEST_CASE(
    "SIGINT and SIGTERM: checkpoint, summary interrupted, 130 / 143, "
    "and resumption to the end") {
  for (const int signal : {SIGINT, SIGTERM}) {
    CAPTURE(signal);
    latflow::test::TempDir temp;
    const auto file = temp.write("interrupted.toml", kExperiment);
    const fs::path dir = temp.path() / "run";
    {
      // No checkpoint of its own before the signal: the one there is the
      // one the signal wrote.
      auto program =
          start_and_wait({"run", file.string(), "--out", dir.string(),
                          "train.checkpoint_every=100000"},
                         dir, temp.path() / "launch", 3);
      program->signal(signal);
      CHECK(program->wait(60) == 128 + signal);
    }
    CHECK(status_of(dir) == "interrupted");
    const auto summary = read_text(dir / "summary.json");
    const auto steps =
        static_cast<int64_t>(latflow::test::json_number(summary, "steps"));
    CHECK(steps >= 3);
    CHECK(load_checkpoint(dir).step == steps);
    CHECK(consecutive_steps(dir) == steps);

    const auto resumed =
        run_latflow(with_common({"run", "--resume", dir.string(),
                                 "train.steps=" + std::to_string(steps + 5)}));
    CAPTURE(resumed.err);
    CHECK(resumed.status == 0);
    CHECK(status_of(dir) == "finished");
    CHECK(consecutive_steps(dir) == steps + 5);
    CHECK(load_checkpoint(dir).step == steps + 5);
  }
}

TEST_CASE("a resumed run with no step left keeps its figures") {
  latflow::test::TempDir temp;
  const auto file = temp.write("interrupted.toml", kExperiment);
  const fs::path dir = temp.path() / "run";
  REQUIRE(run_latflow(with_common({"run", file.string(), "--out",
                                   dir.string(), "train.steps=10"}))
              .status == 0);
  const auto before = read_text(dir / "summary.json");
  const std::vector<std::string> figures{
      "final_train_ess", "final_train_free_energy_q", "final_loss",
      "final_grad_norm"};
  for (const auto& key : figures) {
    CAPTURE(key);
    CHECK(latflow::test::json_number(before, key) != 0);
  }

  // Nothing left to train: evaluated again, the figures stay.
  REQUIRE(run_latflow(with_common({"run", "--resume", dir.string()}))
              .status == 0);
  const auto again = read_text(dir / "summary.json");
  for (const auto& key : figures) {
    CAPTURE(key);
    CHECK(latflow::test::json_number(again, key) ==
          latflow::test::json_number(before, key));
  }

  // Fewer steps than were trained is refused, and nothing changes.
  const auto config = read_text(dir / "config.toml");
  const auto fewer = run_latflow(
      with_common({"run", "--resume", dir.string(), "train.steps=5"}));
  CHECK(fewer.status == 2);
  CHECK(fewer.err.find("train.steps = 5 is below the 10 steps already "
                       "trained") != std::string::npos);
  CHECK(read_text(dir / "config.toml") == config);
  CHECK(read_text(dir / "summary.json") == again);
}

TEST_CASE("resumption is exact: 50 + 50 steps equal 100") {
  // bfloat16 too: the float32 master weights travel in the checkpoint.
  for (const std::string precision : {"float64", "bfloat16"}) {
    CAPTURE(precision);
    latflow::test::TempDir temp;
    const auto file = temp.write("interrupted.toml", kExperiment);
    const fs::path whole = temp.path() / "whole";
    const fs::path halves = temp.path() / "halves";
    const auto flow = "precision.flow=" + precision;
    REQUIRE(run_latflow(with_common({"run", file.string(), "--out",
                                     whole.string(), flow, "train.steps=100",
                                     "train.checkpoint_every=50"}))
                .status == 0);
    REQUIRE(run_latflow(with_common({"run", file.string(), "--out",
                                     halves.string(), flow, "train.steps=50",
                                     "train.checkpoint_every=50"}))
                .status == 0);
    REQUIRE(run_latflow(with_common({"run", "--resume", halves.string(),
                                     "train.steps=100"}))
                .status == 0);

    // Full precision: each number is written in its shortest exact form.
    const auto rows = rows_without_time(whole);
    CHECK(rows.size() == 100);
    CHECK(rows == rows_without_time(halves));
    const auto a = load_checkpoint(whole);
    const auto b = load_checkpoint(halves);
    CHECK(a.step == 100);
    CHECK(b.step == 100);
    CHECK(same_parameters(a, b));
    const auto summary_a = read_text(whole / "summary.json");
    const auto summary_b = read_text(halves / "summary.json");
    for (const auto* key : {"ess", "free_energy_nis.mean",
                            "free_energy_q.mean", "final_loss"}) {
      CAPTURE(key);
      CHECK(latflow::test::json_number(summary_a, key) ==
            latflow::test::json_number(summary_b, key));
    }
  }
}

TEST_CASE(
    "non-finite steps: skip counts them, stop keeps the last good "
    "checkpoint and writes a diagnostic one") {
  latflow::test::TempDir temp;
  const auto file = temp.write("interrupted.toml", kExperiment);

  {
    // An action that overflows: every step skipped.
    const fs::path dir = temp.path() / "overflow";
    const auto r = run_latflow(with_common(
        {"run", file.string(), "--out", dir.string(), "train.steps=4",
         "action.m2=1e308", "train.on_nonfinite=skip"}));
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("step 4: non-finite loss or gradient, skipped") !=
          std::string::npos);
    CHECK(latflow::test::json_number(read_text(dir / "summary.json"),
                                     "skipped_steps") == 4);
    const auto rows = metrics_rows(dir / "metrics.csv");
    REQUIRE(rows.size() == 4);
    CHECK(rows.back()[6] == "4");
    // Skipped steps never touch the parameters.
    CHECK(all_finite(load_checkpoint(dir)));
  }
  {
    // The host reads the count only at a metrics row or a checkpoint:
    // every second step here.
    const fs::path dir = temp.path() / "overflow_every_2";
    const auto r = run_latflow(with_common(
        {"run", file.string(), "--out", dir.string(), "train.steps=4",
         "train.log_every=2", "train.checkpoint_every=2",
         "action.m2=1e308",
         "train.on_nonfinite=skip"}));
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("steps 3-4: 2 steps with a non-finite loss or "
                     "gradient, skipped") != std::string::npos);
    CHECK(latflow::test::json_number(read_text(dir / "summary.json"),
                                     "skipped_steps") == 4);
    const auto rows = metrics_rows(dir / "metrics.csv");
    REQUIRE(rows.size() == 2);
    CHECK(rows.back()[6] == "4");
    CHECK(all_finite(load_checkpoint(dir)));
  }

  // A flow whose log-scale may reach 100 trains 3 steps; resumed with a
  // learning rate of 1 it saturates, and exp(100) overflows in float32.
  const fs::path good = temp.path() / "good";
  REQUIRE(run_latflow(
              with_common({"run", file.string(), "--out", good.string(),
                           "train.steps=3", "train.checkpoint_every=100",
                           "flow.scale_bound=100", "precision.flow=float32"}))
              .status == 0);
  const std::string last_good = read_text(good / "checkpoint.pt");
  const fs::path good_too = temp.path() / "good_too";
  fs::copy(good, good_too, fs::copy_options::recursive);

  {
    const auto r = run_latflow(
        with_common({"run", "--resume", good.string(), "train.steps=40",
                     "train.lr=1", "train.on_nonfinite=stop"}));
    CAPTURE(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find("non-finite loss or gradient; stopped, state in "
                     "checkpoint_nonfinite.pt") != std::string::npos);
    CHECK(status_of(good) == "failed");
    CHECK(read_text(good / "checkpoint.pt") == last_good);
    CHECK(load_checkpoint(good).step == 3);
    const auto diagnostic = load_checkpoint(good, "checkpoint_nonfinite.pt");
    CHECK(diagnostic.step > 3);
    CHECK(diagnostic.step < 40);
  }
  {
    const auto r = run_latflow(
        with_common({"run", "--resume", good_too.string(), "train.steps=12",
                     "train.lr=1", "train.on_nonfinite=skip"}));
    CAPTURE(r.err);
    CHECK(r.status == 0);
    const auto rows = metrics_rows(good_too / "metrics.csv");
    REQUIRE(rows.size() == 12);
    const auto skipped = latflow::test::json_number(
        read_text(good_too / "summary.json"), "skipped_steps");
    CHECK(skipped >= 1);
    CHECK(rows.back()[6] == std::to_string(static_cast<int64_t>(skipped)));
    CHECK(all_finite(load_checkpoint(good_too)));
  }
}
