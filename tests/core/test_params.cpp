#include <latflow/json.h>
#include <latflow/params.h>

#include <doctest/doctest.h>

using namespace latflow;

TEST_CASE("schema describes allowed values in words") {
  Schema s;
  CHECK(s.add_int("steps", 10, "").at_least(1).expectation() ==
        "an integer >= 1");
  CHECK(s.add_float("lr", 1e-3, "").above(0).expectation() ==
        "a number > 0");
  CHECK(s.add_float("kappa", 0.1, "").range(0, 0.5).expectation() ==
        "a number in [0, 0.5]");
  CHECK(s.add_choice("mode", "a", {"a", "b"}, "").expectation() ==
        "a string, one of \"a\", \"b\"");
  CHECK(s.add_int_list("dilations", {1}, "").at_least(1).expectation() ==
        "an array of integers with each element >= 1");
  CHECK_THROWS_AS(s.add_int("steps", 1, ""), std::logic_error);
}

TEST_CASE("violations name the bound and the value") {
  Schema s;
  auto& steps = s.add_int("steps", 10, "").at_least(1);
  CHECK(steps.violation(int64_t{1}).empty());
  CHECK(steps.violation(int64_t{0}) == "expected an integer >= 1, got 0");
  auto& lr = s.add_float("lr", 1e-3, "").above(0).below(1);
  CHECK(lr.violation(0.5).empty());
  CHECK(lr.violation(1.0) == "expected a number in (0, 1), got 1.0");
  CHECK(!lr.violation(std::nan("")).empty());
  auto& mode = s.add_choice("logdet", "even_odd", {"dense", "even_odd"}, "");
  CHECK(mode.violation(std::string("evenodd")) ==
        "expected a string, one of \"dense\", \"even_odd\", got \"evenodd\" "
        "(did you mean \"even_odd\"?)");
  auto& list = s.add_int_list("d", {1}, "").at_least(1);
  CHECK(list.violation(std::vector<int64_t>{1, 2, 0}) ==
        "expected an array of integers with each element >= 1, got "
        "[1, 2, 0]");
}

TEST_CASE("params keep written values, sources and defaults") {
  Params p("train", "", Source{"exp.toml", 3, 1});
  p.set("steps", int64_t{100}, Source{"exp.toml", 4, 9});
  p.set("lr", 1e-3, std::nullopt);
  CHECK(p.get_int("steps") == 100);
  CHECK(p.get_float("steps") == 100.0);
  CHECK(p.get_float("lr") == doctest::Approx(1e-3));
  CHECK(p.written("steps"));
  CHECK_FALSE(p.written("lr"));
  CHECK(p.source("lr").str() == "exp.toml:3:1");
  CHECK(std::string(p.error("steps", "too many").what()) ==
        "exp.toml:4:9: [train] steps: too many");
  CHECK_THROWS_AS(p.get_string("steps"), std::logic_error);
  CHECK_THROWS_AS(p.get_int("missing"), std::logic_error);
}

TEST_CASE("values render as TOML that reads back") {
  CHECK(to_toml(true) == "true");
  CHECK(to_toml(int64_t{-3}) == "-3");
  CHECK(to_toml(2.0) == "2.0");
  CHECK(to_toml(2.5e-4) == "0.00025");
  CHECK(to_toml(std::string("a\"b")) == "\"a\\\"b\"");
  CHECK(to_toml(std::vector<int64_t>{1, 2, 3}) == "[1, 2, 3]");
  CHECK(to_toml(std::vector<std::string>{"x"}) == "[\"x\"]");
}

TEST_CASE("did-you-mean picks the nearest name within reach") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(closest("step", {"steps", "batch", "lr"}) == "steps");
  CHECK(closest("reinforc", {"reparam", "reinforce"}) == "reinforce");
  CHECK(closest("zzzzzz", {"steps", "batch"}).empty());
}

TEST_CASE("json is compact or indented, with escapes and null for NaN") {
  Json j = Json::object();
  j["name"] = "a\"b\n";
  j["n"] = int64_t{3};
  j["x"] = 0.1;
  j["bad"] = std::nan("");
  j["list"].push_back(1);
  j["list"].push_back("two");
  j["nested"]["mean"] = 1.5;
  CHECK(j.dump() ==
        "{\"name\":\"a\\\"b\\n\",\"n\":3,\"x\":0.1,\"bad\":null,"
        "\"list\":[1,\"two\"],\"nested\":{\"mean\":1.5}}");
  CHECK(j.dump(2).find("\n  \"n\": 3,") != std::string::npos);
}
