#!/usr/bin/env python3
"""A minimal HTTP CONNECT proxy for the integration tests, as an embassy network would have.

usage: connectproxy.py DIR

Listens on a free loopback port (written to DIR/port once listening), answers each
"CONNECT host:port HTTP/1.1" by opening a TCP connection to that address and tunnelling bytes
both ways until either side closes, and appends the request line of every CONNECT to
DIR/connects (one per line). TLS runs end to end through the tunnel: the proxy sees no
plaintext. Anything but CONNECT gets 405. Runs until killed.
"""
import os
import select
import socket
import sys
import threading


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


def handle(conn, outdir):
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


def main():
    outdir = sys.argv[1]
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
        threading.Thread(target=handle, args=(conn, outdir), daemon=True).start()


if __name__ == "__main__":
    main()
