#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every number in it comes from this one script.
#
#   ./scripts/bench.sh                 # full run (~10 min on 2 cores)
#   BENCH_DURATION=3 BENCH_ROUNDS=1 ./scripts/bench.sh   # quick look
#
# What it measures (issue 7 §1), each as a ratio against a ceiling measured
# in the same run on the same machine:
#   * HTTP: POST /sign-orchestrator-info on the release signer (keystore
#     backend, audit log at the default `info` level written to a file) vs
#     examples/ceiling_server.rs (minimal actix-web handler, constant JSON
#     body of the same length, same worker count), with wrk at 1/16/64/256
#     connections, rounds interleaved signer/ceiling; requests/s, p50, p99.
#   * Signer: `cargo bench --bench signer` (Signer::sign_digest vs raw k256).
#   * Cold start: exec → first 200, release build, n=2^18 scrypt keystore
#     made by `livepeer-signer keystore new`; median of several runs.
#   * Peak RSS (VmHWM) of the signer after all the load.
#
# Everything binds and targets 127.0.0.1. Only processes started here are
# stopped, by PID. Needs wrk (Debian package; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}      # seconds per wrk run
ROUNDS=${BENCH_ROUNDS:-3}           # interleaved signer/ceiling rounds per connection count
COLD_RUNS=${BENCH_COLD_RUNS:-5}
CONNS=${BENCH_CONNS:-"1 16 64 256"}
OUT=${BENCH_OUT:-BENCHMARKS.md}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

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
BIN=target/release/livepeer-signer
CEIL=target/release/examples/ceiling_server

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

start_signer info info
start_ceiling
SIGNER_BYTES=$(check_body "$SIGNER_URL")
CEIL_BYTES=$(check_body "$CEIL_URL")
echo "== signer $SIGNER_URL (pid $SIGNER_PID, $SIGNER_BYTES-byte body), ceiling $CEIL_URL (pid $CEIL_PID, $CEIL_BYTES-byte body)"
[ "$SIGNER_BYTES" = "$CEIL_BYTES" ] || { echo "body lengths differ" >&2; exit 1; }

declare -A S_RPS S_P50 S_P99 C_RPS C_P50 C_P99
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

