#!/usr/bin/env python3
"""Cold start: time from exec of `livepeer-signer serve` to the first 200 on
POST /sign-orchestrator-info. Prints one line: `cold_start_ms=<float>`.

Usage: cold_start.py BINARY CONFIG
The child inherits this process's environment (SOFTHSM2_CONF for the pkcs11
backend, dummy AWS credentials and AWS_EC2_METADATA_DISABLED for aws-kms).
The config listens on 127.0.0.1:0; the port is read from the "listening" log
line, then the endpoint is polled every 2 ms. Only the child started here is
killed (by its PID)."""
import http.client
import re
import subprocess
import sys
import time

binary, config = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
child = subprocess.Popen([binary, "serve", "--config", config],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    port = None
    seen = []
    for line in child.stderr:
        seen.append(line)
        m = re.search(r"url=http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        sys.exit("signer exited before listening; its stderr:\n" + "".join(seen[-40:]))
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/sign-orchestrator-info", body=b"{}",
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                break
        except OSError:
            pass
        time.sleep(0.002)
    print(f"cold_start_ms={(time.monotonic() - t0) * 1000:.1f}")
finally:
    child.kill()
    child.wait()
