// action/schwinger_wilson: the Wilson-Dirac determinant, dense and even-odd,
// against exact free-field results, an independent Python reference,
// gauge symmetry and finite differences.
#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/npy.h>
#include <latflow/params.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "u1/u1_test_helpers.h"
#include "wilson_dirac.h"

namespace {

using latflow::u1_test::kPi;
using latflow::u1_test::make_action;
using latflow::u1_test::max_diff;
using latflow::u1_test::observable;
using latflow::u1_test::part;
using latflow::u1_test::Values;

struct FreeField {
  double log_det = 0;     ///< log|det D|
  double condensate = 0;  ///< (1/V) Re Tr D^-1
};

/// For U = 1, D is diagonal in momentum space with 2 x 2 blocks
/// a + i sum_mu 2 kappa sin(p_mu) g_mu, a = 1 - 2 kappa sum_mu cos p_mu:
/// det = a^2 + 4 kappa^2 sum_mu sin^2 p_mu, Tr block^-1 = 2a / det
/// (PHYSICS.md 3.3).
FreeField free_field(int64_t L, double kappa, bool antiperiodic) {
  FreeField result;
  for (int64_t n0 = 0; n0 < L; ++n0) {
    for (int64_t n1 = 0; n1 < L; ++n1) {
      const double p0 = 2 * kPi *
                        (static_cast<double>(n0) + (antiperiodic ? 0.5 : 0.0)) /
                        static_cast<double>(L);
      const double p1 =
          2 * kPi * static_cast<double>(n1) / static_cast<double>(L);
      const double a = 1 - 2 * kappa * (std::cos(p0) + std::cos(p1));
      const double det = a * a + 4 * kappa * kappa *
                                     (std::sin(p0) * std::sin(p0) +
                                      std::sin(p1) * std::sin(p1));
      result.log_det += std::log(det);
      result.condensate += 2 * a / det;
    }
  }
  result.condensate /= static_cast<double>(L * L);
  return result;
}

std::shared_ptr<latflow::Action> schwinger(Values values) {
  return make_action("schwinger_wilson", values);
}

}  // namespace

TEST_CASE("schwinger_wilson: free field equals the momentum-space product") {
  for (const int64_t L : {4, 8, 16}) {
    for (const double kappa : {0.2, 0.25, 0.276}) {
      for (const std::string boundary : {"antiperiodic", "periodic"}) {
        // Periodic at kappa = 1/4 has the exact zero mode p = 0.
        if (boundary == "periodic" && kappa == 0.25) continue;
        const auto exact = free_field(L, kappa, boundary == "antiperiodic");
        for (const std::string logdet : {"dense", "even_odd"}) {
          CAPTURE(L);
          CAPTURE(kappa);
          CAPTURE(boundary);
          CAPTURE(logdet);
          const auto action = schwinger({{"L", L},
                                         {"kappa", kappa},
                                         {"beta", 1.5},
                                         {"flavours", int64_t{1}},
                                         {"boundary", boundary},
                                         {"logdet", logdet}});
          const auto cold = torch::zeros({1, 2, L, L}, torch::kFloat64);
          CHECK(std::abs(-part(*action, cold, "fermion").item<double>() -
                         exact.log_det) < 1e-10);
          CHECK(part(*action, cold, "gauge").item<double>() ==
                doctest::Approx(-1.5 * static_cast<double>(L * L)));
          CHECK(std::abs(observable(*action, "chiral_condensate")
                             ->measure(cold)
                             .item<double>() -
                         exact.condensate) < 1e-10);
          CHECK(observable(*action, "det_sign")->measure(cold).item<double>() ==
                1.0);
        }
      }
    }
  }
}

TEST_CASE("schwinger_wilson: the independent Python reference, L = 4") {
  // tests/u1/schwinger_reference.py builds D entry by entry with numpy.
  const auto configs = latflow::read_npy(
      latflow::test::source_path("tests/u1/data/schwinger_configs.npy"));
  const auto reference = latflow::read_npy(
      latflow::test::source_path("tests/u1/data/schwinger_reference.npy"));
  REQUIRE(configs.sizes().vec() == std::vector<int64_t>{6, 2, 4, 4});
  REQUIRE(reference.sizes().vec() == std::vector<int64_t>{6, 15});
  const auto column = [&](int64_t c) { return reference.select(1, c); };

  struct Setting {
    double kappa;
    std::string boundary;
  };
  const std::vector<Setting> settings = {{0.276, "antiperiodic"},
                                         {0.2, "antiperiodic"},
                                         {0.24, "periodic"},
                                         {0.32, "antiperiodic"}};
  for (size_t j = 0; j < settings.size(); ++j) {
    for (const std::string logdet : {"dense", "even_odd"}) {
      CAPTURE(j);
      CAPTURE(logdet);
      const auto action = schwinger({{"L", int64_t{4}},
                                     {"beta", 2.0},
                                     {"kappa", settings[j].kappa},
                                     {"boundary", settings[j].boundary},
                                     {"logdet", logdet}});
      const auto log_det = column(3 + 3 * static_cast<int64_t>(j));
      const auto sign = column(4 + 3 * static_cast<int64_t>(j));
      const auto condensate = column(5 + 3 * static_cast<int64_t>(j));
      CHECK(max_diff(part(*action, configs, "fermion"), -2 * log_det) < 2e-10);
      CHECK(max_diff(part(*action, configs, "gauge"), column(0)) < 1e-12);
      CHECK(max_diff(action->evaluate(configs), column(0) - 2 * log_det) <
            2e-10);
      CHECK(torch::equal(observable(*action, "det_sign")->measure(configs),
                         sign));
      CHECK(
          max_diff(observable(*action, "chiral_condensate")->measure(configs) /
                       condensate,
                   torch::ones_like(condensate)) < 1e-10);
      CHECK(max_diff(observable(*action, "mean_plaquette")->measure(configs),
                     column(1)) < 1e-14);
      CHECK(
          max_diff(observable(*action, "topological_charge")->measure(configs),
                   column(2)) < 1e-9);
    }
  }
  // The reference covers both signs of det D and of Q.
  CHECK(column(13).min().item<double>() == -1.0);
  CHECK(column(2).min().item<double>() < -0.5);
  CHECK(column(2).max().item<double>() > 0.5);
}

