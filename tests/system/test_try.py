"""The newcomer command: scripts/try.sh (make try / make try-stop) starts a
complete MTA under svscan in its own directory, delivers a message sent over
SMTP, takes mail from a client that logs in over STARTTLS (submission) and
SMTPS, serves it over POP3, is harmless to run twice, and its stop leaves no
process behind."""
import hashlib
import os
import poplib
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import BUILD, SRC, wait_for
from proc_util import free_port

TRY = os.path.join(BUILD, "try")


POP3PORT = SUBPORT = SMTPSPORT = None
SENT_BY_START = 3        # the SMTP test message, one over submission, one over SMTPS


def try_sh(action, port):
    env = dict(os.environ, TRYDIR=TRY, TRYPORT=str(port), TRYPOP3PORT=str(POP3PORT),
               TRYSUBPORT=str(SUBPORT), TRYSMTPSPORT=str(SMTPSPORT))
    return subprocess.run(["sh", os.path.join(SRC, "scripts", "try.sh"), action], env=env,
                          capture_output=True, timeout=900)


def processes_under(path):
    """pids whose command line or working directory mentions path"""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            cwd = os.readlink("/proc/%s/cwd" % pid)
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (path.encode() in cmd or cwd.startswith(path)):
            found.append(int(pid))
    return found


def maildir_new():
    """every message in the try Maildir, new or seen"""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(TRY, "trymail", "Maildir", sub)
        if os.path.isdir(d):
            out += os.listdir(d)
    return sorted(out)


@pytest.fixture(scope="module")
def running():
    global POP3PORT, SUBPORT, SMTPSPORT
    POP3PORT, SUBPORT, SMTPSPORT = free_port(), free_port(), free_port()
    port = free_port()
    acct = "try" + hashlib.md5(TRY.encode()).hexdigest()[:8]
    had = subprocess.run(["getent", "passwd", acct], capture_output=True).returncode == 0
    r = try_sh("start", port)
    try:
        yield port, r
    finally:
        try_sh("stop", port)
        # the account make try made for this instance goes with the test
        if not had:
            subprocess.run(["userdel", acct], capture_output=True)
            subprocess.run(["groupdel", acct], capture_output=True)


def test_try_starts_and_delivers_its_test_message(running):
    port, r = running
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "landed in:" in out and "try-stop" in out
    # make try signs its mail: the key it made signs the test message
    assert "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=localhost; s=try;" in out, out
    landed = out.split("landed in:")[1].split()[0]
    name = os.path.basename(landed).split(":")[0]
    seen = [n for n in maildir_new() if n.split(":")[0] == name]
    assert seen, (landed, maildir_new())
    # the path printed is where the message is now, after the POP3 look
    assert os.path.exists(landed), landed
    with open(landed, "rb") as f:
        msg = f.read()
    assert b"Hello from make try." in msg
    assert msg.startswith(b"Return-Path: <you@localhost>\nDelivered-To: try@localhost\n")
    services = ("qmail-send", "qmail-smtpd", "qmail-smtpd6", "qmail-pop3d", "qmail-authd", "qmail-submission", "qmail-smtps")
    st = subprocess.run(["svstat"] + [os.path.join(TRY, "service", s) for s in services],
                        capture_output=True).stdout.decode()
    assert st.count(": up ") == len(services), st
    # the output says how a mail client submits
    assert "--port %d --tls --auth PLAIN --auth-user %s" % (SUBPORT, user()) in out
    bodies = []
    for sub in ("new", "cur"):
        d = os.path.join(TRY, "trymail", "Maildir", sub)
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                bodies.append(f.read())
    submitted = [b for b in bodies if b"Submitted with TLS and AUTH." in b]
    assert len(submitted) >= 2
    assert all(b" with ESMTPSA (TLSv1." in b and b"(authenticated user %s)" % user().encode() in b
               for b in submitted)


def password():
    with open(os.path.join(TRY, "password")) as f:
        return f.read().strip()


def user():
    """the instance's own account (another try directory has another)"""
    with open(os.path.join(TRY, "user")) as f:
        return f.read().strip()


def test_try_submission_and_smtps_with_smtplib(running):
    """A mail client's way in: STARTTLS + login on submission (where MAIL
    before AUTH is refused), and SMTPS + login; the certificate make try
    made verifies for localhost."""
    before = len(maildir_new())
    ctx = ssl.create_default_context(cafile=os.path.join(TRY, "tls", "cert.pem"))
    with smtplib.SMTP("localhost", SUBPORT, timeout=30) as s:
        s.starttls(context=ctx)
        s.ehlo("client.example")
        assert s.mail("trymail@localhost")[0] == 530
        s.rset()
        s.login(user(), password())
        s.sendmail("trymail@localhost", ["someone@localhost"], b"Subject: sub\r\n\r\nvia 587\r\n")
    with smtplib.SMTP_SSL("localhost", SMTPSPORT, timeout=30, context=ctx) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(user(), "wrong" + password())
    with smtplib.SMTP_SSL("localhost", SMTPSPORT, timeout=30, context=ctx) as s:
        s.login(user(), password())
        s.sendmail("trymail@localhost", ["someone@localhost"], b"Subject: smtps\r\n\r\nvia 465\r\n")
    wait_for(lambda: len(maildir_new()) >= before + 2, timeout=20, what="the submitted messages")


