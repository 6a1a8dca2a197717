"""TLS (issue 16): ucspi-tlsd in front of qmail-smtpd (STARTTLS, SMTPS)
and qmail-popup (STLS, POP3S), and ucspi-tlsd -c behind qmail-remote.

Certificates are made with openssl in the test: a private CA, a server
certificate it signed (localhost, mx.tls.test, 127.0.0.1) and a
self-signed one no CA vouches for. Clients are real: openssl s_client,
Python's smtplib and poplib, fetchmail; peers are aiosmtpd with a TLS
context and a private Postfix with smtpd_tls_security_level=encrypt.
Also here: the hostile cases (cleartext injected after STARTTLS, STARTTLS
twice, a handshake that stalls or is cut off), one run of the helper built
with AddressSanitizer, qmail-smtpd's peak memory with TLS on, and the check
that only the programs allowed to link more than libc do."""
import grp
import os
import poplib
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import BUILD, HOME, SRC, bin_path, run, wait_for
from pop3_util import POPHOST, listing, pop_user, put_message
from postfix_util import Postfix, missing as postfix_missing
from proc_util import descendants, free_port, gone, term_all
from remote_util import SmtpPeer
from server_util import TcpServer
from smtpd_util import Client, Server, ids, vmhwm_kb

WORK = os.path.join(BUILD or os.path.dirname(HOME), "tls-test")
TLSD = bin_path("ucspi-tlsd")
SMTPD = bin_path("qmail-smtpd")
MSG = b"From: a@example.org\nTo: u@tls.test\nSubject: tls\n\nhello over TLS\n"
SMSG = MSG.replace(b"\n", b"\r\n")          # what an SMTP client sends


# ------------------------------------------------------------ certificates

def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def pki():
    d = os.path.join(WORK, "pki")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    os.chmod(WORK, 0o755)
    os.chmod(d, 0o755)
    p = {n: os.path.join(d, n) for n in ("ca.pem", "ca.key", "cert.pem", "key.pem", "bad.pem", "bad.key",
                                          "req.csr", "ext.cnf")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.pem"], "-days", "3",
            "-subj", "/CN=qmail test CA")
    openssl("req", *ec, "-keyout", p["key.pem"], "-out", p["req.csr"], "-subj", "/CN=mx.tls.test")
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=DNS:mx.tls.test,DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", p["req.csr"], "-CA", p["ca.pem"], "-CAkey", p["ca.key"],
            "-CAcreateserial", "-days", "3", "-out", p["cert.pem"], "-extfile", p["ext.cnf"])
    openssl("req", "-x509", *ec, "-keyout", p["bad.key"], "-out", p["bad.pem"], "-days", "3",
            "-subj", "/CN=mx.tls.test", "-addext", "subjectAltName=DNS:mx.tls.test,DNS:localhost")
    for n in ("key.pem", "bad.key"):      # qmaild runs the helper in most tests
        os.chmod(p[n], 0o644)
    return p


def client_ctx(pki):
    c = ssl.create_default_context(cafile=pki["ca.pem"])
    c.check_hostname = True
    return c


# ------------------------------------------------------------ servers

def tls_env(pki, fakeqq, **more):
    e = {"CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"], "QMAILQUEUE": fakeqq.prog}
    e.update(more)
    return e


@pytest.fixture
def starttls(servers, pki, fakeqq, control):
    """tcpserver (as qmaild) ucspi-tlsd qmail-smtpd"""
    return servers([TLSD, "-h", "3", SMTPD], env=tls_env(pki, fakeqq))


@pytest.fixture
def smtps(servers, pki, fakeqq, control):
    """tcpserver (as qmaild) ucspi-tlsd -i qmail-smtpd"""
    return servers([TLSD, "-i", SMTPD], env=tls_env(pki, fakeqq))


def ehlo_keywords(reply_texts):
    return [t.split(" ")[0].upper() for t in reply_texts[1:]]


def received(msg):
    return msg.split(b"\n", 1)[0] + b"\n" + msg.split(b"\n", 2)[1]


# ------------------------------------------------------------ qmail-smtpd

def test_starttls_offered_only_under_a_helper(servers, starttls, fakeqq, pki):
    plain = servers([SMTPD], env={"QMAILQUEUE": fakeqq.prog})
    c = Client(plain.port)
    c.reply()
    code, texts = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" not in ehlo_keywords(texts)
    assert c.cmd("STARTTLS")[0] == 502
    c.close()
    c = Client(starttls.port)
    c.reply()
    code, texts = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" in ehlo_keywords(texts)
    assert c.cmd("STARTTLS now")[0] == 501
    c.close()


