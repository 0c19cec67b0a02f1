#include "wilson_dirac.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <array>
#include <complex>
#include <functional>
#include <vector>

namespace latflow::u1 {

namespace {

using Complex = std::complex<double>;
using Spin = std::array<std::array<Complex, 2>, 2>;

constexpr int64_t kHops = 4;  // (mu, forward/backward), hop = 2 mu + dir

// 1 - g_mu for forward hops, 1 + g_mu for backward ones, g_0 = sigma_1,
// g_1 = sigma_2.
Spin hop_spin_matrix(int64_t hop) {
  const int64_t mu = hop / 2;
  const double s = (hop % 2 == 0) ? -1.0 : 1.0;
  const Complex i(0, 1);
  if (mu == 0) return Spin{{{1.0, s}, {s, 1.0}}};
  return Spin{{{1.0, -s * i}, {s * i, 1.0}}};
}

Spin multiply(const Spin& a, const Spin& b) {
  Spin c{};
  for (int r = 0; r < 2; ++r) {
    for (int col = 0; col < 2; ++col) {
      c[r][col] = a[r][0] * b[0][col] + a[r][1] * b[1][col];
    }
  }
  return c;
}

torch::Tensor spin_tensor(const std::vector<Spin>& spins,
                          torch::Device device) {
  std::vector<Complex> flat;
  for (const auto& s : spins) {
    for (const auto& row : s) flat.insert(flat.end(), row.begin(), row.end());
  }
  const auto n = static_cast<int64_t>(spins.size());
  return torch::from_blob(flat.data(), {1, n, 1, 2, 2}, torch::kComplexDouble)
      .clone()
      .to(device);
}

torch::Tensor index_tensor(const std::vector<int64_t>& values,
                           torch::Device device) {
  return torch::tensor(values, torch::kLong).to(device);
}

torch::Tensor real_tensor(const std::vector<double>& values,
                          torch::Device device) {
  return torch::tensor(values, torch::kDouble).to(device);
}

torch::Dtype real_counterpart(torch::Dtype complex_dtype) {
  return complex_dtype == torch::kComplexFloat ? torch::kFloat32
                                               : torch::kFloat64;
}

// Runs fn(begin, end) on slices of the batch, one slice per thread, with
// autograd off. Factorising whole matrices side by side scales better than
// LibTorch's loop over the batch with a threaded LAPACK inside, whose
// threads synchronise for every panel of a small matrix (and spin when the
// machine is busy); inside the parallel region LAPACK runs single-threaded.
// Off the CPU the whole batch goes to the device's batched solvers at once.
void for_batch(const torch::Tensor& matrices,
               const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t batch = matrices.size(0);
  if (!matrices.device().is_cpu()) {
    torch::NoGradGuard no_grad;
    fn(0, batch);
    return;
  }
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard no_grad;
    fn(begin, end);
  });
}

// log|det A| = sum_i log|U_ii| from A = P L U, with the backward
// d log|det A| = Re Tr(A^-1 dA), that is grad A = g A^-H (the conjugate
// Wirtinger convention of LibTorch), solved with the saved factors.
class LogAbsDet : public torch::autograd::Function<LogAbsDet> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* context,
                               const torch::Tensor& matrices) {
    const int64_t batch = matrices.size(0);
    auto factors = torch::empty_like(matrices);
    auto pivots = torch::empty({batch, matrices.size(-1)},
                               matrices.options().dtype(torch::kInt));
    auto result = torch::empty(
        {batch},
        matrices.options().dtype(c10::toRealValueType(matrices.scalar_type())));
    for_batch(matrices, [&](int64_t begin, int64_t end) {
      const auto [lu, lu_pivots, info] =
          torch::linalg_lu_factor_ex(matrices.slice(0, begin, end));
      factors.slice(0, begin, end).copy_(lu);
      pivots.slice(0, begin, end).copy_(lu_pivots);
      result.slice(0, begin, end)
          .copy_(lu.diagonal(0, -2, -1).abs().log().sum(-1));
    });
    context->save_for_backward({factors, pivots});
    return result;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* context,
      torch::autograd::tensor_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const auto& factors = saved[0];
    const auto& pivots = saved[1];
    const auto& grad = grad_outputs[0];
    if (!grad.defined()) return {torch::Tensor()};
    const int64_t n = factors.size(-1);
    auto result = torch::empty_like(factors);
    const auto identity = torch::eye(n, factors.options());
    for_batch(factors, [&](int64_t begin, int64_t end) {
      const auto scaled =
          grad.slice(0, begin, end).to(factors.scalar_type()).view({-1, 1, 1}) *
          identity;
      result.slice(0, begin, end)
          .copy_(torch::linalg_lu_solve(factors.slice(0, begin, end),
                                        pivots.slice(0, begin, end), scaled,
                                        /*left=*/true, /*adjoint=*/true));
    });
    return {result};
  }
};

}  // namespace

