"""SMTP AUTH in qmail-smtpd (PLAIN and LOGIN through a checkpassword
program), the submission rule (AUTHREQUIRED), and qmail-authd with its
client qmail-authcheck checking a real system account's shadow password
for qmail-smtpd running as qmaild. Clients: raw sockets, Python smtplib,
swaks and msmtp."""
import base64
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import bin_path, run, wait_for
from pop3_util import pop_user
from proc_util import stop_process
from smtpd_util import Client

USER = "hdauth"
PASS = "s3cret-Pass.word"
SMTPD = bin_path("qmail-smtpd")


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


@pytest.fixture(scope="module")
def account():
    return pop_user(USER, PASS)


class AuthD:
    """qmail-authd as root on a socket in a directory qmaild can search,
    running the real checkpassword."""

    def __init__(self, extra=()):
        self.dir = tempfile.mkdtemp(prefix="hd-authd.")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "authd.sock")
        self.log = open(os.path.join(self.dir, "log"), "w+b")
        self.proc = subprocess.Popen([bin_path("qmail-authd")] + list(extra) +
                                     [self.sock, bin_path("checkpassword"), "true"],
                                     stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(self.sock) and os.stat(self.sock).st_mode & 0o060,
                 timeout=10, what="qmail-authd's socket")

    def stop(self):
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def authd():
    a = AuthD()
    yield a
    a.stop()


def checker(authd):
    return [bin_path("qmail-authcheck"), authd.sock, "true"]


@pytest.fixture
def cleartext(servers, fakeqq, authd, account, tmp_path):
    """qmail-smtpd with AUTH through qmail-authd, cleartext AUTH allowed by
    AUTHCLEARTEXT (as tcprules would set it for a trusted network); its
    stderr (the service log) in a file."""
    log = os.path.join(fakeqq.dir, "smtpd.log")
    s = servers(["sh", "-c", 'exec "$@" 2>>' + log, "sh", SMTPD] + checker(authd),
                env={"QMAILQUEUE": fakeqq.prog, "AUTHCLEARTEXT": ""})
    s.log = log
    return s


def ehlo(c):
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    return lines


def test_no_auth_without_a_checker(servers, fakeqq, control):
    s = servers([SMTPD], env={"QMAILQUEUE": fakeqq.prog, "AUTHCLEARTEXT": ""})
    c = Client(s.port)
    c.reply()
    assert not [l for l in ehlo(c) if l.startswith("AUTH")]
    assert c.cmd("AUTH PLAIN " + b64("\0a\0b"))[0] == 502


def test_auth_refused_before_tls(servers, fakeqq, authd, account):
    """Without TLS and without AUTHCLEARTEXT, AUTH is not offered and a
    client that tries it anyway is told to use TLS; the password it sent
    is never checked."""
    s = servers([SMTPD] + checker(authd), env={"QMAILQUEUE": fakeqq.prog})
    c = Client(s.port)
    c.reply()
    assert not [l for l in ehlo(c) if l.startswith("AUTH")]
    code, lines = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))
    assert code == 538 and lines[0].startswith("5.7.11 ")   # RFC 2034 code after EHLO
    # no login happened: relaying is still refused
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<far@elsewhere.example>")[0] == 553


@pytest.fixture(scope="module")
def cert():
    """A self-signed certificate for localhost and its key, made by openssl,
    in a directory qmaild can read (ucspi-tlsd runs as qmaild here)."""
    d = tempfile.mkdtemp(prefix="hd-authcert.")
    os.chmod(d, 0o755)
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", key, "-out", crt])
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o644)
    yield crt, key
    shutil.rmtree(d, ignore_errors=True)


def tls_server(servers, fakeqq, authd, cert, immediate=False, extra_env=None):
    """ucspi-tlsd [-i] qmail-smtpd qmail-authcheck ... under tcpserver as qmaild,
    its stderr in a file."""
    log = os.path.join(fakeqq.dir, "smtpd.log")
    env = {"QMAILQUEUE": fakeqq.prog, "CERTFILE": cert[0], "KEYFILE": cert[1]}
    env.update(extra_env or {})
    tlsd = [bin_path("ucspi-tlsd")] + (["-i"] if immediate else [])
    s = servers(["sh", "-c", 'exec "$@" 2>>' + log, "sh"] + tlsd + [SMTPD] + checker(authd), env=env)
    s.log = log
    s.cafile = cert[0]
    return s


