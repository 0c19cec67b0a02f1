// Unit tests of flow/u1_equivariant: masks, invertibility, log-det against a
// brute-force Jacobian, gauge equivariance, precisions and input errors.
#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/flow.h>
#include <latflow/registry.h>
#include <torch/torch.h>

#include "masks.h"

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace {

using latflow::ParamValue;
using Values = std::vector<std::pair<std::string, ParamValue>>;

constexpr double kTwoPi = 6.283185307179586476925286766559;

/// P(x) = theta_0(x) + theta_1(x + e0) - theta_0(x + e1) - theta_1(x),
/// unwrapped, as written in PHYSICS.md 3.2.
torch::Tensor plaquette(const torch::Tensor& theta) {
  const auto t0 = theta.select(1, 0);
  const auto t1 = theta.select(1, 1);
  return t0 + torch::roll(t1, {-1}, {1}) - torch::roll(t0, {-1}, {2}) - t1;
}

/// A field of the given kind for the flow's BuildContext. Test-only: the
/// flow needs nothing of the action but its field.
class FieldOnlyAction final : public latflow::Action {
 public:
  FieldOnlyAction(std::string kind, std::vector<int64_t> shape)
      : field_{std::move(kind), std::move(shape)} {}

  latflow::FieldSpec field() const override { return field_; }
  /// The U(1) gauge action at beta = 1.
  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    return -torch::cos(plaquette(configs)).sum({1, 2});
  }

 private:
  latflow::FieldSpec field_;
};

/// A flow with its action, which must outlive it.
struct Built {
  std::shared_ptr<FieldOnlyAction> action;
  std::shared_ptr<latflow::Flow> flow;
};

Built make_flow(int64_t extent, torch::Dtype dtype, const Values& values) {
  Built built;
  built.action = std::make_shared<FieldOnlyAction>(
      "u1", std::vector<int64_t>{2, extent, extent});
  auto& registry = latflow::test::registry();
  latflow::BuildContext context;
  context.flow_dtype = dtype;
  context.action = built.action.get();
  built.flow = registry.make<latflow::Flow>(
      latflow::make_params(registry, "flow", "u1_equivariant", values),
      context);
  return built;
}

/// Small conditioners keep the suite fast; the architecture is otherwise
/// the reference one.
Values small(const std::string& masks, const std::string& map,
             int64_t layers = 8) {
  return {{"masks", masks},     {"map", map},
          {"layers", layers},   {"hidden", std::vector<int64_t>{8, 8}},
          {"bins", int64_t{6}}, {"components", int64_t{3}}};
}

/// Replaces every parameter by a random draw, so that each layer is far
/// from the identity: weights with variance 1 / fan-in, biases with
/// standard deviation 0.1. Eight such layers move links by up to ~1.5 rad
/// and keep the maps' slopes within a few e-folds of 1, as trained flows
/// do; steeper random maps make the round trip ill-conditioned (the
/// inverse amplifies round-off by 1 / f').
void randomise(latflow::Flow& flow, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : flow.parameters()) {
    const double fan_in =
        p.dim() > 1 ? static_cast<double>(p.numel() / p.size(0)) : 1.0;
    const double scale = p.dim() > 1 ? 1.0 / std::sqrt(fan_in) : 0.1;
    p.copy_(scale * torch::randn(p.sizes(), torch::kFloat64));
  }
}

/// Largest distance on the circle between two angle tensors, in float64.
double circle_distance(const torch::Tensor& a, const torch::Tensor& b) {
  const auto d =
      torch::remainder(a.to(torch::kFloat64) - b.to(torch::kFloat64), kTwoPi);
  return torch::minimum(d, kTwoPi - d).max().item<double>();
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

/// The gauge transformation theta_mu(x) + a(x) - a(x + mu).
torch::Tensor gauge_transform(const torch::Tensor& theta,
                              const torch::Tensor& a) {
  return torch::stack({theta.select(1, 0) + a - torch::roll(a, {-1}, {1}),
                       theta.select(1, 1) + a - torch::roll(a, {-1}, {2})},
                      1);
}

std::string input_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const latflow::InputError& e) {
    return e.what();
  }
  return "";
}

