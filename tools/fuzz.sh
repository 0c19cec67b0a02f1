#!/usr/bin/env bash
# Builds the fuzz targets of tests/fuzz with clang in build-fuzz
# (-DLATFLOW_FUZZ=ON: libFuzzer, AddressSanitizer, UBSan) and runs each for
# a bounded time from its seed corpus. Fails on any crash, sanitizer
# report, leak, escaped exception or hang; the input that did it is kept
# in build-fuzz/findings/.
#
#   FUZZ_SECONDS=30   seconds per target (default 30)
#   FUZZ_PLUGINS=...  plugins to build and load (default: phi4,
#                     affine_coupling, estimators and samplers)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds="${FUZZ_SECONDS:-30}"
build="$root/build-fuzz"
plugins="${FUZZ_PLUGINS:-phi4;affine_coupling;estimators;samplers}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  # Line tables only: readable reports at a fraction of -g's build time.
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-gline-tables-only \
    -DLATFLOW_FUZZ=ON -DLATFLOW_PCH=OFF -DLATFLOW_BUILD_TESTS=OFF \
    -DLATFLOW_ONLY_PLUGINS="$plugins"
fi
cmake --build "$build" -j "$(nproc)" \
  --target latflow_fuzz_experiment latflow_fuzz_npy

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/findings"
# Leaks are checked (the targets keep nothing between inputs but the
# registry, which stays reachable); plugins come from the build tree only.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
unset LATFLOW_PLUGIN_PATH

# run_target NAME [OPTION...] -- [SEED_FOLDER...]
# New inputs go to a scratch corpus, always the first folder named, so that
# the seed folders of the source tree are only read.
run_target() {
  local target=$1
  shift
  local options=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    options+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  local dir="$work/$target"
  mkdir -p "$dir/corpus"
  # In an empty working folder, so that relative plugin paths find nothing.
  if ! (cd "$dir" && TMPDIR="$dir" "$build/bin/latflow_fuzz_$target" \
          -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
          -print_final_stats=1 \
          -artifact_prefix="$build/findings/$target-" \
          "${options[@]}" corpus "$root/tests/fuzz/corpus_$target" "$@" \
          </dev/null >"$dir/log" 2>&1); then
    tail -n 60 "$dir/log"
    echo "fuzz: $target failed; the input is in $build/findings/" >&2
    return 1
  fi
  local executions added
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$dir/log")
  echo "fuzz: $target: ${executions:-?} executions in ${seconds} s," \
       "${added:-?} inputs of new coverage, no crash"
}

run_target experiment -dict="$root/tests/fuzz/experiment.dict" -- \
  "$root/tests/core/bad_configs"
run_target npy -- "$root/tests/reliability/inputs"