def test_smtplib_starttls_delivers_and_received_says_tls(starttls, fakeqq, pki):
    s = smtplib.SMTP("127.0.0.1", starttls.port, timeout=30)
    s.ehlo("client.example")
    assert s.has_extn("starttls")
    code, _ = s.starttls(context=client_ctx(pki))
    assert code == 220
    assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
    s.ehlo("client.example")
    assert not s.has_extn("starttls")          # TLS is on: no second offer
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    s.quit()
    msgs = fakeqq.messages()
    assert len(msgs) == 1
    msg, env = msgs[0]
    assert env == [b"Fa@example.org", b"Tu@testhost.example"]
    head = received(msg)
    assert re.search(rb"with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\);", head), head
    assert msg.endswith(b"hello over TLS\n")  # qmail-queue gets LF line ends


def test_smtps_on_465(smtps, fakeqq, pki):
    s = smtplib.SMTP_SSL("127.0.0.1", smtps.port, timeout=30, context=client_ctx(pki))
    code, _ = s.ehlo("client.example")
    assert code == 250 and not s.has_extn("starttls")
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG)
    assert s.docmd("STARTTLS")[0] == 503       # TLS is already on
    s.quit()
    (msg, env), = fakeqq.messages()
    assert re.search(rb"with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\);", received(msg))


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks is not installed")
def test_swaks_tls_and_tlsc(starttls, smtps, fakeqq, pki):
    for port, opt in ((starttls.port, "--tls"), (smtps.port, "--tlsc")):
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), opt,
                            "--tls-verify", "--tls-ca-path", pki["ca.pem"], "--tls-sni", "localhost",
                            "--from", "a@example.org", "--to", "u@testhost.example",
                            "--helo", "client.example"], capture_output=True, timeout=60)
        out = r.stdout.decode("latin-1")
        assert r.returncode == 0, out + r.stderr.decode("latin-1")
        assert "TLS started with cipher TLSv1.3" in out, out
    msgs = fakeqq.messages()
    assert len(msgs) == 2
    for msg, env in msgs:
        assert re.search(rb"with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\);", received(msg))


def test_openssl_s_client_starttls_and_versions(starttls, pki):
    def s_client(*opts, data=b"QUIT\r\n"):
        return subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                               "127.0.0.1:%d" % starttls.port, "-CAfile", pki["ca.pem"],
                               "-verify_return_error", "-verify_hostname", "localhost", "-ign_eof"] + list(opts),
                              input=data, capture_output=True, timeout=30)
    r = s_client("-tls1_3")
    out = r.stdout.decode("latin-1")
    assert "Verify return code: 0 (ok)" in out, out + r.stderr.decode()
    assert "TLSv1.3" in out and "221 " in out
    r = s_client("-tls1_2", data=b"MAIL FROM:<a@example.org>\r\nQUIT\r\n")
    out = r.stdout.decode("latin-1")
    assert re.search(r"Cipher is ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)", out), out
    assert "250 2.1.0 ok" in out and "221 " in out
    r = s_client("-tls1_1")                   # refused: TLS 1.2 and 1.3 only
    assert r.returncode != 0 and b"221 " not in r.stdout
    r = s_client("-tls1_2", "-cipher", "AES128-SHA")   # no forward secrecy: refused
    assert r.returncode != 0 and b"221 " not in r.stdout


def tls_wrap(c, pki):
    """The raw client's socket, after the 220 to STARTTLS, wrapped in TLS."""
    c.sock = client_ctx(pki).wrap_socket(c.sock, server_hostname="localhost")
    c.buf = b""
    return c


def test_cleartext_injected_after_starttls_is_thrown_away(starttls, pki, fakeqq):
    """CVE-2011-0411: commands sent in the same packet as STARTTLS never run."""
    c = Client(starttls.port)
    c.reply()
    c.cmd("EHLO client.example")
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<u@testhost.example>\r\n")
    assert c.reply()[0] == 220
    assert c.buf == b""
    tls_wrap(c, pki)
    code, texts = c.cmd("EHLO client.example")
    assert code == 250 and "STARTTLS" not in ehlo_keywords(texts)
    # nothing injected ran: there is no sender, so RCPT and DATA are refused
    assert c.cmd("RCPT TO:<u@testhost.example>")[0] == 503
    assert c.cmd("DATA")[0] == 503
    assert c.cmd("QUIT")[0] == 221
    c.close()
    assert fakeqq.messages() == []