std::string dtype_name(torch::Dtype dtype) { return c10::toString(dtype); }

const std::vector<std::pair<std::string, std::string>> kVariants{
    {"albergo8", "spline"},
    {"albergo8", "ncp"},
    {"stripes", "spline"},
    {"stripes", "ncp"}};

}  // namespace

TEST_CASE("masks update each link through exactly one active plaquette") {
  using latflow::u1_equivariant::make_layer_mask;
  using latflow::u1_equivariant::MaskScheme;
  const int64_t extent = 8;
  for (const auto scheme : {MaskScheme::kStripes, MaskScheme::kAlbergo8}) {
    std::vector<std::string> patterns;
    for (int64_t layer = 0; layer < 16; ++layer) {
      CAPTURE(layer);
      const auto mask = make_layer_mask(scheme, layer, extent, extent);
      const auto active = mask.active.to(torch::kFloat64);
      const auto frozen = mask.frozen.to(torch::kFloat64);

      // Updated links as a (1, 2, L, L) indicator; through plaquette() each
      // plaquette counts its updated links with their orientation, and
      // through the same sum with all signs + their number.
      auto links = torch::zeros({1, 2, extent, extent}, torch::kFloat64);
      links.select(1, mask.mu).copy_(active.unsqueeze(0));
      const auto signed_count = plaquette(links).squeeze(0);
      const auto l0 = links.select(1, 0).squeeze(0);
      const auto l1 = links.select(1, 1).squeeze(0);
      const auto count =
          l0 + torch::roll(l1, {-1}, {0}) + torch::roll(l0, {-1}, {1}) + l1;

      // Active plaquettes hold one updated link, with orientation `sign`.
      CHECK(max_abs((count - 1) * active) == 0);
      CHECK(max_abs((signed_count - mask.sign) * active) == 0);
      // Frozen plaquettes hold none, and are not active.
      CHECK(max_abs(count * frozen) == 0);
      CHECK(max_abs(active * frozen) == 0);
      // The other plaquette of each updated link (at x - e_nu) is passive.
      const int64_t nu = 1 - mask.mu;
      const auto other = torch::roll(active, {-1}, {nu});
      CHECK(max_abs(other * active) == 0);
      CHECK(max_abs(other * frozen) == 0);
      // Loops fed to the conditioner hold no updated link: the loop along d
      // is P(x) + P(x + e_d), and their shared link cancels.
      if (mask.loops.defined()) {
        for (int64_t d = 0; d < 2; ++d) {
          const auto shared =
              d == 0 ? torch::roll(l1, {-1}, {0}) : torch::roll(l0, {-1}, {1});
          const auto loop_count =
              count + torch::roll(count, {-1}, {d}) - 2 * shared;
          CHECK(max_abs(loop_count *
                        mask.loops.select(0, d).to(torch::kFloat64)) == 0);
        }
        CHECK(mask.loops.select(0, 1 - mask.mu).sum().item<int64_t>() > 0);
      }
      // A quarter of the links of direction mu per layer.
      CHECK(active.sum().item<double>() == extent * extent / 4);

      std::ostringstream key;
      key << mask.mu << mask.active;
      patterns.push_back(key.str());
    }
    // The cycle has 8 distinct patterns and repeats after them.
    for (size_t i = 0; i < 8; ++i) {
      CHECK(patterns[i] == patterns[i + 8]);
      for (size_t j = 0; j < i; ++j) CHECK(patterns[i] != patterns[j]);
    }
  }
}

