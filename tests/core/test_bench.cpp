#include <latflow/json.h>

#include <torch/torch.h>
#include <doctest/doctest.h>

#include "support/test_support.h"

using namespace latflow;

TEST_CASE("bench times every estimator in its own process") {
  test::TempDir dir;
  const auto file = dir.write("tiny.toml", R"([action]
type = "phi4"
L = 4

[flow]
type = "affine_coupling"
layers = 2
hidden = 4

[estimator]
type = "reinforce"

[train]
batch = 16

[sweep]
"action.L" = [4, 6]
)");
  const auto json = dir.path() / "bench.json";
  const auto r = test::run_latflow({"bench", file.string(), "--steps", "5",
                                    "--threads", "1", "--json",
                                    json.string()});
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("reparam/reinforce: time ") != std::string::npos);
  CHECK(r.out.find("path_gradient/reinforce: time ") != std::string::npos);

  const auto results = Json::parse(test::read_text(json));
  const auto rows = results.flatten();
  // 2 lattice sizes x 3 estimators, each with its own figures.
  int medians = 0;
  for (const auto& [key, value] : rows) {
    if (key != "median") continue;
    ++medians;
    CHECK(std::stod(value) > 0);
  }
  CHECK(medians == 0);  // flatten() leaves arrays whole
  const std::string text = results.dump();
  for (const auto* estimator : {"reinforce", "reparam", "path_gradient"}) {
    CHECK(text.find(std::string("\"estimator\":\"") + estimator + "\"") !=
          std::string::npos);
  }
  CHECK(text.find("\"combination\":\"L6\"") != std::string::npos);
  CHECK(text.find("\"peak_rss_mb\":") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '{') == 6);

  const auto bad = test::run_latflow({"bench", file.string(), "--steps",
                                      "2"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "error: --steps: expected an integer >= 5, got 2\n");
}
