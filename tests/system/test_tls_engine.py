"""The resident TLS engine: ucspi-tlsd -d SOCKET loads the context once
and serves the connections that ucspi-tlsd-front, run by tcpserver with
$TLSENGINE, hands it (ucspi-tlsd(8), ucspi-tlsd-front(8)). Real clients
(Python's smtplib and ssl) talk STARTTLS and SMTPS to qmail-smtpd under
tcpserver; the fronts are given a CERTFILE that does not exist, so a
session that works was served by the engine. Also: the fallback when the engine is not there, a renewed
certificate picked up without a restart, hand-offs in the wrong shape
or from another account, an engine that dies in the middle of a
hand-off, POP3 (STLS and POP3S) with qmail-popup as root, and the
engine's own start-up errors."""
import os
import poplib
import re
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import threading

import pytest

from conftest import bin_path, run, wait_for
from proc_util import descendants, free_port, listening, stop_process, term_all
from server_util import TcpServer
from smtpd_util import ids
from test_tls import (POPPASS, POPUSER, SMSG, SMTPD, TLSD, WORK, client_ctx, pki, pop_server,  # noqa: F401
                      popuser, received, stop)                        # (pki and popuser are fixtures)

NOCERT = "/nonexistent/cert.pem"
FRONT = bin_path("ucspi-tlsd-front")


class Engine:
    """ucspi-tlsd -d as root with UID/GID qmaild/nofiles, its log in a file"""

    def __init__(self, cert, key, name="engine"):
        os.makedirs(WORK, exist_ok=True)
        self.sock = os.path.join(WORK, name + ".sock")
        self.log = os.path.join(WORK, name + ".log")
        uid, gid = ids()
        env = {"PATH": "/usr/bin:/bin", "CERTFILE": cert, "KEYFILE": key, "UID": str(uid), "GID": str(gid)}
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen([TLSD, "-d", self.sock], env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: self.proc.poll() is not None or os.path.exists(self.sock), 10, what="the engine's socket")
        assert self.proc.poll() is None, self.text()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read()

    def workers(self):
        return descendants(self.proc.pid)

    def stop(self):
        term_all(self.workers())
        stop_process(self.proc)
        if os.path.exists(self.sock):
            os.unlink(self.sock)


@pytest.fixture
def engine(pki):
    e = Engine(pki["cert.pem"], pki["key.pem"])
    yield e
    e.stop()


def helper_env(fakeqq, sock, cert=NOCERT, key=NOCERT):
    return {"TLSENGINE": sock, "CERTFILE": cert, "KEYFILE": key, "QMAILQUEUE": fakeqq.prog}


def tls_received(fakeqq):
    (msg, env), = fakeqq.messages()
    assert env == [b"Fa@example.org", b"Tu@testhost.example"]
    assert re.search(rb"with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\);", received(msg)), received(msg)
    assert msg.endswith(b"hello over TLS\n")


def worker_is_qmaild(engine):
    """the TLS side of the session is the engine's one child, as qmaild"""
    uid, gid = ids()
    w, = engine.workers()
    st = open("/proc/%d/status" % w).read()
    assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((uid,) * 4), st, re.M), st
    assert re.search(r"^Groups:\s+%d\s*$" % gid, st, re.M), st


def test_engine_serves_starttls(servers, engine, fakeqq, pki, control):
    srv = servers([FRONT, SMTPD], env=helper_env(fakeqq, engine.sock))
    s = smtplib.SMTP("127.0.0.1", srv.port, timeout=30)
    s.ehlo("client.example")
    assert s.has_extn("starttls")
    assert s.starttls(context=client_ctx(pki))[0] == 220
    worker_is_qmaild(engine)
    s.ehlo("client.example")
    assert not s.has_extn("starttls")
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    tls_received(fakeqq)
    wait_for(lambda: not engine.workers(), 10, what="the worker to end")


def test_engine_serves_smtps(servers, engine, fakeqq, pki, control):
    srv = servers([FRONT, "-i", SMTPD], env=helper_env(fakeqq, engine.sock))
    s = smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=30, context=client_ctx(pki))
    assert s.ehlo("client.example")[0] == 250 and not s.has_extn("starttls")
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    tls_received(fakeqq)
    assert engine.text() == b""