WilsonDirac::WilsonDirac(int64_t L, double kappa, bool antiperiodic,
                         torch::Device device)
    : L_(L), kappa_(kappa) {
  const int64_t volume = L * L;
  auto site = [L](int64_t x0, int64_t x1) {
    return ((x0 + L) % L) * L + (x1 + L) % L;
  };

  // Hop tables, (hop, site) ordered.
  std::vector<int64_t> neighbour(kHops * volume);
  std::vector<int64_t> link(kHops * volume);
  std::vector<double> link_sign(kHops * volume);
  std::vector<double> boundary(kHops * volume);
  for (int64_t hop = 0; hop < kHops; ++hop) {
    const int64_t mu = hop / 2;
    const bool forward = hop % 2 == 0;
    for (int64_t x0 = 0; x0 < L; ++x0) {
      for (int64_t x1 = 0; x1 < L; ++x1) {
        const int64_t s = site(x0, x1);
        const int64_t step = forward ? 1 : -1;
        const int64_t y = mu == 0 ? site(x0 + step, x1) : site(x0, x1 + step);
        const int64_t i = hop * volume + s;
        neighbour[i] = y;
        // A backward hop uses the conjugate of the link arriving at x.
        link[i] = mu * volume + (forward ? s : y);
        link_sign[i] = forward ? 1.0 : -1.0;
        const bool crosses = forward ? x0 == L - 1 : x0 == 0;
        boundary[i] = (antiperiodic && mu == 0 && crosses) ? -1.0 : 1.0;
      }
    }
  }
  link_index_ = index_tensor(link, device);
  link_sign_ = real_tensor(link_sign, device);
  boundary_sign_ = real_tensor(boundary, device);

  std::vector<Spin> hop_spins;
  for (int64_t hop = 0; hop < kHops; ++hop) {
    hop_spins.push_back(hop_spin_matrix(hop));
  }
  hop_spin_ = spin_tensor(hop_spins, device);

  std::vector<int64_t> dense_index;
  dense_index.reserve(kHops * volume * 4);
  const int64_t n = 2 * volume;
  for (int64_t hop = 0; hop < kHops; ++hop) {
    for (int64_t s = 0; s < volume; ++s) {
      const int64_t y = neighbour[hop * volume + s];
      for (int64_t a = 0; a < 2; ++a) {
        for (int64_t b = 0; b < 2; ++b) {
          dense_index.push_back((2 * s + a) * n + 2 * y + b);
        }
      }
    }
  }
  dense_index_ = index_tensor(dense_index, device);

  // The even-odd tables need a bipartite lattice, which takes L even.
  if (L % 2 != 0) return;
  std::vector<int64_t> parity_position(volume);
  std::vector<int64_t> even_sites;
  int64_t odd_count = 0;
  for (int64_t x0 = 0; x0 < L; ++x0) {
    for (int64_t x1 = 0; x1 < L; ++x1) {
      const int64_t s = site(x0, x1);
      if ((x0 + x1) % 2 == 0) {
        parity_position[s] = static_cast<int64_t>(even_sites.size());
        even_sites.push_back(s);
      } else {
        parity_position[s] = odd_count++;
      }
    }
  }
  const int64_t half = volume / 2;
  std::vector<int64_t> first_hop;
  std::vector<int64_t> second_hop;
  std::vector<int64_t> even_odd_index;
  std::vector<Spin> pair_spins;
  for (int64_t hop1 = 0; hop1 < kHops; ++hop1) {
    for (int64_t hop2 = 0; hop2 < kHops; ++hop2) {
      pair_spins.push_back(
          multiply(hop_spin_matrix(hop1), hop_spin_matrix(hop2)));
      for (int64_t e = 0; e < half; ++e) {
        const int64_t s = even_sites[e];
        const int64_t z = neighbour[hop1 * volume + s];
        const int64_t y = neighbour[hop2 * volume + z];
        first_hop.push_back(hop1 * volume + s);
        second_hop.push_back(hop2 * volume + z);
        for (int64_t a = 0; a < 2; ++a) {
          for (int64_t b = 0; b < 2; ++b) {
            even_odd_index.push_back((2 * e + a) * volume +
                                     2 * parity_position[y] + b);
          }
        }
      }
    }
  }
  first_hop_ = index_tensor(first_hop, device);
  second_hop_ = index_tensor(second_hop, device);
  even_odd_index_ = index_tensor(even_odd_index, device);
  pair_spin_ = spin_tensor(pair_spins, device);
}

