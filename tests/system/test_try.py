"""The newcomer command: scripts/try.sh (make try / make try-stop) starts a
complete MTA under svscan in its own directory, delivers a message sent over
SMTP, serves it over POP3, is harmless to run twice, and its stop leaves no
process behind."""
import os
import poplib
import socket
import subprocess

import pytest

from conftest import BUILD, SRC, wait_for
from proc_util import free_port

TRY = os.path.join(BUILD, "try")


POP3PORT = None


def try_sh(action, port):
    env = dict(os.environ, TRYDIR=TRY, TRYPORT=str(port), TRYPOP3PORT=str(POP3PORT))
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
    global POP3PORT
    POP3PORT = free_port()
    port = free_port()
    r = try_sh("start", port)
    try:
        yield port, r
    finally:
        try_sh("stop", port)


def test_try_starts_and_delivers_its_test_message(running):
    port, r = running
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "landed in:" in out and "try-stop" in out
    # make try signs its mail: the key it made signs the test message
    assert "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=localhost; s=try;" in out, out
    landed = out.split("landed in:")[1].split()[0]
    name = os.path.basename(landed)
    seen = [n for n in maildir_new() if n.split(":")[0] == name]
    assert seen, (landed, maildir_new())
    sub = "new" if os.path.exists(landed) else "cur"
    with open(os.path.join(TRY, "trymail", "Maildir", sub, seen[0]), "rb") as f:
        msg = f.read()
    assert b"Hello from make try." in msg
    assert msg.startswith(b"Return-Path: <you@localhost>\nDelivered-To: try@localhost\n")
    st = subprocess.run(["svstat"] + [os.path.join(TRY, "service", s) for s in ("send", "smtpd", "pop3d")],
                        capture_output=True).stdout.decode()
    assert st.count(": up ") == 3, st


def test_try_mailbox_over_pop3(running):
    with open(os.path.join(TRY, "password")) as f:
        password = f.read().strip()
    p = poplib.POP3("127.0.0.1", POP3PORT, timeout=30)
    p.user("trymail")
    p.pass_(password)
    count = p.stat()[0]
    assert count == len(maildir_new()) and count >= 1
    body = b"\n".join(p.retr(count)[1])
    assert b"Hello from make try." in body
    p.quit()
    p = poplib.POP3("127.0.0.1", POP3PORT, timeout=30)
    p.user("trymail")
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
    log = os.path.join(TRY, "service", "send", "log", "main", "current")
    wait_for(lambda: b"delivery" in open(log, "rb").read() and b"success" in open(log, "rb").read(),
             timeout=10, what="qmail-send success line in the multilog log")


def test_try_twice_is_harmless(running):
    port, _ = running
    before = len(maildir_new())
    r = try_sh("start", port)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert len(maildir_new()) == before + 1
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