def test_a_failed_handshake_is_logged_by_the_helper(servers, engine, fakeqq, control):
    """the worker's message goes to the connection's log, as the helper's
    own would, and prog never runs"""
    log = os.path.join(WORK, "helper.log")
    if os.path.exists(log):
        os.unlink(log)
    srv = servers([FRONT, "-i", "-h", "2", SMTPD], env=helper_env(fakeqq, engine.sock), log=log)
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    c.sendall(b"EHLO not a TLS client\r\n")
    c.close()
    wait_for(lambda: b"TLS handshake failed" in open(log, "rb").read(), 10, what="the handshake's failure in the log")
    assert fakeqq.messages() == []


def test_without_the_engine_the_helper_does_tls_itself(servers, fakeqq, pki, control):
    log = os.path.join(WORK, "fallback.log")
    if os.path.exists(log):
        os.unlink(log)
    missing = os.path.join(WORK, "no-engine.sock")
    srv = servers([FRONT, "-i", SMTPD], env=helper_env(fakeqq, missing, pki["cert.pem"], pki["key.pem"]), log=log)
    s = smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=30, context=client_ctx(pki))
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    tls_received(fakeqq)
    text = open(log, "rb").read()
    assert b"ucspi-tlsd-front: warning: TLSENGINE " + missing.encode() + b": unable to connect: No such file" in text


def test_without_tlsengine_the_front_is_ucspi_tlsd(servers, fakeqq, pki, control):
    env = {"CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"], "QMAILQUEUE": fakeqq.prog}
    srv = servers([FRONT, "-h", "5", SMTPD], env=env)
    s = smtplib.SMTP("127.0.0.1", srv.port, timeout=30)
    s.starttls(context=client_ctx(pki))
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    tls_received(fakeqq)
    assert run([FRONT]).returncode == 100
    assert run([FRONT, "-c"]).returncode == 100    # the client side is ucspi-tlsd's own


def test_an_account_the_engine_does_not_serve_is_not_served(engine, pki):
    """qmailr is neither root nor the engine's account: it cannot reach
    the socket, and its helper does TLS itself (here: cannot, no key)"""
    st = os.stat(engine.sock)
    assert st.st_uid == ids()[0] and st.st_mode & 0o777 == 0o600
    r = run([FRONT, "-i", "/bin/true"], env={"TLSENGINE": engine.sock, "CERTFILE": NOCERT, "KEYFILE": NOCERT},
            user="qmailr")
    assert r.returncode == 111
    assert b"unable to connect: Permission denied; doing TLS here" in r.stderr
    assert b"unable to read CERTFILE" in r.stderr
    assert engine.workers() == []


@pytest.mark.parametrize("immediate", [False, True], ids=["stls", "pop3s"])
def test_engine_serves_pop3(engine, pki, popuser, immediate):
    """qmail-popup behind the front as scripts/services.sh runs it: tcpserver
    as root, TLS_UID and no UID, so qmail-popup stays root for checkpassword
    while the engine's worker does the TLS as qmaild"""
    srv = pop_server(pki, immediate, helper=FRONT,
                     env={"TLSENGINE": engine.sock, "CERTFILE": NOCERT, "KEYFILE": NOCERT})
    try:
        if immediate:
            p = poplib.POP3_SSL("127.0.0.1", srv.port, timeout=30, context=client_ctx(pki))
        else:
            p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
            assert "STLS" in p.capa()
            p.stls(context=client_ctx(pki))
        assert "STLS" not in p.capa()
        worker_is_qmaild(engine)
        p.user(POPUSER)
        p.pass_(POPPASS)                     # checkpassword ran as root and became the user
        assert p.stat()[0] == 1
        assert b"over tls" in b"\n".join(p.retr(1)[1])
        p.quit()
    finally:
        stop(srv)
    assert engine.text() == b""