@pytest.fixture
def starttls(servers, fakeqq, authd, cert, account):
    return tls_server(servers, fakeqq, authd, cert)


@pytest.fixture
def smtps(servers, fakeqq, authd, cert, account):
    return tls_server(servers, fakeqq, authd, cert, immediate=True)


def ctx(cafile):
    import ssl
    c = ssl.create_default_context(cafile=cafile)
    return c


def test_auth_offered_only_after_starttls(starttls, fakeqq):
    """Before STARTTLS: no AUTH in EHLO, AUTH refused with 538. After it:
    AUTH PLAIN LOGIN, a login, and the mail relayed with ESMTPSA in the
    Received line, with the TLS protocol and cipher and the user."""
    with smtplib.SMTP("127.0.0.1", starttls.port, timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (USER, PASS)))
        assert code == 538
        s.starttls(context=ctx(starttls.cafile))
        s.ehlo("client.example")
        assert sorted(s.esmtp_features["auth"].split()) == ["LOGIN", "PLAIN"]
        s.login(USER, PASS)
        s.sendmail("%s@testhost.example" % USER, ["far@elsewhere.example"], b"Subject: tls\r\n\r\nbody\r\n")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"]
    first = msg.split(b"\n")[1]
    assert b" with ESMTPSA (TLSv1." in first and b") (authenticated user hdauth); " in first, first
    assert PASS.encode() not in msg and PASS.encode() not in open(starttls.log, "rb").read()


def test_smtplib_smtps_login(smtps, fakeqq):
    with smtplib.SMTP_SSL("127.0.0.1", smtps.port, timeout=30, context=ctx(smtps.cafile)) as s:
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        s.login(USER, PASS)
        s.sendmail("%s@testhost.example" % USER, ["far@elsewhere.example"], b"Subject: smtps\r\n\r\nbody\r\n")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"]
    assert b" with ESMTPSA (TLSv1." in msg.split(b"\n")[1]


def test_smtplib_wrong_password_over_tls(smtps):
    with smtplib.SMTP_SSL("127.0.0.1", smtps.port, timeout=30, context=ctx(smtps.cafile)) as s:
        t = time.monotonic()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(USER, "not-the-password")
        assert e.value.smtp_code == 535 and time.monotonic() - t >= 1.5


def test_swaks_tls_auth(starttls, smtps, fakeqq):
    base = ["swaks", "--server", "127.0.0.1", "--auth-user", USER, "--auth-password", PASS,
            "--from", "%s@testhost.example" % USER, "--to", "far@elsewhere.example", "--helo", "client.example"]
    for extra in (["--port", str(starttls.port), "--tls", "--auth", "PLAIN"],
                  ["--port", str(starttls.port), "--tls", "--auth", "LOGIN"],
                  ["--port", str(smtps.port), "--tlsc", "--auth", "PLAIN"]):
        r = run(base + extra, timeout=60)
        out = r.stdout.decode()
        assert r.returncode == 0, out
        assert "235 2.7.0 ok, go ahead" in out and "TLS started" in out
        assert b64("\0%s\0%s" % (USER, PASS)) not in open(starttls.log).read()
    assert len(fakeqq.messages()) == 3


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_msmtp_tls_auth(mode, starttls, smtps, fakeqq, tmp_path):
    """msmtp as a mail client runs it: TLS with the server's certificate
    as the trust file, auth on (msmtp picks PLAIN), mail relayed."""
    port = starttls.port if mode == "starttls" else smtps.port
    rc = tmp_path / "msmtprc"
    rc.write_text("account test\nhost localhost\nport %d\nfrom %s@testhost.example\nauth on\n"
                  "user %s\npassword %s\ntls on\ntls_starttls %s\ntls_trust_file %s\n"
                  "account default : test\n"
                  % (port, USER, USER, PASS, "on" if mode == "starttls" else "off", starttls.cafile))
    rc.chmod(0o600)
    r = run(["msmtp", "-C", str(rc), "far@elsewhere.example"],
            input=b"Subject: from msmtp\r\n\r\nhi\r\n", timeout=60)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"] and b"from msmtp" in msg
    assert b" with ESMTPSA (TLSv1." in msg.split(b"\n")[1]


