#include "u1_exact.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace latflow::u1 {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Ratios below this are dropped: every sum below multiplies them by at
// least one more ratio or by r^(V-2) with V >= 4, far below round-off.
constexpr double kNegligible = 1e-18;

}  // namespace

std::vector<double> bessel_i_ratios(double beta, int64_t n_max) {
  if (beta < 0) throw std::invalid_argument("bessel_i_ratios: beta < 0");
  std::vector<double> ratio(n_max + 1, 0.0);
  ratio[0] = 1.0;
  if (beta == 0) return ratio;

  // rho_n = I_n / I_{n-1} = 1 / (2n / beta + rho_{n+1}) (DLMF 10.29.1).
  // Started from rho = 0 far enough above both n_max and beta, where the
  // ratios fall fast, the truncation error has died out by n_max.
  const auto start = n_max + static_cast<int64_t>(std::ceil(beta)) +
                     20 * static_cast<int64_t>(std::ceil(std::sqrt(beta))) + 60;
  double rho = 0;
  std::vector<double> rhos(n_max + 1, 0.0);
  for (int64_t n = start; n >= 1; --n) {
    rho = 1.0 / (2.0 * static_cast<double>(n) / beta + rho);
    if (n <= n_max) rhos[n] = rho;
  }
  for (int64_t n = 1; n <= n_max; ++n) ratio[n] = ratio[n - 1] * rhos[n];
  return ratio;
}

double log_bessel_i0(double beta) {
  if (beta == 0) return 0;
  // Ratios fall like exp(-n^2 / (2 beta)) at large beta.
  const auto n_max = static_cast<int64_t>(std::ceil(12 * std::sqrt(beta) + 40));
  const auto ratio = bessel_i_ratios(beta, n_max);
  double sum = 1;
  for (int64_t n = 1; n <= n_max; ++n) sum += 2 * ratio[n];
  // Generating function at t = 1: sum_n I_n(beta) = e^beta.
  return beta - std::log(sum);
}

U1Exact u1_exact(double beta, int64_t volume) {
  if (volume < 3) throw std::invalid_argument("u1_exact: volume < 3");
  const auto v = static_cast<double>(volume);

  // Ratios up to 3 N, where N is the last term of the sums over n and the
  // Fourier sums below reach N further in k.
  int64_t size = 32;
  std::vector<double> r;
  int64_t n_terms = 0;
  for (;;) {
    r = bessel_i_ratios(beta, size);
    n_terms = 0;
    for (int64_t n = 1; n <= size; ++n) {
      if (r[n] < kNegligible) {
        n_terms = n;
        break;
      }
    }
    if (n_terms > 0 && 3 * n_terms + 2 <= size) break;
    size *= 2;
  }
  auto ratio = [&](int64_t n) { return r[std::llabs(n)]; };

  // Z (flat measure) = (2 pi)^(2V) sum_n I_n(beta)^V: integrating each
  // link, which enters two plaquettes with opposite signs, forces the same
  // character n on all plaquettes. In units of I_0^V:
  double z = 0;
  double plaquette = 0;
  for (int64_t n = -n_terms; n <= n_terms; ++n) {
    z += std::pow(ratio(n), v);
    // d/dbeta I_n = (I_{n-1} + I_{n+1}) / 2.
    plaquette +=
        std::pow(ratio(n), v - 1) * 0.5 * (ratio(n - 1) + ratio(n + 1));
  }

  // Charge sectors. Gauge-invariant content: the wrapped plaquettes p_x in
  // [-pi, pi), independent with weight e^{beta cos p}, constrained only by
  // sum_x p_x = 2 pi Q for an integer Q (the unwrapped plaquettes sum to 0
  // on the torus). Summing e^{i theta Q} over the sectors with Poisson's
  // formula gives, with nu = theta / (2 pi),
  //   Z(nu) = sum_n f(n + nu)^V,
  //   f(x) = (1 / 2 pi) int_{-pi}^{pi} dp e^{beta cos p} cos(x p),
  // so <Q^2> = -Z''(0) / (4 pi^2 Z(0)) with
  //   Z''(0) = sum_n [V f^{V-1} f'' + V (V - 1) f^{V-2} f'^2](n).
  // At integer n, f = I_n, and the Fourier series of p and p^2 on
  // (-pi, pi) give
  //   f'(n)  = -sum_{k>=1} (-1)^{k+1} / k (I_{k-n} - I_{k+n}),
  //   f''(n) = -(pi^2 / 3) I_n - 2 sum_{k>=1} (-1)^k / k^2
  //            (I_{k-n} + I_{k+n}).
  // At beta = 0 this reduces to <Q^2> = V / 12.
  double z_second = 0;
  for (int64_t n = -n_terms; n <= n_terms; ++n) {
    double first = 0;
    double second = kPi * kPi / 3 * ratio(n);
    for (int64_t k = 1; k <= std::llabs(n) + n_terms + 1; ++k) {
      const double sign = (k % 2 == 0) ? 1.0 : -1.0;
      const auto kd = static_cast<double>(k);
      first += -sign / kd * (ratio(k - n) - ratio(k + n));
      second += 2 * sign / (kd * kd) * (ratio(k - n) + ratio(k + n));
    }
    first = -first;
    second = -second;
    z_second += v * std::pow(ratio(n), v - 1) * second +
                v * (v - 1) * std::pow(ratio(n), v - 2) * first * first;
  }

  U1Exact exact;
  exact.free_energy =
      -2 * v * std::log(2 * kPi) - v * log_bessel_i0(beta) - std::log(z);
  exact.mean_plaquette = plaquette / z;
  // At large beta the sum cancels to round-off, which may leave it below 0.
  exact.q2 = std::max(0.0, -z_second / (4 * kPi * kPi * z));
  return exact;
}

}  // namespace latflow::u1