def test_session_state_is_forgotten_and_starttls_twice_refused(starttls, pki, fakeqq):
    c = Client(starttls.port)
    c.reply()
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<before@example.org>")[0] == 250
    assert c.cmd("STARTTLS")[0] == 220
    tls_wrap(c, pki)
    assert c.cmd("RCPT TO:<u@testhost.example>")[0] == 503    # MAIL from before TLS is gone
    assert c.cmd("STARTTLS")[0] == 503
    assert c.cmd("MAIL FROM:<after@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<u@testhost.example>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    assert c.reply()[0] == 250
    c.cmd("QUIT")
    c.close()
    (msg, env), = fakeqq.messages()
    assert env[0] == b"Fafter@example.org"


def comms(pids):
    out = {}
    for p in pids:
        try:
            with open("/proc/%d/comm" % p) as f:
                out[p] = f.read().strip()
        except OSError:
            pass
    return out


def session_pids(server):
    return descendants(server.proc.pid)


def test_stalled_handshake_is_dropped(starttls):
    """-h 3: a client that says STARTTLS and then nothing is gone in 3 s."""
    c = Client(starttls.port)
    c.reply()
    assert c.cmd("STARTTLS")[0] == 220
    c.send(b"\x16\x03\x01")                      # the start of a record, then silence
    t = time.monotonic()
    assert c.closed(timeout=15)
    assert time.monotonic() - t < 10
    wait_for(lambda: not session_pids(starttls), timeout=10, what="the session to end")


def test_stalled_smtps_handshake_is_dropped(servers, pki, fakeqq):
    """-i: a client that connects and never says hello is gone in 2 s, and
    qmail-smtpd never ran for it."""
    srv = servers([TLSD, "-i", "-h", "2", SMTPD], env=tls_env(pki, fakeqq))
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = time.monotonic()
    # qmaild both sides: the handshake runs in the helper's one process
    wait_for(lambda: len(session_pids(srv)) == 1, timeout=5, what="the helper")
    assert set(comms(session_pids(srv)).values()) == {"ucspi-tlsd"}
    assert eof_within(c, 10)
    assert time.monotonic() - t < 8
    c.close()
    wait_for(lambda: not session_pids(srv), timeout=10, what="the session to end")


def test_smtps_one_account_prog_runs_beside_the_engine(pki):
    """-i with the engine and prog under one account: prog is the helper's
    child, gets the cleartext and SSL_PROTOCOL/SSL_CIPHER but not the key's
    name, sees EOF when the client goes, and the helper exits with prog's
    exit code once prog is gone (what tcpserver records)."""
    uid, gid = ids()
    net, peer = socket.socketpair()
    script = 'echo "$SSL_PROTOCOL $SSL_CIPHER ${KEYFILE-none} $PPID"; read x; echo "got $x"; read y || exit 7'
    p = subprocess.Popen([TLSD, "-i", "/bin/sh", "-c", script], stdin=net, stdout=net,
                         stderr=subprocess.PIPE,
                         env={"PATH": "/usr/bin:/bin", "CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"],
                              "UID": str(uid), "GID": str(gid)})
    net.close()
    try:
        s = client_ctx(pki).wrap_socket(peer, server_hostname="localhost")
        s.settimeout(20)
        f = s.makefile("rb")
        proto, cipher, key, ppid = f.readline().decode().split()
        assert proto == "TLSv1.3" and cipher.startswith("TLS_") and key == "none"
        assert int(ppid) == p.pid
        kids = descendants(p.pid)
        assert len(kids) == 1 and open("/proc/%d/comm" % kids[0]).read().strip() == "sh"
        assert re.search(r"^Uid:\s+%d\s" % uid, open("/proc/%d/status" % p.pid).read(), re.M)
        s.sendall(b"hello\n")
        assert f.readline() == b"got hello\n"
        s.close()                                    # prog reads EOF and exits 7
        f.close()
        assert p.wait(timeout=20) == 7, p.stderr.read()
    finally:
        if p.poll() is None:
            term_all(descendants(p.pid) + [p.pid])
            p.wait(timeout=10)