def test_submission_over_tls(servers, fakeqq, authd, cert, account):
    """The submission service: STARTTLS, then AUTH, then MAIL."""
    s = tls_server(servers, fakeqq, authd, cert, extra_env={"AUTHREQUIRED": ""})
    with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as c:
        c.ehlo("client.example")
        code, text = c.mail("a@example.org")
        assert code == 530 and b"STARTTLS" in text
        c.starttls(context=ctx(s.cafile))
        c.ehlo("client.example")
        code, text = c.mail("a@example.org")
        assert (code, text) == (530, b"5.7.0 authentication required")
        c.rset()
        c.login(USER, PASS)
        c.sendmail("%s@testhost.example" % USER, ["b@testhost.example"], b"Subject: sub\r\n\r\nx\r\n")
    assert len(fakeqq.messages()) == 1


def test_plain_with_initial_response_relays(cleartext, fakeqq, account):
    c = Client(cleartext.port)
    c.reply()
    assert "AUTH PLAIN LOGIN" in ehlo(c)
    # before the login, relaying is refused
    assert c.cmd("MAIL FROM:<%s@testhost.example>" % USER)[0] == 250
    assert c.cmd("RCPT TO:<far@elsewhere.example>")[0] == 553
    assert c.cmd("AUTH PLAIN " + b64("\0a\0b"))[0] == 503      # not during a transaction
    assert c.cmd("RSET")[0] == 250
    code, lines = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))
    assert (code, lines) == (235, ["2.7.0 ok, go ahead"])
    assert "AUTH PLAIN LOGIN" not in ehlo(c)                    # nothing more to offer
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))[0] == 503
    assert c.cmd("MAIL FROM:<%s@testhost.example>" % USER)[0] == 250
    assert c.cmd("RCPT TO:<far@elsewhere.example>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: relayed\r\n\r\nhello\r\n.\r\n")
    assert c.reply()[0] == 250
    c.cmd("QUIT")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"]
    first = msg.split(b"\n")[:2]
    assert first[0].startswith(b"Received: from ")
    # RFC 3848: ESMTPA, and who logged in; never the password
    assert b" with ESMTPA (authenticated user hdauth); " in first[1], first
    assert PASS.encode() not in msg
    log = open(cleartext.log, "rb").read()
    assert b"AUTH accepted for hdauth from 127.0.0.1" in log
    assert PASS.encode() not in log


def test_plain_with_continuation_and_authzid(cleartext, account):
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    assert c.cmd("AUTH PLAIN") == (334, [""])
    assert c.cmd(b64("%s\0%s\0%s" % (USER, USER, PASS))) == (235, ["2.7.0 ok, go ahead"])


def test_plain_acting_for_another_user_is_refused(cleartext, account):
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    assert c.cmd("AUTH PLAIN " + b64("root\0%s\0%s" % (USER, PASS)))[0] == 535


def test_login(cleartext, account):
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    assert c.cmd("AUTH LOGIN") == (334, [b64("Username:")])
    assert c.cmd(b64(USER)) == (334, [b64("Password:")])
    assert c.cmd(b64(PASS))[0] == 235
    # LOGIN with the name as an initial response
    c2 = Client(cleartext.port)
    c2.reply()
    ehlo(c2)
    assert c2.cmd("AUTH LOGIN " + b64(USER)) == (334, [b64("Password:")])
    assert c2.cmd(b64(PASS))[0] == 235


