#!/usr/bin/env python3
"""Hold N idle PostgreSQL sessions open, for benches/pgbench-compare.sh.

    idle-sessions.py HOST PORT USER DATABASE N

Logs N sessions in (trust authentication: the bench cluster asks for no
password), each to its first ReadyForQuery, then prints "open N" and waits
for a line on standard input; then closes them all with Terminate and
prints "closed". Memory is measured by the caller while they are open and
after they are gone. Any failure exits non-zero with the reason.
"""

import socket
import struct
import sys


def startup(host, port, user, database):
    s = socket.create_connection((host, port), timeout=30)
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    body = struct.pack("!I", 196608) + params
    s.sendall(struct.pack("!I", len(body) + 4) + body)
    buf = b""
    while True:
        while len(buf) < 5:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed during startup")
            buf += chunk
        kind = buf[0:1]
        length = struct.unpack("!I", buf[1:5])[0]
        while len(buf) < 1 + length:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed during startup")
            buf += chunk
        body, buf = buf[5 : 1 + length], buf[1 + length :]
        if kind == b"E":
            raise RuntimeError("server refused the session: " + body.decode(errors="replace"))
        if kind == b"R" and struct.unpack("!I", body[:4])[0] != 0:
            raise RuntimeError("the bench cluster asked for a password (trust expected)")
        if kind == b"Z":
            return s


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    host, port, user, database, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    sessions = []
    try:
        for _ in range(n):
            sessions.append(startup(host, port, user, database))
    except (OSError, RuntimeError) as e:
        sys.exit(f"session {len(sessions) + 1} of {n}: {e}")
    print(f"open {len(sessions)}", flush=True)
    sys.stdin.readline()
    for s in sessions:
        try:
            s.sendall(b"X\0\0\0\4")
        except OSError:
            pass
        s.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
