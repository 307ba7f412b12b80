#!/usr/bin/env python3
"""A recording HTTPS proxy in front of a real `mrf-hq serve`, for the sync integration tests.

It serves HQ's own certificate and key (so a device's pin matches, as it would for HQ), keeps
a copy of every request body, and passes requests on to the real server, or misbehaves the way
a bad link or a dying HQ does, as the file DIR/mode says at the moment each request arrives:

  pass          forward the request, return HQ's answer
  hold          keep the body, do not forward it, answer 503 (HQ never sees the change set)
  drop-once     forward the request, then cut the connection instead of answering (HQ applied
                it, the device never hears so); the mode then becomes "pass"
  pass-then-down:N   forward N more requests, then behave as "down"
  down          cut the connection without reading the body (HQ unreachable)
  flip-once     forward the request, then change one byte in the middle of HQ's answer (as a
                forger on the path would: the answer no longer carries HQ's signature); the
                mode then becomes "pass"
  pair          hold each request, connected to HQ already, until another one is held too
                (or 5 s passed), then send both at the same moment: two requests that reach
                HQ together (tests/integration/test_enroll_race.sh)

Usage: hqproxy.py DIR CERT KEY UPSTREAM_PORT
It binds 127.0.0.1 on a free port and writes it to DIR/port once listening; it waits (up to
30 s) for CERT to exist first, because the port must be known before `mrf-hq init` writes it.
Bodies are saved as DIR/body-N.bin (N from 1), the answer's status in DIR/status-N.
"""
import http.client
import http.server
import os
import socket
import ssl
import sys
import threading
import time

DIR, CERT, KEY, UPSTREAM = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
counter = [0]


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return f.read().strip() or "pass"
    except FileNotFoundError:
        return "pass"


def set_mode(m):
    with open(os.path.join(DIR, "mode.tmp"), "w") as f:
        f.write(m)
    os.replace(os.path.join(DIR, "mode.tmp"), os.path.join(DIR, "mode"))


pair_cv = threading.Condition()
pair = {"held": 0, "round": 0}


def pair_up():
    """Returns when a second request calls it too, or after 5 s alone."""
    with pair_cv:
        mine = pair["round"]
        pair["held"] += 1
        if pair["held"] == 2:
            pair["held"] = 0
            pair["round"] += 1
            pair_cv.notify_all()
            return
        if not pair_cv.wait_for(lambda: pair["round"] != mine, timeout=5):
            pair["held"] = 0


def next_action():
    """The action for this request, stepping the stateful modes."""
    with lock:
        m = mode()
        if m == "drop-once":
            set_mode("pass")
            return "drop"
        if m == "flip-once":
            set_mode("pass")
            return "flip"
        if m.startswith("pass-then-down:"):
            n = int(m.split(":")[1])
            set_mode("down" if n <= 1 else "pass-then-down:%d" % (n - 1))
            return "pass"
        return m


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def answer(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, method, body, c=None):
        if c is None:
            c = http.client.HTTPSConnection("127.0.0.1", UPSTREAM, timeout=30,
                                            context=ssl._create_unverified_context())
        c.request(method, self.path, body=body,
                  headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        data = r.read()
        ctype = r.getheader("Content-Type", "application/octet-stream")
        c.close()
        return r.status, data, ctype

    def do_GET(self):
        action = next_action()
        if action == "down":
            return self.cut()
        status, data, ctype = self.forward("GET", None)
        self.answer(status, data, ctype)

    def do_POST(self):
        action = next_action()
        if action == "down":
            return self.cut()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            counter[0] += 1
            n = counter[0]
        with open(os.path.join(DIR, "body-%d.bin" % n), "wb") as f:
            f.write(body)
        if action == "hold":
            status, data, ctype = 503, b"unavailable\n", "text/plain"
        elif action == "pair":
            c = http.client.HTTPSConnection("127.0.0.1", UPSTREAM, timeout=30,
                                            context=ssl._create_unverified_context())
            c.connect()
            pair_up()
            status, data, ctype = self.forward("POST", body, c)
        else:
            status, data, ctype = self.forward("POST", body)
        with open(os.path.join(DIR, "status-%d" % n), "w") as f:
            f.write("%d\n" % status)
        if action == "drop":
            return self.cut()
        if action == "flip" and data:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
            data = bytes(data)
        self.answer(status, data, ctype)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    deadline = time.time() + 30
    while not (os.path.exists(CERT) and os.path.exists(KEY)):
        if time.time() > deadline:
            sys.exit("hqproxy: no certificate appeared at " + CERT)
        time.sleep(0.05)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
