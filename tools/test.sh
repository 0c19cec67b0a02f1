#!/usr/bin/env bash
# Sets up, builds and runs every test of the default suite: unit, CLI and
# end-to-end training tests. Benchmarks (label bench) and the slow physics
# checks (label slow) run with `ctest --test-dir build -L slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Idle OpenMP threads sleep instead of spinning: on a machine shared with
# other jobs, spinning threads make LibTorch many times slower.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
bash tools/setup.sh
bash tools/build.sh
ctest --test-dir build --output-on-failure -LE 'bench|slow' "$@"
