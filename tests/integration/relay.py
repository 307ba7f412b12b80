#!/usr/bin/env python3
"""TCP relays on loopback for the integration tests and the benchmarks: the networks between an
embassy and HQ, made on this machine. Each listens on a free loopback port, writes it to
DIR/port once listening, serves every connection in a thread of its own, and runs until killed.
TLS runs end to end through both: they relay bytes and see no plaintext.

usage: relay.py DIR connect
    An HTTP CONNECT proxy, as embassy networks have: answers "CONNECT host:port HTTP/1.1" by
    tunnelling to that address, appends each CONNECT request line to DIR/connects; anything
    else gets 405.
usage: relay.py DIR slow TARGET_PORT ONE_WAY_MS RATE_BITS_PER_S
    A satellite-like link to 127.0.0.1:TARGET_PORT: every byte is delayed by the one-way
    latency and each direction is paced to the bit rate (per connection). This machine's
    kernel has no netem, so the link is made in user space; it accepts TCP at once, so the
    TCP handshake costs no round trip.
"""
import collections
import os
import select
import socket
import sys
import threading
import time


def tunnel(a, b):
    socks = [a, b]
    try:
        while True:
            ready, _, _ = select.select(socks, [], [], 60)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def handle_connect(conn, outdir):
    upstream = None
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk or len(head) > 16384:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        with open(os.path.join(outdir, "connects"), "a") as f:
            f.write(line + "\n")
        host, _, port = parts[1].rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        upstream.settimeout(None)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        tunnel(conn, upstream)
    except OSError:
        pass
    finally:
        conn.close()
        if upstream is not None:
            upstream.close()


def pump(src, dst, delay, rate):
    """Reads from src, and writes each chunk to dst once it is delay seconds old, no faster
    than rate bytes per second."""
    queue = collections.deque()
    cv = threading.Condition()
    done = [False]

    def reader():
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                with cv:
                    queue.append((time.monotonic() + delay, data))
                    cv.notify()
        except OSError:
            pass
        with cv:
            done[0] = True
            cv.notify()

    threading.Thread(target=reader, daemon=True).start()
    free_at = time.monotonic()  # when the paced link can take the next byte
    try:
        while True:
            with cv:
                while not queue and not done[0]:
                    cv.wait()
                if not queue:
                    break
                due, data = queue.popleft()
            for i in range(0, len(data), 1024):
                piece = data[i:i + 1024]
                start = max(due, free_at)
                free_at = start + len(piece) / rate
                wait = free_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(piece)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def handle_slow(conn, port, delay, rate):
    try:
        up = socket.create_connection(("127.0.0.1", port), timeout=10)
        up.settimeout(None)
    except OSError:
        conn.close()
        return
    for s in (conn, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    a = threading.Thread(target=pump, args=(conn, up, delay, rate), daemon=True)
    b = threading.Thread(target=pump, args=(up, conn, delay, rate), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    up.close()


def main():
    outdir, mode = sys.argv[1], sys.argv[2]
    if mode == "connect" and len(sys.argv) == 3:
        serve = lambda conn: handle_connect(conn, outdir)
    elif mode == "slow" and len(sys.argv) == 6:
        port, delay = int(sys.argv[3]), float(sys.argv[4]) / 1000.0
        rate = float(sys.argv[5]) / 8.0
        serve = lambda conn: handle_slow(conn, port, delay, rate)
    else:
        sys.exit(__doc__)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    tmp = os.path.join(outdir, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.replace(tmp, os.path.join(outdir, "port"))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
