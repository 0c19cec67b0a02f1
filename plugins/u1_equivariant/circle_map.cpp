#include "circle_map.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace latflow::u1_equivariant {
namespace {

// Smallest bin, as a fraction of the circle, and smallest knot slope: they
// keep the spline's derivative and its inverse bounded (as in nflows,
// arXiv 1906.04032).
constexpr double kMinBinFraction = 1e-3;
constexpr double kMinSlope = 1e-3;
// softplus(log(e - 1)) = 1: zero raw slopes give unit slopes, so that
// all-zero raw parameters give the identity.
const double kUnitSlopeShift = std::log(std::exp(1.0) - 1.0);
// Bound on the NCP log-scales; exp(10) ~ 2e4 is sharper than any trained
// flow needs and keeps exp() finite in every dtype.
constexpr double kMaxLogScale = 10.0;
// Bisection halves [0, 2 pi] to 2 pi / 2^40 ~ 6e-12; the Newton steps
// that follow reach round-off in float64.
constexpr int kBisections = 40;
constexpr int kNewtonSteps = 2;

bool is_half_width(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 ||
         t.scalar_type() == torch::kFloat16;
}

// 16-bit types hold 2 pi to about 2e-3 only: circle maps are evaluated in
// float32 for them and their results rounded back.
torch::Tensor widen(const torch::Tensor& t) {
  return is_half_width(t) ? t.to(torch::kFloat32) : t;
}

void check_params(const torch::Tensor& angles, const torch::Tensor& raw,
                  int64_t n) {
  if (raw.dim() != angles.dim() + 1 || raw.size(-1) != n) {
    throw std::invalid_argument(
        "circle map: raw parameters need the angles' shape plus a last "
        "dimension of " +
        std::to_string(n));
  }
}

// Knot positions 0 = k_0 < ... < k_K = 2 pi from K unconstrained logits.
torch::Tensor knots(const torch::Tensor& logits, int64_t bins) {
  auto fractions = torch::softmax(logits, -1);
  fractions = kMinBinFraction + (1.0 - kMinBinFraction * bins) * fractions;
  const auto interior = (torch::cumsum(fractions, -1) * kTwoPi)
                            .narrow(-1, 0, bins - 1)
                            .clamp(0.0, kTwoPi);
  const auto zero = torch::zeros_like(logits.narrow(-1, 0, 1));
  return torch::cat({zero, interior, zero + kTwoPi}, -1);
}

// The spline's bins, gathered at the bin of each element.
struct Bin {
  torch::Tensor x;      // left knot in the domain
  torch::Tensor width;  // bin width in the domain
  torch::Tensor y;      // left knot in the image
  torch::Tensor height;
  torch::Tensor slope_left;
  torch::Tensor slope_right;
  torch::Tensor shift;  // rotation applied after the spline
};

torch::Tensor gather_at(const torch::Tensor& values,
                        const torch::Tensor& index) {
  return values.gather(-1, index).squeeze(-1);
}

// Index of the bin holding `point` among `edges` (..., K + 1): the count of
// interior knots at or below it, so that 0 and points at the upper end
// after round-off stay in the first and last bins.
torch::Tensor bin_index(const torch::Tensor& point, const torch::Tensor& edges,
                        int64_t bins) {
  return (point.unsqueeze(-1) >= edges.narrow(-1, 1, bins - 1))
      .sum(-1, /*keepdim=*/true);
}

Bin spline_bin(const torch::Tensor& raw, int64_t bins,
               const torch::Tensor& point, bool in_image) {
  const auto x_knots = knots(raw.narrow(-1, 0, bins), bins);
  const auto y_knots = knots(raw.narrow(-1, bins, bins), bins);
  auto slopes = kMinSlope + (1.0 - kMinSlope) *
                                torch::softplus(raw.narrow(-1, 2 * bins, bins) +
                                                kUnitSlopeShift);
  // Periodic slopes: the knot at 2 pi is the knot at 0.
  slopes = torch::cat({slopes, slopes.narrow(-1, 0, 1)}, -1);

  const auto index = bin_index(point, in_image ? y_knots : x_knots, bins);
  Bin bin;
  bin.x = gather_at(x_knots, index);
  bin.width = gather_at(x_knots, index + 1) - bin.x;
  bin.y = gather_at(y_knots, index);
  bin.height = gather_at(y_knots, index + 1) - bin.y;
  bin.slope_left = gather_at(slopes, index);
  bin.slope_right = gather_at(slopes, index + 1);
  bin.shift = raw.select(-1, 3 * bins);
  return bin;
}

// log f'(x) inside a bin at relative position xi in [0, 1]
// (Durkan et al. arXiv 1906.04032, eq. 5).
torch::Tensor spline_log_derivative(const Bin& bin, const torch::Tensor& xi) {
  const auto s = bin.height / bin.width;
  const auto xi_1mxi = xi * (1.0 - xi);
  const auto denominator =
      s + (bin.slope_right + bin.slope_left - 2.0 * s) * xi_1mxi;
  const auto numerator = bin.slope_right * xi * xi + 2.0 * s * xi_1mxi +
                         bin.slope_left * (1.0 - xi) * (1.0 - xi);
  return 2.0 * torch::log(s) + torch::log(numerator) -
         2.0 * torch::log(denominator);
}

// Mixture value m(theta) and derivative m'(theta) for theta in [0, 2 pi].
// atan2 with sin(theta / 2) >= 0 continues 2 atan(a tan(theta / 2))
// monotonically through theta = pi without evaluating tan there.
std::pair<torch::Tensor, torch::Tensor> ncp_mixture(
    const torch::Tensor& theta, const torch::Tensor& scale,
    const torch::Tensor& weights) {
  const auto half = theta.unsqueeze(-1) * 0.5;
  const auto sin_half = torch::sin(half);
  const auto cos_half = torch::cos(half);
  const auto g = 2.0 * torch::atan2(scale * sin_half, cos_half);
  const auto g_prime =
      1.0 / (cos_half * cos_half / scale + scale * sin_half * sin_half);
  return {(weights * g).sum(-1), (weights * g_prime).sum(-1)};
}

struct NcpParams {
  torch::Tensor scale;
  torch::Tensor weights;
  torch::Tensor shift;
};

NcpParams ncp_params(const torch::Tensor& raw, int64_t components) {
  NcpParams p;
  p.scale = torch::exp(
      kMaxLogScale * torch::tanh(raw.narrow(-1, 0, components) / kMaxLogScale));
  p.weights = torch::softmax(raw.narrow(-1, components, components), -1);
  p.shift = raw.select(-1, 2 * components);
  return p;
}

CircleMapOutput narrow_back(CircleMapOutput out, torch::ScalarType dtype) {
  return {out.y.to(dtype), out.log_derivative.to(dtype)};
}

}  // namespace