def test_wrong_password_535_after_a_delay(cleartext, fakeqq, account):
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    t = time.monotonic()
    code, lines = c.cmd("AUTH PLAIN " + b64("\0%s\0wrong-password" % USER))
    assert time.monotonic() - t >= 1.5
    assert (code, lines) == (535, ["5.7.8 authentication failed"])
    assert c.cmd("AUTH LOGIN " + b64("nosuchuser-hd"))[0] == 334
    assert c.cmd(b64(PASS))[0] == 535
    # the session goes on, still without relaying ...
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<far@elsewhere.example>")[0] == 553
    assert c.cmd("RSET")[0] == 250
    # ... and a third failure ends it
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0wrong-again" % USER))[0] == 421
    assert c.closed()
    log = open(cleartext.log, "rb").read()
    assert b"AUTH refused for hdauth from 127.0.0.1" in log
    assert b"wrong-password" not in log


def test_malformed_and_cancelled(cleartext, account):
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    assert c.cmd("AUTH PLAIN not*base64")[0] == 501
    assert c.cmd("AUTH PLAIN " + b64("\0a\0b")[:-1])[0] == 501       # length not a multiple of 4
    assert c.cmd("AUTH PLAIN " + b64("no-nul-at-all"))[0] == 501
    assert c.cmd("AUTH PLAIN") == (334, [""])
    code, lines = c.cmd("*")
    assert code == 501 and "cancel" in lines[0]
    assert c.cmd("AUTH LOGIN")[0] == 334
    assert c.cmd("*")[0] == 501
    assert c.cmd("AUTH LOGIN")[0] == 334
    assert c.cmd("@@@@")[0] == 501
    assert c.cmd("AUTH CRAM-MD5")[0] == 504
    assert c.cmd("AUTH")[0] == 501
    # an over-long continuation line
    assert c.cmd("AUTH PLAIN")[0] == 334
    assert c.cmd("A" * 5000)[0] == 501
    # a decoded response too long for the checkpassword interface
    assert c.cmd("AUTH PLAIN " + b64("\0" + USER + "\0" + "x" * 1000))[0] == 501
    # after all that the session still works
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))[0] == 235


def test_100k_auth_line_is_bounded(cleartext, account):
    """A 100 KB AUTH line and a 100 KB continuation line each get a clear
    error; qmail-smtpd keeps neither and goes on."""
    c = Client(cleartext.port)
    c.reply()
    ehlo(c)
    code, lines = c.cmd("AUTH PLAIN " + "A" * 100000)
    assert code == 500 and "too long" in lines[0]
    assert c.cmd("AUTH LOGIN")[0] == 334
    code, lines = c.cmd("A" * 100000)
    assert code == 501 and "too long" in lines[0]
    assert c.cmd("NOOP")[0] == 250


def test_temporary_checker_failure_is_454(servers, fakeqq, tmp_path):
    """A checker that cannot answer now (exit 111, e.g. qmail-authd is
    down) is a 454, not a refused login."""
    s = servers([SMTPD, bin_path("qmail-authcheck"), "/nonexistent/authd.sock", "true"],
                env={"QMAILQUEUE": fakeqq.prog, "AUTHCLEARTEXT": ""})
    c = Client(s.port)
    c.reply()
    ehlo(c)
    code, lines = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))
    assert code == 454 and lines[0].startswith("4.7.0 ")


def test_checker_gets_the_checkpassword_interface(servers, fakeqq, tmp_path):
    """The checker reads name\\0password\\0timestamp\\0 on fd 3, with the
    network not on its fd 0 and 1, and no password on its command line."""
    rec = os.path.join(fakeqq.dir, "fd3")
    fake = os.path.join(fakeqq.dir, "fakecheck")
    with open(fake, "w") as f:
        f.write('#!/bin/sh\ncat <&3 > %s\necho "$*" > %s.argv\nx=$(readlink /proc/$$/fd/0 /proc/$$/fd/1)\necho "$x" > %s.fds\n'
                'echo garbage\nexec "$@"\n' % (rec, rec, rec))
    os.chmod(fake, 0o755)
    s = servers([SMTPD, fake, "true"], env={"QMAILQUEUE": fakeqq.prog, "AUTHCLEARTEXT": ""})
    c = Client(s.port)
    c.reply()
    ehlo(c)
    assert c.cmd("AUTH PLAIN " + b64("\0alice\0pw with spaces"))[0] == 235
    assert c.cmd("NOOP") == (250, ["2.0.0 ok"])             # "garbage" never reached the client
    assert open(rec, "rb").read() == b"alice\0pw with spaces\0\0"
    assert open(rec + ".argv").read() == "true\n"
    assert open(rec + ".fds").read() == "/dev/null\n/dev/null\n"


