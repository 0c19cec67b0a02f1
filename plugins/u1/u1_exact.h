#pragma once

#include <cstdint>
#include <vector>

namespace latflow::u1 {

/// Exact finite-volume results of two-dimensional U(1) gauge theory with
/// the Wilson action S = -beta sum_x cos P(x) on a periodic L x L torus,
/// from the character expansion exp(beta cos P) = sum_n I_n(beta) e^{i n P}.
struct U1Exact {
  /// F = -log Z with the flat (Lebesgue) measure on [0, 2 pi)^(2V).
  double free_energy = 0;
  /// <cos P>, the same for every plaquette.
  double mean_plaquette = 0;
  /// <Q^2> of the geometric charge Q = (1/2 pi) sum_x wrap(P(x)).
  double q2 = 0;
};

/// Exact results for `volume` = L^2 plaquettes (volume >= 3) at beta >= 0.
U1Exact u1_exact(double beta, int64_t volume);

/// I_n(beta) / I_0(beta) for n = 0 .. n_max, by the continued fraction of
/// I_n / I_{n-1} run downwards (Miller's algorithm), which neither
/// overflows at large beta nor loses digits at large n.
std::vector<double> bessel_i_ratios(double beta, int64_t n_max);

/// log I_0(beta), from sum_n I_n(beta) = e^beta and the ratios above.
double log_bessel_i0(double beta);

}  // namespace latflow::u1