TEST_CASE("prior is uniform on [0, 2 pi) with the flat-measure density") {
  auto built = make_flow(8, torch::kFloat32, small("albergo8", "spline", 1));
  auto& flow = *built.flow;
  const auto z = flow.sample_prior(500);
  CHECK((z.sizes() == torch::IntArrayRef({500, 2, 8, 8})));
  CHECK(dtype_name(z.scalar_type()) == dtype_name(torch::kFloat32));
  CHECK(z.min().item<double>() >= 0.0);
  CHECK(z.max().item<double>() < kTwoPi);
  CHECK(z.mean().item<double>() == doctest::Approx(kTwoPi / 2).epsilon(0.01));
  const auto log_prob = flow.prior_log_prob(z);
  CHECK(dtype_name(log_prob.scalar_type()) == dtype_name(torch::kFloat64));
  CHECK((log_prob.sizes() == torch::IntArrayRef({500})));
  CHECK(max_abs(log_prob + 2 * 64 * std::log(kTwoPi)) < 1e-9);
}

TEST_CASE("untrained flow is close to, but not exactly, the identity") {
  auto built = make_flow(8, torch::kFloat64, {});
  auto& flow = *built.flow;
  torch::manual_seed(3);
  const auto z = flow.sample_prior(8);
  const auto out = flow.forward(z);
  const double moved = circle_distance(out.x, z);
  CHECK(moved > 0.0);
  CHECK(moved < 0.05);
  CHECK(max_abs(out.log_det) < 1.0);
}

TEST_CASE("inverse(forward(U)) = U in float64 for every mask and map") {
  for (const auto& [masks, map] : kVariants) {
    CAPTURE(masks);
    CAPTURE(map);
    auto built = make_flow(8, torch::kFloat64, small(masks, map));
    auto& flow = *built.flow;
    randomise(flow, 21);
    torch::NoGradGuard no_grad;
    const auto z = flow.sample_prior(16);
    const auto fwd = flow.forward(z);
    const auto inv = flow.inverse(fwd.x);

    CHECK(dtype_name(fwd.x.scalar_type()) == dtype_name(torch::kFloat64));
    CHECK(dtype_name(fwd.log_det.scalar_type()) == dtype_name(torch::kFloat64));
    CHECK(fwd.x.min().item<double>() >= 0.0);
    CHECK(fwd.x.max().item<double>() < kTwoPi);
    // The randomised flow moves the links and changes the volume.
    CHECK(circle_distance(fwd.x, z) > 0.5);
    CHECK(max_abs(fwd.log_det) > 0.5);

    CHECK(circle_distance(inv.x, z) < 1e-10);
    CHECK(max_abs(fwd.log_det + inv.log_det) < 1e-10);
  }
}

