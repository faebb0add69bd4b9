#!/usr/bin/env bash
# Run the CPU-side benchmarks on the device machine (a quieter 16-core host than the 2-vCPU dev
# VM): prefix index and store lookup, and the memory tiers beside memcpy. Binaries built here are
# carried in build-dev/ with the shared libraries the device image may lack (build-dev/lib).
# fio is not carried (its dependencies exceed what travels), so nvme/pfs figures there have no
# peer and are not reported. Usage on the device: bash scripts/device-bench.sh; writes $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH="$PWD/build-dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
out="${OUT:-/tmp/kvtier-device}"
mkdir -p "$out"
{
    echo "# $(date -u +%FT%TZ) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    build-dev/kvtier info
    echo
    build-dev/bench_index
    echo
    build-dev/bench_store_lookup
    echo
    build-dev/kvtier bench --tier dram,cxl --block-bytes 64k,1M,16M --qd 1,8,32 --seconds 1
} 2>&1 | tee "$out/device-bench.txt"
build-dev/kvtier bench --tier dram,cxl --block-bytes 64k,1M,16M --qd 1,8 --seconds 1 --json \
    >"$out/device-bench.json"