def test_try_smtp_on_ipv6_loopback(running):
    """make try listens on ::1 as well as on 127.0.0.1"""
    import smtplib
    with smtplib.SMTP("::1", running[0], timeout=30) as m:
        code, _ = m.ehlo("v6.example")
        assert code == 250 and m.has_extn("smtputf8") and m.has_extn("chunking")
        assert m.docmd("MAIL FROM:<you@localhost>") == (250, b"2.1.0 ok")


def test_try_mailbox_over_pop3(running):
    with open(os.path.join(TRY, "password")) as f:
        password = f.read().strip()
    p = poplib.POP3("127.0.0.1", POP3PORT, timeout=30)
    p.user(user())
    p.pass_(password)
    count = p.stat()[0]
    assert count == len(maildir_new()) and count >= 1
    bodies = [b"\n".join(p.retr(i)[1]) for i in range(1, count + 1)]
    assert [b for b in bodies if b"Hello from make try." in b]
    p.quit()
    p = poplib.POP3("127.0.0.1", POP3PORT, timeout=30)
    p.user(user())
    try:
        p.pass_("wrong" + password)
        assert False, "a wrong password was accepted"
    except poplib.error_proto:
        pass


def test_try_accepts_more_mail_and_logs_it(running):
    port, _ = running
    before = len(maildir_new())
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--to", "other@localhost",
                        "--from", "me@localhost", "--body", "second"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode()[-1000:]
    wait_for(lambda: len(maildir_new()) > before, timeout=20, what="second message in the try Maildir")
    log = os.path.join(TRY, "service", "qmail-send", "log", "main", "current")
    wait_for(lambda: b"delivery" in open(log, "rb").read() and b"success" in open(log, "rb").read(),
             timeout=10, what="qmail-send success line in the multilog log")


def test_try_sendmail_for_every_local_address_form(running):
    """What cron, s-nail and git send-email hand to sendmail: root, a bare
    user and user@localhost all land in the try mailbox (qmail-inject
    makes them user@localhost.localhost, which the instance takes as its
    own); nothing bounces."""
    home = os.path.join(TRY, "home")
    before = len(maildir_new())
    for to in ("root", "someuser", "someuser@localhost"):
        r = subprocess.run([os.path.join(home, "bin", "sendmail"), "-t"],
                           input=("To: %s\nSubject: cron for %s\n\nhello\n" % (to, to)).encode(),
                           env={"PATH": "/usr/bin:/bin", "USER": "root", "LOGNAME": "root"},
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
    r = subprocess.run(["sh", "-c", "echo hi | %s root" % os.path.join(home, "bin", "sendmail")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: len(maildir_new()) >= before + 4, timeout=30, what="four messages from sendmail")
    qread = subprocess.run([os.path.join(home, "bin", "qmail-qread")], capture_output=True)
    wait_for(lambda: subprocess.run([os.path.join(home, "bin", "qmail-qstat")], capture_output=True).stdout
             .startswith(b"messages in queue: 0\n"), timeout=30, what="an empty queue")
    assert b"bounce" not in qread.stdout
    log = open(os.path.join(TRY, "service", "qmail-send", "log", "main", "current"), "rb").read()
    assert b"failure:" not in log and b"bounce msg" not in log


def test_try_qmailctl_stat_and_reload(running):
    """qmailctl drives the try instance by the same service names."""
    home = os.path.join(TRY, "home")
    ctl = os.path.join(home, "bin", "qmailctl")
    svc = os.path.join(TRY, "service")
    r = subprocess.run([ctl, "-d", svc, "stat"], capture_output=True, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    for s in ("qmail-send", "qmail-smtpd", "qmail-pop3d", "qmail-submission", "qmail-smtps"):
        assert "%s: up " % os.path.join(svc, s) in out, out
    assert "messages in queue:" in out
    r = subprocess.run([ctl, "-d", svc, "reload"], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"not running" not in r.stderr, r
    r = subprocess.run([ctl, "-d", svc, "doqueue"], capture_output=True, timeout=60)
    assert r.returncode == 0, r


def test_try_twice_is_harmless(running):
    port, _ = running
    before = len(maildir_new())
    r = try_sh("start", port)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert len(maildir_new()) == before + SENT_BY_START
    with open(os.path.join(TRY, "svscan.log"), "rb") as f:
        assert b"unable to acquire" not in f.read()


def test_try_stop_leaves_nothing_running(running):
    port, _ = running
    r = try_sh("stop", port)
    assert r.returncode == 0, r.stderr.decode()
    assert b"stopped" in r.stdout
    wait_for(lambda: not processes_under(os.path.join(TRY, "")), timeout=10,
             what="every process of the try instance to end")
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
