#pragma once

#include <torch/types.h>

#include <cstdint>

namespace latflow::u1_equivariant {

/// 2 pi, to double precision.
inline constexpr double kTwoPi = 6.283185307179586476925286766559;

/// Angles mapped into [0, 2 pi) in their own dtype, for any finite input.
///
/// remainder() alone is not enough: the remainder of a tiny negative angle
/// rounds to 2 pi itself, which must become 0. In bfloat16 the period is
/// the dtype's nearest value of 2 pi (6.28125), the only one it has.
torch::Tensor wrap_angle(const torch::Tensor& theta);

/// Image of a circle map and the log of its derivative, per element, in
/// the dtype of the input angles.
struct CircleMapOutput {
  torch::Tensor y;
  torch::Tensor log_derivative;
};

/// An orientation-preserving diffeomorphism of the circle [0, 2 pi),
/// parametrised element by element by unconstrained real numbers (the
/// outputs of a conditioner).
///
/// Angles have any shape S; the raw parameters have shape S + (n), with
/// n = num_params(), and the same dtype. Inputs are wrapped into
/// [0, 2 pi) first and images are returned wrapped, so 0 and 2 pi minus one
/// ulp are ordinary inputs. All-zero raw parameters give the identity.
/// 16-bit inputs are evaluated in float32 and the results rounded back.
class CircleMap {
 public:
  virtual ~CircleMap() = default;

  /// Raw parameters per element.
  virtual int64_t num_params() const = 0;
  /// y = f(theta) and log f'(theta).
  virtual CircleMapOutput forward(const torch::Tensor& theta,
                                  const torch::Tensor& raw) const = 0;
  /// theta = f^-1(y) and log (f^-1)'(y) = -log f'(theta); differentiable
  /// with respect to y and raw.
  virtual CircleMapOutput inverse(const torch::Tensor& y,
                                  const torch::Tensor& raw) const = 0;
};

/// Circular rational-quadratic spline followed by a rotation (Durkan et al.
/// arXiv 1906.04032; Rezende et al. arXiv 2002.02428): K bins on
/// [0, 2 pi] with knots at 0 and 2 pi, and the slope at 0 equal to the
/// slope at 2 pi so that the map is C^1 on the circle. The rotation moves
/// the otherwise fixed point 0.
///
/// Raw parameters, n = 3K + 1: K bin widths and K bin heights (softmax),
/// K knot slopes (softplus; knot K repeats knot 0), one rotation angle.
class RationalQuadraticSpline final : public CircleMap {
 public:
  /// A spline of `bins` >= 1 bins.
  explicit RationalQuadraticSpline(int64_t bins);

  int64_t num_params() const override { return 3 * bins_ + 1; }
  CircleMapOutput forward(const torch::Tensor& theta,
                          const torch::Tensor& raw) const override;
  CircleMapOutput inverse(const torch::Tensor& y,
                          const torch::Tensor& raw) const override;

 private:
  int64_t bins_;
};

/// Convex mixture of non-compact projections followed by a rotation
/// (Kanwar et al. arXiv 2003.06413; Rezende et al. arXiv 2002.02428):
/// f(theta) = sum_i rho_i g_i(theta) + t, with
/// g_i(theta) = 2 atan(exp(s_i) tan(theta / 2)) continued monotonically
/// onto [0, 2 pi]. The inverse has no closed form: bisection, then Newton
/// steps to round-off, with the implicit-function derivative attached.
///
/// Raw parameters, n = 2C + 1: C log-scales s_i (bounded by tanh to
/// |s_i| < 10), C mixture logits (softmax), one rotation angle.
class NcpMixture final : public CircleMap {
 public:
  /// A mixture of `components` >= 1 projections.
  explicit NcpMixture(int64_t components);

  int64_t num_params() const override { return 2 * components_ + 1; }
  CircleMapOutput forward(const torch::Tensor& theta,
                          const torch::Tensor& raw) const override;
  CircleMapOutput inverse(const torch::Tensor& y,
                          const torch::Tensor& raw) const override;

 private:
  int64_t components_;
};

}  // namespace latflow::u1_equivariant
