// action/u1_gauge: the action, its observables and its exact results.
#include <latflow/action.h>
#include <latflow/error.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "u1/u1_test_helpers.h"

namespace {

using latflow::u1_test::kPi;
using latflow::u1_test::make_action;
using latflow::u1_test::max_diff;
using latflow::u1_test::observable;

/// Gauss-Legendre nodes and weights on [a, b], by Newton's method on the
/// Legendre polynomial P_n.
struct Quadrature {
  std::vector<double> x;
  std::vector<double> w;
};

Quadrature gauss_legendre(int n, double a, double b) {
  Quadrature q;
  for (int i = 1; i <= n; ++i) {
    double z = std::cos(kPi * (i - 0.25) / (n + 0.5));
    double derivative = 0;
    for (int iteration = 0; iteration < 100; ++iteration) {
      double p0 = 1;
      double p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      derivative = n * (z * p1 - p0) / (z * z - 1);
      const double step = p1 / derivative;
      z -= step;
      if (std::abs(step) < 1e-16) break;
    }
    q.x.push_back(0.5 * (b - a) * z + 0.5 * (b + a));
    q.w.push_back((b - a) / ((1 - z * z) * derivative * derivative));
  }
  return q;
}

/// Density (up to a constant) of the sum of two wrapped plaquettes, each
/// with weight e^{beta cos p} on [-pi, pi).
double two_plaquettes(double u, double beta) {
  const double lo = std::max(-kPi, u - kPi);
  const double hi = std::min(kPi, u + kPi);
  if (lo >= hi) return 0;
  const auto q = gauss_legendre(48, lo, hi);
  double sum = 0;
  for (size_t i = 0; i < q.x.size(); ++i) {
    sum += q.w[i] *
           std::exp(beta * std::cos(q.x[i]) + beta * std::cos(u - q.x[i]));
  }
  return sum;
}

/// Density of the sum of four, at s, integrating over the pieces on which
/// the integrand is smooth (kinks at u = 0 and u = s).
double four_plaquettes(double s, double beta) {
  std::vector<double> cuts = {-2 * kPi, 0.0, s, 2 * kPi};
  std::sort(cuts.begin(), cuts.end());
  double sum = 0;
  for (size_t piece = 0; piece + 1 < cuts.size(); ++piece) {
    if (cuts[piece + 1] <= cuts[piece]) continue;
    const auto q = gauss_legendre(48, cuts[piece], cuts[piece + 1]);
    for (size_t i = 0; i < q.x.size(); ++i) {
      sum += q.w[i] * two_plaquettes(q.x[i], beta) *
             two_plaquettes(s - q.x[i], beta);
    }
  }
  return sum;
}

/// On the 2 x 2 torus, log Z (flat measure) and <cos P> by the trapezoid
/// rule over the 5 links left by fixing the maximal tree theta_0(0, 0) =
/// theta_1(0, 0) = theta_1(1, 0) = 0; the tree's 3 links contribute
/// (2 pi)^3. The integrand is periodic and analytic, so the rule converges
/// geometrically: with m points the error is of order (I_{m/2} / I_0)^2.
std::pair<double, double> integrate_2x2(const latflow::Action& action,
                                        int64_t m) {
  const auto mean_plaquette = observable(action, "mean_plaquette");
  const int64_t per_chunk = m * m * m * m;
  const auto inner = torch::arange(per_chunk, torch::kLong);
  double z = 0;
  double plaquette = 0;
  for (int64_t first = 0; first < m; ++first) {
    auto theta = torch::zeros({per_chunk, 2, 2, 2}, torch::kFloat64);
    const double step = 2 * kPi / static_cast<double>(m);
    auto digit = [&](int64_t k) {
      return (torch::div(inner, static_cast<int64_t>(std::pow(m, k)), "floor") %
              m)
                 .to(torch::kFloat64) *
             step;
    };
    theta.select(1, 0).select(1, 0).select(1, 1).fill_(first * step);
    theta.select(1, 0).select(1, 1).select(1, 0).copy_(digit(0));
    theta.select(1, 0).select(1, 1).select(1, 1).copy_(digit(1));
    theta.select(1, 1).select(1, 0).select(1, 1).copy_(digit(2));
    theta.select(1, 1).select(1, 1).select(1, 1).copy_(digit(3));
    const auto weight = torch::exp(-action.evaluate(theta));
    z += weight.sum().item<double>();
    plaquette += (weight * mean_plaquette->measure(theta)).sum().item<double>();
  }
  const double log_z =
      std::log(z) + 5 * std::log(2 * kPi / m) + 3 * std::log(2 * kPi);
  return {log_z, plaquette / z};
}

}  // namespace

