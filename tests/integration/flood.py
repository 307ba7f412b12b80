#!/usr/bin/env python3
"""Hostile clients for test_flood.sh and bench/attack.sh.

flood.py MODE PORT COUNT SECONDS OUT [SRC]: keeps COUNT connections from SRC (default
127.0.0.2) to 127.0.0.1:PORT for SECONDS, reconnecting each as soon as HQ drops it, then
writes JSON to OUT: connections made, the longest any lasted (s), and the statuses seen.
MODE: slowloris (TLS, one header byte every 2 s), idle (TLS handshake, then nothing),
tcp (raw TCP, nothing), body (TLS, POST /v1/sync announcing 2 MiB - 1 bytes, sends all but
the last byte, then holds), reader (TLS, asks for /v1/health 2,000 times pipelined and
reads nothing), requests (TLS, keep-alive, POST /v1/sync with 64 bytes of garbage as fast as
HQ answers: one refusal each, bad_envelope)."""
import json, socket, ssl, sys, threading, time

mode, port, count, secs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
src = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.2"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
end = time.monotonic() + secs
lock = threading.Lock()
stats = {"mode": mode, "connections": 0, "longest_s": 0.0, "statuses": {}}
BODY = 2 * 1024 * 1024 - 1
HEAD = b"POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"


def hold(s):
    """Waits until HQ closes s or time is up; returns the status HQ answered, if any."""
    s.settimeout(0.5)
    got = b""
    while time.monotonic() < end:
        try:
            chunk = s.recv(4096)
        except (socket.timeout, TimeoutError):
            continue
        if not chunk:
            break
        got += chunk
    line = got.split(b"\r\n", 1)[0].split()
    return line[1].decode() if len(line) > 1 else None


def one():
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    t0 = time.monotonic()
    status = None
    try:
        if mode != "tcp":
            s = ctx.wrap_socket(s)
        if mode == "slowloris":
            req = HEAD + b"Content-Length: 10\r\n\r\n0123456789"
            i = 0
            while time.monotonic() < end and i < len(req):
                s.sendall(req[i:i + 1])
                i += 1
                time.sleep(2)
        elif mode == "body":
            s.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % BODY)
            chunk = b"\0" * 65536
            left = BODY - 1
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
        elif mode == "requests":
            req = HEAD + b"Content-Length: 64\r\n\r\n" + b"x" * 64
            f = s.makefile("rb")
            while time.monotonic() < end:
                s.sendall(req)
                line = f.readline().split()
                if len(line) < 2:
                    break
                code = line[1].decode()
                with lock:
                    stats["statuses"][code] = stats["statuses"].get(code, 0) + 1
                length, closing = 0, False
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b""):
                        break
                    k, _, v = h.decode().partition(":")
                    if k.lower() == "content-length":
                        length = int(v)
                    if k.lower() == "connection" and "close" in v.lower():
                        closing = True
                f.read(length)
                if closing:
                    break
        elif mode == "reader":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2000)
        status = hold(s)
    except (OSError, ssl.SSLError):
        pass
    finally:
        s.close()
    with lock:
        stats["connections"] += 1
        stats["longest_s"] = max(stats["longest_s"], round(time.monotonic() - t0, 1))
        if status:
            stats["statuses"][status] = stats["statuses"].get(status, 0) + 1


def worker():
    while time.monotonic() < end:
        try:
            one()
        except OSError:
            pass
        time.sleep(0.2)


threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join(secs + 10)
with open(out, "w") as f:
    json.dump(stats, f)
