#!/usr/bin/env bash
# The offline round trip: Alice encodes a message into a pointer, Bob opens it with the shared
# chat secret. Only the pointer would travel; the secret comes from an environment variable.
# encode and decode need no transport: the quick drop-only build (as README's demo) will do.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -p clm-bridge --no-default-features --features drop --quiet
# Wherever cargo builds (CARGO_TARGET_DIR, build.target-dir), its metadata says.
target_dir="$(cargo metadata --locked --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="$target_dir/release/clm-bridge"

export FAMILY_SECRET='mom-bday-2025'
for format in native clm202; do
    echo "== $format =="
    pointer=$(echo 'Dinner at 7? 🍝' | "$bin" encode --format "$format" --chat Family --from alice --secret-env FAMILY_SECRET)
    echo "pointer that travels: $pointer"
    echo "Bob opens it:"
    echo "some chat text around it: $pointer (sent from my phone)" | "$bin" decode --chat Family --secret-env FAMILY_SECRET
done
