#!/usr/bin/python3
"""Independent dense reference for action/schwinger_wilson on L = 4.

Builds the Wilson-Dirac operator of PHYSICS.md 3.3 entry by entry with
explicit loops (no index tables shared with the C++ code), takes numpy's
slogdet and inverse, and writes:

  data/schwinger_configs.npy    (N, 2, L, L) float64 link angles
  data/schwinger_reference.npy  (N, 3 + 3 * len(SETTINGS)) float64:
      S_gauge at beta = 2, mean plaquette, topological charge, then per
      setting (kappa, boundary): log|det D|, sign of det D,
      (1/V) Re Tr D^-1
  data/schwinger_reference.txt  what this script prints

Run from anywhere: python3 tests/u1/schwinger_reference.py
"""
import os

import numpy as np

L = 4
BETA = 2.0
# The last setting makes det D negative on the configurations of charge
# +-1 (a real eigenvalue of D has crossed zero).
SETTINGS = [(0.276, "antiperiodic"), (0.2, "antiperiodic"),
            (0.24, "periodic"), (0.32, "antiperiodic")]

SIGMA = [np.array([[0, 1], [1, 0]], dtype=complex),
         np.array([[0, -1j], [1j, 0]], dtype=complex)]
ONE = np.eye(2, dtype=complex)


def dirac(theta, kappa, boundary):
    """D_xy = delta_xy - kappa sum_mu [(1 - g_mu) U_mu(x) delta_{x+mu,y}
    + (1 + g_mu) conj(U_mu(x - mu)) delta_{x-mu,y}], index 2 site + spin,
    site = x0 L + x1, antiperiodic hops across the direction-0 boundary."""
    volume = L * L
    d = np.eye(2 * volume, dtype=complex)
    for x0 in range(L):
        for x1 in range(L):
            x = (x0, x1)
            for mu in range(2):
                fwd = list(x)
                fwd[mu] = (x[mu] + 1) % L
                bwd = list(x)
                bwd[mu] = (x[mu] - 1) % L
                sign_fwd = 1.0
                sign_bwd = 1.0
                if mu == 0 and boundary == "antiperiodic":
                    if x[0] == L - 1:
                        sign_fwd = -1.0
                    if x[0] == 0:
                        sign_bwd = -1.0
                u_fwd = np.exp(1j * theta[mu, x[0], x[1]])
                u_bwd = np.conj(np.exp(1j * theta[mu, bwd[0], bwd[1]]))
                s = x[0] * L + x[1]
                sf = fwd[0] * L + fwd[1]
                sb = bwd[0] * L + bwd[1]
                for a in range(2):
                    for b in range(2):
                        d[2 * s + a, 2 * sf + b] -= (
                            kappa * sign_fwd * (ONE - SIGMA[mu])[a, b] * u_fwd)
                        d[2 * s + a, 2 * sb + b] -= (
                            kappa * sign_bwd * (ONE + SIGMA[mu])[a, b] * u_bwd)
    return d


def plaquette(theta, x0, x1):
    return (theta[0, x0, x1] + theta[1, (x0 + 1) % L, x1]
            - theta[0, x0, (x1 + 1) % L] - theta[1, x0, x1])


def gauge(theta):
    action = 0.0
    plaq = 0.0
    charge = 0.0
    for x0 in range(L):
        for x1 in range(L):
            p = plaquette(theta, x0, x1)
            action -= BETA * np.cos(p)
            plaq += np.cos(p) / (L * L)
            wrapped = (p + np.pi) % (2 * np.pi) - np.pi
            charge += wrapped / (2 * np.pi)
    return action, plaq, charge


def instanton():
    """Every plaquette 2 pi / V (mod 2 pi): charge 1."""
    theta = np.zeros((2, L, L))
    for x0 in range(L):
        for x1 in range(L):
            theta[1, x0, x1] = 2 * np.pi * x0 / (L * L)
    for x1 in range(L):
        theta[0, L - 1, x1] = -2 * np.pi * x1 / L
    return theta


def main():
    rng = np.random.default_rng(20240611)
    configs = [rng.uniform(0, 2 * np.pi, (2, L, L)) for _ in range(3)]
    configs.append(instanton() + 0.2 * rng.standard_normal((2, L, L)))
    configs.append(-instanton() + 0.2 * rng.standard_normal((2, L, L)))
    configs.append(0.4 * rng.standard_normal((2, L, L)))
    configs = np.mod(np.array(configs), 2 * np.pi)

    rows = []
    lines = []
    for i, theta in enumerate(configs):
        action, plaq, charge = gauge(theta)
        row = [action, plaq, charge]
        lines.append(f"config {i}: S_gauge(beta={BETA}) = {action:.16e}  "
                     f"<cos P> = {plaq:.16e}  Q = {charge:.16e}")
        for kappa, boundary in SETTINGS:
            d = dirac(theta, kappa, boundary)
            sign, logabs = np.linalg.slogdet(d)
            condensate = np.trace(np.linalg.inv(d)).real / (L * L)
            row += [logabs, np.sign(sign.real), condensate]
            lines.append(
                f"  kappa {kappa} {boundary:12s} log|det D| = "
                f"{logabs:.16e}  sign = {sign.real:+.1f} "
                f"(imag {sign.imag:.1e})  (1/V) Re Tr D^-1 = "
                f"{condensate:.16e}")
        rows.append(row)

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    os.makedirs(here, exist_ok=True)
    np.save(os.path.join(here, "schwinger_configs.npy"), configs)
    np.save(os.path.join(here, "schwinger_reference.npy"), np.array(rows))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(here, "schwinger_reference.txt"), "w") as out:
        out.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