def test_starttls_one_account_prog_runs_beside_the_engine(pki):
    """UCSPI-TLS (no -i) with the engine and prog under one account: prog
    is the helper's child, talks cleartext on the network, asks for TLS
    with 'y' on SSLCTLFD, then uses SSLREADFD/SSLWRITEFD; the helper exits
    with prog's exit code once prog is gone."""
    uid, gid = ids()
    net, peer = socket.socketpair()
    script = ('echo "clear $PPID ${CERTFILE-none}"; read x; printf y >&$SSLCTLFD; '
              'echo "secret $x" >&$SSLWRITEFD; read y <&$SSLREADFD; echo "got $y" >&$SSLWRITEFD; exit 5')
    p = subprocess.Popen([TLSD, "/bin/sh", "-c", script], stdin=net, stdout=net, stderr=subprocess.PIPE,
                         env={"PATH": "/usr/bin:/bin", "CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"],
                              "UID": str(uid), "GID": str(gid)})
    net.close()
    try:
        peer.settimeout(20)
        line = b""
        while not line.endswith(b"\n"):
            line += peer.recv(1)
        word, ppid, cert = line.decode().split()
        assert word == "clear" and int(ppid) == p.pid and cert == "none"
        assert [open("/proc/%d/comm" % k).read().strip() for k in descendants(p.pid)] == ["sh"]
        peer.sendall(b"go\n")
        s = client_ctx(pki).wrap_socket(peer, server_hostname="localhost")
        f = s.makefile("rb")
        assert f.readline() == b"secret go\n"
        s.sendall(b"bye\n")
        assert f.readline() == b"got bye\n"
        assert p.wait(timeout=20) == 5, p.stderr.read()
        s.close()
        f.close()
    finally:
        if p.poll() is None:
            term_all(descendants(p.pid) + [p.pid])
            p.wait(timeout=10)