TEST_CASE("u1_gauge: action, plaquettes and charge of known fields") {
  const auto action =
      make_action("u1_gauge", {{"L", int64_t{4}}, {"beta", 1.5}});
  CHECK(action->field().kind == "u1");
  CHECK(action->field().shape == std::vector<int64_t>{2, 4, 4});

  // Cold start: every plaquette 0.
  const auto cold = torch::zeros({1, 2, 4, 4}, torch::kFloat64);
  CHECK(action->evaluate(cold).item<double>() == doctest::Approx(-1.5 * 16));
  CHECK(observable(*action, "mean_plaquette")->measure(cold).item<double>() ==
        1.0);
  // Charge 0 is +0, not -0, so that it prints as 0.
  CHECK_FALSE(std::signbit(
      observable(*action, "topological_charge")->measure(cold).item<double>()));

  // Constant field strength 2 pi / V: charge 1 (see schwinger_reference.py).
  auto theta = torch::zeros({1, 2, 4, 4}, torch::kFloat64);
  for (int64_t x0 = 0; x0 < 4; ++x0) {
    for (int64_t x1 = 0; x1 < 4; ++x1) {
      theta[0][1][x0][x1] = 2 * kPi * static_cast<double>(x0) / 16;
    }
    theta[0][0][3][x0] = -2 * kPi * static_cast<double>(x0) / 4;
  }
  theta = torch::remainder(theta, 2 * kPi);
  const double p = 2 * kPi / 16;
  CHECK(action->evaluate(theta).item<double>() ==
        doctest::Approx(-1.5 * 16 * std::cos(p)).epsilon(1e-13));
  CHECK(observable(*action, "topological_charge")
            ->measure(theta)
            .item<double>() == 1.0);
  CHECK(observable(*action, "topological_charge")
            ->measure(torch::remainder(-theta, 2 * kPi))
            .item<double>() == -1.0);
  CHECK(observable(*action, "q2")->measure(theta).item<double>() == 1.0);
  CHECK(action->parts(theta).at(0).first == "gauge");
}

TEST_CASE("u1_gauge: gauge invariance, integer charge, float64 observables") {
  torch::manual_seed(11);
  const auto action = make_action("u1_gauge", {{"L", int64_t{6}}});
  const auto theta = latflow::u1_test::random_links(16, 6);
  const auto transformed = latflow::u1_test::gauge_transform(theta);
  CHECK(max_diff(action->evaluate(theta), action->evaluate(transformed)) <
        1e-12);
  for (const auto& o : action->observables()) {
    CAPTURE(o->name());
    const auto value = o->measure(theta);
    CHECK((value.scalar_type() == torch::kFloat64));
    CHECK(value.sizes().vec() == std::vector<int64_t>{16});
    CHECK(max_diff(value, o->measure(transformed)) < 1e-12);
  }
  const auto q = observable(*action, "topological_charge")->measure(theta);
  CHECK(max_diff(q, torch::round(q)) < 1e-9);
  // Uniform links on 6 x 6 carry charge: <Q^2> = V / 12 = 3 at beta = 0.
  CHECK(q.abs().max().item<double>() >= 1);

  // The charge through the definition (1/2 pi) sum wrap(P).
  const auto p = theta.select(1, 0) + torch::roll(theta.select(1, 1), -1, 1) -
                 torch::roll(theta.select(1, 0), -1, 2) - theta.select(1, 1);
  const auto wrapped = torch::remainder(p + kPi, 2 * kPi) - kPi;
  CHECK(max_diff(q, wrapped.sum({1, 2}) / (2 * kPi)) < 1e-9);
}

