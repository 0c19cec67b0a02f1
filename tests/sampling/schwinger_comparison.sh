#!/usr/bin/env bash
# Schwinger model, L = 8, beta = 2, kappa = 0.276: neural MCMC from a
# trained gauge-equivariant flow against HMC with the exact determinant.
# Both are exact samplers, so the mean plaquette, <Q^2> and the chiral
# condensate must agree within 3 combined standard errors (errors by the
# Gamma method, tau_int included). Needs the u1 and u1_equivariant plugins.
#
#   tests/sampling/schwinger_comparison.sh BUILD_DIR OUT_DIR
#
# Training stops after [train] time_limit seconds (30 min); NMCMC_N and
# HMC_N set the chain lengths (defaults 80000 and 3000); THREADS the
# intra-op threads. Takes about an hour on two cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
out="$2"
latflow="$build/bin/latflow"
threads="${THREADS:-2}"
mkdir -p "$out"

if [[ ! -f "$out/run/checkpoint.pt" ]]; then
  "$latflow" run "$here/schwinger_L8.toml" --out "$out/run" \
    --threads "$threads" --log-level warn
fi
"$latflow" sample "$out/run" --sampler nmcmc --n "${NMCMC_N:-80000}" \
  --threads "$threads" --json > "$out/nmcmc.json"
"$latflow" sample "$out/run" --sampler hmc --n "${HMC_N:-3000}" \
  --threads "$threads" sampler.thermalize=200 sampler.step_size=0.1 \
  sampler.trajectory_length=1.0 --json > "$out/hmc.json"

python3 - "$out/nmcmc.json" "$out/hmc.json" <<'PYTHON'
import json
import math
import sys

nmcmc = json.load(open(sys.argv[1]))
hmc = json.load(open(sys.argv[2]))
print(f"NMCMC: acceptance {nmcmc['stats']['acceptance']:.3f}, "
      f"{nmcmc['samples']} states in {nmcmc['seconds']:.0f} s")
print(f"HMC:   acceptance {hmc['stats']['acceptance']:.3f}, "
      f"<exp(-dH)> {hmc['stats']['exp_minus_dh']:.4f} "
      f"+- {hmc['stats']['exp_minus_dh_error']:.4f}, "
      f"{hmc['samples']} states in {hmc['seconds']:.0f} s")
print(f"{'observable':<18} {'NMCMC':>22} {'tau_int':>7}"
      f" {'HMC':>22} {'tau_int':>7} {'pull':>6}")
failed = False
for name in ["mean_plaquette", "q2", "chiral_condensate"]:
    a = nmcmc["observables"][name]
    b = hmc["observables"][name]
    combined = math.hypot(a["error"], b["error"])
    pull = (a["mean"] - b["mean"]) / combined
    failed |= abs(pull) >= 3
    print(f"{name:<18} {a['mean']:>11.5f} +- {a['error']:<7.5f}"
          f" {a['tau_int']:>7.1f} {b['mean']:>11.5f} +- {b['error']:<7.5f}"
          f" {b['tau_int']:>7.1f} {pull:>+6.2f}")
sys.exit(1 if failed else 0)
PYTHON
