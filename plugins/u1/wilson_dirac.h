#pragma once

#include <torch/types.h>

#include <cstdint>

namespace latflow::u1 {

/// The two-dimensional Wilson-Dirac operator in hopping form (r = 1):
///
///   D_xy = delta_xy - kappa sum_mu [ (1 - g_mu) U_mu(x) delta_{x+mu,y}
///                                  + (1 + g_mu) U_mu(x-mu)^* delta_{x-mu,y} ]
///
/// with g_0 = sigma_1, g_1 = sigma_2 and U_mu(x) = exp(i theta_mu(x)).
/// Fermions are periodic in direction 1 and, when `antiperiodic`,
/// antiperiodic in direction 0: a hop across that boundary takes a sign.
///
/// Matrices are assembled for a batch at once from index tensors built
/// here, with no loop over sites or configurations. The dense index of
/// (site, spin) is 2 site + spin with site = x0 L + x1. Input link angles
/// are (B, 2, L, L) real; outputs are complex of the requested dtype and
/// differentiable with respect to the angles.
class WilsonDirac {
 public:
  WilsonDirac(int64_t L, double kappa, bool antiperiodic, torch::Device device);

  /// D, (B, 2V, 2V).
  torch::Tensor dense(const torch::Tensor& theta,
                      torch::Dtype complex_dtype) const;
  /// The Schur complement on the even sites, M = 1 - kappa^2 H_eo H_oe,
  /// (B, V, V), indexed 2 e + spin over the even sites e in site order.
  /// With D = 1 - kappa H and H connecting only even to odd sites,
  /// det D = det M and Tr D^-1 = 2 Tr M^-1. Needs L even.
  torch::Tensor even_odd(const torch::Tensor& theta,
                         torch::Dtype complex_dtype) const;

  /// Lattice extent in both directions.
  int64_t L() const { return L_; }
  /// Number of sites V = L^2.
  int64_t volume() const { return L_ * L_; }
  /// Hopping parameter.
  double kappa() const { return kappa_; }

 private:
  // Hop phases bc * exp(+-i theta_link), (B, 4V) ordered (hop, site).
  torch::Tensor hop_phases(const torch::Tensor& theta,
                           torch::Dtype complex_dtype) const;

  int64_t L_;
  double kappa_;
  // Per (hop, site): index of the link angle in theta.view({B, 2V}), the
  // sign it enters the phase with (-1 for backward hops, conjugated), and
  // the fermion boundary sign.
  torch::Tensor link_index_;
  torch::Tensor link_sign_;
  torch::Tensor boundary_sign_;
  // Dense assembly: flat positions in (2V)^2 of the (hop, site, a, b)
  // entries, and the spin factors (1 -+ g_mu) per hop, (1, 4, 1, 2, 2).
  torch::Tensor dense_index_;
  torch::Tensor hop_spin_;
  // Even-odd assembly over two-hop paths e -> o -> e': the (hop, site)
  // positions of both hops in hop_phases(), the flat positions in V^2 of
  // the (pair, e, a, b) entries, and the spin products, (1, 16, 1, 2, 2).
  torch::Tensor first_hop_;
  torch::Tensor second_hop_;
  torch::Tensor even_odd_index_;
  torch::Tensor pair_spin_;
};

/// log|det A| of a batch of square complex matrices, (B) real. Batched LU,
/// the configurations spread over LibTorch's threads; differentiable once
/// (backward g A^-H from the saved factors).
torch::Tensor log_abs_det(const torch::Tensor& matrices);

/// The complex phase det A / |det A|, (B), without autograd.
torch::Tensor det_phase(const torch::Tensor& matrices);

/// Re Tr A^-1, (B) float64, without autograd.
torch::Tensor real_trace_inverse(const torch::Tensor& matrices);

}  // namespace latflow::u1
