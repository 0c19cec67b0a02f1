#!/usr/bin/python3
"""Reference values for the Gamma-method and jackknife tests
(tests/sampling/test_statistics.cpp).

Wolff's Gamma method (hep-lat/0306017, as in his UWerr.m) for one primary
observable, written with direct sums and no FFT, on AR(1) series built
from a 64-bit linear congruential generator that the C++ test repeats bit
for bit. Plain Python, no numpy. Run with python3; the output is kept in
gamma_reference.txt.
"""

import math

MASK = (1 << 64) - 1


def lcg_uniforms(seed, count):
    """Knuth's MMIX LCG; the top 53 bits as a double in [0, 1)."""
    state = seed & MASK
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        yield (state >> 11) * (1.0 / 9007199254740992.0)


def ar1(seed, rho, n):
    """x_i = rho x_{i-1} + e_i, e_i = sum of 12 uniforms - 6, x_0 = e_0."""
    uniforms = lcg_uniforms(seed, 12 * n)
    series = []
    x = 0.0
    for i in range(n):
        e = -6.0
        for _ in range(12):
            e += next(uniforms)
        x = e if i == 0 else rho * x + e
        series.append(x)
    return series


def gamma_method(a, s=1.5):
    n = len(a)
    mean = math.fsum(a) / n
    d = [x - mean for x in a]

    def gamma(t):
        return math.fsum(d[i] * d[i + t] for i in range(n - t)) / (n - t)

    g = [gamma(0)]
    window = n // 2
    summed = 0.0
    for w in range(1, n // 2 + 1):
        g.append(gamma(w))
        summed += g[w] / g[0]
        if summed > 0:
            tau = s / math.log((summed + 1) / summed)
        else:
            tau = 2.2250738585072014e-308
        if math.exp(-w / tau) - tau / math.sqrt(w * n) < 0:
            window = w
            break
    cf = g[0] + 2 * math.fsum(g[1:window + 1])
    bias = cf / n
    gamma0 = g[0] + bias
    cf *= 1 + (2 * window + 1) / n
    error = math.sqrt(cf / n)
    tau_int = cf / (2 * gamma0)
    tau_error = 2 * tau_int * math.sqrt((window + 0.5 - tau_int) / n)
    return mean, error, tau_int, tau_error, window


def jackknife(a, bin_size):
    bins = len(a) // bin_size
    sums = [math.fsum(a[k * bin_size:(k + 1) * bin_size])
            for k in range(bins)]
    total = math.fsum(sums)
    used = bins * bin_size
    mean = total / used
    rest = used - bin_size
    dev = [(total - b) / rest - mean for b in sums]
    return mean, math.sqrt((bins - 1) / bins * math.fsum(x * x for x in dev))


def main():
    print("# seed rho n | mean error tau_int tau_int_error window |"
          " jackknife bin mean error")
    for seed, rho, n, bin_size in [(1, 0.0, 2000, 1), (7, 0.5, 3000, 10),
                                   (11, 0.9, 4000, 50),
                                   (23, -0.4, 2500, 5)]:
        a = ar1(seed, rho, n)
        g = gamma_method(a)
        j = jackknife(a, bin_size)
        print(f"{seed} {rho} {n} {g[0]!r} {g[1]!r} {g[2]!r} {g[3]!r} {g[4]}"
              f" {bin_size} {j[0]!r} {j[1]!r}")


if __name__ == "__main__":
    main()
