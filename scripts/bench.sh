#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every number in it comes from this one script.
#
#   ./scripts/bench.sh                 # full run (~10 min on 2 cores)
#   BENCH_DURATION=3 BENCH_ROUNDS=1 ./scripts/bench.sh   # quick look
#   BENCH_HTTP=0 ./scripts/bench.sh    # skip the wrk HTTP section (and memory)
#   BENCH_PAY_DURATION=3 BENCH_KMS_SAMPLES=5 ./scripts/bench.sh   # shorter payment load
#   BENCH_SKIP_DISCOVERY=1 ./scripts/bench.sh   # skip the discovery section
#   BENCH_DISCOVERY_DURATION=3 BENCH_DISCOVERY_ORCHS=50 ./scripts/bench.sh   # shorter/smaller discovery load
#
# What it measures (issue 7 §1), each as a ratio against a ceiling measured
# in the same run on the same machine:
#   * HTTP: POST /sign-orchestrator-info on the release signer (keystore
#     backend, audit log at the default `info` level written to a file) vs
#     examples/ceiling_server.rs (minimal actix-web handler, constant JSON
#     body of the same length, same worker count), with wrk at 1/16/64/256
#     connections, rounds interleaved signer/ceiling; requests/s, p50, p99.
#   * Signer: `cargo bench --bench signer` (Signer::sign_digest on the
#     keystore vs raw libsecp256k1 sign + verify, the cheapest self-checked
#     signature; issue 14 target ≥ 0.9×).
#   * Cold start: exec → first 200, release build, n=2^18 scrypt keystore
#     made by `livepeer-signer keystore new`; median of several runs.
#   * Peak RSS (VmHWM) of the signer after all the load.
#   * PKCS#11 (SoftHSM2) and AWS KMS (moto emulator) backends:
#     `cargo bench --bench pkcs11` / `--bench aws_kms` (Signer::sign_digest vs
#     the raw backend call, same process), and cold start to the first 200 of
#     `serve` on a throwaway SoftHSM2 token and on the KMS emulator.
#   * Payments (issue 14 §3): `cargo bench --bench payments`: POST
#     /generate-live-payment on the release daemon under load (64 keep-alive
#     connections on 127.0.0.1; continuing 1-ticket sessions and 10-ticket
#     first calls; keystore and SoftHSM2) vs the in-process signing ceiling
#     for the same signatures per request, 0 errors required; the KMS
#     emulator's 25-ticket vs 1-ticket latency; the daemon's peak RSS.
#   * Discovery: `cargo bench --bench discovery`: `Snapshot::build` of a
#     100-orchestrator network vs `serde_json::Value` parsing of the same
#     `/discovery` bodies (in process), and GET /discover-orchestrators (all,
#     and `?caps=` one pair) on the release daemon polling 100 real gRPC test
#     orchestrators, 64 keep-alive connections, vs examples/ceiling_server.rs
#     serving the daemon's own bytes (`--get`), same worker count, rounds
#     interleaved, 0 errors required; server CPU per request; the daemon's
#     peak RSS with the snapshot loaded.
#
# Everything binds and targets 127.0.0.1. Only processes started here are
# stopped, by PID. Needs wrk (Debian package), SoftHSM2 + opensc (Debian
# packages) and Python 3 with the pinned moto of tests/requirements.txt (a
# virtual environment, scripts/test-python.sh); installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}      # seconds per wrk run
ROUNDS=${BENCH_ROUNDS:-3}           # interleaved signer/ceiling rounds per connection count
COLD_RUNS=${BENCH_COLD_RUNS:-5}
CONNS=${BENCH_CONNS:-"1 16 64 256"}
OUT=${BENCH_OUT:-BENCHMARKS.md}
HTTP=${BENCH_HTTP:-1}               # 0: skip the wrk HTTP and memory sections
BACKEND_MEASURE=${BENCH_BACKEND_MEASURE:-2}   # criterion seconds per function, pkcs11/aws_kms benches
PAY_DURATION=${BENCH_PAY_DURATION:-$DURATION} # seconds per measured payment-load phase
KMS_SAMPLES=${BENCH_KMS_SAMPLES:-9}           # 1-ticket and 25-ticket KMS payments each (medians)
DISC=1; [ "${BENCH_SKIP_DISCOVERY:-0}" = 1 ] && DISC=0        # 0: skip the discovery section
DISC_DURATION=${BENCH_DISCOVERY_DURATION:-$DURATION}          # seconds per measured discovery-load run
DISC_ORCHS=${BENCH_DISCOVERY_ORCHS:-100}                      # test orchestrators polled by the daemon

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_missing=()
if [ "$HTTP" = 1 ] && ! command -v wrk >/dev/null 2>&1; then apt_missing+=(wrk); fi
[ -e /usr/lib/softhsm/libsofthsm2.so ] || apt_missing+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || apt_missing+=(opensc)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "== installing ${apt_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi
# TEST_PYTHON: .tools/venv/bin/python with tests/requirements.txt (pinned moto).
# shellcheck source=scripts/test-python.sh
. scripts/test-python.sh
export AWS_EC2_METADATA_DISABLED=true

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(load_avg)

echo "== cargo build --release --bin livepeer-signer --example ceiling_server"
cargo build --release --bin livepeer-signer --example ceiling_server
# Honours CARGO_TARGET_DIR (and .cargo/config) through cargo metadata.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  "$TEST_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET_DIR/release/livepeer-signer
CEIL=$TARGET_DIR/release/examples/ceiling_server

# C7 keystore (vectors.md: §C key, light scrypt, password livepeer-test): the
# HTTP numbers do not depend on the KDF cost, only cold start does.
mkdir -p "$TMP/c7"
cat > "$TMP/c7/key.json" <<'EOF'
{"address": "96216849c49358b10257cb55b28ea603c874b05e", "crypto": {"cipher": "aes-128-ctr", "ciphertext": "d3e83830feccc40dfb645a9dd02f8dbd06d7f5d9d4fd0ee2f4be601f0b5ec626", "cipherparams": {"iv": "000102030405060708090a0b0c0d0e0f"}, "kdf": "scrypt", "kdfparams": {"dklen": 32, "n": 4096, "p": 6, "r": 8, "salt": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}, "mac": "2ccb162d2fb9bd919fc8b6a7023e387aecd977bbffc025b2e0bce6f2f9896950"}, "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6", "version": 3}
EOF
echo livepeer-test > "$TMP/c7/password"

write_config() { # file keypath passwordfile level
  cat > "$1" <<EOF
[server]
listen = "127.0.0.1:0"

[key]
backend = "keystore"

[key.keystore]
path = "$2"
password_file = "$3"

[log]
level = "$4"
format = "text"
EOF
}

