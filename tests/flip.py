#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/flip.py TYPE: a transport for `cr migrate --via` that damages the
# stream as a bad link or a bad disk would, without breaking its framing:
# it passes cr's migration frames (u32 LE type, u32 LE length, payload)
# from stdin to stdout and flips one byte in the payload of the first
# frame of type TYPE that is large enough (14: PAGES, near its end, in
# page data; 7: FILE, in the file's data past its name). Used as
#   --via "python3 tests/flip.py 14 | <receiver>"
import os
import select
import struct
import sys

want = int(sys.argv[1])
done = False


# raw reads and writes that wait: the stream may be a non-blocking socket
def read(n):
    b = b""
    while len(b) < n:
        try:
            c = os.read(0, n - len(b))
        except BlockingIOError:
            select.select([0], [], [])
            continue
        if not c:
            return None
        b += c
    return b


def write(b):
    while b:
        try:
            b = b[os.write(1, b):]
        except BlockingIOError:
            select.select([], [1], [])


while True:
    h = read(8)
    if h is None:
        break
    t, n = struct.unpack("<II", h)
    p = read(n) if n else b""
    if p is None:
        write(h)
        break
    if not done and t == want:
        if t == 7:
            name_end = p.find(b"\0")
            at = name_end + 1 + (n - name_end - 1) // 2 if n - name_end - 1 >= 64 else -1
        else:
            at = n - 100 if n >= 16384 else -1
        if at >= 0:
            p = p[:at] + bytes([p[at] ^ 0x5A]) + p[at + 1:]
            done = True
            sys.stderr.write("flip.py: flipped byte %d of a frame of type %d (%d bytes)\n" % (at, t, n))
    write(h + p)
