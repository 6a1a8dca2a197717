"""Helpers for the SMTP/QMTP/QMQP tests: a tcpserver we start and stop by
pid, a stand-in qmail-queue that saves what it is given, a raw line
client, peak memory of a process, and a small cdb writer."""
import os
import pwd
import grp
import shutil
import socket
import struct
import tempfile

from proc_util import free_port  # noqa: F401 (used by the tests)
from server_util import TcpServer


def ids():
    return pwd.getpwnam("qmaild").pw_uid, grp.getgrnam("nofiles").gr_gid


def vmhwm_kb(pid):
    """Peak resident set size of pid in kB (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


class Server(TcpServer):
    """tcpserver on 127.0.0.1:<free port> running argv as qmaild/nofiles."""

    def __init__(self, argv, env=None, rules=None, port=None, host="127.0.0.1", log=None, rcptcheck=False):
        """rcptcheck: keep qmail-smtpd's recipient check on (its default);
        otherwise RCPTCHECK=0, since most tests send to made-up users
        with a stand-in queue and no account behind them."""
        env = dict(env or {})
        if not rcptcheck:
            env.setdefault("RCPTCHECK", "0")
        uid, gid = ids()
        opts = ["-u", str(uid), "-g", str(gid)]
        if rules:
            opts += ["-x", rules]
        TcpServer.__init__(self, argv, opts=opts, env=env, port=port, host=host, log=log)


class FakeQueue:
    """A qmail-queue stand-in: saves fd 0 and fd 1 as N.msg and N.env in a
    directory, then exits with the code in its 'exit' file (default 0)."""

    def __init__(self, discard=False):
        self.dir = tempfile.mkdtemp(prefix="hd-fakeqq.")
        os.chmod(self.dir, 0o777)
        self.prog = os.path.join(self.dir, "qq")
        msg = "/dev/null" if discard else '"$d/$$.msg.tmp"'
        with open(self.prog, "w") as f:
            f.write('#!/bin/sh\nd=%s\ncat > %s || exit 54\n'
                    'cat 0<&1 > "$d/$$.env.tmp" || exit 54\n'
                    'code=0; [ -f "$d/exit" ] && code=$(cat "$d/exit")\n'
                    '[ "$code" = 0 ] || exit "$code"\n'
                    '[ -f "$d/$$.msg.tmp" ] && mv "$d/$$.msg.tmp" "$d/$$.msg"\n'
                    'mv "$d/$$.env.tmp" "$d/$$.env"\nexit 0\n' % (self.dir, msg))
        os.chmod(self.prog, 0o755)

    def set_exit(self, code):
        with open(os.path.join(self.dir, "exit"), "w") as f:
            f.write("%d\n" % code)
        os.chmod(os.path.join(self.dir, "exit"), 0o644)

    def messages(self):
        """[(message bytes, [envelope records])] of the complete handoffs:
        an envelope that ends with its empty record."""
        out = []
        for n in sorted(os.listdir(self.dir)):
            if not n.endswith(".env"):
                continue
            with open(os.path.join(self.dir, n), "rb") as f:
                env = f.read()
            if not env.endswith(b"\0\0"):
                continue
            mp = os.path.join(self.dir, n[:-4] + ".msg")
            msg = open(mp, "rb").read() if os.path.exists(mp) else None
            out.append((msg, env[:-2].split(b"\0")))
        return out

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A raw line-level SMTP client over a socket."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += d
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode("latin-1").rstrip("\r\n")

    def reply(self):
        """One full (possibly multi-line) reply as (code, [texts])."""
        texts = []
        while True:
            l = self.line()
            texts.append(l[4:])
            if l[3:4] != "-":
                return int(l[:3]), texts

    def cmd(self, text):
        self.send(text.encode("latin-1") + b"\r\n")
        return self.reply()

    def closed(self, timeout=10):
        """True when the server closes the connection with nothing more."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1)
        except (ConnectionResetError, socket.timeout):
            return False
        return d == b"" and self.buf == b""

    def close(self):
        self.sock.close()


def cdb_write(path, pairs):
    """Write a cdb (D. J. Bernstein's format) of (key, data) byte pairs."""
    def h(k):
        v = 5381
        for c in k:
            v = ((v << 5) + v) & 0xffffffff
            v ^= c
        return v
    body = b""
    pos = 2048
    tables = [[] for _ in range(256)]
    for k, d in pairs:
        tables[h(k) & 255].append((h(k), pos))
        rec = struct.pack("<II", len(k), len(d)) + k + d
        body += rec
        pos += len(rec)
    head = b""
    tail = b""
    for t in tables:
        n = len(t) * 2
        slots = [(0, 0)] * n
        for hv, p in t:
            i = (hv >> 8) % n
            while slots[i][1]:
                i = (i + 1) % n
            slots[i] = (hv, p)
        head += struct.pack("<II", pos + len(tail), n)
        tail += b"".join(struct.pack("<II", a, b) for a, b in slots)
    with open(path, "wb") as f:
        f.write(head + body + tail)
