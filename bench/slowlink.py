#!/usr/bin/env python3
"""A slow link between a device and HQ, for the benchmarks: a TCP relay on loopback that
delays every byte by a one-way latency and paces each direction to a bit rate, as a satellite
link does. It relays the TLS bytes as they are (it sees no plaintext). This kernel has no
netem, so the link is made in user space; the pacing is per connection and per direction.

usage: slowlink.py DIR TARGET_PORT ONE_WAY_MS RATE_BITS_PER_S
Listens on a free loopback port, written to DIR/port once listening. Runs until killed.
"""
import collections
import os
import socket
import sys
import threading
import time


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


def handle(conn, port, delay, rate):
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
    outdir, port = sys.argv[1], int(sys.argv[2])
    delay, rate = float(sys.argv[3]) / 1000.0, float(sys.argv[4]) / 8.0
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
        threading.Thread(target=handle, args=(conn, port, delay, rate), daemon=True).start()


if __name__ == "__main__":
    main()
