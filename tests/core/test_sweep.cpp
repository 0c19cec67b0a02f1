#include <latflow/error.h>
#include <latflow/json.h>
#include <latflow/sweep.h>

#include <torch/torch.h>
#include <doctest/doctest.h>

#include <filesystem>

#include "support/test_support.h"

using namespace latflow;
namespace fs = std::filesystem;

namespace {

const char* kBase = R"([experiment]
name = "sweep"
seed = 2

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

[evaluate]
batch = 32
)";

std::string message_of(const std::string& sweep) {
  try {
    expand_sweep(std::string(kBase) + sweep, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a sweep is the Cartesian product of its lists") {
  const auto points = expand_sweep(
      std::string(kBase) +
          "[sweep]\n\"estimator.type\" = [\"reinforce\", \"reparam\"]\n"
          "\"precision.flow\" = [\"float64\", \"float32\", \"bfloat16\"]\n",
      "s.toml");
  REQUIRE(points.size() == 6);
  CHECK(points[0].label == "reinforce-float64");
  CHECK(points[5].label == "reparam-bfloat16");
  CHECK(points[1].overrides ==
        std::vector<std::string>{"estimator.type=\"reinforce\"",
                                 "precision.flow=\"float32\""});
  CHECK(points[4].values[1] ==
        std::pair<std::string, std::string>{"precision.flow", "float32"});
  CHECK(expand_sweep(kBase, "s.toml").empty());
}

TEST_CASE("zip groups vary together") {
  const auto points = expand_sweep(
      std::string(kBase) +
          "[sweep]\n\"action.L\" = [4, 8, 12]\n"
          "\"estimator.type\" = [\"reinforce\", \"reparam\"]\n"
          "\"train.batch\" = [64, 32, 16]\n"
          "zip = [[\"action.L\", \"train.batch\"]]\n",
      "s.toml");
  REQUIRE(points.size() == 6);
  CHECK(points[0].label == "L4-batch64-reinforce");
  CHECK(points[3].label == "L8-batch32-reparam");
  CHECK(points[5].overrides ==
        std::vector<std::string>{"action.L=12", "train.batch=16",
                                 "estimator.type=\"reparam\""});
}

TEST_CASE("bad sweep tables name the key and position") {
  CHECK(message_of("[sweep]\n\"train.steps\" = 5\n") ==
        "s.toml:24:17: [sweep] train.steps: expected a non-empty array of "
        "values");
  CHECK(message_of("[sweep]\nsteps = [1, 2]\n") ==
        "s.toml:24:1: [sweep] steps: expected a dotted key SECTION.KEY, as "
        "\"estimator.type\"");
  CHECK(message_of("[sweep]\n\"action.L\" = [4, 8]\n\"train.batch\" = [1]\n"
                   "zip = [[\"action.L\", \"train.batch\"]]\n") ==
        "s.toml:26:8: [sweep] zip: the lists of action.L, train.batch must "
        "have one length");
  CHECK(message_of("[sweep]\n\"action.L\" = [4, 8]\n"
                   "zip = [[\"action.L\", \"train.batch\"]]\n")
            .find("[sweep] zip: expected keys swept in this table") !=
        std::string::npos);
}

TEST_CASE("a sweep runs each point once and tabulates every summary") {
  test::TempDir dir;
  const auto file = dir.write(
      "sweep.toml",
      std::string(kBase) +
          "[sweep]\n\"estimator.type\" = [\"reinforce\", \"reparam\"]\n"
          "\"train.batch\" = [16, 32]\n");
  const auto out = dir.path() / "study";

  const auto dry = test::run_latflow({"run", file.string(), "--dry-run"});
  CHECK(dry.status == 0);
  CHECK(dry.out.find("reparam-batch32  estimator.type=\"reparam\" "
                     "train.batch=32\n4 runs\n") != std::string::npos);
  CHECK(!fs::exists(out));

  const auto bad = test::run_latflow(
      {"run", file.string(), "--out", out.string(), "train.steps=0"});
  CHECK(bad.status == 2);
  CHECK(!fs::exists(out));

  const auto first = test::run_latflow(
      {"run", file.string(), "--out", out.string(), "--jobs", "2"});
  CAPTURE(first.out);
  CAPTURE(first.err);
  REQUIRE(first.status == 0);
  const auto csv = test::read_text(out / "summary.csv");
  CHECK(csv.rfind("run,estimator.type,train.batch,experiment,status,", 0) ==
        0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);
  CHECK(csv.find("\nreparam-batch32,reparam,32,sweep,finished,") !=
        std::string::npos);
  for (const auto* run : {"reinforce-batch16", "reinforce-batch32",
                          "reparam-batch16", "reparam-batch32"}) {
    const auto summary =
        Json::parse(test::read_text(out / run / "summary.json"));
    CHECK(summary.find("status")->string() == "finished");
    CHECK(summary.find("steps")->number() == 4);
    // Every summary figure is a column of the table.
    CHECK(csv.find(",ess,") != std::string::npos);
  }
  const auto stamp = fs::last_write_time(out / "reparam-batch32" /
                                         "summary.json");

  // Run again: finished runs are skipped, an unfinished one is redone.
  fs::remove(out / "reinforce-batch16" / "summary.json");
  const auto second = test::run_latflow(
      {"run", file.string(), "--out", out.string()});
  CHECK(second.status == 0);
  CHECK(second.out.find("reparam-batch32: finished before, skipped") !=
        std::string::npos);
  CHECK(second.out.find("reinforce-batch16: resuming") != std::string::npos);
  CHECK(fs::last_write_time(out / "reparam-batch32" / "summary.json") ==
        stamp);
  CHECK(fs::exists(out / "reinforce-batch16" / "summary.json"));

  // Another sweep is refused in the same folder.
  const auto other = dir.write(
      "other.toml", std::string(kBase) + "[sweep]\n\"train.lr\" = [0.1]\n");
  const auto refused = test::run_latflow(
      {"run", other.string(), "--out", out.string()});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("holds another sweep") != std::string::npos);
}

TEST_CASE("json parsing reads back what latflow writes") {
  Json j = Json::object();
  j["a"] = 1.5;
  j["b"]["c"] = "x\"y";
  j["b"]["d"] = Json();
  j["e"] = int64_t{-7};
  const auto back = Json::parse(j.dump(2));
  CHECK(back.dump() == j.dump());
  CHECK(back.flatten() ==
        std::vector<std::pair<std::string, std::string>>{
            {"a", "1.5"}, {"b.c", "x\"y"}, {"b.d", ""}, {"e", "-7"}});
  CHECK_THROWS_AS(Json::parse("{\"a\": }", "f.json"), InputError);
  CHECK_THROWS_WITH(Json::parse("[1, 2", "f.json"),
                    "f.json: invalid JSON at offset 5: expected ',' or ']'");
}

TEST_CASE("an override of a swept key runs that value's points") {
  test::TempDir dir;
  const auto file = dir.write(
      "sweep.toml",
      std::string(kBase) +
          "[sweep]\n\"precision.flow\" = [\"float64\", \"float32\"]\n"
          "\"estimator.type\" = [\"reinforce\", \"reparam\"]\n");
  const auto out = dir.path() / "study";

  const auto dry = test::run_latflow(
      {"run", file.string(), "--dry-run", "precision.flow=float32"});
  CHECK(dry.status == 0);
  CHECK(dry.out.find("2 runs\n") != std::string::npos);
  CHECK(dry.out.find("float64") == std::string::npos);

  const auto other = test::run_latflow(
      {"run", file.string(), "--out", out.string(), "precision.flow=bfloat16"});
  CHECK(other.status == 2);
  CHECK(other.err.find("precision.flow is swept over float64, float32") !=
        std::string::npos);
  CHECK(!fs::exists(out));

  const auto run = test::run_latflow({"run", file.string(), "--out",
                                      out.string(), "precision.flow=float32"});
  CAPTURE(run.err);
  REQUIRE(run.status == 0);
  const auto csv = test::read_text(out / "summary.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 3);
  // The swept key is a column once, though the summaries hold it too.
  const auto header = csv.substr(0, csv.find('\n'));
  CHECK(header.find("precision.flow") == header.rfind("precision.flow"));
  CHECK(fs::exists(out / "reinforce-float32"));
  CHECK(!fs::exists(out / "reinforce-float64"));
}
