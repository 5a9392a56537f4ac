#!/usr/bin/env bash
# Runs clm-core's criterion benches (core/benches/core.rs) with quick settings and prints each
# figure next to its target from issue 2 ("Measured"), native v1 beside v2, and this machine's own
# SHA-256 speed as the keystream bound. A missed target is reported, never an error: the script fails only
# when something cannot run.
#
# Usage: scripts/bench-core.sh [CRITERION FILTER]   e.g. scripts/bench-core.sh keystream
# Settings: BENCH_WARM_UP (s, default 1), BENCH_MEASURE (s, default 3), SHA_SECONDS (default 3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

require() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "bench-core.sh: '$1' is needed: $2" >&2
        exit 2
    }
}
require cargo "install Rust from https://rustup.rs"
require openssl "apt-get install openssl"
if ! command -v jq >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
require jq "apt-get install jq"

warm_up="${BENCH_WARM_UP:-1}"
measure="${BENCH_MEASURE:-3}"
sha_seconds="${SHA_SECONDS:-3}"

# --- The bound: HMAC-DRBG output costs two SHA-256 compressions (128 hashed bytes) per 32 bytes.
echo "== openssl speed -evp sha256 (16384-byte blocks, ${sha_seconds} s)"
# -mr prints "+F:n:sha256:<bytes/s per block size>..."; the last field is the 16384-byte one.
sha_bytes_per_s="$(openssl speed -mr -seconds "$sha_seconds" -bytes 16384 -evp sha256 2>/dev/null |
    awk -F: '/^\+F:/ { print $NF }')" || sha_bytes_per_s=""
if [[ -z "$sha_bytes_per_s" ]]; then
    # Older openssl without -bytes/-seconds: the default run ends with 16384-byte blocks too.
    sha_bytes_per_s="$(openssl speed -mr -evp sha256 2>/dev/null | awk -F: '/^\+F:/ { print $NF }')" ||
        sha_bytes_per_s=""
fi
[[ -n "$sha_bytes_per_s" ]] || {
    echo "bench-core.sh: could not read a figure from 'openssl speed'" >&2
    exit 1
}
read -r sha_mib bound_mib target_mib < <(awk -v b="$sha_bytes_per_s" \
    'BEGIN { m = b / 1048576; printf "%.1f %.1f %.1f\n", m, m / 4, 0.75 * m / 4 }')
echo "SHA-256: ${sha_mib} MiB/s; bound for the keystream (sha256/4): ${bound_mib} MiB/s; 75%: ${target_mib} MiB/s"
echo

# --- The benches, into a fresh criterion directory so no earlier or concurrent run is read back.
criterion_home="$(mktemp -d "${TMPDIR:-/tmp}/clm-bench.XXXXXX")"
trap 'rm -rf "$criterion_home"' EXIT
echo "== cargo bench -p clm-core --bench core (warm-up ${warm_up} s, measurement ${measure} s)"
CRITERION_HOME="$criterion_home" cargo bench -p clm-core --bench core -- \
    --warm-up-time "$warm_up" --measurement-time "$measure" "$@"
echo

# --- Criterion's estimates, in ns per iteration: the median, which a shared or virtual machine's
# scheduling hiccups move less than the mean or slope that criterion prints.
declare -A ns=() bytes=()
while IFS= read -r benchmark_json; do
    dir="$(dirname "$benchmark_json")"
    [[ -f "$dir/estimates.json" ]] || continue
    id="$(jq -r '.full_id' "$benchmark_json")"
    ns[$id]="$(jq -r '.median.point_estimate' "$dir/estimates.json")"
    bytes[$id]="$(jq -r '.throughput.Bytes // 0' "$benchmark_json")"
done < <(find "$criterion_home" -path '*/new/benchmark.json')

# Helpers print one table cell each; "-" when that bench did not run.
mib_per_s() { [[ -n "${ns[$1]:-}" ]] && awk -v b="${bytes[$1]}" -v t="${ns[$1]}" 'BEGIN { printf "%.1f", b / 1048576 / (t * 1e-9) }' || echo "-"; }
per_s() { [[ -n "${ns[$1]:-}" ]] && awk -v t="${ns[$1]}" 'BEGIN { printf "%.0f", 1e9 / t }' || echo "-"; }
micros() { [[ -n "${ns[$1]:-}" ]] && awk -v t="${ns[$1]}" 'BEGIN { printf "%.2f", t / 1e3 }' || echo "-"; }
millis() { [[ -n "${ns[$1]:-}" ]] && awk -v t="${ns[$1]}" 'BEGIN { printf "%.2f", t / 1e6 }' || echo "-"; }
# verdict VALUE OP LIMIT: "met" or "MISSED" (or "-" without a value).
verdict() {
    [[ "$1" == "-" ]] && { echo "-"; return; }
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? v >= l : v <= l; print ok ? "met" : "MISSED" }'
}
# row NAME MEASURED TARGET VERDICT; benches that did not run (filtered out) are left out.
row() {
    [[ "$2" == "- "* ]] || printf '%-40s %14s   %-46s %s\n' "$@"
}