TEST_CASE("u1_gauge: autograd force equals central differences") {
  torch::manual_seed(12);
  const auto action =
      make_action("u1_gauge", {{"L", int64_t{4}}, {"beta", 2.0}});
  const auto theta = latflow::u1_test::random_links(1, 4);
  const auto force = latflow::u1_test::autograd_force(*action, theta);
  const auto fd =
      latflow::u1_test::finite_difference_force(*action, theta, 1e-5);
  const double scale = force.abs().max().item<double>();
  CHECK(max_diff(force, fd) < 1e-7 * scale);

  // The analytic force: dS/dtheta_0(x) = beta (sin P(x) - sin P(x - e1)).
  const auto p = theta.select(1, 0) + torch::roll(theta.select(1, 1), -1, 1) -
                 torch::roll(theta.select(1, 0), -1, 2) - theta.select(1, 1);
  const auto expected =
      2.0 * (torch::sin(p) - torch::roll(torch::sin(p), 1, 2));
  CHECK(max_diff(force.select(1, 0), expected) < 1e-12);
}

TEST_CASE("u1_gauge: exact F and <cos P> equal direct integration, 2 x 2") {
  for (const double beta : {1.3, 2.0}) {
    CAPTURE(beta);
    const auto action =
        make_action("u1_gauge", {{"L", int64_t{2}}, {"beta", beta}});
    const auto [log_z, plaquette] = integrate_2x2(*action, 20);
    CHECK(*action->exact_free_energy() ==
          doctest::Approx(-log_z).epsilon(1e-11));
    CHECK(action->exact_observables().at("mean_plaquette") ==
          doctest::Approx(plaquette).epsilon(1e-11));
  }
}

TEST_CASE("u1_gauge: exact <Q^2> equals the sector integrals, 2 x 2") {
  // Z_Q is proportional to the density of the sum of the four wrapped
  // plaquettes at 2 pi Q; on 2 x 2 only Q = -1, 0, 1 have weight.
  for (const double beta : {0.5, 1.0, 2.0}) {
    CAPTURE(beta);
    const auto action =
        make_action("u1_gauge", {{"L", int64_t{2}}, {"beta", beta}});
    const double z0 = four_plaquettes(0, beta);
    const double z1 = four_plaquettes(2 * kPi, beta);
    const double zm = four_plaquettes(-2 * kPi, beta);
    const double q2 = (z1 + zm) / (z0 + z1 + zm);
    CHECK(action->exact_observables().at("q2") ==
          doctest::Approx(q2).epsilon(1e-11));
  }
}

TEST_CASE("u1_gauge: exact <Q^2> agrees with importance sampling of links") {
  // Independent of the sector analysis: uniform link angles weighted by
  // exp(-S), the charge measured by the action's own observable.
  // beta is kept small enough that the weights do not degenerate.
  torch::manual_seed(13);
  struct Case {
    int64_t L;
    double beta;
    int64_t samples;
  };
  for (const auto& c :
       {Case{2, 1.0, int64_t{1} << 20}, Case{4, 0.5, int64_t{1} << 19}}) {
    CAPTURE(c.L);
    const auto action = make_action("u1_gauge", {{"L", c.L}, {"beta", c.beta}});
    const auto theta = latflow::u1_test::random_links(c.samples, c.L);
    const auto weight = torch::exp(-action->evaluate(theta));
    const auto q2 = observable(*action, "q2")->measure(theta);
    const double total = weight.sum().item<double>();
    const double estimate = (weight * q2).sum().item<double>() / total;
    const double error =
        std::sqrt(
            (weight.square() * (q2 - estimate).square()).sum().item<double>()) /
        total;
    const double exact = action->exact_observables().at("q2");
    CAPTURE(estimate);
    CAPTURE(error);
    CHECK(error < 0.02 * exact);
    CHECK(std::abs(estimate - exact) < 5 * error);
  }
}

