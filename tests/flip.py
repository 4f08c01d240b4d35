#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/flip.py TYPE: a transport for `cr migrate --via` that damages the
# stream as a bad link or a bad disk would, without breaking its framing:
# it passes cr's migration frames (u32 LE type, u32 LE length, payload)
# from stdin to stdout and flips one byte in the payload of the first
# frame of type TYPE that is large enough (14: PAGES, near its end, in
# page data; 7: FILE, in the file's data past its name). Used as
#   --via "python3 tests/flip.py 14 | <receiver>"
import struct
import sys

want = int(sys.argv[1])
src, dst = sys.stdin.buffer, sys.stdout.buffer
done = False


def read(n):
    b = b""
    while len(b) < n:
        c = src.read(n - len(b))
        if not c:
            return None
        b += c
    return b


while True:
    h = read(8)
    if h is None:
        break
    t, n = struct.unpack("<II", h)
    p = read(n) if n else b""
    if p is None:
        dst.write(h)
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
    dst.write(h + p)
    dst.flush()