def test_the_pop3_services_of_services_sh(pki, popuser, tmp_path):
    """The run scripts services.sh -C -K writes for qmail-tlsd, qmail-pop3d
    and qmail-pop3s, run as supervise would run them: a POP3 client logs
    in over STLS and over POP3S, the TLS done by the engine (its worker
    holds each session, and the fronts log no fallback)"""
    from conftest import HOME, SRC
    sock = os.path.join(WORK, "svc-tlsd.sock")
    p110, p995 = free_port(), free_port()
    sdir = tmp_path / "service"
    (tmp_path / "rules").mkdir()
    r = run(["sh", os.path.join(SRC, "scripts", "services.sh"), "-H", HOME, "-L", str(tmp_path / "log"),
             "-R", str(tmp_path / "rules"), "-o", "tlsd,pop3,pop3s", "-a", "127.0.0.1",
             "-q", str(p110), "-Q", str(p995), "-E", sock, "-C", pki["cert.pem"], "-K", pki["key.pem"],
             str(sdir)])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(sdir)) == ["qmail-pop3d", "qmail-pop3s", "qmail-tlsd"]
    procs = []

    def start(name):
        procs.append(subprocess.Popen(["sh", str(sdir / name / "run")], cwd=str(sdir / name),
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(tmp_path / (name + ".log"), "wb")))
        return procs[-1]

    try:
        tlsd = start("qmail-tlsd")
        wait_for(lambda: tlsd.poll() is not None or os.path.exists(sock), 10, what="qmail-tlsd's socket")
        assert tlsd.poll() is None, (tmp_path / "qmail-tlsd.log").read_bytes()
        for name, port in (("qmail-pop3d", p110), ("qmail-pop3s", p995)):
            srv = start(name)
            wait_for(lambda: srv.poll() is not None or listening(port), 10, what=name + " to listen")
            assert srv.poll() is None, (tmp_path / (name + ".log")).read_bytes()
        # the listen probes' connections were handed over too: their workers go first
        wait_for(lambda: not descendants(tlsd.pid), 10, what="the probes' workers to end")
        for port, immediate in ((p110, False), (p995, True)):
            if immediate:
                p = poplib.POP3_SSL("127.0.0.1", port, timeout=30, context=client_ctx(pki))
            else:
                p = poplib.POP3("127.0.0.1", port, timeout=30)
                p.stls(context=client_ctx(pki))
            w, = descendants(tlsd.pid)               # the engine's worker has this session
            p.user(POPUSER)
            p.pass_(POPPASS)
            assert p.stat()[0] == 1
            p.quit()
            wait_for(lambda: not descendants(tlsd.pid), 10, what="the worker to end")
        for name in ("qmail-pop3d", "qmail-pop3s"):
            assert b"warning" not in (tmp_path / (name + ".log")).read_bytes()
    finally:
        for pr in reversed(procs):
            term_all(descendants(pr.pid))
            stop_process(pr)
        if os.path.exists(sock):
            os.unlink(sock)


class DyingEngine:
    """A socket that takes hand-offs the way ucspi-tlsd -d does and then
    fails: "before" closes without a word, "after" answers 'k' and then
    closes before the helper's 'g' (the helper is stopped meanwhile, so
    that the close comes first)."""

    def __init__(self, when):
        self.path = os.path.join(WORK, "dying.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(self.path)
        self.s.listen(8)
        self.when, self.taken = when, 0
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            with c:
                c.settimeout(10)
                req, fds, _, _ = socket.recv_fds(c, 16, 8)
                for fd in fds:
                    os.close(fd)
                if len(req) == 16 and req[:4] == b"TLS1":
                    self.taken += 1
                if self.when == "after":
                    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
                    os.kill(pid, 19)          # SIGSTOP
                    c.sendall(b"k")
                    c.close()
                    os.kill(pid, 18)          # SIGCONT

    def stop(self):
        self.s.close()
        os.unlink(self.path)


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_engine_that_dies_in_a_hand_off_leaves_it_to_the_helper(pki, when):
    """Either way the helper does the TLS itself, says why in the log,
    and the session is served once"""
    log = os.path.join(WORK, "dying.log")
    if os.path.exists(log):
        os.unlink(log)
    e = DyingEngine(when)
    uid, gid = ids()
    srv = TcpServer([FRONT, "-i", "/bin/sh", "-c", "echo up; id -u"], log=log,
                    env={"TLSENGINE": e.path, "CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"],
                         "UID": str(uid), "GID": str(gid)})
    try:
        with client_ctx(pki).wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                                         server_hostname="localhost") as c:
            c.settimeout(10)
            got = b""
            while got.count(b"\n") < 2:
                d = c.recv(100)
                if not d:
                    break
                got += d
        assert got == b"up\n%d\n" % uid
        why = b"the engine did not take the connection" if when == "before" else b"the engine went away"
        wait_for(lambda: why in open(log, "rb").read(), 10, what="the helper's warning")
        assert b"TLSENGINE " + e.path.encode() + b": " + why + b"; doing TLS here" in open(log, "rb").read()
        assert e.taken >= 1
    finally:
        term_all(descendants(srv.proc.pid))
        srv.stop()
        e.stop()


