#!/usr/bin/env bash
# stress-ng's aio stressor on glibc and on paio, interleaved pairs, and the
# median ratio of their wall times (above 1: paio is faster).
#
#   bench/scripts/stress-ng-aio.sh [PAIRS]   (default 5)
#
# PRELOAD (default target/release/libpaio.so), OPS (default 100000),
# WORKERS (default 2) and TMPDIR (where the stressors' files go) can be set.
set -euo pipefail
pairs=${1:-5}
preload=$(realpath "${PRELOAD:-target/release/libpaio.so}")
ops=${OPS:-100000}
workers=${WORKERS:-2}
command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }
[ -f "$preload" ] || { echo "no $preload: cargo build --release first" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/stress-ng-aio.XXXXXX")
trap 'rm -rf "$dir"' EXIT

run() { # $1: preload or empty; prints seconds
    local t0 t1
    t0=$(date +%s%N)
    LD_PRELOAD=$1 stress-ng --aio "$workers" --aio-ops "$ops" --verify \
        --temp-path "$dir" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}

echo "stress-ng --aio $workers --aio-ops $ops --verify, $pairs interleaved pairs"
printf '%-6s %10s %10s %8s\n' pair glibc_s paio_s ratio
ratios=()
for i in $(seq 1 "$pairs"); do
    g=$(run "")
    p=$(run "$preload")
    r=$(echo "scale=2; $g / $p" | bc)
    ratios+=("$r")
    printf '%-6s %10s %10s %8s\n' "$i" "$g" "$p" "$r"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "median glibc/paio time ratio: $median"