def test_submission_requires_auth(servers, fakeqq, authd, account):
    """AUTHREQUIRED (the submission service, RFC 6409): MAIL before AUTH is
    530, even from a RELAYCLIENT address."""
    s = servers([SMTPD] + checker(authd),
                env={"QMAILQUEUE": fakeqq.prog, "AUTHCLEARTEXT": "", "AUTHREQUIRED": "", "RELAYCLIENT": ""})
    c = Client(s.port)
    c.reply()
    ehlo(c)
    assert c.cmd("MAIL FROM:<a@example.org>") == (530, ["5.7.0 authentication required"])
    assert c.cmd("RCPT TO:<b@testhost.example>")[0] == 503
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASS)))[0] == 235
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    # without TLS and AUTHCLEARTEXT the client is told to start TLS
    s2 = servers([SMTPD] + checker(authd), env={"QMAILQUEUE": fakeqq.prog, "AUTHREQUIRED": ""})
    c2 = Client(s2.port)
    c2.reply()
    ehlo(c2)
    code, lines = c2.cmd("MAIL FROM:<a@example.org>")
    assert code == 530 and "STARTTLS" in lines[0]


def test_smtplib_login_cleartext(cleartext, fakeqq, account):
    with smtplib.SMTP("127.0.0.1", cleartext.port, timeout=30) as s:
        s.ehlo("client.example")
        assert sorted(s.esmtp_features["auth"].split()) == ["LOGIN", "PLAIN"]
        s.login(USER, PASS)
        s.sendmail("%s@testhost.example" % USER, ["far@elsewhere.example"], b"Subject: s\r\n\r\nbody\r\n")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"]
    with smtplib.SMTP("127.0.0.1", cleartext.port, timeout=30) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(USER, "wrong")
        assert e.value.smtp_code == 535


def test_swaks_auth_cleartext(cleartext, fakeqq, account):
    for mech in ("PLAIN", "LOGIN"):
        r = run(["swaks", "--server", "127.0.0.1", "--port", str(cleartext.port), "--auth", mech,
                 "--auth-user", USER, "--auth-password", PASS, "--from", "%s@testhost.example" % USER,
                 "--to", "far@elsewhere.example", "--helo", "client.example"], timeout=60)
        assert r.returncode == 0, r.stdout.decode()
        assert b"235 2.7.0 ok, go ahead" in r.stdout
    assert len(fakeqq.messages()) == 2


def test_authd_refuses_other_users(authd, account):
    """Only qmaild (and root) may ask qmail-authd; the socket is 0660 for
    qmaild's group."""
    st = os.stat(authd.sock)
    assert st.st_mode & 0o777 == 0o660 and st.st_uid == 0
    data = b"%s\0%s\0\0" % (USER.encode(), PASS.encode())
    # as the test user (not in qmaild's group) the socket cannot even be opened
    r = run(["sh", "-c", 'exec "$@" 3<&0', "sh", bin_path("qmail-authcheck"), authd.sock, "true"],
            input=data, user=USER)
    assert r.returncode == 111 and b"unable to connect" in r.stderr
    # as qmaild it works, and a wrong password is refused
    for pw, code in ((PASS, 0), ("wrong", 1)):
        r = run(["sh", "-c", 'exec "$@" 3<&0', "sh", bin_path("qmail-authcheck"), authd.sock, "sh", "-c", 'echo "$USER"'],
                input=b"%s\0%s\0\0" % (USER.encode(), pw.encode()), user="qmaild")
        assert r.returncode == code, r.stderr
        if code == 0:
            assert r.stdout == USER.encode() + b"\n"
    # another uid in qmaild's group is turned away by SO_PEERCRED
    r = run(["sh", "-c", 'exec "$@" 3<&0', "sh", bin_path("qmail-authcheck"), authd.sock, "true"],
            input=data, user="qmaill")
    assert r.returncode != 0


