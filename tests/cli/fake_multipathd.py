#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in for multipathd's control socket, for the CLI tests: libmpathcmd's framing (a native
# size_t length counting the terminating NUL, then the text and its NUL, both ways) on a Unix stream
# socket at a file path, answering the prkey commands as multipathd 0.9.4 does with
# reservation_key "file" in multipath.conf (or, with --no-file, as it does without: setprkey fails).
# Every command received is appended to LOG, one line each, so a test can see what it was told.
# Usage: fake_multipathd.py SOCKET LOG [--no-file]
import os
import socket
import struct
import sys
import threading

SIZE = struct.Struct("N")  # native size_t, as libmpathcmd writes it


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    path, log = sys.argv[1], sys.argv[2]
    keys_from_file = "--no-file" not in sys.argv[3:]
    keys, status = {}, {}
    lock = threading.Lock()

    def answer(cmd):
        words = cmd.split()
        if len(words) >= 3 and words[1] == "map":
            verb, name = words[0], words[2]
            if verb == "setprkey" and len(words) == 5 and words[3] == "key":
                if not keys_from_file:
                    return "fail\n"
                keys[name] = words[4]
                return "ok\n"
            if verb == "unsetprkey":
                if not keys_from_file:
                    return "fail\n"
                keys.pop(name, None)
                return "ok\n"
            if verb == "getprkey":
                k = keys.get(name)
                return "0x%s\n" % k if k else "none\n"
            if verb == "setprstatus":
                status[name] = True
                return "ok\n"
            if verb == "unsetprstatus":
                status[name] = False
                return "ok\n"
            if verb == "getprstatus":
                return "1\n" if status.get(name) else "0\n"
        return "fail\n"

    def serve(conn):
        with conn:
            while True:
                head = recv_exact(conn, SIZE.size)
                if head is None:
                    return
                (n,) = SIZE.unpack(head)
                if n == 0 or n > 65536:
                    return
                body = recv_exact(conn, n)
                if body is None:
                    return
                cmd = body.rstrip(b"\0").decode("utf-8", "replace")
                with lock:
                    with open(log, "a", encoding="utf-8") as f:
                        f.write(cmd + "\n")
                    reply = answer(cmd).encode() + b"\0"
                conn.sendall(SIZE.pack(len(reply)) + reply)

    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
