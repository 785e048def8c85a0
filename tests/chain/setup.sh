#!/usr/bin/env bash
# Installs the test-only chain tools (anvil, solc-js) pinned by
# tests/chain/package-lock.json into tests/chain/node_modules.
# Idempotent: runs `npm ci` only when node_modules is missing or older than
# the lockfile (or its anvil binary / solc is missing). Only the npm
# registry is used; the anvil binary comes from its platform package.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v npm >/dev/null || { echo "tests/chain/setup.sh: npm not found (install Node.js >= 18 and npm)" >&2; exit 1; }

stamp="node_modules/.package-lock.json"
stale=0
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  stale=1
elif [ ! -d node_modules/solc ] || ! ls node_modules/@foundry-rs/anvil-*/bin/anvil >/dev/null 2>&1; then
  stale=1
fi

if [ "$stale" = 1 ]; then
  # --ignore-scripts: anvil's postinstall would only re-fetch the binary the
  # platform package already ships.
  npm ci --no-audit --no-fund --ignore-scripts
  touch "$stamp"
fi

version="$(npx --no-install anvil --version | head -1)"
case "$version" in
  *"1.7.1"*) ;;
  *) echo "tests/chain/setup.sh: unexpected anvil version: $version" >&2; exit 1 ;;
esac
echo "tests/chain: $version; solc $(node -p 'require("solc/package.json").version')"