def test_msmtp_cleartext(cleartext, fakeqq, account, tmp_path):
    """msmtp as a mail client's sendmail: account file with auth on."""
    rc = tmp_path / "msmtprc"
    rc.write_text("account test\nhost 127.0.0.1\nport %d\nfrom %s@testhost.example\nauth plain\n"
                  "user %s\npassword %s\ntls off\nlogfile %s\naccount default : test\n"
                  % (cleartext.port, USER, USER, PASS, tmp_path / "msmtp.log"))
    rc.chmod(0o600)
    r = run(["msmtp", "-C", str(rc), "far@elsewhere.example"],
            input=b"Subject: from msmtp\r\n\r\nhi\r\n", timeout=60)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@elsewhere.example"] and b"from msmtp" in msg


def test_services_with_a_certificate(tmp_path):
    """scripts/services.sh -C -K: qmail-authd, qmail-tlsd (the resident
    TLS engine), and qmail-smtpd (25), qmail-submission (587) and
    qmail-smtps (465) behind ucspi-tlsd-front handing TLS to qmail-tlsd, with
    AUTH through qmail-authcheck; submission and smtps require AUTH.
    qmail-pop3d (110, STLS) and qmail-pop3s (995) behind the front too,
    with qmail-popup left root for checkpassword."""
    from conftest import HOME, SRC
    (tmp_path / "rules").mkdir()
    sdir = tmp_path / "service"
    args = ["sh", os.path.join(SRC, "scripts", "services.sh"), "-H", HOME, "-L", str(tmp_path / "log"),
            "-R", str(tmp_path / "rules"), "-S", "/run/qmail-test/authd.sock",
            "-C", "/etc/ssl/mail/chain.pem", "-K", "/etc/ssl/mail/key.pem"]
    r = run(args + [str(sdir)])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(sdir)) == ["qmail-authd", "qmail-pop3d", "qmail-pop3s", "qmail-send", "qmail-smtpd",
                                        "qmail-smtps", "qmail-submission", "qmail-tlsd"]
    text = {}
    for name in os.listdir(sdir):
        path = sdir / name / "run"
        assert run(["sh", "-n", str(path)]).returncode == 0
        text[name] = path.read_text()
    authd = text["qmail-authd"]
    assert "%s/bin/qmail-authd /run/qmail-test/authd.sock %s/bin/checkpassword true" % (HOME, HOME) in authd
    tlsd = text["qmail-tlsd"]
    assert "CERTFILE=/etc/ssl/mail/chain.pem KEYFILE=/etc/ssl/mail/key.pem" in tlsd
    assert "%s/bin/ucspi-tlsd -d /run/qmail/tlsd.sock" % HOME in tlsd and 'UID="$uid"' in tlsd
    check = "%s/bin/qmail-authcheck /run/qmail-test/authd.sock true" % HOME
    for name, port, immediate, required in (("qmail-smtpd", 25, False, False),
                                            ("qmail-submission", 587, False, True),
                                            ("qmail-smtps", 465, True, True)):
        t = text[name]
        assert " 0 %d " % port in t and "CERTFILE=/etc/ssl/mail/chain.pem KEYFILE=/etc/ssl/mail/key.pem" in t
        assert ("ucspi-tlsd-front -i " in t) == immediate and "bin/ucspi-tlsd-front " in t
        assert ("AUTHREQUIRED=1" in t) == required and "TLSENGINE=/run/qmail/tlsd.sock " in t
        assert "%s/bin/qmail-smtpd %s" % (HOME, check) in t
        assert "-u \"$uid\"" not in t     # tcpserver stays root; ucspi-tlsd drops to UID/GID
    popup = '%s/bin/qmail-popup "$local" "$check" %s/bin/qmail-pop3d Maildir' % (HOME, HOME)
    for name, port, immediate in (("qmail-pop3d", 110, False), ("qmail-pop3s", 995, True)):
        t = text[name]
        assert " 0 %d " % port in t and "TLSENGINE=/run/qmail/tlsd.sock " in t
        assert ("ucspi-tlsd-front -i " in t) == immediate and "bin/ucspi-tlsd-front " in t and popup in t
        assert 'TLS_UID="$uid" TLS_GID="$gid"' in t and " UID=" not in t and '-u "$uid"' not in t
    # -C without -K, and submission without a certificate, are usage errors
    assert run(args[:-2] + [str(tmp_path / "s2")]).returncode == 100
    assert run(args[:-4] + ["-o", "submission", str(tmp_path / "s3")]).returncode == 100