def answer(c):
    """what the engine says before it closes: b"" (or a reset, when it
    left bytes unread) when it took nothing"""
    try:
        return c.recv(10)
    except ConnectionResetError:
        return b""


def test_hand_offs_in_the_wrong_shape_are_dropped(servers, engine, fakeqq, pki, control):
    for junk in (b"", b"x", b"TLS1" + b"\0" * 12, os.urandom(200)):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect(engine.sock)
        if junk:
            c.sendall(junk)
        c.shutdown(socket.SHUT_WR)
        assert answer(c) == b""                  # no 'k': nothing was taken
        c.close()
    # the request's shape with too few descriptors, and with bad times
    import struct
    r, w = os.pipe()
    for req, fds in ((struct.pack("=4sIII", b"TLS1", 1, 30, 60), [r, w]),
                     (struct.pack("=4sIII", b"TLS1", 1, 0, 60), [r, w, 2, r, w]),
                     (struct.pack("=4sIII", b"TLS2", 1, 30, 60), [r, w, 2, r, w]),
                     (struct.pack("=4sIII", b"TLS1", 1, 30, 60), [r, w, 2, r, w, r, w])):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect(engine.sock)
        socket.send_fds(c, [req], fds)
        assert answer(c) == b""
        c.close()
    os.close(r)
    os.close(w)
    assert engine.proc.poll() is None and engine.workers() == []
    # and the engine still serves
    srv = servers([FRONT, "-i", SMTPD], env=helper_env(fakeqq, engine.sock))
    s = smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=30, context=client_ctx(pki))
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    tls_received(fakeqq)


def peer_cert(port):
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as s:
        der = s.getpeercert(binary_form=True)
        s.settimeout(10)
        s.recv(100)                              # prog's line: the session ran
    return der


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def test_a_renewed_certificate_is_used_without_a_restart(servers, pki):
    d = os.path.join(WORK, "renew")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    shutil.copy(pki["cert.pem"], cert)
    shutil.copy(pki["key.pem"], key)
    os.chmod(key, 0o600)                         # root's only: the engine reads it as root
    e = Engine(cert, key, "renew")
    try:
        srv = servers([FRONT, "-i", "/bin/sh", "-c", "echo up"],
                      env={"TLSENGINE": e.sock, "CERTFILE": NOCERT, "KEYFILE": NOCERT})
        assert peer_cert(srv.port) == pem_der(pki["cert.pem"])
        # renewed by rename, as certbot and acme clients do
        for src, dst in ((pki["bad.key"], key), (pki["bad.pem"], cert)):
            shutil.copy(src, dst + ".new")
            os.chmod(dst + ".new", 0o600)
            os.rename(dst + ".new", dst)
        assert peer_cert(srv.port) == pem_der(pki["bad.pem"])
        # a half-written renewal: the last good context goes on
        with open(cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n")
        assert peer_cert(srv.port) == pem_der(pki["bad.pem"])
        assert b"unable to load the certificate chain in CERTFILE " + cert.encode() in e.text()
        assert b"going on with the context loaded before" in e.text()
        assert e.proc.poll() is None
    finally:
        e.stop()


def test_engine_start_up_errors(pki):
    r = run([TLSD, "-d", os.path.join(WORK, "x.sock")], env={"CERTFILE": NOCERT, "KEYFILE": pki["key.pem"]})
    assert r.returncode == 111 and b"unable to read CERTFILE /nonexistent/cert.pem: No such file" in r.stderr
    r = run([TLSD, "-d", os.path.join(WORK, "x.sock")], env={"CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"]})
    assert r.returncode == 111 and b"TLS_UID" in r.stderr          # root with no account to become
    uid, gid = ids()
    ok = {"CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"], "UID": str(uid), "GID": str(gid)}
    r = run([TLSD, "-d", "/nonexistent/dir/x.sock"], env=ok)
    assert r.returncode == 111 and b"unable to bind /nonexistent/dir/x.sock: No such file" in r.stderr
    for args in (["-d"], ["-d", "x.sock", "prog"], ["-i", "-d", "x.sock"], ["-c", "-d", "x.sock"]):
        assert run([TLSD] + args, env=ok).returncode == 100, args
