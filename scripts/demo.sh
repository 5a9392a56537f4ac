#!/usr/bin/env bash
# The offline round trip: Alice encodes a message into a pointer, Bob opens it with the shared
# chat secret. Only the pointer would travel; the secret comes from an environment variable.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -p clm-bridge --quiet
bin=target/release/clm-bridge

export FAMILY_SECRET='mom-bday-2025'
for format in native clm202; do
    echo "== $format =="
    pointer=$(echo 'Dinner at 7? 🍝' | "$bin" encode --format "$format" --chat Family --from alice --secret-env FAMILY_SECRET)
    echo "pointer that travels: $pointer"
    echo "Bob opens it:"
    echo "some chat text around it: $pointer (sent from my phone)" | "$bin" decode --chat Family --secret-env FAMILY_SECRET
done
