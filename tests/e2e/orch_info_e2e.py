#!/usr/bin/env python3
"""End-to-end check of `/sign-orchestrator-info` with an independent Ethereum stack.

Starts the real `livepeer-signer serve` binary with its embedded development
default (in a fresh temporary directory, on an ephemeral loopback port), POSTs
exactly like a go-livepeer gateway, and verifies the answer with libsecp256k1
(coincurve) and pycryptodome's keccak -- none of the Rust code involved.
Stops the daemon it started, by its PID.

usage: orch_info_e2e.py PATH/TO/livepeer-signer
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

from Crypto.Hash import keccak
import coincurve

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def keccak256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


def eip55(addr20: bytes) -> str:
    lower = addr20.hex()
    h = keccak256(lower.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(lower))


def text_hash(msg: bytes) -> bytes:
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(msg)).encode() + msg)


def main() -> int:
    binary = os.path.abspath(sys.argv[1])
    passed = failed = 0

    def check(name, cond):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL: {name}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEPEER_SIGNER")}
        env["LIVEPEER_SIGNER__SERVER__LISTEN"] = "127.0.0.1:0"
        proc = subprocess.Popen([binary, "serve"], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        url = None
        logs = []
        found = threading.Event()

        def reader():
            nonlocal url
            for line in proc.stderr:
                logs.append(line)
                m = re.search(r"url=(http://127\.0\.0\.1:\d+)", line)
                if m and url is None:
                    url = m.group(1)
                    found.set()
        threading.Thread(target=reader, daemon=True).start()
        try:
            if not found.wait(120):
                print("daemon did not start:\n" + "".join(logs), file=sys.stderr)
                return 1
            req = urllib.request.Request(url + "/sign-orchestrator-info", data=b"", method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, ctype, raw = resp.status, resp.headers.get("Content-Type"), resp.read()
            check("status 200", status == 200)
            check("content-type", ctype == "application/json")
            check("trailing newline", raw.endswith(b"\n"))
            body = json.loads(raw)
            check("exactly address and signature, sorted", list(body.keys()) == ["address", "signature"])
            address = body["address"]
            check("address is EIP-55", address == eip55(bytes.fromhex(address[2:])))
            sig_hex = body["signature"]
            check("signature is 0x + 130 lowercase hex", re.fullmatch(r"0x[0-9a-f]{130}", sig_hex) is not None)
            sig = bytes.fromhex(sig_hex[2:])
            check("low-s", int.from_bytes(sig[32:64], "big") <= N // 2)
            check("v is 27 or 28", sig[64] in (27, 28))
            # What an orchestrator checks: VerifySig(addr, keccak256(ASCII(addr)), sig).
            digest = text_hash(keccak256(address.encode()))
            pub = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([sig[64] - 27]), digest, hasher=None)
            recovered = eip55(keccak256(pub.format(compressed=False)[1:])[12:])
            check(f"libsecp256k1 recovers {address} (got {recovered})", recovered == address)
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                code = proc.wait()
            check("daemon exits 0 on SIGTERM", code == 0)
    print(f"e2e: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
