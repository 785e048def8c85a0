#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need when
# it is missing (apt: softhsm2 opensc systemd, python3-venv where ensurepip is
# missing; a virtual environment .tools/venv with the exact versions of
# tests/requirements.txt; npm ci of anvil and solc-js into tests/chain), then
# runs fmt, clippy, the feature-subset builds, every cargo test, the end-to-end
# check against an independent secp256k1
# implementation, and bounded fuzzing. Every install step is idempotent and
# quiet: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || apt_missing+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || apt_missing+=(opensc)
# systemd-analyze (tests/deploy.rs verifies the unit; works without a
# running systemd, e.g. in a container).
command -v systemd-analyze >/dev/null 2>&1 || apt_missing+=(systemd)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "== installing ${apt_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# TEST_PYTHON: .tools/venv/bin/python with tests/requirements.txt.
# shellcheck source=scripts/test-python.sh
. scripts/test-python.sh

# anvil and solc-js, pinned by tests/chain/package-lock.json, into
# tests/chain/node_modules (tests/chain.rs and the deposit tests need them).
tests/chain/setup.sh

export AWS_EC2_METADATA_DISABLED=true

# Where cargo puts the binaries (honours CARGO_TARGET_DIR and .cargo/config).
target_dir=$(cargo metadata --format-version 1 --no-deps |
  "$TEST_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
# Each backend feature alone, and none (keystore only), keeps compiling,
# tests and benches included (their required-features leave out what needs
# a missing backend).
for features in "" pkcs11 aws-kms; do
  echo "== cargo check --all-targets --no-default-features${features:+ --features $features}"
  cargo check -q --all-targets --no-default-features ${features:+--features "$features"}
done
echo "== cargo test"
# A developer's LIVEPEER_SIGNER* overrides must not reach the binary under
# test (tests/support/mod.rs bin() strips them): poison them here, so a test
# that runs the binary without bin() fails.
LIVEPEER_SIGNER_CONFIG=/nonexistent/set-by-scripts-test.sh.toml \
  LIVEPEER_SIGNER__SERVER__LISTEN=set-by-scripts-test.sh \
  LIVEPEER_SIGNER__LOG__LEVEL=set-by-scripts-test.sh \
  cargo test --all-features
echo "== end to end (independent verifier: libsecp256k1 via coincurve)"
"$TEST_PYTHON" tests/e2e/orch_info_e2e.py "$target_dir/debug/livepeer-signer"

# Fuzzing (issue 7 §2): every cargo-fuzz target for a bounded time, starting
# from the committed seeds (fuzz/corpus/<target>/, read only; new inputs go
# to a scratch directory). A crash fails the run and leaves its input in
# fuzz/artifacts/<target>/. Longer runs: fuzz/README.md.
# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 enables them
# on the stable toolchain. No sanitizer: our crate forbids unsafe code.
# A fixed seed makes the mutation sequence deterministic, so CI replays what a
# developer ran (only how far it gets depends on machine speed); set
# FUZZ_SEED=0 for a random seed when hunting.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_SEED=${FUZZ_SEED:-1}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install -q cargo-fuzz --locked --version 0.13.2
  fi
  export RUSTC_BOOTSTRAP=1
  # Disk is what a cold run on a small machine runs out of first (a linker
  # dies with SIGBUS when it cannot write its output): say what we use.
  echo "== disk: $(du -sh "$target_dir" | cut -f1) in $target_dir, $(df -h . | awk 'NR==2 {print $4}') free"
  echo "== cargo fuzz build"
  (cd fuzz && cargo fuzz build --sanitizer none)
  fuzz_scratch=$(mktemp -d)
  trap 'rm -rf "$fuzz_scratch"' EXIT
  for target in $(cd fuzz && cargo fuzz list); do
    echo "== fuzz $target (${FUZZ_SECONDS} s)"
    mkdir -p "$fuzz_scratch/$target"
    if ! (cd fuzz && cargo fuzz run --sanitizer none "$target" "$fuzz_scratch/$target" "corpus/$target" -- \
      -seed="$FUZZ_SEED" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) \
      >"$fuzz_scratch/$target.log" 2>&1; then
      grep -a -m1 -A3 'panicked at' "$fuzz_scratch/$target.log" || true
      tail -n 60 "$fuzz_scratch/$target.log"
      echo "fuzz target $target failed: the crashing input is in fuzz/artifacts/$target/" >&2
      exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$fuzz_scratch/$target.log" || true
  done
fi
