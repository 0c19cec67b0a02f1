// `latflow plot` on a tiny sweep and on one run: the figures are made,
// non-empty, PNGs carry the PNG signature; bad input gives one-line errors.

#include <torch/torch.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/test_support.h"

namespace fs = std::filesystem;
using latflow::test::run_latflow;

namespace {

const char* kSweep = R"([experiment]
name = "tiny-study"
seed = 3

[action]
type = "phi4"
L = 4
m2 = 1.25
lambda = 0.0

[flow]
type = "affine_coupling"
layers = 2
hidden = 4

[estimator]
type = "reinforce"

[train]
steps = 6
batch = 16
log_every = 2

[evaluate]
batch = 64

[sweep]
"action.L" = [4, 8]
"estimator.type" = ["reinforce", "reparam"]
"precision.flow" = ["float32", "bfloat16"]
)";

bool is_png(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  const unsigned char signature[8] = {0x89, 'P',  'N',  'G',
                                      '\r', '\n', 0x1a, '\n'};
  return in &&
         std::equal(head, head + 8, signature, [](char a, unsigned char b) {
           return static_cast<unsigned char>(a) == b;
         });
}

void check_figures(const fs::path& plots, const std::string& printed,
                   const std::vector<std::string>& stems) {
  for (const auto& stem : stems) {
    for (const auto* ext : {".png", ".svg"}) {
      const fs::path file = plots / (stem + ext);
      CAPTURE(file);
      REQUIRE(fs::is_regular_file(file));
      CHECK(fs::file_size(file) > 0);
      CHECK(printed.find(file.string()) != std::string::npos);
    }
    CHECK(is_png(plots / (stem + ".png")));
    const auto svg = latflow::test::read_text(plots / (stem + ".svg"));
    CHECK(svg.find("<svg") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("plot draws the figures of a sweep and of one run") {
  latflow::test::TempDir dir;
  const auto file = dir.write("tiny.toml", kSweep);
  const auto out = dir.path() / "study";
  const auto run = run_latflow({"run", file.string(), "--out", out.string(),
                                "--jobs", "2", "--log-level", "warn"});
  CAPTURE(run.out);
  CAPTURE(run.err);
  REQUIRE(run.status == 0);

  const auto sweep = run_latflow({"plot", out.string()});
  CAPTURE(sweep.err);
  REQUIRE(sweep.status == 0);
  check_figures(out / "plots", sweep.out,
                {"ess_vs_time", "seconds_per_step_vs_L", "peak_memory_vs_L"});
  // Each estimator and precision is a curve of its own.
  const auto svg =
      latflow::test::read_text(out / "plots" / "seconds_per_step_vs_L.svg");
  for (const auto* label : {"reinforce float32", "reparam bfloat16"}) {
    CHECK(svg.find(label) != std::string::npos);
  }

  const auto one = out / "L8-reparam-float32";
  const auto single = run_latflow({"plot", one.string()});
  CAPTURE(single.err);
  REQUIRE(single.status == 0);
  check_figures(one / "plots", single.out, {"training"});

  // Plotting again replaces the figures.
  CHECK(run_latflow({"plot", one.string()}).status == 0);
}

TEST_CASE("plot refuses bad input with one line") {
  latflow::test::TempDir dir;
  const auto missing = dir.path() / "absent";
  const auto r = run_latflow({"plot", missing.string()});
  CHECK(r.status == 2);
  CHECK(r.err == "error: plot: " + missing.string() + ": no such directory\n");

  const auto empty = dir.path() / "empty";
  fs::create_directories(empty / "not-a-run");
  const auto none = run_latflow({"plot", empty.string()});
  CHECK(none.status == 2);
  CHECK(none.err == "error: plot: " + empty.string() +
                        ": no runs (no metrics.csv in it or in its "
                        "sub-folders)\n");
  CHECK(!fs::exists(empty / "plots"));

  const auto args = run_latflow({"plot"});
  CHECK(args.status == 2);
  CHECK(args.err.find("plot: expected one RUN_OR_SWEEP_DIR") !=
        std::string::npos);

  const auto run = dir.path() / "run";
  fs::create_directories(run);
  dir.write("run/metrics.csv",
            "step,loss,free_energy_q,ess,grad_norm,seconds,skipped\n"
            "1,0.5,-3.0,0.2,1.0,0.1,0\n2,0.4,-3.1,0.3,1.0,0.2,0\n");
  const auto no_gnuplot =
      run_latflow({"plot", run.string()},
                  {"LATFLOW_GNUPLOT=" + (dir.path() / "no-gnuplot").string()});
  CHECK(no_gnuplot.status == 2);
  CHECK(no_gnuplot.err.find("error: plot: gnuplot not found at ") == 0);
  CHECK(std::count(no_gnuplot.err.begin(), no_gnuplot.err.end(), '\n') == 1);
  CHECK(!fs::exists(run / "plots"));

  // The same folder plots when gnuplot is there.
  CHECK(run_latflow({"plot", run.string()}).status == 0);
  CHECK(is_png(run / "plots" / "training.png"));
}