# ------------------------------------------------ qmail-remote to a smarthost

RELAYUSER, RELAYPASS = "relayuser", "relay:pass word"


def qr(*recips):
    return run([bin_path("qmail-remote"), "auth.test", "a@example.org"] + list(recips),
               input=b"From: a@example.org\nSubject: via smarthost\n\nhello\n", user="qmailr")


def reports(p):
    assert p.stdout.endswith(b"\0"), p.stdout
    return p.stdout[:-1].split(b"\0")


@pytest.fixture
def smarthost(request, control, cert, tmp_path):
    """An aiosmtpd smarthost with a TLS context and an authenticator,
    routed to by control/smtproutes; control/smtpauth (0600, qmailr)
    holds the credentials."""
    from conftest import HOME
    from remote_util import SmtpPeer
    cfg = dict(getattr(request, "param", {}))
    cfg.setdefault("tls", list(cert))
    cfg["auth"] = [RELAYUSER, RELAYPASS]
    p = SmtpPeer(str(tmp_path / "peer"), cfg)
    control["smtproutes"] = "auth.test:127.0.0.1:%d\n" % p.port
    control["tlsdestinations"] = None
    control["smtpauth"] = "other.example:x:y\n127.0.0.1:%s:%s\n" % (RELAYUSER, RELAYPASS)
    path = os.path.join(HOME, "control", "smtpauth")
    os.chown(path, pwd_uid("qmailr"), -1)
    os.chmod(path, 0o600)
    with open(os.path.join(HOME, "queue", "lock", "tcpto"), "r+b") as f:
        f.write(b"\0" * 1024)
    p.smtpauth = path
    yield p
    p.stop()


def pwd_uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


def test_remote_authenticates_to_the_smarthost_over_tls(smarthost):
    rep = reports(qr("u@far.example"))
    assert rep[0] == b"r", rep
    assert rep[-1].startswith(b"K127.0.0.1 accepted message; TLS TLSv1."), rep
    (m,) = smarthost.messages()
    assert m["auth"] == RELAYUSER and m["tls"]
    # nothing of the login went over the wire in cleartext, nor into a report
    raw = smarthost.raw()[0]
    assert b"AUTH" not in raw and b"relayuser" not in raw and b64("\0%s\0%s" % (RELAYUSER, RELAYPASS)).encode() not in raw
    assert RELAYPASS.encode() not in b"".join(rep)


def test_remote_wrong_password_defers(smarthost, control):
    control["smtpauth"] = "127.0.0.1:%s:wrong\n" % RELAYUSER
    os.chown(smarthost.smtpauth, pwd_uid("qmailr"), -1)
    os.chmod(smarthost.smtpauth, 0o600)
    rep = reports(qr("u@far.example"))
    assert rep[-1].startswith(b"Z127.0.0.1 but my authentication was rejected") or \
        rep[-1].startswith(b"ZConnected to 127.0.0.1 but my authentication was rejected"), rep
    assert b"wrong" not in b"".join(rep)
    assert smarthost.messages() == []


@pytest.mark.parametrize("smarthost", [{"tls": None, "auth_cleartext": True}], indirect=True)
def test_remote_never_sends_the_password_without_tls(smarthost):
    """The smarthost offers AUTH in cleartext: qmail-remote defers the mail
    rather than send the password unencrypted."""
    rep = reports(qr("u@far.example"))
    assert rep[-1].startswith(b"ZConnected to 127.0.0.1 but TLS is not on"), rep
    raw = smarthost.raw()[0]
    assert b"AUTH" not in raw and b"MAIL FROM" not in raw
    assert smarthost.messages() == []


def test_remote_refuses_a_readable_smtpauth(smarthost):
    os.chmod(smarthost.smtpauth, 0o644)
    rep = reports(qr("u@far.example"))
    assert rep[-1].startswith(b"Zcontrol/smtpauth is readable by others"), rep
    assert smarthost.raw() == []