TEST_CASE("schwinger_wilson: dense and even-odd agree; det D is real") {
  torch::manual_seed(21);
  for (const int64_t L : {2, 4, 6, 8}) {
    for (const double kappa : {0.2, 0.276, 0.32}) {
      for (const bool antiperiodic : {true, false}) {
        CAPTURE(L);
        CAPTURE(kappa);
        CAPTURE(antiperiodic);
        const auto theta = latflow::u1_test::random_links(4, L);
        const Values common = {
            {"L", L},
            {"kappa", kappa},
            {"boundary",
             std::string(antiperiodic ? "antiperiodic" : "periodic")}};
        auto dense_values = common;
        dense_values.push_back({"logdet", std::string("dense")});
        const auto dense = schwinger(dense_values);
        const auto even_odd = schwinger(common);
        CHECK(max_diff(dense->evaluate(theta), even_odd->evaluate(theta)) <
              1e-10);
        for (const std::string name : {"chiral_condensate", "det_sign"}) {
          CAPTURE(name);
          CHECK(max_diff(observable(*dense, name)->measure(theta),
                         observable(*even_odd, name)->measure(theta)) < 1e-10);
        }

        // Im det / |det| through the complex log-determinant.
        const latflow::u1::WilsonDirac dirac(L, kappa, antiperiodic,
                                             torch::kCPU);
        const auto phase_dense =
            latflow::u1::det_phase(dirac.dense(theta, torch::kComplexDouble));
        const auto phase_even_odd = latflow::u1::det_phase(
            dirac.even_odd(theta, torch::kComplexDouble));
        CHECK(torch::imag(phase_dense).abs().max().item<double>() < 1e-10);
        CHECK(torch::imag(phase_even_odd).abs().max().item<double>() < 1e-10);
        CHECK(max_diff(torch::real(phase_dense), torch::real(phase_even_odd)) <
              1e-10);
      }
    }
  }
}

TEST_CASE("schwinger_wilson: S and observables are gauge invariant") {
  torch::manual_seed(22);
  struct Case {
    int64_t L;
    std::string logdet;
  };
  // L = 3 has no even-odd split: the dense operator on an odd torus.
  for (const auto& c : {Case{4, "dense"}, Case{4, "even_odd"},
                        Case{6, "even_odd"}, Case{3, "dense"}}) {
    CAPTURE(c.L);
    CAPTURE(c.logdet);
    const auto action =
        schwinger({{"L", c.L}, {"logdet", c.logdet}, {"kappa", 0.3}});
    const auto theta = latflow::u1_test::random_links(8, c.L);
    const auto transformed = latflow::u1_test::gauge_transform(theta);
    CHECK(max_diff(action->evaluate(theta), action->evaluate(transformed)) <
          1e-10);
    for (const auto& [name, value] : action->parts(theta)) {
      CAPTURE(name);
      CHECK(max_diff(value, part(*action, transformed, name)) < 1e-10);
    }
    const auto parts = action->parts(theta);
    CHECK(max_diff(parts.at(0).second + parts.at(1).second,
                   action->evaluate(theta)) < 1e-12);
    std::vector<std::string> names;
    for (const auto& o : action->observables()) {
      CAPTURE(o->name());
      names.push_back(o->name());
      const auto value = o->measure(theta);
      CHECK((value.scalar_type() == torch::kFloat64));
      CHECK(value.sizes().vec() == std::vector<int64_t>{8});
      CHECK(max_diff(value, o->measure(transformed)) < 1e-10);
    }
    CHECK(names == std::vector<std::string>{"mean_plaquette",
                                            "topological_charge", "q2",
                                            "chiral_condensate", "det_sign"});
    const auto q = observable(*action, "topological_charge")->measure(theta);
    CHECK(max_diff(q, torch::round(q)) < 1e-9);
  }
}

