#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need when
# it is missing (apt: softhsm2 opensc; pip: moto[server], coincurve,
# pycryptodome), then runs fmt, clippy, every cargo test and the end-to-end
# check against an independent secp256k1 implementation.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || apt_missing+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || apt_missing+=(opensc)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "== installing ${apt_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

pip_missing=()
python3 -c 'import moto.server' 2>/dev/null || pip_missing+=('moto[server]>=5.1,<6')
python3 -c 'import coincurve' 2>/dev/null || pip_missing+=('coincurve>=20')
python3 -c 'import Crypto.Hash.keccak' 2>/dev/null || pip_missing+=('pycryptodome>=3.20')
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "== installing ${pip_missing[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_missing[@]}"
fi

export AWS_EC2_METADATA_DISABLED=true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
echo "== cargo test"
cargo test --all-features
echo "== end to end (independent verifier: libsecp256k1 via coincurve)"
python3 tests/e2e/orch_info_e2e.py target/debug/livepeer-signer
