# Sourced by scripts/test.sh and scripts/bench.sh (bash): the Python the tests
# run (the KMS emulator tests/support/kms_emulator.py, the end-to-end check
# tests/e2e/orch_info_e2e.py, the cold-start bench) is a virtual environment
# at .tools/venv (git-ignored) holding exactly tests/requirements.txt, never
# the system interpreter (PEP 668 distributions refuse `pip install` there).
# Exports TEST_PYTHON, the variable the Rust harness (tests/support/kms.rs)
# and the scripts read. Idempotent and quiet: the venv is (re)built only when
# it is missing, broken, or its requirements changed.
# Needs: as_root (defined by the sourcing script), the repo root as cwd.

TEST_VENV="$PWD/.tools/venv"
test_python_ready() {
  [ -x "$TEST_VENV/bin/python" ] &&
    cmp -s tests/requirements.txt "$TEST_VENV/.requirements.txt" &&
    "$TEST_VENV/bin/python" -c 'import moto.server, boto3, coincurve, Crypto.Hash.keccak' 2>/dev/null
}
if ! test_python_ready; then
  base_python=$(command -v python3 || true)
  if [ -z "$base_python" ] || ! "$base_python" -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian/Ubuntu split venv and ensurepip out of python3.
    echo "== installing python3 python3-venv"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    base_python=$(command -v python3)
  fi
  echo "== creating $TEST_VENV (tests/requirements.txt)"
  rm -rf "$TEST_VENV"
  "$base_python" -m venv "$TEST_VENV"
  "$TEST_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r tests/requirements.txt
  cp tests/requirements.txt "$TEST_VENV/.requirements.txt"
  test_python_ready || { echo "$TEST_VENV is not usable after installing tests/requirements.txt" >&2; exit 1; }
fi
export TEST_PYTHON="$TEST_VENV/bin/python"