torch::Tensor WilsonDirac::hop_phases(const torch::Tensor& theta,
                                      torch::Dtype complex_dtype) const {
  const auto real = real_counterpart(complex_dtype);
  const int64_t batch = theta.size(0);
  const auto angles = theta.to(real)
                          .reshape({batch, 2 * volume()})
                          .index_select(1, link_index_) *
                      link_sign_.to(real);
  const auto boundary = boundary_sign_.to(real);
  return torch::complex(torch::cos(angles) * boundary,
                        torch::sin(angles) * boundary);
}

torch::Tensor WilsonDirac::dense(const torch::Tensor& theta,
                                 torch::Dtype complex_dtype) const {
  const int64_t batch = theta.size(0);
  const int64_t n = 2 * volume();
  const auto values =
      (-kappa_) *
      hop_phases(theta, complex_dtype).view({batch, kHops, volume(), 1, 1}) *
      hop_spin_.to(complex_dtype);
  auto matrix =
      torch::zeros({batch, n * n}, theta.options().dtype(complex_dtype))
          .index_add(1, dense_index_, values.reshape({batch, -1}))
          .view({batch, n, n});
  matrix.diagonal(0, -2, -1).add_(1.0);
  return matrix;
}

torch::Tensor WilsonDirac::even_odd(const torch::Tensor& theta,
                                    torch::Dtype complex_dtype) const {
  TORCH_CHECK(first_hop_.defined(), "even-odd reduction needs L even");
  const int64_t batch = theta.size(0);
  const int64_t n = volume();
  const auto phases = hop_phases(theta, complex_dtype);
  const auto paths =
      phases.index_select(1, first_hop_) * phases.index_select(1, second_hop_);
  const auto values = (-kappa_ * kappa_) *
                      paths.view({batch, kHops * kHops, n / 2, 1, 1}) *
                      pair_spin_.to(complex_dtype);
  auto matrix =
      torch::zeros({batch, n * n}, theta.options().dtype(complex_dtype))
          .index_add(1, even_odd_index_, values.reshape({batch, -1}))
          .view({batch, n, n});
  matrix.diagonal(0, -2, -1).add_(1.0);
  return matrix;
}

torch::Tensor log_abs_det(const torch::Tensor& matrices) {
  return LogAbsDet::apply(matrices);
}

torch::Tensor det_phase(const torch::Tensor& matrices) {
  torch::NoGradGuard no_grad;
  auto phase = torch::empty({matrices.size(0)}, matrices.options());
  for_batch(matrices, [&](int64_t begin, int64_t end) {
    phase.slice(0, begin, end)
        .copy_(
            std::get<0>(torch::linalg::slogdet(matrices.slice(0, begin, end))));
  });
  return phase;
}

torch::Tensor real_trace_inverse(const torch::Tensor& matrices) {
  torch::NoGradGuard no_grad;
  auto trace = torch::empty({matrices.size(0)},
                            matrices.options().dtype(torch::kFloat64));
  for_batch(matrices, [&](int64_t begin, int64_t end) {
    const auto inverse = torch::linalg::inv(matrices.slice(0, begin, end));
    trace.slice(0, begin, end)
        .copy_(torch::real(inverse.diagonal(0, -2, -1).sum(-1)));
  });
  return trace;
}

}  // namespace latflow::u1