TEST_CASE("inverse(forward(U)) = U in float32 and bfloat16") {
  // Stated tolerances. float32: 1e-4 rad and 1e-3 in the log-det (a sum of
  // V / 4 terms per layer, each good to ~1e-6); measured 7e-6 and 3e-5.
  // bfloat16: conditioners in bfloat16 on float32 link angles, so the
  // inverse starts from the plaquettes the forward pass ended with, up to
  // float32 round-off; that round-off may still tip a rounding of the
  // conditioner's 16-bit input at a few sites, which the splines pass on.
  // 99% of links back within 0.01 rad, all within 0.05, log-dets
  // cancelling to 0.1; measured at most 1.7e-3, 9e-3 and 0.042 (with
  // 16-bit configurations: 0.03, 0.13 and 0.9).
  for (const auto& [masks, map] : kVariants) {
    CAPTURE(masks);
    CAPTURE(map);
    for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      CAPTURE(dtype_name(dtype));
      auto built = make_flow(8, dtype, small(masks, map));
      auto& flow = *built.flow;
      randomise(flow, 22);
      torch::NoGradGuard no_grad;
      const auto z = flow.sample_prior(16);
      const auto fwd = flow.forward(z);
      const auto inv = flow.inverse(fwd.x);
      for (const auto& t : {z, fwd.x, inv.x}) {
        CHECK(dtype_name(t.scalar_type()) == dtype_name(torch::kFloat32));
      }
      CHECK(dtype_name(fwd.log_det.scalar_type()) ==
            dtype_name(torch::kFloat64));
      for (const auto& t : {fwd.x, inv.x}) {
        const auto t64 = t.to(torch::kFloat64);
        CHECK(torch::isfinite(t64).all().item<bool>());
        CHECK(t64.min().item<double>() >= 0.0);
        CHECK(t64.max().item<double>() < kTwoPi);
      }
      CHECK(torch::isfinite(fwd.log_det).all().item<bool>());
      CHECK(torch::isfinite(inv.log_det).all().item<bool>());
      if (dtype == torch::kFloat32) {
        CHECK(circle_distance(inv.x, z) < 1e-4);
        CHECK(max_abs(fwd.log_det + inv.log_det) < 1e-3);
      } else {
        const auto d = torch::remainder(
            inv.x.to(torch::kFloat64) - z.to(torch::kFloat64), kTwoPi);
        const auto dist = torch::minimum(d, kTwoPi - d).flatten();
        const double q99 = torch::quantile(dist, 0.99).item<double>();
        const double worst = dist.max().item<double>();
        const double log_det = max_abs(fwd.log_det + inv.log_det);
        MESSAGE("bfloat16 round trip: 99% of links within " << q99
                << " rad, all within " << worst << ", log-det " << log_det);
        CHECK(q99 < 0.01);
        CHECK(worst < 0.05);
        CHECK(log_det < 0.1);
      }
    }
  }
}

TEST_CASE("log-det equals a brute-force Jacobian on a 4x4 lattice") {
  // All 2V = 32 link angles: row i of the Jacobian is the gradient of
  // output i, taken at copy i of the configuration in one batch.
  const int64_t links = 32;
  for (const auto& [masks, map] : kVariants) {
    CAPTURE(masks);
    CAPTURE(map);
    auto built = make_flow(4, torch::kFloat64, small(masks, map));
    auto& flow = *built.flow;
    randomise(flow, 31);
    torch::manual_seed(32);
    const auto z = flow.sample_prior(1);

    const auto copies = z.expand({links, 2, 4, 4}).clone().requires_grad_(true);
    const auto fwd = flow.forward(copies);
    const auto rows = fwd.x.reshape({links, links}).diagonal().sum();
    const auto jacobian =
        torch::autograd::grad({rows}, {copies})[0].reshape({links, links});
    const auto [sign, log_abs_det] = torch::linalg::slogdet(jacobian);

    CHECK(sign.item<double>() > 0.0);
    CHECK(std::abs(log_abs_det.item<double>()) > 0.1);
    CHECK(max_abs(fwd.log_det - log_abs_det) < 1e-8);
  }
}

TEST_CASE("flow is gauge equivariant: f(g . U) = g . f(U)") {
  for (const auto& [masks, map] : kVariants) {
    CAPTURE(masks);
    CAPTURE(map);
    auto built = make_flow(8, torch::kFloat64, small(masks, map));
    auto& flow = *built.flow;
    randomise(flow, 41);
    torch::NoGradGuard no_grad;
    torch::manual_seed(42);
    const auto z = flow.sample_prior(8);
    const auto a = kTwoPi * torch::rand({8, 8, 8}, torch::kFloat64);

    const auto transformed = flow.forward(gauge_transform(z, a));
    const auto plain = flow.forward(z);
    CHECK(circle_distance(transformed.x, gauge_transform(plain.x, a)) < 1e-10);
    CHECK(max_abs(transformed.log_det - plain.log_det) < 1e-10);
    // The transformation really moved the links.
    CHECK(circle_distance(gauge_transform(z, a), z) > 1.0);
  }
}