# start_signer NAME LEVEL → sets SIGNER_PID, SIGNER_URL; logs to $TMP/signer-NAME.log
start_signer() {
  local level=$2 cfg="$TMP/signer-$1.toml" log="$TMP/signer-$1.log"
  write_config "$cfg" "$TMP/c7/key.json" "$TMP/c7/password" "$level"
  env -u RUST_LOG "$BIN" serve --config "$cfg" 2>"$log" >/dev/null &
  SIGNER_PID=$!
  PIDS+=("$SIGNER_PID")
  SIGNER_URL=""
  for _ in $(seq 1 300); do
    SIGNER_URL=$(grep -o 'url=http://127\.0\.0\.1:[0-9]*' "$log" | head -1 | cut -d= -f2 || true)
    [ -n "$SIGNER_URL" ] && break
    sleep 0.1
  done
  [ -n "$SIGNER_URL" ] || { cat "$log"; echo "signer did not start" >&2; exit 1; }
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

start_ceiling() {
  "$CEIL" 0 >"$TMP/ceiling.out" 2>&1 &
  CEIL_PID=$!
  PIDS+=("$CEIL_PID")
  CEIL_URL=""
  for _ in $(seq 1 100); do
    CEIL_URL=$(grep -o 'url=http://127\.0\.0\.1:[0-9]*' "$TMP/ceiling.out" | head -1 | cut -d= -f2 || true)
    [ -n "$CEIL_URL" ] && break
    sleep 0.1
  done
  [ -n "$CEIL_URL" ] || { cat "$TMP/ceiling.out"; echo "ceiling did not start" >&2; exit 1; }
}

# Same bytes from both?
check_body() {
  local url=$1
  curl -fsS -X POST -H 'Content-Type: application/json' --data '{}' "$url/sign-orchestrator-info" | wc -c
}

# wrk_run URL CONNS → prints "rps p50_us p99_us non2xx errors"
wrk_run() {
  local url=$1 c=$2 t
  t=$(( c < 2 ? c : 2 ))
  wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s scripts/bench/post.lua "$url" 2>&1 | awk '
    function us(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
      return v + 0
    }
    /^ +50%/ { p50 = us($2) }
    /^ +99%/ { p99 = us($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %d %d\n", rps, p50, p99, non2xx, err }'
}

median() { sort -g | awk '{a[NR]=$1} END { if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

# HTTP section (wrk), skipped with BENCH_HTTP=0.
http_section() {
  start_signer info info
  start_ceiling
  SIGNER_BYTES=$(check_body "$SIGNER_URL")
  CEIL_BYTES=$(check_body "$CEIL_URL")
  echo "== signer $SIGNER_URL (pid $SIGNER_PID, $SIGNER_BYTES-byte body), ceiling $CEIL_URL (pid $CEIL_PID, $CEIL_BYTES-byte body)"
  [ "$SIGNER_BYTES" = "$CEIL_BYTES" ] || { echo "body lengths differ" >&2; exit 1; }

  BAD=0
  for c in $CONNS; do
    s_rps=(); s_p50=(); s_p99=(); c_rps=(); c_p50=(); c_p99=()
    for r in $(seq 1 "$ROUNDS"); do
      read -r rps p50 p99 n2 err < <(wrk_run "$SIGNER_URL" "$c")
      echo "   signer  c=$c round $r: $rps req/s p50 ${p50}us p99 ${p99}us non-2xx $n2 socket-errors $err"
      s_rps+=("$rps"); s_p50+=("$p50"); s_p99+=("$p99"); BAD=$((BAD + n2))
      read -r rps p50 p99 n2 err < <(wrk_run "$CEIL_URL" "$c")
      echo "   ceiling c=$c round $r: $rps req/s p50 ${p50}us p99 ${p99}us non-2xx $n2 socket-errors $err"
      c_rps+=("$rps"); c_p50+=("$p50"); c_p99+=("$p99")
    done
    S_RPS[$c]=$(printf '%s\n' "${s_rps[@]}" | median); S_P50[$c]=$(printf '%s\n' "${s_p50[@]}" | median); S_P99[$c]=$(printf '%s\n' "${s_p99[@]}" | median)
    C_RPS[$c]=$(printf '%s\n' "${c_rps[@]}" | median); C_P50[$c]=$(printf '%s\n' "${c_p50[@]}" | median); C_P99[$c]=$(printf '%s\n' "${c_p99[@]}" | median)
  done
  [ "$BAD" -eq 0 ] || { echo "the signer answered $BAD non-2xx responses under load" >&2; exit 1; }

  SIGNER_HWM_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$SIGNER_PID/status")
  SIGNER_RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$SIGNER_PID/status")
  CEIL_HWM_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$CEIL_PID/status")
  AUDIT_LINES=$(grep -c 'event="serve"\|event=serve' "$TMP/signer-info.log" || true)
  AUDIT_BYTES=$(wc -c < "$TMP/signer-info.log")
  stop_pid "$SIGNER_PID"

  # Effect of the per-request audit line: the same signer at level=warn, 64 connections.
  # The "listening" line (needed to find the port) stays on.
  start_signer warn "warn,livepeer_signer::commands::serve=info"
  w_rps=(); w_p99=()
  for r in $(seq 1 "$ROUNDS"); do
    read -r rps p50 p99 n2 err < <(wrk_run "$SIGNER_URL" 64)
    echo "   signer(level=warn) c=64 round $r: $rps req/s p99 ${p99}us"
    w_rps+=("$rps"); w_p99+=("$p99")
  done
  WARN_RPS=$(printf '%s\n' "${w_rps[@]}" | median); WARN_P99=$(printf '%s\n' "${w_p99[@]}" | median)
  stop_pid "$SIGNER_PID"
  stop_pid "$CEIL_PID"
}
declare -A S_RPS S_P50 S_P99 C_RPS C_P50 C_P99 PAY PAYMEM
if [ "$HTTP" = 1 ]; then
  http_section
else
  echo "== HTTP section skipped (BENCH_HTTP=0)"
fi

echo "== cold start (n=2^18 scrypt keystore, $COLD_RUNS runs)"
mkdir -p "$TMP/std"
"$BIN" keystore new --dir "$TMP/std/keystore" --password-file "$TMP/std/password" >/dev/null 2>&1
write_config "$TMP/std/signer.toml" "$TMP/std/keystore" "$TMP/std/password" info
KDF=$(cat "$TMP"/std/keystore/* | grep -o '"n": *[0-9]*' | head -1 | tr -dc '0-9')
[ "$KDF" = 262144 ] || { echo "expected n=262144 in the new key file, got $KDF" >&2; exit 1; }
# cold_runs NAME CONFIG [env VAR=… …] → sets COLD_MED, COLD_ALL; the optional
# prefix (e.g. `env SOFTHSM2_CONF=…`) is the environment of the timed serve.
cold_runs() {
  local name=$1 cfg=$2 r ms cold=()
  shift 2
  for r in $(seq 1 "$COLD_RUNS"); do
    ms=$("$@" "$TEST_PYTHON" scripts/bench/cold_start.py "$BIN" "$cfg" | cut -d= -f2)
    echo "   $name cold start run $r: ${ms} ms"
    cold+=("$ms")
  done
  COLD_MED=$(printf '%s\n' "${cold[@]}" | median)
  COLD_ALL=$(printf '%s ' "${cold[@]}")
}
COLD_LOAD=$(load_avg)
cold_runs keystore "$TMP/std/signer.toml" env
COLD_KS_MED=$COLD_MED; COLD_KS_ALL=$COLD_ALL

echo "== cold start, pkcs11 backend (SoftHSM2 throwaway token, $COLD_RUNS runs)"
HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
mkdir -p "$TMP/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
  "$TMP/hsm/tokens" > "$TMP/hsm/softhsm2.conf"
HSM_ENV=(env SOFTHSM2_CONF="$TMP/hsm/softhsm2.conf")
"${HSM_ENV[@]}" softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null
echo 1234 > "$TMP/hsm/pin"
cat > "$TMP/hsm/signer.toml" <<EOF
[server]
listen = "127.0.0.1:0"

[key]
backend = "pkcs11"

[key.pkcs11]
module = "$HSM_MODULE"
token_label = "bench"
key_label = "k"
pin_file = "$TMP/hsm/pin"
sessions = 2

[log]
level = "info"
format = "text"
EOF
HSM_ADDR=$("${HSM_ENV[@]}" "$BIN" pkcs11 import --config "$TMP/hsm/signer.toml" \
  --keystore "$TMP/c7/key.json" --password-file "$TMP/c7/password" --label k 2>"$TMP/hsm/import.log") \
  || { cat "$TMP/hsm/import.log"; echo "pkcs11 import failed" >&2; exit 1; }
echo "   imported the C7 key into token bench as k: $HSM_ADDR"
COLD_HSM_LOAD=$(load_avg)
cold_runs pkcs11 "$TMP/hsm/signer.toml" "${HSM_ENV[@]}"
COLD_HSM_MED=$COLD_MED; COLD_HSM_ALL=$COLD_ALL

echo "== cold start, aws-kms backend (moto KMS emulator, $COLD_RUNS runs)"
mkdir -p "$TMP/kms"
AWS_DUMMY_ID=AKIAIOSFODNN7EXAMPLE
AWS_DUMMY_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
# The same hygiene as tests/support/kms.rs: static dummy credentials, explicit
# region and endpoint, no metadata service, no shared config files.
KMS_ENV=(env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN -u AWS_REGION -u AWS_DEFAULT_REGION
  -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_KMS -u AWS_ROLE_ARN -u AWS_WEB_IDENTITY_TOKEN_FILE
  -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI -u AWS_CONTAINER_AUTHORIZATION_TOKEN
  AWS_ACCESS_KEY_ID="$AWS_DUMMY_ID" AWS_SECRET_ACCESS_KEY="$AWS_DUMMY_SECRET" AWS_EC2_METADATA_DISABLED=true
  AWS_CONFIG_FILE="$TMP/kms/no-such-aws-config" AWS_SHARED_CREDENTIALS_FILE="$TMP/kms/no-such-aws-credentials"
  PYTHONDONTWRITEBYTECODE=1)
"${KMS_ENV[@]}" "$TEST_PYTHON" tests/support/kms_emulator.py >"$TMP/kms/emulator.out" 2>"$TMP/kms/emulator.err" </dev/null &
KMS_PID=$!
PIDS+=("$KMS_PID")
KMS_PORT=""
for _ in $(seq 1 600); do
  KMS_PORT=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$TMP/kms/emulator.out" | head -1)
  [ -n "$KMS_PORT" ] && break
  kill -0 "$KMS_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$KMS_PORT" ] || { cat "$TMP/kms/emulator.err"; echo "the KMS emulator did not start" >&2; exit 1; }
KMS_ENDPOINT="http://127.0.0.1:$KMS_PORT"
KMS_KEY=$("${KMS_ENV[@]}" "$TEST_PYTHON" - "$KMS_ENDPOINT" <<'EOF'
import sys, boto3
kms = boto3.client("kms", endpoint_url=sys.argv[1], region_name="us-east-1")
out = kms.create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY", Description="bench.sh cold start")
print(out["KeyMetadata"]["KeyId"])
EOF
)
echo "   emulator $KMS_ENDPOINT (pid $KMS_PID), fresh ECC_SECG_P256K1 key $KMS_KEY"
cat > "$TMP/kms/signer.toml" <<EOF
[server]
listen = "127.0.0.1:0"

[key]
backend = "aws-kms"

[key.aws_kms]
key_id = "$KMS_KEY"
region = "us-east-1"
endpoint_url = "$KMS_ENDPOINT"
connect_timeout_ms = 2000
operation_timeout_ms = 10000
max_attempts = 2

[log]
level = "info"
format = "text"
EOF
COLD_KMS_LOAD=$(load_avg)
cold_runs aws-kms "$TMP/kms/signer.toml" "${KMS_ENV[@]}"
COLD_KMS_MED=$COLD_MED; COLD_KMS_ALL=$COLD_ALL
stop_pid "$KMS_PID"

COLD_MED=$COLD_KS_MED; COLD_ALL=$COLD_KS_ALL

echo "== cargo bench --bench signer"
if [ "${BENCH_SKIP_SIGNER:-0}" = 1 ]; then
  { echo "ratio sign_digest: signer_keystore 0/s vs raw libsecp256k1 sign+verify 0/s = 0x of the ceiling (raw k256 sign alone 0/s) (skipped: BENCH_SKIP_SIGNER=1)"
    echo "overhead sign_digest: raw libsecp256k1 sign alone 0/s; Signer overhead per signature 0 us"; } > "$TMP/signer-bench.txt"
else
  cargo bench --bench signer -- --warm-up-time 1 --measurement-time 3 2>&1 | tee "$TMP/signer-bench.txt" | grep -E 'ratio|overhead|time:' || true
fi
SIGN_LINE=$(grep '^ratio sign_digest' "$TMP/signer-bench.txt") || { tail -40 "$TMP/signer-bench.txt"; echo "no ratio line from the signer bench" >&2; exit 1; }
SIGN_OVERHEAD_LINE=$(grep '^overhead sign_digest' "$TMP/signer-bench.txt") || { echo "no overhead line from the signer bench" >&2; exit 1; }
# "ratio sign_digest: signer_keystore X/s vs raw libsecp256k1 sign+verify Y/s = Zx of the ceiling (raw k256 sign alone W/s)"
SIGN_OURS=$(echo "$SIGN_LINE" | sed -n 's/.*signer_keystore \([0-9]*\)\/s vs.*/\1/p')
SIGN_CEIL=$(echo "$SIGN_LINE" | sed -n 's/.*sign+verify \([0-9]*\)\/s = .*/\1/p')
SIGN_RATIO=$(echo "$SIGN_LINE" | sed -n 's/.*\/s = \([0-9.]*\)x of the ceiling.*/\1/p')
SIGN_K256=$(echo "$SIGN_LINE" | sed -n 's/.*raw k256 sign alone \([0-9]*\)\/s.*/\1/p')
SIGN_SECP=$(echo "$SIGN_OVERHEAD_LINE" | sed -n 's/.*raw libsecp256k1 sign alone \([0-9]*\)\/s.*/\1/p')

# Signer over the PKCS#11 / AWS KMS backends vs the raw backend call, each
# bench printing one same-process ratio line (see benches/pkcs11.rs, aws_kms.rs).
echo "== cargo bench --bench pkcs11 (SoftHSM2)"
PKCS11_LOAD=$(load_avg)
cargo bench --bench pkcs11 -- --warm-up-time 1 --measurement-time "$BACKEND_MEASURE" 2>&1 | tee "$TMP/pkcs11-bench.txt" | grep -E 'ratio|time:' || true
PKCS11_LINE=$(grep '^ratio pkcs11 sign_digest' "$TMP/pkcs11-bench.txt") || { tail -40 "$TMP/pkcs11-bench.txt"; echo "no ratio line from the pkcs11 bench" >&2; exit 1; }
echo "== cargo bench --bench aws_kms (moto emulator)"
KMS_LOAD=$(load_avg)
"${KMS_ENV[@]}" cargo bench --bench aws_kms -- --warm-up-time 1 --measurement-time "$BACKEND_MEASURE" 2>&1 | tee "$TMP/kms-bench.txt" | grep -E 'ratio|time:' || true
KMS_LINE=$(grep '^ratio aws-kms sign_digest' "$TMP/kms-bench.txt") || { tail -40 "$TMP/kms-bench.txt"; echo "no ratio line from the aws_kms bench" >&2; exit 1; }
# "… NAME <ours>/s vs raw … <raw>/s = <ratio>x of the ceiling …"
PKCS11_OURS=$(echo "$PKCS11_LINE" | sed -n 's/.*signer_pkcs11 \([0-9]*\)\/s vs.*/\1/p')
PKCS11_RAW=$(echo "$PKCS11_LINE" | sed -n 's/.*raw C_Sign \([0-9]*\)\/s = .*/\1/p')
PKCS11_RATIO=$(echo "$PKCS11_LINE" | sed -n 's/.*\/s = \([0-9.]*\)x of the ceiling.*/\1/p')
PKCS11_MEDIAN=$(echo "$PKCS11_LINE" | sed -n 's/.*(median of [0-9]* rounds: \([0-9.]*\)x).*/\1/p')
PKCS11_ALONE=$(echo "$PKCS11_LINE" | sed -n 's/.*backend alone .*\/s = \([0-9.]*\)x (median.*/\1/p')
KMS_OURS=$(echo "$KMS_LINE" | sed -n 's/.*signer_aws_kms \([0-9]*\)\/s vs.*/\1/p')
KMS_RAW=$(echo "$KMS_LINE" | sed -n 's/.*raw SDK Sign \([0-9]*\)\/s = .*/\1/p')
KMS_RATIO=$(echo "$KMS_LINE" | sed -n 's/.*\/s = \([0-9.]*\)x of the ceiling.*/\1/p')

# POST /generate-live-payment under load (benches/payments.rs): one
# "paybench key=value …" line per measurement; the bench exits non-zero on
# any error under load, and so does this script.
echo "== cargo bench --bench payments (anvil; keystore, SoftHSM2, KMS emulator)"
[ -x tests/chain/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || tests/chain/setup.sh
PAY_LOAD=$(load_avg)
if ! "${KMS_ENV[@]}" BENCH_PAY_DURATION="$PAY_DURATION" BENCH_KMS_SAMPLES="$KMS_SAMPLES" \
    cargo bench --bench payments 2>&1 | tee "$TMP/payments-bench.txt" | grep -E '^paybench|error|panicked'; then
  :
fi
grep -q '^paybench: .* errors under load' "$TMP/payments-bench.txt" && { echo "errors under payment load" >&2; exit 1; }
pay_line() { grep "^paybench backend=$1 $2" "$TMP/payments-bench.txt" | tail -1; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
for b in keystore pkcs11; do
  for ph in continuing first10; do
    l=$(pay_line "$b" "phase=$ph") || { tail -60 "$TMP/payments-bench.txt"; echo "no $b $ph line from the payments bench" >&2; exit 1; }
    [ "$(kv "$l" errors)" = 0 ] || { echo "$b $ph: $(kv "$l" errors) errors under load" >&2; exit 1; }
    PAY[$b.$ph]=$l
  done
  PAYMEM[$b]=$(pay_line "$b" memory) || { echo "no $b memory line" >&2; exit 1; }
done
PAY_KMS=$(pay_line aws-kms phase=latency) || { tail -60 "$TMP/payments-bench.txt"; echo "no KMS latency line from the payments bench" >&2; exit 1; }

# GET /discover-orchestrators (benches/discovery.rs): the snapshot build vs
# parsing the same /discovery bodies, in process; the route under load on
# the release daemon vs the ceiling server (built above) serving the same
# bytes. One "ratio discovery key=value …" line per measurement and a
# "discovery memory …" line; the bench exits non-zero on any error under
# load, and so does this script.
if [ "$DISC" = 1 ]; then
  echo "== cargo bench --bench discovery ($DISC_ORCHS test orchestrators)"
  DISC_LOAD=$(load_avg)
  if ! BENCH_CEILING_SERVER="$CEIL" BENCH_DISCOVERY_DURATION="$DISC_DURATION" BENCH_DISCOVERY_ROUNDS="$ROUNDS" \
      BENCH_DISCOVERY_ORCHS="$DISC_ORCHS" cargo bench --bench discovery 2>&1 | tee "$TMP/discovery-bench.txt" |
      grep -E '^ratio discovery|^discovery|round [0-9]|error|panicked'; then
    :
  fi
  grep -q '^discovery bench: .* errors under load' "$TMP/discovery-bench.txt" && { echo "errors under discovery load" >&2; exit 1; }
  disc_line() { grep "^$1" "$TMP/discovery-bench.txt" | tail -1; }
  DISC_BUILD=$(disc_line 'ratio discovery phase=build ') || { tail -60 "$TMP/discovery-bench.txt"; echo "no build line from the discovery bench" >&2; exit 1; }
  DISC_ALL=$(disc_line 'ratio discovery phase=route variant=all ') || { tail -60 "$TMP/discovery-bench.txt"; echo "no route line from the discovery bench" >&2; exit 1; }
  DISC_CAPS=$(disc_line 'ratio discovery phase=route variant=caps ') || { tail -60 "$TMP/discovery-bench.txt"; echo "no caps route line from the discovery bench" >&2; exit 1; }
  DISC_MEM=$(disc_line 'discovery memory ') || { echo "no memory line from the discovery bench" >&2; exit 1; }
  DISC_READY=$(grep -o 'ready in [0-9.]* s' "$TMP/discovery-bench.txt" | tail -1 | cut -d' ' -f3)
  for l in "$DISC_ALL" "$DISC_CAPS"; do
    [ "$(kv "$l" errors)" = 0 ] && [ "$(kv "$l" ceiling_errors)" = 0 ] || { echo "errors under discovery load: $l" >&2; exit 1; }
  done
else
  echo "== discovery bench skipped (BENCH_SKIP_DISCOVERY=1)"
fi

LOAD_AFTER=$(load_avg)

# ---- BENCHMARKS.md
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
kib() { awk -v v="$1" 'BEGIN { printf "%.0f", v / 1024 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "ge") ? (v >= t) : (dir == "lt") ? (v < t) : (v <= t); print ok ? "met" : "**missed**" }'; }
# machine time per request beyond its signatures, µs: 1/rps − 1/ceiling_rps
pay_extra_us() { awk -v r="$(kv "$1" rps)" -v c="$(kv "$1" ceiling_rps)" 'BEGIN { if (r > 0 && c > 0) printf "%.0f", 1e6 / r - 1e6 / c; else print "n/a" }'; }
# per-call µs from a rate per second
per_call_us() { awk -v r="$1" 'BEGIN { if (r > 0) printf "%.0f", 1e6 / r; else print "n/a" }'; }
# Signer overhead per signature in µs: 1/ours − 1/raw
overhead_us() { awk -v o="$1" -v r="$2" 'BEGIN { if (o > 0 && r > 0) printf "%.0f", 1e6 / o - 1e6 / r; else print "n/a" }'; }
# The Signer's own cost per fresh signature (one hinted libsecp256k1
# recovery = go-livepeer's VerifySig, low-s, metrics), measured by the signer
# bench of this run: 1/signer_keystore − 1/raw libsecp256k1 sign (≈ 50 µs;
# 50 when that bench is skipped). The ratio expected if it is all the Signer
# adds to a raw backend call: t / (t + RECOVERY_US).
RECOVERY_US=$(overhead_us "$SIGN_OURS" "$SIGN_SECP")
[ "$RECOVERY_US" != n/a ] || RECOVERY_US=50
expected_ratio() { awk -v r="$1" -v x="$RECOVERY_US" 'BEGIN { if (r > 0) { t = 1e6 / r; printf "%.2f", t / (t + x) } else print "n/a" }'; }
# verdict against the target plus, when missed, the reason: raw per-call
# latency vs the Signer's self-check cost
backend_verdict() { # ratio raw_rate target [extra reason]
  local v; v=$(verdict "$1" "$3" ge)
  if [ "$v" = met ]; then echo met; else
    echo "$v: raw call $(per_call_us "$2") µs + ~${RECOVERY_US} µs of self-check per signature → expected $(expected_ratio "$2")×${4:+; $4}"
  fi
}

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
WORKERS=$(nproc)
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`./scripts/bench.sh\` on $(date -u +'%Y-%m-%d %H:%M UTC'). Do not edit by hand: rerun the script."
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| CPU | $CPU, $(nproc) cores visible (\`nproc\`) |"
  echo "| memory | $MEM |"
  echo "| kernel | $(uname -sr) |"
  echo "| rustc | $(rustc --version) |"
  echo "| wrk | $(wrk -v 2>&1 | head -1 | cut -c1-60) |"
  echo "| load average (1, 5, 15 min) before / after the run | $LOAD_BEFORE / $LOAD_AFTER (the latter includes this script's own load) |"
  echo
  echo "wrk, the server under test and the OS share the same $(nproc) cores on loopback, so the"
  echo "absolute numbers measure the whole machine, not the server alone; the ratios compare"
  echo "two servers under identical conditions (runs interleaved, same wrk script, same"
  echo "worker count: $WORKERS). A load average well above 0 before the run means other work"
  echo "was running on the machine (e.g. compilers) and every number is noisier for it."
  if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l >= 0.5) }'; then
    echo
    echo "**This run was measured under background load** (1-minute load average ${LOAD_BEFORE%% *} when it started)."
  fi
  echo
  echo "## Results against the issue's targets"
  echo
  echo "| what | measured | ceiling | ratio | target | |"
  echo "|---|---|---|---|---|---|"
  if [ "$HTTP" = 1 ]; then
    r64=$(ratio "${S_RPS[64]:-0}" "${C_RPS[64]:-0}")
    p64=$(ratio "${S_P99[64]:-0}" "${C_P99[64]:-0}")
    echo "| requests/s, 64 connections | ${S_RPS[64]:-n/a} | ${C_RPS[64]:-n/a} | ${r64}× | ≥ 0.9× | $(verdict "$r64" 0.9 ge) |"
    echo "| p99 latency, 64 connections | $(ms "${S_P99[64]:-0}") ms | $(ms "${C_P99[64]:-0}") ms | ${p64}× | ≤ 1.2× | $(verdict "$p64" 1.2 le) |"
  else
    echo "| requests/s and p99, 64 connections | not measured in this run (BENCH_HTTP=0) | | | ≥ 0.9× / ≤ 1.2× | |"
  fi
  sign_v=$(verdict "$SIGN_RATIO" 0.9 ge)
  [ "$sign_v" = met ] || sign_v="$sign_v: the Signer adds ${RECOVERY_US} µs per signature (hinted recovery, low-s, metrics) to a $(per_call_us "$SIGN_SECP") µs libsecp256k1 signature; the ceiling's verification costs $(overhead_us "$SIGN_CEIL" "$SIGN_SECP") µs"
  echo "| fresh signatures/s, Signer (keystore) vs raw libsecp256k1 sign + verify | ${SIGN_OURS}/s | ${SIGN_CEIL}/s | ${SIGN_RATIO}× | ≥ 0.9× | $sign_v |"
  echo "| fresh signatures/s, Signer (pkcs11, SoftHSM2) vs raw \`C_Sign\` | ${PKCS11_OURS}/s | ${PKCS11_RAW}/s | ${PKCS11_RATIO}× | ≥ 0.85× | $(backend_verdict "$PKCS11_RATIO" "$PKCS11_RAW" 0.85 "the backend alone, before any Ethereum rule (session pool + blocking-thread hop), is already at ${PKCS11_ALONE}× of raw \`C_Sign\`") |"
  echo "| fresh signatures/s, Signer (aws-kms, emulator) vs raw SDK \`Sign\` | ${KMS_OURS}/s | ${KMS_RAW}/s | ${KMS_RATIO}× | ≥ 0.95× | $(backend_verdict "$KMS_RATIO" "$KMS_RAW" 0.95) |"
  for b in keystore pkcs11; do
    case $b in keystore) tgt=0.5; bname="keystore";; pkcs11) tgt=0.8; bname="pkcs11, SoftHSM2";; esac
    for ph in continuing first10; do
      l=${PAY[$b.$ph]}
      case $ph in continuing) what="continuing sessions, 1 ticket/call";; first10) what="first calls, 10 tickets";; esac
      r=$(kv "$l" ratio); v=$(verdict "$r" "$tgt" ge)
      [ "$v" = met ] || v="$v: $(pay_extra_us "$l") µs per request (1/req/s − 1/ceiling req/s, all $(nproc) cores) beyond its $(kv "$l" sigs_per_req) signatures: HTTP, JSON, protobuf, ticket hashing, audit lines, and the load tool, which shares the cores while the ceiling runs alone"
      echo "| \`/generate-live-payment\` req/s ($bname), $what, 64 connections | $(kv "$l" rps) (p50 $(kv "$l" p50_ms) ms, p99 $(kv "$l" p99_ms) ms, $(kv "$l" errors) errors) | $(kv "$l" ceiling_rps) ($(kv "$l" ceiling_sigs) sig/s ÷ $(kv "$l" sigs_per_req)) | ${r}× | ≥ ${tgt}× | $v |"
    done
  done
  kr=$(kv "$PAY_KMS" ratio); kv_=$(verdict "$kr" 2 le)
  [ "$kv_" = met ] || kv_="$kv_: the emulator itself is the limit: 26 raw SDK \`Sign\` calls sent at once take $(kv "$PAY_KMS" raw_26_signs_ms) ms vs $(kv "$PAY_KMS" raw_2_signs_ms) ms for 2 ($(kv "$PAY_KMS" raw_ratio)×; fully serial would be 13×): moto (Python) serves concurrent requests mostly one at a time, while the daemon sends a payment's ticket \`Sign\` requests together (up to 32 in flight)"
  echo "| KMS emulator: 25-ticket payment latency vs 1-ticket (median of $(kv "$PAY_KMS" samples)) | $(kv "$PAY_KMS" many_ms) ms | $(kv "$PAY_KMS" one_ms) ms | ${kr}× | ≤ 2× | $kv_ |"
  for b in keystore pkcs11; do
    hwm=$(kv "${PAYMEM[$b]}" vmhwm_kib)
    mib=$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')
    mv=$(verdict "$mib" 40 lt)
    [ "$mv" = met ] || mv="$mv: see *Payments* below"
    echo "| peak RSS (VmHWM) of the daemon under the payment load ($b) | $mib MiB | | | < 40 MiB | $mv |"
  done
  if [ "$DISC" = 1 ]; then
    for l in "$DISC_ALL" "$DISC_CAPS"; do
      case $(kv "$l" variant) in
        all) what="all orchestrators ($(kv "$l" orchestrators), $(kib "$(kv "$l" body_bytes)") KiB)";;
        *) what="\`?caps=\` one pair ($(kv "$l" orchestrators) orchestrators, $(kib "$(kv "$l" body_bytes)") KiB)";;
      esac
      r=$(kv "$l" ratio); v=$(verdict "$r" 0.8 ge)
      [ "$v" = met ] || v="$v: the daemon used $(kv "$l" cpu_us_per_req) µs of CPU per request vs the ceiling's $(kv "$l" ceiling_cpu_us_per_req) µs; see *Discovery* below"
      echo "| \`/discover-orchestrators\` req/s, $what, $(kv "$l" conns) connections | $(kv "$l" rps) (p50 $(kv "$l" p50_ms) ms, p99 $(kv "$l" p99_ms) ms, $(kv "$l" errors) errors) | $(kv "$l" ceiling_rps) (p99 $(kv "$l" ceiling_p99_ms) ms) | ${r}× | ≥ 0.8× | $v |"
    done
    r=$(kv "$DISC_BUILD" ratio); v=$(verdict "$r" 0.3 ge)
    [ "$v" = met ] || v="$v: $(kv "$DISC_BUILD" build_us) µs per build vs $(kv "$DISC_BUILD" ceiling_us) µs to parse the bodies; see *Discovery* below"
    echo "| discovery snapshot builds/s ($(kv "$DISC_BUILD" orchestrators) orchestrators, $(kv "$DISC_BUILD" runners) runner records) vs \`serde_json::Value\` parses of the same \`/discovery\` bodies | $(kv "$DISC_BUILD" builds_per_s)/s | $(kv "$DISC_BUILD" ceiling_per_s)/s | ${r}× | ≥ 0.3× (no target in the issue; set here) | $v |"
  else
    echo "| \`/discover-orchestrators\` req/s (≥ 0.8×) and snapshot build (≥ 0.3×) | not measured in this run (BENCH_SKIP_DISCOVERY=1) | | | ≥ 0.8× / ≥ 0.3× | |"
  fi
  echo
  if [ "$HTTP" = 1 ]; then
    echo "## HTTP: \`POST /sign-orchestrator-info\` vs the ceiling"
    echo
    echo "Median of $ROUNDS interleaved rounds of ${DURATION} s each; wrk threads = min(connections, 2)."
    echo "Signer: release build, keystore backend (C7 key), text logs at level \`info\` to a file,"
    echo "one audit line per request. Ceiling: \`examples/ceiling_server.rs\`, a bare actix-web"
    echo "handler returning a constant ${CEIL_BYTES}-byte JSON body (the signer's body is ${SIGNER_BYTES} bytes)."
    echo
    echo "| connections | signer req/s | ceiling req/s | ratio | signer p50 | ceiling p50 | signer p99 | ceiling p99 | p99 ratio |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for c in $CONNS; do
      echo "| $c | ${S_RPS[$c]} | ${C_RPS[$c]} | $(ratio "${S_RPS[$c]}" "${C_RPS[$c]}")× | $(ms "${S_P50[$c]}") ms | $(ms "${C_P50[$c]}") ms | $(ms "${S_P99[$c]}") ms | $(ms "${C_P99[$c]}") ms | $(ratio "${S_P99[$c]}" "${C_P99[$c]}")× |"
    done
    echo
    echo "No non-2xx responses from the signer in any run (the script fails otherwise)."
    echo
    echo "Audit log cost: at level \`warn\` (no per-request audit line) the signer did ${WARN_RPS} req/s"
    echo "and p99 $(ms "$WARN_P99") ms at 64 connections, vs ${S_RPS[64]:-n/a} req/s and p99 $(ms "${S_P99[64]:-0}") ms at \`info\`"
    echo "($(ratio "${S_RPS[64]:-0}" "$WARN_RPS")× of the \`warn\` throughput). The \`info\` run wrote $AUDIT_LINES audit lines ($AUDIT_BYTES bytes of log)."
    echo
    echo "## Memory"
    echo
    echo "| | peak RSS (VmHWM) | RSS after the load |"
    echo "|---|---|---|"
    echo "| signer, after all the HTTP runs above | $((SIGNER_HWM_KB / 1024)) MiB | $((SIGNER_RSS_KB / 1024)) MiB |"
    echo "| ceiling, same runs | $((CEIL_HWM_KB / 1024)) MiB | |"
    echo
  else
    echo "## HTTP and memory"
    echo
    echo "**Not measured in this run**: it was made with \`BENCH_HTTP=0\` (wrk section skipped),"
    echo "so this file has no HTTP or memory numbers; the last full run's are in this file's git history."
    echo
  fi
  echo "## Cold start"
  echo
  echo "Time from exec of \`livepeer-signer serve\` (release build) to the first 200 on"
  echo "\`POST /sign-orchestrator-info\`, with a key file made by \`livepeer-signer keystore new\`"
  echo "(go-livepeer's standard scrypt: n = 2^18, r = 8, p = 1; scrypt dominates)."
  echo
  echo "Median of $COLD_RUNS runs: **${COLD_MED} ms** (runs: ${COLD_ALL% })."
  echo
  echo "The same, per backend (1-minute load average when each series started in brackets):"
  echo
  echo "| backend | key | median of $COLD_RUNS | runs (ms) |"
  echo "|---|---|---|---|"
  echo "| keystore [${COLD_LOAD%% *}] | \`keystore new\` file, scrypt n = 2^18 | **${COLD_MED} ms** | ${COLD_ALL% } |"
  echo "| pkcs11 [${COLD_HSM_LOAD%% *}] | SoftHSM2 $(softhsm2-util --version 2>/dev/null | head -1) throwaway token, C7 key imported with \`pkcs11 import\`, 2 sessions | **${COLD_HSM_MED} ms** | ${COLD_HSM_ALL% } |"
  echo "| aws-kms [${COLD_KMS_LOAD%% *}] | moto $("$TEST_PYTHON" -c 'import moto; print(moto.__version__)') emulator on 127.0.0.1 (\`tests/support/kms_emulator.py\`), fresh ECC_SECG_P256K1 key | **${COLD_KMS_MED} ms** | ${COLD_KMS_ALL% } |"
  echo
  echo "pkcs11: module load, \`C_Initialize\`, token lookup, login of the session pool, key and"
  echo "public-key lookup, one signature + self-check, then the OrchestratorInfo signature."
  echo "aws-kms: SDK client construction, one \`GetPublicKey\` and the \`Sign\` calls of startup, over"
  echo "HTTP to the emulator (a Python server on loopback: no network round trip, but slower per"
  echo "request than a native server; real KMS adds a network round trip per call instead)."
  echo
  echo "## Signer vs the libsecp256k1 sign + verify ceiling"
  echo
  echo "\`cargo bench --bench signer\`: \`Signer::sign_digest\` on the keystore backend (libsecp256k1"
  echo "RFC 6979 signing with a parity hint, low-s, one hinted recovery = go-livepeer's \`VerifySig\`"
  echo "self-check, metrics) vs the cheapest self-checked signature: raw libsecp256k1 recoverable"
  echo "sign + one \`verify_ecdsa\`, in one loop on the same key and digests, interleaved rounds,"
  echo "same process, one core. Raw k256 and raw libsecp256k1 signing alone are timed for reference:"
  echo
  echo "    $SIGN_LINE"
  echo "    $SIGN_OVERHEAD_LINE"
  echo
  echo "| | per signature |"
  echo "|---|---|"
  echo "| raw libsecp256k1 sign | $(per_call_us "$SIGN_SECP") µs |"
  echo "| raw libsecp256k1 sign + verify (the ceiling) | $(per_call_us "$SIGN_CEIL") µs |"
  echo "| Signer::sign_digest, keystore | $(per_call_us "$SIGN_OURS") µs |"
  echo "| raw k256 sign (the previous signing library) | $(per_call_us "$SIGN_K256") µs |"
  echo
  echo "Target ≥ 0.9×: $(verdict "$SIGN_RATIO" 0.9 ge) (${SIGN_RATIO}×)."
  echo
  echo "## PKCS#11 and AWS KMS backends vs the raw backend call"
  echo
  echo "\`cargo bench --bench pkcs11\` (load average ${PKCS11_LOAD} when it started): \`Signer::sign_digest\` over"
  echo "the pkcs11 backend on a throwaway SoftHSM2 token vs a raw \`C_Sign\` (\`CKM_ECDSA\`) loop on one"
  echo "logged-in session of the same token and key; interleaved rounds, same process:"
  echo
  echo "    $PKCS11_LINE"
  echo
  echo "\`cargo bench --bench aws_kms\` (load average ${KMS_LOAD} when it started): \`Signer::sign_digest\` over"
  echo "the aws-kms backend vs the raw \`aws-sdk-kms\` \`Sign\` call with the same client, on the moto"
  echo "emulator on 127.0.0.1; interleaved rounds, same process:"
  echo
  echo "    $KMS_LINE"
  echo
  echo "What the ratio is made of. The Signer adds, per fresh signature, low-s normalisation and"
  echo "one libsecp256k1 recovery (go-livepeer's \`VerifySig\`; an HSM or KMS gives no parity hint,"
  echo "so both candidates may be tried), ${RECOVERY_US} µs in this run for the hinted case: 1/Signer − 1/raw libsecp256k1 sign"
  echo "in *Signer vs the libsecp256k1 sign + verify ceiling*. That cost is fixed, so the ratio depends on how slow the raw"
  echo "backend call is: ratio ≈ t_raw / (t_raw + ${RECOVERY_US} µs)."
  echo
  echo "| backend | raw call | Signer | overhead per signature | ratio | expected from ${RECOVERY_US} µs | target |"
  echo "|---|---|---|---|---|---|---|"
  echo "| pkcs11 (SoftHSM2) | $(per_call_us "$PKCS11_RAW") µs | $(per_call_us "$PKCS11_OURS") µs | $(overhead_us "$PKCS11_OURS" "$PKCS11_RAW") µs | ${PKCS11_RATIO}× (median round ${PKCS11_MEDIAN}×) | $(expected_ratio "$PKCS11_RAW")× | ≥ 0.85×: $(verdict "$PKCS11_RATIO" 0.85 ge) |"
  echo "| aws-kms (emulator) | $(per_call_us "$KMS_RAW") µs | $(per_call_us "$KMS_OURS") µs | $(overhead_us "$KMS_OURS" "$KMS_RAW") µs | ${KMS_RATIO}× | $(expected_ratio "$KMS_RAW")× | ≥ 0.95×: $(verdict "$KMS_RATIO" 0.95 ge) |"
  echo
  echo "For pkcs11 the bench also times the backend alone (session pool + blocking-thread hop,"
  echo "no Ethereum rules; in the line above): what the Signer loses beyond the expected ratio is"
  echo "that hop, not the Ethereum rules."
  echo
  echo "A raw call needs to take ≥ $(awk -v x="$RECOVERY_US" 'BEGIN { printf "%.1f", x * 0.95 / 0.05 / 1000 }') ms for ${RECOVERY_US} µs to stay under 5 % (≥ $(awk -v x="$RECOVERY_US" 'BEGIN { printf "%.2f", x * 0.85 / 0.15 / 1000 }') ms for 15 %). SoftHSM2 signs in software"
  echo "in-process ($(per_call_us "$PKCS11_RAW") µs above) and the emulator answers over loopback ($(per_call_us "$KMS_RAW") µs), so the"
  echo "recovery is a large share of a signature there; a network HSM (CloudHSM, Luna) or real AWS KMS (a few ms per \`Sign\`"
  echo "round trip) is in the regime where the ratio approaches 1. Only fresh signatures pay"
  echo "this: \`/sign-orchestrator-info\` serves the signature made at startup."
  echo
  echo "## Payments: \`POST /generate-live-payment\` under load vs the signing ceiling"
  echo
  echo "\`cargo bench --bench payments\` (benches/payments.rs; load average ${PAY_LOAD} when it started). The release"
  echo "daemon (\`[chain]\` on a local anvil running our Livepeer test contracts, the §C signer funded,"
  echo "go-livepeer's default \`[payments]\` limits, JSON logs at \`info\` to a file: one audit line per"
  echo "signature and per payment) and a load tool in the same process as the ceiling (a current-thread"
  echo "runtime: one core at most), 64 keep-alive HTTP/1.1 connections on 127.0.0.1, ${PAY_DURATION} s measured"
  echo "per phase after a 1.5 s settle:"
  echo
  echo "* **continuing**: each connection is a gateway session of \`fixed\` payments at price == ticket EV"
  echo "  (exactly 1 ticket and balance 0 per call), the state of each answer sent with the next call,"
  echo "  new ticket params every 400 calls (before the 500-nonce guard); the session's first call"
  echo "  (its segment credentials, then cached for the manifest id) is in the settle period;"
  echo "* **first10**: first calls (no state, a new manifest id each) at price == 10 × EV: 10 tickets,"
  echo "  the state and the segment credentials per call."
  echo
  echo "Signatures per request are the daemon's own \`livepeer_signer_signatures_total\` over the window"
  echo "÷ its requests. The ceiling is a \`Signer\` over the same backend (same key; for SoftHSM2 the same"
  echo "token and 2 sessions) in the bench process, 64 concurrent \`sign_digest\` loops on a tokio runtime"
  echo "with one worker per core ($(nproc)), the daemon idle: ceiling req/s = those signatures/s ÷ signatures"
  echo "per request. After each phase, 3 more answers are verified in full outside the timing"
  echo "(go-livepeer's \`VerifySig\` on every ticket and \`checkWinningTicket\` in the EVM)."
  echo
  echo "| backend | phase | req/s | p50 | p99 | errors | signatures/request | ceiling signatures/s | ceiling req/s | ratio | target |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for b in keystore pkcs11; do
    case $b in keystore) tgt=0.5;; pkcs11) tgt=0.8;; esac
    for ph in continuing first10; do
      l=${PAY[$b.$ph]}
      echo "| $b | $ph | $(kv "$l" rps) | $(kv "$l" p50_ms) ms | $(kv "$l" p99_ms) ms | $(kv "$l" errors) | $(kv "$l" sigs_per_req) | $(kv "$l" ceiling_sigs) | $(kv "$l" ceiling_rps) | $(kv "$l" ratio)× | ≥ ${tgt}×: $(verdict "$(kv "$l" ratio)" "$tgt" ge) |"
    done
  done
  echo
  echo "0 errors (non-200 answers or transport errors) in every phase: the script fails otherwise."
  echo "Where a ratio is below its target, the difference is what the daemon spends per request"
  echo "besides signing, in wall time on the $(nproc) cores: 1/req/s − 1/ceiling req/s ="
  for b in keystore pkcs11; do
    for ph in continuing first10; do
      echo "$b $ph $(pay_extra_us "${PAY[$b.$ph]}") µs;"
    done
  done
  echo "that is HTTP parsing, JSON and base64, protobuf, the ticket hashes, the spec's exact-rational"
  echo "arithmetic, the state JSON, an audit line per signature and per payment, the hops to the"
  echo "\`payments\` threads, plus the load tool itself, which shares the cores with the daemon while the"
  echo "ceiling runs alone."
  echo
  echo "### KMS emulator: a 25-ticket payment vs a 1-ticket payment"
  echo
  echo "The daemon over the KMS emulator (\`tests/support/kms_emulator.py\`, a key seeded with the §C"
  echo "key; static dummy credentials, explicit region, endpoint on 127.0.0.1, no metadata service),"
  echo "one connection, first calls of \`fixed\` at price == EV and == 25 × EV alternated on warmed-up"
  echo "manifest ids (tickets + the state per call: $(kv "$PAY_KMS" sigs_per_pair) signatures per pair), $(kv "$PAY_KMS" samples) of each:"
  echo
  echo "    $PAY_KMS"
  echo
  echo "Median 25-ticket latency $(kv "$PAY_KMS" many_ms) ms vs 1-ticket $(kv "$PAY_KMS" one_ms) ms = $(kv "$PAY_KMS" ratio)×, target ≤ 2×: $(verdict "$(kv "$PAY_KMS" ratio)" 2 le)."
  echo "The ticket signatures of one payment are \`Sign\` requests in flight together (capped at 32)."
  echo "The emulator alone, same run, daemon idle: 26 raw SDK \`Sign\` calls sent at once (a 25-ticket"
  echo "payment's signatures) take $(kv "$PAY_KMS" raw_26_signs_ms) ms, 2 (a 1-ticket payment's) take $(kv "$PAY_KMS" raw_2_signs_ms) ms: $(kv "$PAY_KMS" raw_ratio)× (medians of $(kv "$PAY_KMS" samples))."
  echo "That ratio is the floor this emulator allows the daemon; against real AWS KMS, whose \`Sign\`"
  echo "requests are served in parallel, the 25-ticket payment costs about one round trip more."
  echo
  echo "### Memory under the payment load"
  echo
  echo "| daemon | peak RSS (VmHWM) after both phases | RSS then | target |"
  echo "|---|---|---|---|"
  for b in keystore pkcs11; do
    m=${PAYMEM[$b]}
    hwm=$(awk -v k="$(kv "$m" vmhwm_kib)" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "| $b | $hwm MiB | $(awk -v k="$(kv "$m" vmrss_kib)" 'BEGIN { printf "%.1f", k / 1024 }') MiB | < 40 MiB: $(verdict "$hwm" 40 lt) |"
  done
  echo
  echo "Raw result lines:"
  echo
  grep '^paybench backend' "$TMP/payments-bench.txt" | sed 's/^/    /'
  echo
  if [ "$DISC" = 1 ]; then
    echo "## Discovery: \`GET /discover-orchestrators\` under load vs the ceiling, and the snapshot build"
    echo
    echo "\`cargo bench --bench discovery\` (benches/discovery.rs; load average ${DISC_LOAD} when it started)."
    echo "The network: $(kv "$DISC_BUILD" orchestrators) orchestrators, each pricing 4 (capability, model) pairs out of a pool of 8"
    echo "in \`capabilities_prices\` (a window rotating with the orchestrator, so each pair is offered by half of"
    echo "them) and answering \`/discovery\` with 8 runner records (2 per pair: GPU, version, metadata, capacity,"
    echo "price): $(kv "$DISC_BUILD" runners) runner records, $(kib "$(kv "$DISC_BUILD" discovery_bytes)") KiB of \`/discovery\` bodies in all."
    echo
    echo "### The route under load"
    echo
    echo "The release daemon (C7 keystore key, JSON logs at \`info\` to a file, \`[discovery] orchestrators\` ="
    echo "the $(kv "$DISC_ALL" orchestrators) URLs, \`refresh_interval_s = 3600\`) polls $(kv "$DISC_ALL" orchestrators) real gRPC test orchestrators on 127.0.0.1"
    echo "(tests/support/orchestrator.rs: \`GetOrchestrator\` with go-livepeer's signature check, and \`GET /discovery\`"
    echo "on the same port) serving that network. The bench waits until the route answers 200 with every"
    echo "orchestrator and runner record (${DISC_READY:-?} s after the daemon started listening), then drives it with the load tool of"
    echo "the payments bench (one thread, a current-thread runtime: one core at most; one reqwest client per"
    echo "connection), $(kv "$DISC_ALL" conns) keep-alive HTTP/1.1 connections, 1.5 s settle, then ${DISC_DURATION} s measured; an answer counts"
    echo "only when it is a 200 of exactly the expected length, anything else is an error (the script fails on one)."
    echo "The ceiling: \`examples/ceiling_server.rs --get\`, a bare actix-web route answering the daemon's own bytes"
    echo "(fetched once before the load, so the same length) as a constant \`application/json\` body on the same"
    echo "target, same worker count ($(kv "$DISC_ALL" workers)), same load tool. Rounds interleaved daemon/ceiling, $ROUNDS per variant;"
    echo "medians of the rounds. Server CPU per request is the process's utime + stime over the window ÷ its"
    echo "requests; the load tool's share is its thread's CPU time ÷ wall time (1.00 = one core saturated)."
    echo
    echo "| variant | orchestrators in the answer | body | daemon req/s | p50 | p99 | ceiling req/s | p50 | p99 | ratio | p99 ratio | daemon CPU/request | ceiling CPU/request | load tool (daemon / ceiling runs) | target |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for l in "$DISC_ALL" "$DISC_CAPS"; do
      case $(kv "$l" variant) in all) vname="all (no \`caps\`)";; *) vname="\`?caps=\` one pair";; esac
      echo "| $vname | $(kv "$l" orchestrators) | $(kib "$(kv "$l" body_bytes)") KiB | $(kv "$l" rps) | $(kv "$l" p50_ms) ms | $(kv "$l" p99_ms) ms | $(kv "$l" ceiling_rps) | $(kv "$l" ceiling_p50_ms) ms | $(kv "$l" ceiling_p99_ms) ms | $(kv "$l" ratio)× | $(kv "$l" p99_ratio)× | $(kv "$l" cpu_us_per_req) µs | $(kv "$l" ceiling_cpu_us_per_req) µs | $(kv "$l" load_tool_cpu) / $(kv "$l" ceiling_load_tool_cpu) | ≥ 0.8×: $(verdict "$(kv "$l" ratio)" 0.8 ge) |"
    done
    echo
    echo "0 errors (non-200 answers, wrong lengths or transport errors) from either server in every round."
    echo "Both servers send the same bytes, so most of either's CPU is the kernel copying the body into"
    echo "the loopback socket, and both share the $(nproc) cores with the load tool ($(for l in "$DISC_ALL" "$DISC_CAPS"; do kv "$l" load_tool_cpu; kv "$l" ceiling_load_tool_cpu; done | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }') of one core in these runs):"
    echo "req/s is bounded by the whole machine, and the CPU per request is the direct comparison. CPU per"
    echo "request, daemon − ceiling: $(awk -v a="$(kv "$DISC_ALL" cpu_us_per_req)" -v b="$(kv "$DISC_ALL" ceiling_cpu_us_per_req)" 'BEGIN { print a - b }') µs for the whole list, $(awk -v a="$(kv "$DISC_CAPS" cpu_us_per_req)" -v b="$(kv "$DISC_CAPS" ceiling_cpu_us_per_req)" 'BEGIN { print a - b }') µs with \`?caps=\` (a few µs either way is"
    echo "within run-to-run noise). What the daemon does that the ceiling does not: its"
    echo "middleware (request id, metrics, the bearer-token check), the \`caps\` query and selection, and the"
    echo "copy of the selected pre-encoded orchestrators into one response body, which grows with the body"
    echo "(the ceiling hands actix-web one shared buffer). No request waits for the network: the snapshot is"
    echo "rebuilt in the background."
    echo
    echo "### Snapshot build vs parsing the \`/discovery\` bodies"
    echo
    echo "The same network in process (addresses \`https://orch-<i>.example.com:8935\`): \`Snapshot::build\` (each"
    echo "(capability, model) pair priced against the ceilings, each \`/discovery\` body decoded the way Go's"
    echo "\`encoding/json\` fills go-livepeer's structs, every runner record checked, entries merged by address,"
    echo "each orchestrator's JSON encoded once) vs the ceiling: \`serde_json::from_slice::<serde_json::Value>\` of"
    echo "the same $(kv "$DISC_BUILD" orchestrators) bodies, the JSON parsing no implementation can skip. 10 interleaved rounds on one thread:"
    echo
    echo "    $DISC_BUILD"
    echo
    echo "$(kv "$DISC_BUILD" builds_per_s) builds/s ($(kv "$DISC_BUILD" build_us) µs per build) vs $(kv "$DISC_BUILD" ceiling_per_s) parses of all the bodies per second ($(kv "$DISC_BUILD" ceiling_us) µs):"
    echo "$(kv "$DISC_BUILD" ratio)×; target ≥ 0.3×: $(verdict "$(kv "$DISC_BUILD" ratio)" 0.3 ge). There is no target for this in the issue; 0.3× is set here: a"
    echo "build is parsing plus the checks, the exact-rational prices and the encoding of the answer, and it"
    echo "runs once per refresh (\`refresh_interval_s\`, 25 min by default) in the background, never in a request."
    echo
    echo "### Memory"
    echo
    echo "| daemon, $(kv "$DISC_MEM" orchestrators) orchestrators | RSS with the snapshot loaded, before the load | peak RSS (VmHWM) after the load | RSS then | ceiling's peak RSS |"
    echo "|---|---|---|---|---|"
    echo "| keystore | $(mib "$(kv "$DISC_MEM" vmrss_loaded_kib)") MiB | $(mib "$(kv "$DISC_MEM" vmhwm_kib)") MiB | $(mib "$(kv "$DISC_MEM" vmrss_kib)") MiB | $(mib "$(kv "$DISC_MEM" ceiling_vmhwm_kib)") MiB |"
    echo
    echo "Raw result lines:"
    echo
    grep -E '^(ratio discovery|discovery memory)' "$TMP/discovery-bench.txt" | sed 's/^/    /'
    echo
  else
    echo "## Discovery"
    echo
    echo "**Not measured in this run**: it was made with \`BENCH_SKIP_DISCOVERY=1\`; the last full run's"
    echo "numbers are in this file's git history."
    echo
  fi
  echo "## Commands"
  echo
  echo '```sh'
  echo "./scripts/bench.sh    # BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_COLD_RUNS=$COLD_RUNS BENCH_PAY_DURATION=$PAY_DURATION BENCH_KMS_SAMPLES=$KMS_SAMPLES BENCH_DISCOVERY_DURATION=$DISC_DURATION BENCH_DISCOVERY_ORCHS=$DISC_ORCHS"
  echo "# which runs:"
  echo "cargo build --release --bin livepeer-signer --example ceiling_server"
  echo "target/release/livepeer-signer serve --config signer.toml 2>signer.log   # listen 127.0.0.1:0, [log] level=info"
  echo "target/release/examples/ceiling_server 0"
  echo "wrk -t<min(c,2)> -c<c> -d${DURATION}s --latency -s scripts/bench/post.lua http://127.0.0.1:<port>   # c in $CONNS"
  echo "grep VmHWM /proc/<signer pid>/status"
  echo "target/release/livepeer-signer keystore new --dir keystore --password-file password"
  echo "python3 scripts/bench/cold_start.py target/release/livepeer-signer signer.toml"
  echo "cargo bench --bench signer -- --warm-up-time 1 --measurement-time 3"
  echo "cargo bench --bench pkcs11 -- --warm-up-time 1 --measurement-time $BACKEND_MEASURE"
  echo "cargo bench --bench aws_kms -- --warm-up-time 1 --measurement-time $BACKEND_MEASURE   # AWS_EC2_METADATA_DISABLED=true"
  echo "BENCH_PAY_DURATION=$PAY_DURATION BENCH_KMS_SAMPLES=$KMS_SAMPLES cargo bench --bench payments   # dummy AWS credentials, AWS_EC2_METADATA_DISABLED=true; TEST_PYTHON"
  echo "BENCH_CEILING_SERVER=target/release/examples/ceiling_server BENCH_DISCOVERY_DURATION=$DISC_DURATION BENCH_DISCOVERY_ROUNDS=$ROUNDS BENCH_DISCOVERY_ORCHS=$DISC_ORCHS cargo bench --bench discovery"
  echo "# which starts $DISC_ORCHS test orchestrators, the daemon with [discovery] orchestrators = [their URLs], and:"
  echo "target/release/examples/ceiling_server 0 $WORKERS --get /discover-orchestrators all.json --get '/discover-orchestrators?caps=<pair>' caps.json   # the daemon's answers"
  echo "# pkcs11 cold start: SOFTHSM2_CONF=<throwaway conf>"
  echo "softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678"
  echo "target/release/livepeer-signer pkcs11 import --config signer-pkcs11.toml --keystore key.json --password-file password --label k"
  echo "python3 scripts/bench/cold_start.py target/release/livepeer-signer signer-pkcs11.toml"
  echo "# aws-kms cold start: dummy AWS_ACCESS_KEY_ID/SECRET, AWS_EC2_METADATA_DISABLED=true"
  echo "python3 tests/support/kms_emulator.py    # prints PORT <n>; key made with boto3 create_key(KeySpec=ECC_SECG_P256K1)"
  echo "python3 scripts/bench/cold_start.py target/release/livepeer-signer signer-kms.toml   # endpoint_url = http://127.0.0.1:<n>"
  echo '```'
} > "$OUT"
echo "== wrote $OUT"