echo "== Summary: criterion medians (SHA-256 ${sha_mib} MiB/s, keystream bound ${bound_mib} MiB/s)"
row "benchmark" "measured" "target" "verdict"
for group in keystream encrypt; do
    for size in 64B 1KiB 64KiB 1MiB; do
        id="$group/$size"
        value="$(mib_per_s "$id")"
        share="$([[ "$value" == "-" ]] && echo "" || awk -v v="$value" -v b="$bound_mib" 'BEGIN { printf " (%.0f%% of bound)", 100 * v / b }')"
        case "$size" in
        64KiB | 1MiB) row "$id" "$value MiB/s" ">= $target_mib MiB/s$share" "$(verdict "$value" ">=" "$target_mib")" ;;
        *) row "$id" "$value MiB/s" "(per-call setup dominates)$share" "info" ;;
        esac
    done
    small="$(mib_per_s "$group/64KiB")" large="$(mib_per_s "$group/1MiB")"
    if [[ "$small" != "-" && "$large" != "-" ]]; then
        ratio="$(awk -v s="$small" -v l="$large" 'BEGIN { printf "%.2f", l / s }')"
        row "$group flat 64KiB->1MiB" "x$ratio" "1MiB/64KiB >= 0.90" "$(verdict "$ratio" ">=" 0.90)"
    fi
done

# Native v1 and v2 side by side (MiB/s of message; v2 pays padding and the AEAD, v1 the DRBG and MAC).
printf '%-40s %14s %14s\n' "native (MiB/s of message)" "v1" "v2"
for size in 1KiB 64KiB 1MiB; do
    for op in encrypt decrypt; do
        v1="$(mib_per_s "native/v1_$op/$size")" v2="$(mib_per_s "native/v2_$op/$size")"
        [[ "$v1" == "-" && "$v2" == "-" ]] || printf '%-40s %14s %14s\n' "native $op $size" "$v1" "$v2"
    done
done

id="decode/native2_200B_message_parse_and_open"
row "$id" "$(per_s "$id") /s" "(one core; pointer of 256 padded bytes)" "info"
id="decode/native2_200B_message_open_only"
row "$id" "$(per_s "$id") /s" "(open share of the above)" "info"

id="decode/clm202_200B_parse_and_open"
value="$(per_s "$id")"
row "$id" "$value /s" ">= 500000 /s (one core)" "$(verdict "$value" ">=" 500000)"
id="decode/clm202_200B_open_only"
row "$id" "$(per_s "$id") /s" "(open share of the above)" "info"

id="recognize/clm202_last_of_10000"
value="$(millis "$id")"
per_chat="$([[ "$value" == "-" ]] && echo "" || awk -v t="${ns[$id]}" 'BEGIN { printf " (%.2f us a chat)", t / 1e3 / 10000 }')"
row "$id" "$value ms" "<= 10 ms per pointer$per_chat" "$(verdict "$value" "<=" 10)"
id="recognize/clm202_not_mine_1MiB_of_10000"
value="$(millis "$id")"
row "$id" "$value ms" "<= 10 ms: rejection ignores pointer size" "$(verdict "$value" "<=" 10)"
native_times=()
for count in 1 1000 100000; do
    id="recognize/native/$count"
    row "$id" "$(micros "$id") us" "same cost within 2x" "info"
    if [[ -n "${ns[$id]:-}" ]]; then
        native_times+=("${ns[$id]}")
    fi
done
if ((${#native_times[@]} == 3)); then
    spread="$(printf '%s\n' "${native_times[@]}" | awk 'NR == 1 { lo = hi = $1 } { if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "%.2f", hi / lo }')"
    row "recognize/native spread (max/min)" "x$spread" "<= 2x across 1, 1000, 100000" "$(verdict "$spread" "<=" 2)"
fi

id="recognize/native2_of_100000_mixed"
row "$id" "$(micros "$id") us" "(v1 and v2 chats in one table; v2 pointer)" "info"

id="detect/mixed_10MiB"
value="$(mib_per_s "$id")"
row "$id" "$value MiB/s" ">= 100 MiB/s" "$(verdict "$value" ">=" 100)"
