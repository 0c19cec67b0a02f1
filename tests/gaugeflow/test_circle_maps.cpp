// Unit tests of the circle maps of flow/u1_equivariant: the circular
// rational-quadratic spline and the mixture of non-compact projections.
#include <torch/torch.h>

#include "circle_map.h"

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

using latflow::u1_equivariant::CircleMap;
using latflow::u1_equivariant::kTwoPi;
using latflow::u1_equivariant::NcpMixture;
using latflow::u1_equivariant::RationalQuadraticSpline;
using latflow::u1_equivariant::wrap_angle;

std::string dtype_name(torch::Dtype dtype) { return c10::toString(dtype); }

/// Largest distance on the circle between two angle tensors, in float64.
double circle_distance(const torch::Tensor& a, const torch::Tensor& b) {
  const auto d =
      torch::remainder(a.to(torch::kFloat64) - b.to(torch::kFloat64), kTwoPi);
  return torch::minimum(d, kTwoPi - d).max().item<double>();
}

struct MapCase {
  std::string name;
  std::shared_ptr<CircleMap> map;
};

std::vector<MapCase> map_cases() {
  return {{"spline", std::make_shared<RationalQuadraticSpline>(8)},
          {"ncp", std::make_shared<NcpMixture>(3)}};
}

/// Raw parameters of n elements drawn at a scale that makes the maps far
/// from the identity (bins of very different sizes, sharp projections).
torch::Tensor random_raw(const CircleMap& map, int64_t n, double scale,
                         torch::Dtype dtype) {
  return (scale * torch::randn({n, map.num_params()}, torch::kFloat64))
      .to(dtype);
}

/// The largest value of the dtype below 2 pi.
torch::Tensor below_two_pi(torch::Dtype dtype) {
  const auto two_pi = torch::full({1}, kTwoPi, torch::kFloat64).to(dtype);
  const auto below = two_pi.to(torch::kFloat64).item<double>() >= kTwoPi
                         ? torch::nextafter(two_pi, torch::zeros_like(two_pi))
                         : two_pi;
  return below;
}

}  // namespace

