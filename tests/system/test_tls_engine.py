"""The resident TLS engine: ucspi-tlsd -d SOCKET loads the context once
and serves the connections that ucspi-tlsd-front, run by tcpserver with
$TLSENGINE, hands it (ucspi-tlsd(8), ucspi-tlsd-front(8)). Real clients
(Python's smtplib and ssl) talk STARTTLS and SMTPS to qmail-smtpd under
tcpserver; the fronts are given a CERTFILE that does not exist, so a
session that works was served by the engine. Also: the fallback when the engine is not there, a renewed
certificate picked up without a restart, hand-offs in the wrong shape
or from another account, and the engine's own start-up errors."""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import bin_path, run, wait_for
from proc_util import descendants, stop_process, term_all
from smtpd_util import ids
from test_tls import SMSG, SMTPD, TLSD, WORK, client_ctx, pki, received  # noqa: F401 (pki is a fixture)

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


def test_engine_serves_starttls(servers, engine, fakeqq, pki, control):
    srv = servers([FRONT, SMTPD], env=helper_env(fakeqq, engine.sock))
    s = smtplib.SMTP("127.0.0.1", srv.port, timeout=30)
    s.ehlo("client.example")
    assert s.has_extn("starttls")
    assert s.starttls(context=client_ctx(pki))[0] == 220
    # the TLS side of this session is a child of the engine, as qmaild
    uid, gid = ids()
    w, = engine.workers()
    st = open("/proc/%d/status" % w).read()
    assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((uid,) * 4), st, re.M), st
    assert re.search(r"^Groups:\s+%d\s*$" % gid, st, re.M), st
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
