#!/usr/bin/env bash
# Fuzzes clm-core's detector, pointer parser and invite parser with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS]      # each target for SECONDS (default 60)
#
# Installs cargo-fuzz from crates.io if it is missing. cargo-fuzz needs nightly-only rustc
# flags (-Zsanitizer, sancov passes); on the stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# Seeds come from the test fixtures (mails, pointer and invite vectors) and are merged into fuzz/corpus/
# (kept between runs, ignored by git). Crashing inputs land in fuzz/artifacts/TARGET/.
# Exits non-zero if any target crashed (panic, timeout, out of memory).
#
# Environment: FUZZ_TARGETS (default "detect parse invite"), FUZZ_SANITIZER (default "address"; "none"
# runs faster, clm-core itself has no unsafe code), FUZZ_MAX_LEN (default 16384 bytes).
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac
targets="${FUZZ_TARGETS:-detect parse invite}"
sanitizer="${FUZZ_SANITIZER:-address}"
max_len="${FUZZ_MAX_LEN:-16384}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
cp core/tests/mail/*.eml "$seeds/"
if command -v python3 >/dev/null; then
    # Each vector pointer as it travels: bare, HTML-escaped, and quoted and wrapped in a reply.
    python3 - "$seeds" <<'EOF'
import html, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
vectors = json.loads(pathlib.Path("core/tests/vectors/clm-pointers.json").read_text())["pointers"]
for name in ("native.json", "native2.json"):
    vectors += [v for v in json.loads(pathlib.Path("core/tests/vectors", name).read_text()) if "pointer" in v]
for i, v in enumerate(vectors):
    p = v["pointer"]
    (out / f"vector-{i}.txt").write_text(p)
    (out / f"vector-{i}.html").write_text(f"<p>{html.escape(p)}</p>")
    (out / f"vector-{i}.quoted").write_text("> " + "\n> ".join(p[j:j + 40] for j in range(0, len(p), 40)))
for i, v in enumerate(json.loads(pathlib.Path("core/tests/vectors/invites.json").read_text())):
    (out / f"invite-{i}.txt").write_text(v["link"])
EOF
fi

failed=()
for target in $targets; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    echo "fuzz.sh: $target for ${seconds}s" >&2
    if ! cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: no crash" >&2
