#!/usr/bin/env bash
# Installs what latflow needs on Debian 12 (run as root, or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build
  libtorch-dev libopenblas0-openmp
  libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libfmt-dev doctest-dev
  python3-numpy gnuplot-nox
  # The fuzz targets of tools/fuzz.sh: clang with libFuzzer's runtime.
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
