"""The peers of test.sh's tier-0 checks of `cr receive --listen` (against the
fake criu, on 127.0.0.1): python3 tests/listen-peers.py CASE PORT.

  bad    a silent peer, garbage, a second waiting one and one over the cap
         (--max-unauthenticated 2: told BUSY); after the grace time (2 s) a
         wrong token, then the right one (s3cret), which gets READY
  split  a HELLO sent in two parts, around another peer's leaving and a
         newcomer's header: it still arrives whole (READY)
  slots  three silent connections while the same address keeps failing the
         token: when were the silent ones closed?

Each prints what the peers got, one line a fact; test.sh judges."""
import socket, struct, sys, threading, time

case, port = sys.argv[1], int(sys.argv[2])


def conn():
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            time.sleep(0.05)
    raise SystemExit("no listener on 127.0.0.1:%d" % port)


def hello(tok, pad=b""):
    p = b"cr-migrate 2 " + pad + b"criu=40201 pid=4194000 mib=1 pids=4194000 token=" + tok
    return struct.pack("<II", 1, len(p)) + p


def frame(s):
    """The type of the next frame, None if the peer closed first."""
    h = b""
    while len(h) < 8:
        d = s.recv(8 - len(h))
        if not d:
            return None
        h += d
    return struct.unpack("<II", h)[0]


def bad():
    silent = conn()                      # says nothing: dropped after the grace time
    garbage = conn()
    garbage.sendall(b"\x07" * 64)
    time.sleep(0.3)
    held = conn()                        # a second waiting connection (the cap is 2)
    time.sleep(0.3)
    busy = conn()                        # one more: told BUSY
    print("busy got frame", frame(busy))
    time.sleep(2.6)                      # silent and held are dropped by now
    wrong = conn()
    wrong.sendall(hello(b"wrong"))
    print("wrong got", frame(wrong))     # None: closed without a word
    good = conn()
    good.sendall(hello(b"s3cret"))       # read once its address has waited 1 s
    print("good got frame", frame(good))
    del silent, held


def split():
    msg = hello(b"s3cret", pad=b"pad=" + b"x" * 30000 + b" ")
    first = conn()
    time.sleep(0.2)
    x = conn()
    x.sendall(msg[:1008])
    time.sleep(0.2)
    first.close()
    time.sleep(0.2)
    y = conn()
    y.sendall(struct.pack("<II", 1, 10))
    time.sleep(0.2)
    x.sendall(msg[1008:])
    print("x got frame", frame(x))
    del y


def slots():
    silent = [conn()]                    # (the listener is up: the clock starts)
    t0 = time.monotonic()
    silent += [conn() for _ in range(2)]

    def wrongs():
        while time.monotonic() - t0 < 14:
            try:
                conn().sendall(hello(b"wrong"))
            except OSError:
                pass
            time.sleep(0.5)
    threading.Thread(target=wrongs, daemon=True).start()
    for s in silent:
        s.settimeout(20)
        try:
            s.recv(1)
        except OSError:
            pass
    print("silent ones closed after %.1f s" % (time.monotonic() - t0))


{"bad": bad, "split": split, "slots": slots}[case]()