TEST_CASE("schwinger_wilson: autograd force equals central differences") {
  torch::manual_seed(23);
  const auto theta = latflow::u1_test::random_links(1, 4);
  for (const std::string logdet : {"dense", "even_odd"}) {
    CAPTURE(logdet);
    const Values values = {{"L", int64_t{4}}, {"logdet", logdet}};

    // complex128: differences with h = 1e-5 are good to ~1e-10.
    const auto action = schwinger(values);
    const auto force = latflow::u1_test::autograd_force(*action, theta);
    const double scale = force.abs().max().item<double>();
    CHECK(max_diff(force, latflow::u1_test::finite_difference_force(
                              *action, theta, 1e-5)) < 1e-7 * scale);

    // complex64 (float32 action, determinant "auto"): differences in single
    // precision need a large step, good to ~1e-3 of the force.
    const auto single =
        make_action("schwinger_wilson", values, torch::kFloat32);
    const auto theta32 = theta.to(torch::kFloat32);
    const auto force32 = latflow::u1_test::autograd_force(*single, theta32);
    CHECK((force32.scalar_type() == torch::kFloat32));
    CHECK(max_diff(force32, latflow::u1_test::finite_difference_force(
                                *single, theta32, 1e-2)) < 1e-2 * scale);
    // and to float32 round-off of the complex128 force.
    CHECK(max_diff(force32, force) < 1e-4 * scale);
  }
}

TEST_CASE("schwinger_wilson: precisions of the action and the determinant") {
  torch::manual_seed(24);
  const auto theta = latflow::u1_test::random_links(3, 4);
  const Values values = {{"L", int64_t{4}}};
  const auto reference = schwinger(values)->evaluate(theta);

  const auto single = make_action("schwinger_wilson", values, torch::kFloat32);
  const auto s32 = single->evaluate(theta.to(torch::kFloat32));
  CHECK((s32.scalar_type() == torch::kFloat32));
  CHECK(max_diff(s32, reference) < 1e-4);

  auto wide = values;
  wide.push_back({"determinant", std::string("complex128")});
  const auto mixed = make_action("schwinger_wilson", wide, torch::kFloat32);
  CHECK((mixed->evaluate(theta.to(torch::kFloat32)).scalar_type() ==
         torch::kFloat32));
  CHECK(max_diff(part(*mixed, theta.to(torch::kFloat32), "fermion"),
                 part(*schwinger(values), theta, "fermion")) < 1e-5);

  auto narrow = values;
  narrow.push_back({"determinant", std::string("complex64")});
  const auto s = schwinger(narrow)->evaluate(theta);
  CHECK((s.scalar_type() == torch::kFloat64));
  CHECK(max_diff(s, reference) < 1e-4);
  CHECK(max_diff(s, reference) > 0);
}

TEST_CASE("schwinger_wilson: bad parameters are errors naming the key") {
  using latflow::u1_test::input_error;
  for (const double kappa : {0.0, -0.1, 0.5, 0.7}) {
    CAPTURE(kappa);
    const auto message = input_error([&] { schwinger({{"kappa", kappa}}); });
    CHECK(message.find("kappa: expected") != std::string::npos);
    CHECK(message.find("(0, 0.5)") != std::string::npos);
  }
  const auto beta = input_error([] { schwinger({{"beta", -1.0}}); });
  CHECK(beta.find("beta: expected") != std::string::npos);
  const auto flavours = input_error([] {
    schwinger({{"flavours", int64_t{0}}});
  });
  CHECK(flavours.find("flavours: expected") != std::string::npos);
  const auto boundary = input_error([] {
    schwinger({{"boundary", std::string("open")}});
  });
  CHECK(boundary.find("boundary: expected") != std::string::npos);
  CHECK(boundary.find("\"periodic\"") != std::string::npos);
  const auto precision = input_error([] {
    schwinger({{"determinant", std::string("complex32")}});
  });
  CHECK(precision.find("determinant: expected") != std::string::npos);

  // Odd L with the even-odd reduction: the file position of L.
  auto& registry = latflow::test::registry();
  auto params =
      latflow::make_params(registry, "action", "schwinger_wilson", {});
  params.set("L", int64_t{5}, latflow::Source{"exp.toml", 12, 5});
  const auto odd = input_error(
      [&] { registry.make<latflow::Action>(params, latflow::BuildContext{}); });
  CHECK(odd.rfind("exp.toml:12:5: [action] L: must be even for logdet = "
                  "\"even_odd\"",
                  0) == 0);
  params.set("logdet", std::string("dense"), std::nullopt);
  CHECK(registry.make<latflow::Action>(params, latflow::BuildContext{})
            ->evaluate(torch::zeros({1, 2, 5, 5}, torch::kFloat64))
            .isfinite()
            .all()
            .item<bool>());

  const auto action = schwinger({{"L", int64_t{6}}});
  const auto shape = input_error([&] {
    action->evaluate(torch::zeros({1, 2, 4, 4}, torch::kFloat64));
  });
  CHECK(shape ==
        "action schwinger_wilson: expected link angles of shape "
        "(B, 2, 6, 6), got (1, 2, 4, 4)");
}