TEST_CASE("both passes give every parameter a finite gradient") {
  // reinforce differentiates the inverse's log-det at fixed configurations;
  // reparam differentiates the forward pass, configurations included.
  for (const auto& [masks, map] : kVariants) {
    CAPTURE(masks);
    CAPTURE(map);
    for (const bool invert : {true, false}) {
      CAPTURE(invert);
      auto built = make_flow(8, torch::kFloat32, small(masks, map));
      auto& flow = *built.flow;
      randomise(flow, 51);
      torch::manual_seed(52);
      const auto z = flow.sample_prior(4);
      if (invert) {
        torch::Tensor x;
        {
          torch::NoGradGuard no_grad;
          x = flow.forward(z).x;
        }
        flow.inverse(x).log_det.sum().backward();
      } else {
        const auto out = flow.forward(z);
        (out.log_det.sum() - torch::cos(plaquette(out.x)).sum()).backward();
      }
      for (const auto& p : flow.named_parameters()) {
        CAPTURE(p.key());
        REQUIRE(p.value().grad().defined());
        CHECK(torch::isfinite(p.value().grad()).all().item<bool>());
        CHECK(max_abs(p.value().grad()) > 0.0);
      }
    }
  }
}

TEST_CASE("reference architecture: parameter count and save/load") {
  // 48 layers of 6 -> 64 -> 64 -> 25 convolutions, kernel 3, with biases.
  const int64_t per_layer =
      (6 * 64 * 9 + 64) + (64 * 64 * 9 + 64) + (64 * 25 * 9 + 25);
  auto built = make_flow(8, torch::kFloat32, {{"layers", int64_t{48}}});
  int64_t count = 0;
  for (const auto& p : built.flow->parameters()) count += p.numel();
  CHECK(count == 48 * per_layer);
  CHECK(count == 2633904);

  // Module::save and load see every conditioner.
  auto a = make_flow(8, torch::kFloat64, small("albergo8", "spline", 4));
  auto b = make_flow(8, torch::kFloat64, small("albergo8", "spline", 4));
  randomise(*a.flow, 61);
  randomise(*b.flow, 62);
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    a.flow->save(archive);
    archive.save_to(stream);
  }
  {
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    b.flow->load(archive);
  }
  torch::NoGradGuard no_grad;
  const auto z = a.flow->sample_prior(4);
  const auto fa = a.flow->forward(z);
  const auto fb = b.flow->forward(z);
  CHECK(max_abs(fa.x - fb.x) == 0);
  CHECK(max_abs(fa.log_det - fb.log_det) == 0);
}

TEST_CASE("bad lattices and fields are refused with the reason") {
  for (const auto* masks : {"albergo8", "stripes"}) {
    CAPTURE(masks);
    const auto message = input_error([&] {
      make_flow(6, torch::kFloat32, {{"masks", std::string(masks)}});
    });
    CHECK(message.find("L = 6") != std::string::npos);
    CHECK(message.find(masks) != std::string::npos);
    CHECK(message.find("divisible by 4") != std::string::npos);
  }

  const auto scalar = input_error([] {
    FieldOnlyAction phi4("scalar", {8, 8});
    auto& registry = latflow::test::registry();
    latflow::BuildContext context;
    context.action = &phi4;
    registry.make<latflow::Flow>(
        latflow::make_params(registry, "flow", "u1_equivariant"), context);
  });
  CHECK(scalar.find("\"u1\"") != std::string::npos);
  CHECK(scalar.find("\"scalar\"") != std::string::npos);

  const auto dilations = input_error([] {
    make_flow(8, torch::kFloat32, {{"dilations", std::vector<int64_t>{1, 2}}});
  });
  CHECK(dilations.find("dilations") != std::string::npos);
  CHECK(dilations.find("len(hidden) + 1 = 3") != std::string::npos);

  const auto kernel = input_error([] {
    make_flow(8, torch::kFloat32, {{"kernel", int64_t{4}}});
  });
  CHECK(kernel.find("odd") != std::string::npos);
}
