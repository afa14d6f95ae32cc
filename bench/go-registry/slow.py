"""Hostile slow clients for bench/go-registry/load.sh (not a test).

Usage: SLOW_TOKEN=<upload token> slow.py HOST PORT SOCKETS UPLOADS SECONDS
(the token comes from the environment, never from argv, where ps shows it)

Keeps SOCKETS connections that send half a request line and then nothing, and UPLOADS
connections that send upload headers and a few body bytes and then stall. Every time the
server closes one (its timeouts), it is reopened, for SECONDS seconds. Prints how many
times the server closed each kind.
"""

import os
import selectors
import socket
import sys
import time


def open_silent(host, port):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /load.test.example/m/@v/li")
    return s


def open_upload(host, port, token):
    s = socket.create_connection((host, port))
    s.sendall(
        (
            "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n"
            "--B\r\nContent-Disposition: form-data; name=\"zip\"\r\n\r\nPK" % token
        ).encode()
    )
    return s


def main():
    host, port, n_silent, n_upload, seconds = sys.argv[1:6]
    token = os.environ["SLOW_TOKEN"]
    port, n_silent, n_upload, seconds = int(port), int(n_silent), int(n_upload), float(seconds)
    sel = selectors.DefaultSelector()
    closed = {"silent": 0, "upload": 0}

    def add(kind):
        s = open_silent(host, port) if kind == "silent" else open_upload(host, port, token)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, kind)

    for _ in range(n_silent):
        add("silent")
    for _ in range(n_upload):
        add("upload")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            s, kind = key.fileobj, key.data
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                closed[kind] += 1
                add(kind)
    print(
        "%d silent sockets and %d stalled uploads held for %.0fs; the server closed them %d and %d times"
        % (n_silent, n_upload, seconds, closed["silent"], closed["upload"])
    )


if __name__ == "__main__":
    main()