TEST_CASE("u1_gauge: exact results against Bessel functions and limits") {
  for (const int64_t L : {2, 4, 8}) {
    for (const double beta : {0.5, 2.0, 5.0}) {
      CAPTURE(L);
      CAPTURE(beta);
      const double volume = static_cast<double>(L * L);
      const auto action = make_action("u1_gauge", {{"L", L}, {"beta", beta}});
      const auto exact = action->exact_observables();

      // Straight from the character expansion with std::cyl_bessel_i.
      double z = 0;
      double dz = 0;
      for (int n = -40; n <= 40; ++n) {
        const double in = std::cyl_bessel_i(std::abs(n), beta);
        const double derivative =
            0.5 * (std::cyl_bessel_i(std::abs(n - 1), beta) +
                   std::cyl_bessel_i(std::abs(n + 1), beta));
        z += std::pow(in, volume);
        dz += volume * std::pow(in, volume - 1) * derivative;
      }
      const double f = -2 * volume * std::log(2 * kPi) - std::log(z);
      CHECK(*action->exact_free_energy() == doctest::Approx(f).epsilon(1e-12));
      CHECK(exact.at("mean_plaquette") ==
            doctest::Approx(dz / z / volume).epsilon(1e-12));

      // <cos P> = -(1/V) dF/dbeta, by central differences of exact F.
      const double h = 1e-4;
      const auto up = make_action("u1_gauge", {{"L", L}, {"beta", beta + h}});
      const auto down = make_action("u1_gauge", {{"L", L}, {"beta", beta - h}});
      const double derivative =
          (*up->exact_free_energy() - *down->exact_free_energy()) / (2 * h);
      CHECK(exact.at("mean_plaquette") ==
            doctest::Approx(-derivative / volume).epsilon(1e-7));

      CHECK(exact.at("topological_charge") == 0.0);
      CHECK(exact.at("topological_susceptibility") ==
            doctest::Approx(exact.at("q2") / volume));
    }
  }

  // beta = 0: uniform plaquettes, <Q^2> = V / 12, F = -2 V log(2 pi).
  const auto free = make_action("u1_gauge", {{"L", int64_t{6}}, {"beta", 0.0}});
  CHECK(free->exact_observables().at("q2") == doctest::Approx(3.0));
  CHECK(free->exact_observables().at("mean_plaquette") == 0.0);
  CHECK(*free->exact_free_energy() == doctest::Approx(-72 * std::log(2 * kPi)));

  // Large volume: <cos P> -> I_1 / I_0 and <Q^2> / V -> <p^2> / (4 pi^2)
  // of one plaquette with weight e^{beta cos p}.
  const auto large =
      make_action("u1_gauge", {{"L", int64_t{64}}, {"beta", 2.0}});
  CHECK(large->exact_observables().at("mean_plaquette") ==
        doctest::Approx(std::cyl_bessel_i(1, 2.0) / std::cyl_bessel_i(0, 2.0))
            .epsilon(1e-12));
  const auto q = gauss_legendre(96, -kPi, kPi);
  double moment = 0;
  double norm = 0;
  for (size_t i = 0; i < q.x.size(); ++i) {
    const double weight = q.w[i] * std::exp(2.0 * std::cos(q.x[i]));
    moment += weight * q.x[i] * q.x[i];
    norm += weight;
  }
  CHECK(large->exact_observables().at("topological_susceptibility") ==
        doctest::Approx(moment / norm / (4 * kPi * kPi)).epsilon(1e-10));
}

TEST_CASE("u1_gauge: bad parameters name the key") {
  const auto beta = latflow::u1_test::input_error([] {
    make_action("u1_gauge", {{"beta", -0.5}});
  });
  CHECK(beta.find("beta") != std::string::npos);
  CHECK(beta.find(">= 0") != std::string::npos);
  const auto extent = latflow::u1_test::input_error([] {
    make_action("u1_gauge", {{"L", int64_t{1}}});
  });
  CHECK(extent.find("L") != std::string::npos);
  CHECK(extent.find(">= 2") != std::string::npos);

  const auto action = make_action("u1_gauge", {{"L", int64_t{4}}});
  const auto shape = latflow::u1_test::input_error([&] {
    action->evaluate(torch::zeros({3, 2, 4, 5}, torch::kFloat64));
  });
  CHECK(shape ==
        "action u1_gauge: expected link angles of shape (B, 2, 4, "
        "4), got (3, 2, 4, 5)");
}