torch::Tensor wrap_angle(const torch::Tensor& theta) {
  if (is_half_width(theta)) {
    // Any float32 angle below 2 pi rounds to at most 6.28125 < 2 pi.
    return wrap_angle(theta.to(torch::kFloat32)).to(theta.scalar_type());
  }
  auto wrapped = torch::remainder(theta, kTwoPi);
  wrapped = torch::where(wrapped >= kTwoPi, wrapped - kTwoPi, wrapped);
  return wrapped.clamp_min(0.0);
}

RationalQuadraticSpline::RationalQuadraticSpline(int64_t bins) : bins_(bins) {
  if (bins < 1 || kMinBinFraction * static_cast<double>(bins) >= 0.5) {
    throw std::invalid_argument("RationalQuadraticSpline: bins out of range");
  }
}

CircleMapOutput RationalQuadraticSpline::forward(
    const torch::Tensor& theta, const torch::Tensor& raw) const {
  check_params(theta, raw, num_params());
  const auto x = wrap_angle(widen(theta));
  const auto bin = spline_bin(widen(raw), bins_, x, /*in_image=*/false);

  const auto xi = ((x - bin.x) / bin.width).clamp(0.0, 1.0);
  const auto s = bin.height / bin.width;
  const auto xi_1mxi = xi * (1.0 - xi);
  const auto y =
      bin.y + bin.height * (s * xi * xi + bin.slope_left * xi_1mxi) /
                  (s + (bin.slope_right + bin.slope_left - 2.0 * s) * xi_1mxi);
  return narrow_back(
      {wrap_angle(y + bin.shift), spline_log_derivative(bin, xi)},
      theta.scalar_type());
}

