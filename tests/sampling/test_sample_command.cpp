#include <latflow/npy.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "support/test_support.h"

using latflow::test::json_number;
using latflow::test::run_latflow;
namespace fs = std::filesystem;

namespace {

const char* kTinyRun = R"([experiment]
name = "tiny-sample"
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
steps = 4
batch = 16
micro_batches = 1

[evaluate]
batch = 64
chunk = 32
)";

int lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

/// Trains the tiny experiment once for every test case of this file.
const fs::path& trained_run() {
  static latflow::test::TempDir* dir = new latflow::test::TempDir();
  static const fs::path run = [] {
    const auto file = dir->write("tiny.toml", kTinyRun);
    const auto out = dir->path() / "run";
    const auto r = run_latflow({"run", file.string(), "--out", out.string(),
                                "--threads", "1", "--log-level", "warn"});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return out;
  }();
  return run;
}

}  // namespace

TEST_CASE("latflow sample writes configurations and prints observables") {
  const auto& run = trained_run();
  latflow::test::TempDir dir;
  const auto npy = dir.path() / "x.npy";
  const auto r = run_latflow({"sample", run.string(), "--n", "256", "--out",
                              npy.string(), "--threads", "1"});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  const auto configs = latflow::read_npy(npy);
  CHECK(configs.sizes().vec() == std::vector<int64_t>{256, 4, 4});
  CHECK(torch::isfinite(configs).all().item<bool>());
  CHECK(r.out.rfind("sampler/flow: 256 weighted samples", 0) == 0);
  for (const auto* name :
       {"magnetisation", "abs_magnetisation", "susceptibility", "phi2", "ess",
        "free_energy_nis", "tau_int"}) {
    CHECK_MESSAGE(r.out.find(name) != std::string::npos, name);
  }
  // Free field: the exact value is printed beside the estimate.
  CHECK(r.out.find("sigma)") != std::string::npos);
  MESSAGE(r.out);
}

TEST_CASE("latflow sample: neural MCMC and HMC, as a table and as JSON") {
  const auto& run = trained_run();
  const auto chain =
      run_latflow({"sample", run.string(), "--n", "300", "--sampler", "nmcmc",
                   "--threads", "1", "sampler.thermalize=20", "--json"});
  CAPTURE(chain.err);
  REQUIRE(chain.status == 0);
  CHECK(lines(chain.out) == 1);
  CHECK(chain.out.find("\"sampler\":\"nmcmc\"") != std::string::npos);
  const double acceptance = json_number(chain.out, "stats.acceptance");
  CHECK(acceptance > 0);
  CHECK(acceptance <= 1);
  CHECK(json_number(chain.out, "stats.thermalize") == 20);
  CHECK(json_number(chain.out, "observables.phi2.tau_int") >= 0.5 - 1e-9);
  CHECK(json_number(chain.out, "observables.phi2.error") > 0);
  CHECK(json_number(chain.out, "observables.phi2.jackknife_error") > 0);
  CHECK(std::isfinite(json_number(chain.out, "observables.phi2.exact")));
  MESSAGE(chain.out);

  const auto hmc =
      run_latflow({"sample", run.string(), "--n", "40", "--sampler",
                   "sampler/hmc", "--threads", "1", "sampler.thermalize=10",
                   "sampler.n_steps=4", "sampler.step_size=0.25"});
  CAPTURE(hmc.err);
  REQUIRE(hmc.status == 0);
  CHECK(hmc.out.rfind("sampler/hmc: 40 states of a chain", 0) == 0);
  for (const auto* name :
       {"acceptance", "mean_abs_dh", "exp_minus_dh", "phi2", "tau_int"}) {
    CHECK_MESSAGE(hmc.out.find(name) != std::string::npos, name);
  }
  MESSAGE(hmc.out);
}

TEST_CASE("latflow sample: bad input is one line and exit status 2") {
  const auto& run = trained_run();
  latflow::test::TempDir dir;

  const auto missing = run_latflow({"sample", (dir.path() / "none").string()});
  CHECK(missing.status == 2);
  CHECK(lines(missing.err) == 1);
  CHECK(missing.err.find("no such run directory") != std::string::npos);

  // A copy of the run whose checkpoint is cut in half.
  const auto broken = dir.path() / "broken";
  fs::create_directories(broken);
  fs::copy_file(run / "config.toml", broken / "config.toml");
  fs::copy_file(run / "checkpoint.pt", broken / "checkpoint.pt");
  fs::resize_file(broken / "checkpoint.pt",
                  fs::file_size(run / "checkpoint.pt") / 2);
  const auto truncated = run_latflow({"sample", broken.string()});
  CAPTURE(truncated.err);
  CHECK(truncated.status == 2);
  CHECK(lines(truncated.err) == 1);
  CHECK(truncated.err.find("checkpoint.pt: not a readable latflow "
                           "checkpoint") != std::string::npos);

  fs::remove(broken / "checkpoint.pt");
  const auto absent = run_latflow({"sample", broken.string()});
  CHECK(absent.status == 2);
  CHECK(lines(absent.err) == 1);
  CHECK(absent.err.find("no checkpoint.pt") != std::string::npos);

  // Another architecture than the checkpoint's is refused, not loaded.
  const auto other =
      run_latflow({"sample", run.string(), "flow.hidden=8", "--n", "4"});
  CHECK(other.status == 2);
  CHECK(lines(other.err) == 1);
  CHECK(other.err.find("checkpoint.pt: checkpoint does not fit "
                       "flow/affine_coupling") != std::string::npos);

  const auto typo = run_latflow({"sample", run.string(), "--sampler", "nmcmd"});
  CHECK(typo.status == 2);
  CHECK(lines(typo.err) == 1);
  CHECK(typo.err.find("did you mean 'nmcmc'") != std::string::npos);

  const auto key = run_latflow(
      {"sample", run.string(), "--sampler", "hmc", "sampler.stepsize=0.1"});
  CHECK(key.status == 2);
  CHECK(lines(key.err) == 1);
  CHECK(key.err.find("did you mean 'step_size'") != std::string::npos);
}
