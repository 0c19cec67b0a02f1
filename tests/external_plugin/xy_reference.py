#!/usr/bin/python3
"""Configurations and reference values for the external plugin test.

Writes xy_configs.npy, six 4x4 XY configurations (float64, C order), and
xy_reference.txt, the action and observables of each, computed site by
site with explicit periodic neighbours, independently of the vectorised
plugin (xy.cpp). Three configurations have values known by hand; the
script checks them against the loops first. Plain python3, no numpy.

Each line of xy_reference.txt is `beta index key low high value`: the
test accepts a printed value in [low, high].
"""

import math
import random
import struct

L = 4
V = L * L
BETAS = [0.7, 1.3]  # the experiment file's, and an override's


def ordered():
    return [[0.3] * L for _ in range(L)]


def staggered():
    # Alternating 0 and pi - 0.5: every bond has cos = -cos(0.5), and the
    # differences stay clear of +-pi, where a winding would be ambiguous.
    return [[(math.pi - 0.5) * ((x0 + x1) % 2) for x1 in range(L)]
            for x0 in range(L)]


def spin_wave():
    return [[2 * math.pi * x0 / L for _ in range(L)] for x0 in range(L)]


def vortex_pair():
    # A vortex and an antivortex centred on plaquettes; the periodic
    # boundary adds what it adds, which the loops count.
    return [[math.atan2(x1 - 1.5, x0 - 0.5) - math.atan2(x1 - 1.5, x0 - 2.5)
             for x1 in range(L)] for x0 in range(L)]


def random_angles():
    rng = random.Random(7)
    return [[rng.uniform(0, 2 * math.pi) for _ in range(L)] for _ in range(L)]


def shifted(theta):
    # The same angles moved by whole turns: every value must be unchanged.
    rng = random.Random(11)
    return [[t + 2 * math.pi * rng.randint(-3, 3) for t in row]
            for row in theta]


def wrap(angle):
    wrapped = math.fmod(angle + math.pi, 2 * math.pi)
    if wrapped < 0:
        wrapped += 2 * math.pi
    assert abs(abs(wrapped - math.pi) - math.pi) > 1e-6, "ambiguous winding"
    return wrapped - math.pi


def bond_sum(theta):
    total = 0.0
    for x0 in range(L):
        for x1 in range(L):
            t = theta[x0][x1]
            total += math.cos(t - theta[(x0 + 1) % L][x1])
            total += math.cos(t - theta[x0][(x1 + 1) % L])
    return total


def magnetisation(theta):
    mx = sum(math.cos(t) for row in theta for t in row)
    my = sum(math.sin(t) for row in theta for t in row)
    return math.hypot(mx, my) / V


def vortex_density(theta):
    count = 0
    for x0 in range(L):
        for x1 in range(L):
            a = theta[x0][x1]
            b = theta[(x0 + 1) % L][x1]
            c = theta[(x0 + 1) % L][(x1 + 1) % L]
            d = theta[x0][(x1 + 1) % L]
            circulation = wrap(b - a) + wrap(c - b) + wrap(d - c) + wrap(a - d)
            count += abs(round(circulation / (2 * math.pi)))
    return count / V


def write_npy(path, configs):
    header = ("{'descr': '<f8', 'fortran_order': False, "
              "'shape': (%d, %d, %d), }" % (len(configs), L, L))
    # Magic, version 1.0, header length, header padded to 64 bytes with \n.
    padding = 64 - (10 + len(header) + 1) % 64
    header += " " * padding + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00")
        out.write(struct.pack("<H", len(header)))
        out.write(header.encode("latin1"))
        for theta in configs:
            for row in theta:
                out.write(struct.pack("<%dd" % L, *row))


def main():
    base = random_angles()
    configs = [ordered(), staggered(), spin_wave(), vortex_pair(), base,
               shifted(base)]

    # By hand: 2V bonds; cos 0 = 1, cos(pi - 0.5) = -cos 0.5, and a spin
    # wave along one axis has cos(2 pi / L) on those bonds and 1 across.
    assert abs(bond_sum(configs[0]) - 2 * V) < 1e-12
    assert abs(bond_sum(configs[1]) + 2 * V * math.cos(0.5)) < 1e-12
    assert abs(bond_sum(configs[2]) - V * (1 + math.cos(2 * math.pi / L))) \
        < 1e-12
    assert abs(magnetisation(configs[0]) - 1) < 1e-12
    assert magnetisation(configs[2]) < 1e-12

    lines = []
    for beta in BETAS:
        for index, theta in enumerate(configs):
            bonds = bond_sum(theta)
            values = [("action", -beta * bonds),
                      ("energy_density", -bonds / V),
                      ("magnetisation", magnetisation(theta)),
                      ("vortex_density", vortex_density(theta))]
            for key, value in values:
                tolerance = 1e-10 * max(1.0, abs(value))
                lines.append("%r %d %s %r %r %r" % (
                    beta, index, key, value - tolerance, value + tolerance,
                    value))
    write_npy("xy_configs.npy", configs)
    with open("xy_reference.txt", "w") as out:
        out.write("# beta index key low high value (xy_reference.py)\n")
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
