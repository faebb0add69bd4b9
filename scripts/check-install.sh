#!/usr/bin/env bash
# Install kvtier into a scratch prefix and build two tiny consumers against it: one through
# pkg-config, one through CMake's find_package(kvtier). Fails if either cannot compile, link or
# run. Usage: scripts/check-install.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
prefix="$(mktemp -d /tmp/kvtier-install.XXXXXX)"
work="$(mktemp -d /tmp/kvtier-consumer.XXXXXX)"
trap 'rm -rf "$prefix" "$work"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/kvtier"
"$prefix/bin/kvtier" --version

cat >"$work/main.c" <<'C'
#include <kvtier/kvtier.h>
#include <stdio.h>
int main(void)
{
    kvt_model_t *m;
    kvt_sizing_t *s;
    kvt_error_t err;
    if (kvt_model_load_catalog("llama-3.1-8b", &m, &err) != KVT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (kvt_size_compute(m, NULL, &s, &err) != KVT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    /* 32 layers x 8 KV heads x (128 + 128) x 2 B */
    int ok = s->kv_bytes_per_token == 131072;
    kvt_sizing_destroy(s);
    kvt_model_destroy(m);
    printf("consumer: %s (libkvtier %s)\n", ok ? "ok" : "WRONG", kvt_version());
    return ok ? 0 : 1;
}
C
libdir="$(ls -d "$prefix"/lib*/ | head -n1)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shared library through pkg-config
cc -std=c11 -Wall -Werror "$work/main.c" $(pkg-config --cflags --libs kvtier) -o "$work/shared"
LD_LIBRARY_PATH="$libdir" "$work/shared"
# static library through pkg-config --static
cc -std=c11 -Wall -Werror "$work/main.c" -I"$prefix/include" "$libdir/libkvtier.a" \
    $(pkg-config --libs-only-l --static kvtier | sed 's/-lkvtier//') -lcjson -lm -lpthread -o "$work/static"
"$work/static"
# CMake package
mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(kvtier 0.1 REQUIRED)
add_executable(consumer ../main.c)
target_link_libraries(consumer PRIVATE kvtier::kvtier)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm/build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cm/build/consumer"
objdump -p "$libdir/libkvtier.so" | grep -q 'SONAME.*libkvtier.so.0'
echo "install check: ok"
