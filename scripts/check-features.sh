#!/usr/bin/env bash
# `cargo check` of clm-adapters and clm-bridge with each transport feature alone, and with
# none, as rage's CI does: a feature that only compiles next to another one is caught here.
set -euo pipefail
cd "$(dirname "$0")/.."
for package in clm-adapters clm-bridge; do
  echo "check-features: $package without transports" >&2
  cargo check --locked --quiet -p "$package" --no-default-features
  for feature in drop email matrix telegram; do
    echo "check-features: $package --features $feature" >&2
    cargo check --locked --quiet -p "$package" --no-default-features --features "$feature"
  done
done