CircleMapOutput RationalQuadraticSpline::inverse(
    const torch::Tensor& y, const torch::Tensor& raw) const {
  check_params(y, raw, num_params());
  const auto wide_raw = widen(raw);
  const auto target = wrap_angle(widen(y) - wide_raw.select(-1, 3 * bins_));
  const auto bin = spline_bin(wide_raw, bins_, target, /*in_image=*/true);

  // The root in [0, 1] of a xi^2 + b xi + c = 0 (Durkan et al. arXiv
  // 1906.04032, appendix A.3). Their form 2c / (-b - sqrt(D)) cancels
  // when b < 0, which steep right slopes allow; there the same root is
  // (-b + sqrt(D)) / 2a, and a > h s > 0.
  const auto s = bin.height / bin.width;
  const auto rise = (target - bin.y).clamp_min(0.0);
  const auto curvature = bin.slope_right + bin.slope_left - 2.0 * s;
  const auto a = bin.height * (s - bin.slope_left) + rise * curvature;
  const auto b = bin.height * bin.slope_left - rise * curvature;
  const auto c = -s * rise;
  const auto root_d = torch::sqrt((b * b - 4.0 * a * c).clamp_min(0.0));
  const auto b_positive = b >= 0.0;
  // Each branch's denominator is replaced where the other branch is taken,
  // so that neither produces an infinity that autograd would see.
  const auto one = torch::ones_like(b);
  const auto from_c = 2.0 * c / torch::where(b_positive, -b - root_d, -one);
  const auto from_a = (root_d - b) / torch::where(b_positive, one, 2.0 * a);
  const auto xi = torch::where(b_positive, from_c, from_a).clamp(0.0, 1.0);
  return narrow_back(
      {wrap_angle(bin.x + xi * bin.width), -spline_log_derivative(bin, xi)},
      y.scalar_type());
}

NcpMixture::NcpMixture(int64_t components) : components_(components) {
  if (components < 1) {
    throw std::invalid_argument("NcpMixture: components must be >= 1");
  }
}

CircleMapOutput NcpMixture::forward(const torch::Tensor& theta,
                                    const torch::Tensor& raw) const {
  check_params(theta, raw, num_params());
  const auto x = wrap_angle(widen(theta));
  const auto p = ncp_params(widen(raw), components_);
  const auto [value, derivative] = ncp_mixture(x, p.scale, p.weights);
  return narrow_back({wrap_angle(value + p.shift), torch::log(derivative)},
                     theta.scalar_type());
}

CircleMapOutput NcpMixture::inverse(const torch::Tensor& y,
                                    const torch::Tensor& raw) const {
  check_params(y, raw, num_params());
  const auto p = ncp_params(widen(raw), components_);
  const auto target = wrap_angle(widen(y) - p.shift);

  // The mixture increases from 0 at 0 to 2 pi at 2 pi: bisect, then polish
  // with Newton steps kept inside the bracket, all without autograd.
  torch::Tensor root;
  {
    torch::NoGradGuard no_grad;
    const auto goal = target.detach();
    const auto scale = p.scale.detach();
    const auto weights = p.weights.detach();
    auto low = torch::zeros_like(goal);
    auto high = torch::full_like(goal, kTwoPi);
    for (int i = 0; i < kBisections; ++i) {
      const auto middle = 0.5 * (low + high);
      const auto below = ncp_mixture(middle, scale, weights).first < goal;
      low = torch::where(below, middle, low);
      high = torch::where(below, high, middle);
    }
    root = 0.5 * (low + high);
    for (int i = 0; i < kNewtonSteps; ++i) {
      const auto [value, derivative] = ncp_mixture(root, scale, weights);
      root =
          torch::min(torch::max(root - (value - goal) / derivative, low), high);
    }
  }

  // One more Newton step with autograd: its value is the root, and its
  // derivative with respect to y and raw is the implicit-function one,
  // d theta = (dy - dm) / m', since m(root) = target.
  const auto [value, derivative] = ncp_mixture(root, p.scale, p.weights);
  const auto theta = wrap_angle(root - (value - target) / derivative.detach());
  const auto log_derivative =
      -torch::log(ncp_mixture(theta, p.scale, p.weights).second);
  return narrow_back({theta, log_derivative}, y.scalar_type());
}

}  // namespace latflow::u1_equivariant