echo "== cold start (n=2^18 scrypt keystore, $COLD_RUNS runs)"
mkdir -p "$TMP/std"
"$BIN" keystore new --dir "$TMP/std/keystore" --password-file "$TMP/std/password" >/dev/null 2>&1
write_config "$TMP/std/signer.toml" "$TMP/std/keystore" "$TMP/std/password" info
KDF=$(cat "$TMP"/std/keystore/* | grep -o '"n": *[0-9]*' | head -1 | tr -dc '0-9')
[ "$KDF" = 262144 ] || { echo "expected n=262144 in the new key file, got $KDF" >&2; exit 1; }
cold=()
for r in $(seq 1 "$COLD_RUNS"); do
  ms=$(python3 scripts/bench/cold_start.py "$BIN" "$TMP/std/signer.toml" | cut -d= -f2)
  echo "   cold start run $r: ${ms} ms"
  cold+=("$ms")
done
COLD_MED=$(printf '%s\n' "${cold[@]}" | median)
COLD_ALL=$(printf '%s ' "${cold[@]}")

echo "== cargo bench --bench signer"
if [ "${BENCH_SKIP_SIGNER:-0}" = 1 ]; then
  echo "ratio sign_digest: signer_keystore 0/s vs raw k256 0/s = 0x of the ceiling (skipped: BENCH_SKIP_SIGNER=1)" > "$TMP/signer-bench.txt"
else
  cargo bench --bench signer -- --warm-up-time 1 --measurement-time 3 2>&1 | tee "$TMP/signer-bench.txt" | grep -E 'ratio|time:' || true
fi
SIGN_LINE=$(grep '^ratio sign_digest' "$TMP/signer-bench.txt")
SIGN_RATIO=$(echo "$SIGN_LINE" | grep -o '= [0-9.]*x' | tr -d '= x')

LOAD_AFTER=$(load_avg)

# ---- BENCHMARKS.md
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "ge") ? (v >= t) : (v <= t); print ok ? "met" : "**missed**" }'; }

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
  r64=$(ratio "${S_RPS[64]:-0}" "${C_RPS[64]:-0}")
  p64=$(ratio "${S_P99[64]:-0}" "${C_P99[64]:-0}")
  echo "| requests/s, 64 connections | ${S_RPS[64]:-n/a} | ${C_RPS[64]:-n/a} | ${r64}× | ≥ 0.9× | $(verdict "$r64" 0.9 ge) |"
  echo "| p99 latency, 64 connections | $(ms "${S_P99[64]:-0}") ms | $(ms "${C_P99[64]:-0}") ms | ${p64}× | ≤ 1.2× | $(verdict "$p64" 1.2 le) |"
  echo "| fresh signatures/s, Signer (keystore) vs raw k256 | $(echo "$SIGN_LINE" | grep -o 'signer_keystore [0-9]*/s' | cut -d' ' -f2) | $(echo "$SIGN_LINE" | grep -o 'k256 [0-9]*/s' | cut -d' ' -f2) | ${SIGN_RATIO}× | ≥ 0.5× | $(verdict "$SIGN_RATIO" 0.5 ge) |"
  echo
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
  echo "## Cold start"
  echo
  echo "Time from exec of \`livepeer-signer serve\` (release build) to the first 200 on"
  echo "\`POST /sign-orchestrator-info\`, with a key file made by \`livepeer-signer keystore new\`"
  echo "(go-livepeer's standard scrypt: n = 2^18, r = 8, p = 1; scrypt dominates)."
  echo
  echo "Median of $COLD_RUNS runs: **${COLD_MED} ms** (runs: ${COLD_ALL% })."
  echo
  echo "## Signer vs raw k256"
  echo
  echo "\`cargo bench --bench signer\`: \`Signer::sign_digest\` on the keystore backend (sign,"
  echo "low-s, trial recovery through go-livepeer's verifier, self-check, metrics) vs raw"
  echo "k256 \`sign_prehash_recoverable\`, same key and digests, same process:"
  echo
  echo "    $SIGN_LINE"
  echo
  if awk -v v="$SIGN_RATIO" 'BEGIN { exit !(v < 0.5) }'; then
    echo "Below the 0.5× target: every fresh signature is checked by recovering the public key"
    echo "from \`r‖s‖v\` (k256's \`recover_from_prehash\`, which also re-verifies the signature"
    echo "internally) once per candidate \`v\` (1.5 recoveries per signature on average), and a"
    echo "recovery costs several signatures. The OrchestratorInfo endpoint serves a cached signature,"
    echo "so this does not affect the HTTP numbers above."
    echo
  fi
  echo "## Commands"
  echo
  echo '```sh'
  echo "./scripts/bench.sh    # BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_COLD_RUNS=$COLD_RUNS"
  echo "# which runs:"
  echo "cargo build --release --bin livepeer-signer --example ceiling_server"
  echo "target/release/livepeer-signer serve --config signer.toml 2>signer.log   # listen 127.0.0.1:0, [log] level=info"
  echo "target/release/examples/ceiling_server 0"
  echo "wrk -t<min(c,2)> -c<c> -d${DURATION}s --latency -s scripts/bench/post.lua http://127.0.0.1:<port>   # c in $CONNS"
  echo "grep VmHWM /proc/<signer pid>/status"
  echo "target/release/livepeer-signer keystore new --dir keystore --password-file password"
  echo "python3 scripts/bench/cold_start.py target/release/livepeer-signer signer.toml"
  echo "cargo bench --bench signer -- --warm-up-time 1 --measurement-time 3"
  echo '```'
} > "$OUT"
echo "== wrote $OUT"
