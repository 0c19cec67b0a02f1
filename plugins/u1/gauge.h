#pragma once

#include <latflow/observable.h>
#include <torch/types.h>

#include <memory>
#include <vector>

namespace latflow::u1 {

/// Plaquette angles P(x) = theta_0(x) + theta_1(x + e0) - theta_0(x + e1)
/// - theta_1(x), unwrapped: (B, 2, L, L) -> (B, L, L) in the input dtype.
torch::Tensor plaquettes(const torch::Tensor& theta);

/// S_gauge = -beta sum_x cos P(x): (B, 2, L, L) -> (B).
torch::Tensor gauge_action(const torch::Tensor& theta, double beta);

/// Mean of cos P over the lattice, (B) float64.
torch::Tensor mean_plaquette(const torch::Tensor& theta);

/// Geometric charge Q = (1/2 pi) sum_x wrap(P(x)), wrap to [-pi, pi),
/// (B) float64. Because the unwrapped plaquettes sum to zero on the
/// torus, Q = -sum_x k(x) with wrap(P) = P - 2 pi k: an exact integer.
torch::Tensor topological_charge(const torch::Tensor& theta);

/// Throws an InputError unless theta has shape (B, 2, L, L).
void check_links(const torch::Tensor& theta, int64_t L, const char* action);

/// The observables of every U(1) gauge action: mean_plaquette,
/// topological_charge and q2, each checking the shape for `action`.
std::vector<std::shared_ptr<Observable>> gauge_observables(
    int64_t L, const char* action);

}  // namespace latflow::u1
