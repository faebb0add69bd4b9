#!/usr/bin/env bash
# Installs the Debian 12 packages kvtier needs to build, test and benchmark.
# Run as root (or with sudo). Only installs what is missing; runs apt-get update once, only if
# something is missing. Nothing is downloaded outside Debian's package archive.
set -euo pipefail

# Build and test: compiler, cmake, cJSON (config reader), xxHash and OpenSSL's libcrypto (block
# keys: XXH3-128, SHA-256), cmocka (tests), clang + compiler-rt (libFuzzer targets and the
# sanitizer build).
PKGS=(build-essential cmake pkg-config libcjson-dev libxxhash-dev libssl-dev libcmocka-dev clang
      libclang-rt-dev)
# Tiers: io_uring (NVMe), libnuma (CXL); fio is the peer the NVMe and PFS benchmarks compare to.
PKGS+=(liburing-dev libnuma-dev fio)
# Plots of results (optional at run time, installed so that `make run` can draw them).
PKGS+=(gnuplot-nox)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
else
    SUDO=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
