#include <latflow/json.h>

#include <torch/torch.h>
#include <doctest/doctest.h>

#include <set>

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
  REQUIRE(results.size() == 6);  // 2 lattice sizes x 3 estimators
  std::set<std::string> seen;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& row = results.at(i);
    const double median = row.find("median")->number();
    CHECK(median > 0);
    CHECK(row.find("min")->number() <= median);
    CHECK(row.find("max")->number() >= median);
    CHECK(row.find("forward")->number() > 0);
    CHECK(row.find("backward")->number() > 0);
    CHECK(row.find("peak_rss_mb")->number() > 10);
    seen.insert(row.find("combination")->string() + "/" +
                row.find("estimator")->string());
  }
  CHECK(seen == std::set<std::string>{"L4/reinforce", "L4/reparam",
                                      "L4/path_gradient", "L6/reinforce",
                                      "L6/reparam", "L6/path_gradient"});
  // Only reinforce evaluates log q through the inverse flow.
  CHECK(results.at(0).find("inverse")->number() > 0);
  CHECK(results.at(1).find("inverse")->number() == 0);

  const auto bad = test::run_latflow({"bench", file.string(), "--steps",
                                      "2"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "error: --steps: expected an integer >= 5, got 2\n");
}