TEST_CASE("wrap_angle maps every finite angle into [0, 2 pi)") {
  for (const auto dtype :
       {torch::kFloat64, torch::kFloat32, torch::kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    const double tiny = std::numeric_limits<double>::denorm_min();
    const auto inputs =
        torch::tensor({0.0, -0.0, -tiny, -1e-30, -1e-8, kTwoPi, 2 * kTwoPi,
                       -kTwoPi, 1e-30, 3.0, 100.0, -100.0},
                      torch::kFloat64)
            .to(dtype);
    const auto wrapped = wrap_angle(inputs).to(torch::kFloat64);
    CHECK(torch::isfinite(wrapped).all().item<bool>());
    CHECK(wrapped.min().item<double>() >= 0.0);
    CHECK(wrapped.max().item<double>() < kTwoPi);
    // Each input is its wrapped value on the circle, to the dtype's
    // resolution of 2 pi.
    const double tolerance = dtype == torch::kBFloat16 ? 0.1 : 1e-5;
    CHECK(circle_distance(wrapped, inputs) < tolerance);
  }
  // The boundary itself stays put.
  const auto top = below_two_pi(torch::kFloat64);
  CHECK(wrap_angle(top).item<double>() == top.item<double>());
}

TEST_CASE("circle maps are the identity at zero raw parameters") {
  const auto theta =
      torch::linspace(0.0, kTwoPi, 101, torch::kFloat64).narrow(0, 0, 100);
  for (const auto& c : map_cases()) {
    CAPTURE(c.name);
    const auto raw = torch::zeros({100, c.map->num_params()}, torch::kFloat64);
    const auto out = c.map->forward(theta, raw);
    CHECK(circle_distance(out.y, theta) < 1e-12);
    CHECK(out.log_derivative.abs().max().item<double>() < 1e-12);
  }
}

TEST_CASE("circle maps are monotone, periodic and C1 on the circle") {
  torch::manual_seed(11);
  const int64_t maps = 64;
  const int64_t points = 2001;
  // The grid [0, 2 pi) for every map: element (i, j) uses map i.
  const auto theta = torch::linspace(0.0, kTwoPi, points, torch::kFloat64)
                         .narrow(0, 0, points - 1)
                         .expand({maps, points - 1})
                         .contiguous();
  for (const auto& c : map_cases()) {
    CAPTURE(c.name);
    const auto raw = random_raw(*c.map, maps, 2.0, torch::kFloat64)
                         .unsqueeze(1)
                         .expand({maps, points - 1, c.map->num_params()});
    const auto shift = raw.select(-1, c.map->num_params() - 1);
    const auto out = c.map->forward(theta, raw);

    // Undo the rotation: what is left starts at 0 and increases strictly.
    const auto unrotated = wrap_angle(out.y - shift);
    CHECK(circle_distance(unrotated.select(1, 0),
                          torch::zeros({maps}, torch::kFloat64)) < 1e-12);
    CHECK(unrotated.narrow(1, 1, points - 2).min().item<double>() > 0.0);
    CHECK(torch::diff(unrotated.narrow(1, 1, points - 2), 1, 1)
              .min()
              .item<double>() > 0.0);

    // Periodic: the map just below 2 pi meets the map at 0, with the same
    // derivative.
    const auto top = below_two_pi(torch::kFloat64).expand({maps});
    const auto zero = torch::zeros({maps}, torch::kFloat64);
    const auto raw1 = raw.select(1, 0);
    const auto at_zero = c.map->forward(zero, raw1);
    const auto at_top = c.map->forward(top, raw1);
    CHECK(circle_distance(at_zero.y, at_top.y) < 1e-9);
    CHECK((at_zero.log_derivative - at_top.log_derivative)
              .abs()
              .max()
              .item<double>() < 1e-9);
    // f(0) is the rotation itself.
    CHECK(circle_distance(at_zero.y, shift.select(1, 0)) < 1e-12);
  }
}

TEST_CASE("circle map log-derivatives match autograd") {
  torch::manual_seed(12);
  for (const auto& c : map_cases()) {
    CAPTURE(c.name);
    const auto raw = random_raw(*c.map, 500, 2.0, torch::kFloat64);
    const auto theta =
        (kTwoPi * torch::rand({500}, torch::kFloat64)).requires_grad_(true);
    const auto out = c.map->forward(theta, raw);
    const auto grad = torch::autograd::grad({out.y.sum()}, {theta})[0];
    CHECK((grad.log() - out.log_derivative).abs().max().item<double>() < 1e-10);
  }
}

TEST_CASE("circle map inverses are exact and differentiable") {
  // Raw parameters of unit scale already give slopes from ~1e-4 to ~1e2;
  // the inverse then amplifies round-off in y by up to 1e4.
  torch::manual_seed(13);
  for (const auto& c : map_cases()) {
    CAPTURE(c.name);
    const auto raw = random_raw(*c.map, 2000, 1.0, torch::kFloat64);
    const auto theta = kTwoPi * torch::rand({2000}, torch::kFloat64);
    const auto out = c.map->forward(theta, raw);
    const auto back = c.map->inverse(out.y, raw);
    CHECK(circle_distance(back.y, theta) < 1e-10);
    CHECK(
        (out.log_derivative + back.log_derivative).abs().max().item<double>() <
        1e-10);

    // The inverse's derivatives with respect to its input and to every raw
    // parameter, against central differences (relative to 1 + |grad|).
    const int64_t n = 50;
    const auto y = out.y.narrow(0, 0, n).clone().requires_grad_(true);
    const auto r = (0.5 * raw.narrow(0, 0, n)).requires_grad_(true);
    const auto inv = c.map->inverse(y, r);
    const auto grads =
        torch::autograd::grad({inv.y.sum() + inv.log_derivative.sum()}, {y, r});
    const double h = 1e-6;
    auto total = [&](const torch::Tensor& yy, const torch::Tensor& rr) {
      const auto o = c.map->inverse(yy, rr);
      return o.y + o.log_derivative;
    };
    auto mismatch = [](const torch::Tensor& numeric,
                       const torch::Tensor& exact) {
      return ((numeric - exact).abs() / (1.0 + exact.abs()))
          .max()
          .item<double>();
    };
    torch::NoGradGuard no_grad;
    const auto numeric = (total(y + h, r) - total(y - h, r)) / (2 * h);
    CHECK(mismatch(numeric, grads[0]) < 1e-5);
    for (int64_t k = 0; k < c.map->num_params(); ++k) {
      CAPTURE(k);
      auto step = torch::zeros_like(r);
      step.select(1, k).fill_(h);
      const auto numeric_k =
          (total(y, r + step) - total(y, r - step)) / (2 * h);
      CHECK(mismatch(numeric_k, grads[1].select(1, k)) < 1e-5);
    }
  }
}

TEST_CASE("circle maps are finite at the boundary in every dtype") {
  torch::manual_seed(14);
  for (const auto dtype :
       {torch::kFloat64, torch::kFloat32, torch::kBFloat16}) {
    CAPTURE(dtype_name(dtype));
    // 0, the last value below 2 pi, 2 pi as rounded to the dtype, and
    // angles off the circle by round-off.
    const auto boundary =
        torch::cat({torch::tensor({0.0, -0.0, kTwoPi, -1e-30, kTwoPi + 1e-15},
                                  torch::kFloat64)
                        .to(dtype),
                    below_two_pi(dtype)});
    const auto n = boundary.size(0);
    for (const auto& c : map_cases()) {
      CAPTURE(c.name);
      for (const double scale : {0.0, 3.0}) {
        CAPTURE(scale);
        const auto raw = random_raw(*c.map, n, scale, dtype);
        for (const bool invert : {false, true}) {
          CAPTURE(invert);
          const auto out = invert ? c.map->inverse(boundary, raw)
                                  : c.map->forward(boundary, raw);
          CHECK(dtype_name(out.y.scalar_type()) == dtype_name(dtype));
          const auto y = out.y.to(torch::kFloat64);
          CHECK(torch::isfinite(y).all().item<bool>());
          CHECK(torch::isfinite(out.log_derivative).all().item<bool>());
          CHECK(y.min().item<double>() >= 0.0);
          CHECK(y.max().item<double>() < kTwoPi);
        }
      }
    }
  }
}

TEST_CASE("circle map inverses in float32 and bfloat16") {
  // Stated tolerances, as backward errors f(f^-1(y)) - y, since the error
  // in theta is that in y divided by the slope f'. float32: 4e-6 rad,
  // about 8 ulp of 2 pi. bfloat16 (maps evaluated in float32 and rounded
  // back to steps of 2^-6 near 2 pi): 4 steps.
  torch::manual_seed(15);
  for (const auto& c : map_cases()) {
    CAPTURE(c.name);
    const auto theta = kTwoPi * torch::rand({2000}, torch::kFloat64);
    const auto raw = random_raw(*c.map, 2000, 1.0, torch::kFloat64);
    for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      CAPTURE(dtype_name(dtype));
      const auto raw_d = raw.to(dtype);
      const auto y = c.map->forward(theta.to(dtype), raw_d).y;
      const auto back = c.map->inverse(y, raw_d);
      const auto again = c.map->forward(back.y, raw_d).y;
      const double tolerance = dtype == torch::kFloat32 ? 4e-6 : 0.0625;
      CHECK(circle_distance(again, y) < tolerance);
      // Away from the few elements where the slope is small, the angles
      // themselves come back.
      const auto d = torch::remainder(
          back.y.to(torch::kFloat64) - theta.to(dtype).to(torch::kFloat64),
          kTwoPi);
      const auto distance = torch::minimum(d, kTwoPi - d);
      CHECK(distance.median().item<double>() < tolerance);
    }
  }
}
