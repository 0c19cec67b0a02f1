#!/usr/bin/python3
"""Reference values for the phi^4 unit tests (tests/scalar/test_scalar.cpp).

Evaluates S = sum_x [(m2/2 + d) phi_x^2 + (lambda/24) phi_x^4
                     - sum_mu phi_x phi_{x+mu}]
site by site with explicit periodic neighbours, independently of the
vectorised C++ code, together with the per-configuration observables.
Run with python3 (numpy); the output is kept in phi4_reference.txt.
"""

import numpy as np

CONFIGS = {
    "L2": np.array([[0.5, -1.0],
                    [2.0, 0.25]]),
    "L3": np.array([[0.1, -0.7, 1.3],
                    [0.0, -2.2, -0.4],
                    [-1.1, 0.6, -0.9]]),
}

COUPLINGS = [(1.25, 0.0), (-0.5, 0.0), (1.25, 0.8), (-4.0, 5.2)]


def action(phi, m2, lam):
    L = phi.shape[0]
    d = 2
    total = 0.0
    for x0 in range(L):
        for x1 in range(L):
            p = phi[x0, x1]
            total += (m2 / 2 + d) * p * p + lam / 24 * p ** 4
            total -= p * phi[(x0 + 1) % L, x1]
            total -= p * phi[x0, (x1 + 1) % L]
    return total


def main():
    for name, phi in CONFIGS.items():
        volume = phi.size
        magnetisation = phi.sum()
        print(f"{name} magnetisation {magnetisation / volume:.17g}")
        print(f"{name} abs_magnetisation {abs(magnetisation) / volume:.17g}")
        print(f"{name} susceptibility {magnetisation ** 2 / volume:.17g}")
        print(f"{name} phi2 {(phi ** 2).mean():.17g}")
        for m2, lam in COUPLINGS:
            print(f"{name} S(m2={m2}, lambda={lam}) "
                  f"{action(phi, m2, lam):.17g}")


if __name__ == "__main__":
    main()