def eof_within(sock, secs):
    """True when the peer closes (or resets) within secs seconds."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            if not sock.recv(4096):
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    return False


def test_client_closing_mid_handshake_and_garbage(starttls, pki):
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20, b"GET / HTTP/1.0\r\n\r\n"):
        c = Client(starttls.port)
        c.reply()
        assert c.cmd("STARTTLS")[0] == 220
        c.send(junk)
        if junk.startswith(b"GET"):
            assert eof_within(c.sock, 10)       # an alert at most, then the close
        c.close()
        wait_for(lambda: not session_pids(starttls), timeout=10, what="the session to end")
    # and the service still works
    s = smtplib.SMTP("127.0.0.1", starttls.port, timeout=30)
    s.starttls(context=client_ctx(pki))
    assert s.noop()[0] == 250
    s.quit()


def test_memory_of_qmail_smtpd_with_tls(starttls, pki, fakeqq):
    """qmail-smtpd stays under 2 MiB with TLS on; the helper is reported."""
    s = smtplib.SMTP("127.0.0.1", starttls.port, timeout=30)
    s.starttls(context=client_ctx(pki))
    s.ehlo("client.example")
    s.sendmail("a@example.org", ["u@testhost.example"], SMSG + b"x" * 200000 + b"\r\n")
    comm = comms(session_pids(starttls))
    smtpd = [p for p, n in comm.items() if n == "qmail-smtpd"]
    helper = [p for p, n in comm.items() if n == "ucspi-tlsd"]
    assert len(smtpd) == 1 and len(helper) == 1, comm
    m_smtpd, m_helper = vmhwm_kb(smtpd[0]), vmhwm_kb(helper[0])
    s.quit()
    with open(os.path.join(WORK, "memory.txt"), "w") as f:
        f.write("qmail-smtpd VmHWM %d kB, ucspi-tlsd (TLS engine) VmHWM %d kB\n" % (m_smtpd, m_helper))
    print("qmail-smtpd VmHWM %d kB, ucspi-tlsd VmHWM %d kB" % (m_smtpd, m_helper))
    assert m_smtpd < 2048, m_smtpd


# ------------------------------------------------------------ the helper itself

def test_missing_or_unreadable_certificate_is_a_clear_error(pki, tmp_path):
    mark = os.path.join(WORK, "prog-ran")
    if os.path.exists(mark):
        os.unlink(mark)
    prog = ["/bin/sh", "-c", "touch " + mark]
    r = run([TLSD, "-i"] + prog, env={"KEYFILE": pki["key.pem"]})
    assert r.returncode == 111 and b"CERTFILE is not set" in r.stderr
    r = run([TLSD] + prog, env={"CERTFILE": "/nonexistent/cert.pem", "KEYFILE": pki["key.pem"]})
    assert r.returncode == 111
    assert b"unable to read CERTFILE /nonexistent/cert.pem: No such file" in r.stderr
    secret = os.path.join(WORK, "secret.key")
    shutil.copy(pki["key.pem"], secret)
    os.chmod(secret, 0o600)
    r = run([TLSD] + prog, env={"CERTFILE": pki["cert.pem"], "KEYFILE": secret}, user="qmaild")
    assert r.returncode == 111 and b"unable to read KEYFILE " in r.stderr and b"Permission denied" in r.stderr
    r = run([TLSD] + prog, env={"CERTFILE": pki["cert.pem"], "KEYFILE": pki["bad.key"]}, user="qmaild")
    assert r.returncode == 111 and b"KEYFILE " in r.stderr and b"mismatch" in r.stderr
    # as root with no account to become: refused, not run as root
    r = run([TLSD] + prog, env={"CERTFILE": pki["cert.pem"], "KEYFILE": secret})
    assert r.returncode == 111 and b"TLS_UID" in r.stderr
    assert not os.path.exists(mark)


def test_root_reads_the_key_then_drops(pki):
    """tcpserver as root, envuidgid-style UID/GID: the key is root's only,
    and both the TLS engine and prog run as qmaild."""
    secret = os.path.join(WORK, "secret.key")
    shutil.copy(pki["key.pem"], secret)
    os.chmod(secret, 0o600)
    uid, gid = ids()
    srv = TcpServer([TLSD, "-i", "/bin/sh", "-c", 'echo "$(id -u) $(id -G) $SSL_PROTOCOL"; sleep 5'],
                    env={"CERTFILE": pki["cert.pem"], "KEYFILE": secret, "UID": str(uid), "GID": str(gid)})
    try:
        s = client_ctx(pki).wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                                         server_hostname="localhost")
        line = s.recv(200).decode()
        assert line.split() == [str(uid), str(gid), "TLSv1.3"], line
        helpers = [p for p in descendants(srv.proc.pid) if open("/proc/%d/comm" % p).read().strip() == "ucspi-tlsd"]
        assert helpers
        for p in helpers:
            st = open("/proc/%d/status" % p).read()
            assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((uid,) * 4), st, re.M), st
            assert re.search(r"^Groups:\s+%d\s*$" % gid, st, re.M), st
        s.close()
    finally:
        term_all(descendants(srv.proc.pid))
        srv.stop()


def test_helper_under_asan(pki, fakeqq):
    """The helper built with AddressSanitizer survives a normal session and
    every hostile one; ASan reports nothing."""
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    d = os.path.join(WORK, "asan")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    os.chmod(d, 0o777)
    exe = os.path.join(d, "ucspi-tlsd")
    srcs = [os.path.join(SRC, "src", "tls", f) for f in sorted(os.listdir(os.path.join(SRC, "src", "tls")))
            if f.endswith(".c") and f != "ucspi-tlsd-front.c"]   # that one is a program of its own
    r = subprocess.run(["gcc", "-g", "-O1", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                        "-D_GNU_SOURCE", "-std=c11", "-I" + os.path.join(SRC, "src", "lib"),
                        "-I" + os.path.join(SRC, "src", "mail"), "-o", exe] + srcs +
                       [os.path.join(BUILD, "lib.a"), "-lssl", "-lcrypto"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    os.chmod(exe, 0o755)
    env = tls_env(pki, fakeqq, ASAN_OPTIONS="log_path=%s/asan:detect_leaks=0" % d,
                  UBSAN_OPTIONS="log_path=%s/ubsan:print_stacktrace=1" % d)
    srv = Server([exe, "-h", "2", SMTPD], env=env)
    try:
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=30)
        s.starttls(context=client_ctx(pki))
        s.sendmail("a@example.org", ["u@testhost.example"], SMSG + b"y" * 100000 + b"\r\n")
        s.quit()
        for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xff" * 40, b"\x16\x03\x01", b"",
                     b"\x15\x03\x03\x00\x02\x02\x28" * 3, os.urandom(3000)):
            c = Client(srv.port)
            c.reply()
            assert c.cmd("STARTTLS")[0] == 220
            c.send(junk)
            c.closed(timeout=10)
            c.close()
        wait_for(lambda: not descendants(srv.proc.pid), timeout=15, what="the sessions to end")
        c = Client(srv.port)                       # a control socket closed before any command
        c.reply()
        c.cmd("QUIT")
        c.close()
        wait_for(lambda: not descendants(srv.proc.pid), timeout=15, what="the sessions to end")
    finally:
        term_all(descendants(srv.proc.pid))
        srv.stop()
    assert len(fakeqq.messages()) == 1
    reports = [n for n in os.listdir(d) if n.startswith(("asan", "ubsan"))]
    assert reports == [], open(os.path.join(d, reports[0])).read()


# ------------------------------------------------------------ the ELF check

def needed(path):
    r = subprocess.run(["readelf", "-d", path], capture_output=True, timeout=30)
    if r.returncode != 0:
        return None
    return sorted(re.findall(rb"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout))


def test_only_the_helper_checkpassword_and_dkim_link_more_than_libc():
    b = os.path.join(HOME, "bin")
    seen = 0
    for n in sorted(os.listdir(b)):
        p = os.path.join(b, n)
        with open(p, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        seen += 1
        libs = set(needed(p)) - {b"libc.so.6"}
        if n == "ucspi-tlsd":
            assert libs == {b"libssl.so.3", b"libcrypto.so.3"}, (n, libs)
        elif n == "checkpassword":
            assert libs <= {b"libcrypt.so.1"}, (n, libs)
        elif "dkim" in n:
            assert libs <= {b"libcrypto.so.3"}, (n, libs)
        else:
            assert libs == set(), (n, libs)
    assert seen > 20


# ------------------------------------------------------------ qmail-popup

POPUSER = "hptls"
POPPASS = "tls secret 1"


@pytest.fixture
def popuser():
    pw = pop_user(POPUSER, POPPASS)
    put_message(pw, "1000000001.M1P1.host", b"Subject: one\n\nover tls\n", mtime=1000000001)
    return pw


def pop_server(pki, immediate=False, helper=TLSD, env=None):
    """tcpserver as root: qmail-popup needs root for checkpassword; the TLS
    engine runs as qmaild (TLS_UID)."""
    uid, gid = ids()
    argv = [helper] + (["-i"] if immediate else []) + [bin_path("qmail-popup"), POPHOST,
                                                      bin_path("checkpassword"), bin_path("qmail-pop3d"), "Maildir"]
    full = {"CERTFILE": pki["cert.pem"], "KEYFILE": pki["key.pem"], "TLS_UID": str(uid), "TLS_GID": str(gid)}
    full.update(env or {})
    return TcpServer(argv, env=full)


def stop(srv):
    term_all(descendants(srv.proc.pid))
    srv.stop()


def test_poplib_stls(pki, popuser):
    srv = pop_server(pki)
    try:
        p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
        assert "STLS" in p.capa()
        p.stls(context=client_ctx(pki))
        assert "STLS" not in p.capa()
        with pytest.raises(poplib.error_proto):
            p._shortcmd("STLS")
        p.user(POPUSER)
        p.pass_(POPPASS)
        assert p.stat()[0] == 1
        assert b"over tls" in b"\n".join(p.retr(1)[1])
        p.quit()
    finally:
        stop(srv)


def test_pop3s_on_995(pki, popuser):
    srv = pop_server(pki, immediate=True)
    try:
        p = poplib.POP3_SSL("127.0.0.1", srv.port, timeout=30, context=client_ctx(pki))
        assert "STLS" not in p.capa()
        p.user(POPUSER)
        p.pass_(POPPASS)
        assert p.stat()[0] == 1
        p.quit()
    finally:
        stop(srv)


def test_stls_injection_is_not_a_command(pki, popuser):
    """What follows STLS in the same packet goes to the handshake, never to
    qmail-popup: the session ends without a reply to it."""
    srv = pop_server(pki)
    try:
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        c.recv(512)
        c.sendall(b"STLS\r\nUSER %s\r\n" % POPUSER.encode())
        data = b""
        c.settimeout(10)
        try:
            while True:
                d = c.recv(512)
                if not d:
                    break
                data += d
        except (socket.timeout, ConnectionResetError):
            pass
        assert data.startswith(b"+OK") and b"\r\n+OK" not in data, data
        c.close()
    finally:
        stop(srv)


@pytest.mark.skipif(not shutil.which("fetchmail"), reason="fetchmail is not installed")
@pytest.mark.parametrize("mode", ["stls", "pop3s"])
def test_fetchmail_with_sslproto(pki, popuser, mode):
    srv = pop_server(pki, immediate=(mode == "pop3s"))
    try:
        pw = popuser
        out = os.path.join(pw.pw_dir, "fetched")
        os.makedirs(out)
        os.chown(out, pw.pw_uid, pw.pw_gid)
        rc = os.path.join(pw.pw_dir, "fetchmailrc")
        with open(rc, "w") as f:
            f.write('set no syslog\n'
                    'poll localhost with proto POP3 port %d auth password\n'
                    '  user "%s" there with password "%s" is "%s" here\n'
                    '  options fetchall nokeep %s sslproto "TLS1.2+" sslcertck sslcertfile "%s"\n'
                    '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n'
                    % (srv.port, POPUSER, POPPASS, POPUSER, "ssl" if mode == "pop3s" else "",
                       pki["ca.pem"], out))
        os.chown(rc, pw.pw_uid, pw.pw_gid)
        os.chmod(rc, 0o600)
        r = run(["fetchmail", "-f", rc, "--nosyslog", "-v"], user=POPUSER,
                env={"HOME": pw.pw_dir, "FETCHMAILHOME": pw.pw_dir}, timeout=60)
        log = (r.stdout + r.stderr).decode("latin-1")
        assert r.returncode == 0, log
        assert re.search(r"TLSv1\.[23]", log) or "SSL/TLS" in log or "STLS" in log, log
        got = [open(os.path.join(out, n), "rb").read() for n in os.listdir(out)]
        assert len(got) == 1 and b"over tls" in got[0]
        assert listing(pw)["new"] == [] and listing(pw)["cur"] == []
    finally:
        stop(srv)


# ------------------------------------------------------------ qmail-remote

def qr(host, *recips, input=MSG, timeout=60):
    return run([bin_path("qmail-remote"), host, "a@example.org"] + list(recips), input=input,
               user="qmailr", timeout=timeout)


def reports(p):
    assert p.stdout.endswith(b"\0"), p.stdout
    return p.stdout[:-1].split(b"\0")


def clear_tcpto():
    with open(os.path.join(HOME, "queue", "lock", "tcpto"), "r+b") as f:
        f.write(b"\0" * 1024)


@pytest.fixture
def tlspeer(request, control, pki):
    which = getattr(request, "param", "good")
    cert = {"good": (pki["cert.pem"], pki["key.pem"]), "bad": (pki["bad.pem"], pki["bad.key"])}[which]
    p = SmtpPeer(os.path.join(WORK, "peer-" + request.node.name.replace("[", "-").rstrip("]")),
                 {"tls": list(cert)})
    control["smtproutes"] = "tls.test:127.0.0.1:%d\n" % p.port
    control["tlsca"] = pki["ca.pem"] + "\n"
    control["tlsdestinations"] = None
    clear_tcpto()
    yield p
    p.stop()


def test_remote_uses_starttls_when_offered(tlspeer):
    r = qr("tls.test", "u@tls.test")
    rep = reports(r)
    assert rep[0] == b"r"
    assert re.match(rb"K127\.0\.0\.1 accepted message; TLS TLSv1\.3 TLS_[A-Z0-9_]+, certificate verified\.\n",
                    rep[-1]), rep
    (m,) = tlspeer.messages()
    assert m["tls"] and m["tls"][1] == "TLSv1.3"
    assert m["content"].endswith(b"hello over TLS\r\n")
    raw = tlspeer.raw()[0]
    assert b"STARTTLS\r\n" in raw and b"MAIL FROM" not in raw and b"hello over TLS" not in raw


@pytest.mark.parametrize("tlspeer", ["bad"], indirect=True)
def test_remote_bad_certificate_opportunistic_delivers(tlspeer):
    rep = reports(qr("tls.test", "u@tls.test"))
    assert rep[0] == b"r"
    assert re.match(rb"K127\.0\.0\.1 accepted message; TLS TLSv1\.3 \S+, certificate not verified: "
                    rb"self.signed certificate\.\n", rep[-1]), rep
    (m,) = tlspeer.messages()
    assert m["tls"]


@pytest.mark.parametrize("tlspeer", ["bad"], indirect=True)
def test_remote_bad_certificate_required_is_deferred(tlspeer, control):
    control["tlsdestinations"] = "# must be verified\n.example.net\ntls.test:/etc/ssl/other.pem\n"
    rep = reports(qr("tls.test", "u@tls.test"))
    assert len(rep) == 1
    assert re.match(rb"ZTLS with 127\.0\.0\.1 failed, and control/tlsdestinations requires verified TLS: "
                    rb"self.signed certificate\. \(#4\.7\.5\)\n", rep[0]), rep
    assert tlspeer.messages() == []
    raw = tlspeer.raw()
    assert len(raw) == 1 and b"MAIL FROM" not in raw[0]


def test_remote_required_and_verified(tlspeer, control):
    control["tlsdestinations"] = ".test\n"
    rep = reports(qr("tls.test", "u@tls.test"))
    assert rep[0] == b"r" and b"certificate verified" in rep[-1], rep
    # a CA that does not vouch for the peer: deferred
    control["tlsca"] = os.path.join(WORK, "pki", "bad.pem") + "\n"
    rep = reports(qr("tls.test", "u@tls.test"))
    assert rep[0].startswith(b"ZTLS with 127.0.0.1 failed"), rep
    assert len(tlspeer.messages()) == 1


def test_remote_required_but_not_offered(control, pki):
    p = SmtpPeer(os.path.join(WORK, "peer-plain"), {})
    try:
        control["smtproutes"] = "tls.test:127.0.0.1:%d\n" % p.port
        control["tlsdestinations"] = "tls.test\n"
        clear_tcpto()
        rep = reports(qr("tls.test", "u@tls.test"))
        assert rep == [b"ZConnected to 127.0.0.1 but it does not offer STARTTLS, which "
                       b"control/tlsdestinations requires.\nRemote host said: 250 peer.test\n"] or \
            rep[0].startswith(b"ZConnected to 127.0.0.1 but it does not offer STARTTLS"), rep
        assert p.messages() == []
        control["tlsdestinations"] = None
        rep = reports(qr("tls.test", "u@tls.test"))
        assert rep[-1].startswith(b"K127.0.0.1 accepted message.\n"), rep   # cleartext, as before
    finally:
        p.stop()


class BrokenTlsPeer:
    """Offers STARTTLS, answers 220 and then sends garbage instead of a
    handshake; every later connection is a plain SMTP server that takes
    the mail. Records each connection's client bytes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        self.sock.settimeout(0.5)
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.serve(c, len(self.conns))
            except OSError:
                pass
            c.close()

    def serve(self, c, n):
        c.settimeout(20)
        rec = b""
        self.conns.append(rec)
        f = c.makefile("rb")
        c.sendall(b"220 broken.test ESMTP\r\n")
        while True:
            line = f.readline()
            rec += line
            self.conns[n] = rec
            if not line:
                return
            v = line[:4].upper()
            if v in (b"EHLO", b"HELO"):
                c.sendall(b"250-broken.test\r\n250 STARTTLS\r\n")
            elif line.upper().startswith(b"STARTTLS"):
                c.sendall(b"220 go ahead\r\n")
                time.sleep(0.2)
                c.sendall(b"this is not TLS\r\n")
                return
            elif v in (b"MAIL", b"RCPT"):
                c.sendall(b"250 ok\r\n")
            elif v == b"DATA":
                c.sendall(b"354 go\r\n")
                while True:
                    l2 = f.readline()
                    rec += l2
                    self.conns[n] = rec
                    if l2 in (b".\r\n", b""):
                        break
                c.sendall(b"250 taken\r\n")
            elif v == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"502 no\r\n")

    def stop(self):
        self.stopped = True
        self.sock.close()
        self.t.join(5)


def test_remote_failed_handshake_falls_back_to_cleartext(control, pki):
    p = BrokenTlsPeer()
    try:
        control["smtproutes"] = "tls.test:127.0.0.1:%d\n" % p.port
        control["tlsdestinations"] = None
        clear_tcpto()
        rep = reports(qr("tls.test", "u@tls.test"))
        assert rep[0] == b"r"
        assert re.match(rb"K127\.0\.0\.1 accepted message; TLS failed \([^)]+\), sent without TLS\.\n"
                        rb"Remote host said: 250 taken\n", rep[-1]), rep
        wait_for(lambda: len(p.conns) == 2, timeout=10, what="two connections")
        assert b"STARTTLS" in p.conns[0] and b"MAIL FROM" not in p.conns[0]
        assert b"STARTTLS" not in p.conns[1] and b"hello over TLS" in p.conns[1]
        # a domain that must have TLS: deferred, one connection only
        control["tlsdestinations"] = "tls.test\n"
        rep = reports(qr("tls.test", "u@tls.test"))
        assert len(rep) == 1 and rep[0].startswith(b"ZTLS with 127.0.0.1 failed"), rep
        time.sleep(0.5)
        assert len(p.conns) == 3
    finally:
        p.stop()


@pytest.mark.skipif(postfix_missing() is not None, reason=postfix_missing() or "")
def test_remote_to_postfix_that_requires_tls(control, pki):
    pfuser = "hptlspf"
    pw = pop_user(pfuser, "x")       # a real account with ~/Maildir/
    base = os.path.join(WORK, "postfix")
    pf = Postfix(base, "pfx.tls.test", main_extra=[
        ("smtpd_tls_security_level", "encrypt"),
        ("smtpd_tls_chain_files", "%s, %s" % (pki["key.pem"], pki["cert.pem"])),
        ("smtpd_tls_received_header", "yes"),
        ("smtpd_tls_loglevel", "1")]).setup().start()
    try:
        control["smtproutes"] = "pfx.tls.test:127.0.0.1:%d\n" % pf.port
        control["tlsca"] = pki["ca.pem"] + "\n"
        control["tlsdestinations"] = None
        clear_tcpto()
        rep = reports(qr("pfx.tls.test", pfuser + "@pfx.tls.test"))
        assert rep[0] == b"r", rep
        assert re.match(rb"K127\.0\.0\.1 accepted message; TLS TLSv1\.3 \S+, certificate not verified: ", rep[-1]) \
            or re.match(rb"K127\.0\.0\.1 accepted message; TLS TLSv1\.3 \S+, certificate verified", rep[-1]), rep
        box = os.path.join(pw.pw_dir, "Maildir", "new")
        wait_for(lambda: os.path.isdir(box) and os.listdir(box), timeout=30, what="postfix to deliver")
        got = open(os.path.join(box, os.listdir(box)[0]), "rb").read()
        assert b"hello over TLS" in got
        assert re.search(rb"\(using TLSv1\.3 with cipher", got), got[:600]
        assert "TLS connection established from" in pf.maillog(200)
    finally:
        pf.stop()
