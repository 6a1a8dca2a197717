"""POP3: qmail-popup, checkpassword and qmail-pop3d under the real
tcpserver on 127.0.0.1, driven by Python's poplib, a raw line client and
fetchmail, against real accounts with shadow passwords (chpasswd) and
maildirs. Asserts what a user sees: replies, message bytes, and the maildir
before and after a session."""
import os
import poplib
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import HOME, bin_path, make_user, run, wait_for
from pop3_util import (POPHOST, BUILDDIR, Client, PopServer, contents, descendants, listing,
                       pop_user, put_message, qmail_local, set_password)

USER = "hppop"
PASS = "pop secret 1"
MSG1 = b"From: a@example.org\nSubject: one\n\nhello\n.dot line\n..two dots\nbye\n"
MSG2 = b"From: b@example.org\nSubject: two\nX-Long: yes\n\nline 1\nline 2\nline 3\n"
MSG3 = b"Subject: three\n\nno final newline"


@pytest.fixture
def server():
    s = PopServer()
    yield s
    s.stop()


@pytest.fixture
def user():
    pw = pop_user(USER, PASS)
    put_message(pw, "1000000001.M1P1.host", MSG1, mtime=1000000001)
    put_message(pw, "1000000002.M2P2.host", MSG2, mtime=1000000002)
    put_message(pw, "1000000003.M3P3.host", MSG3, mtime=1000000003)
    return pw


def login(server, user=USER, password=PASS):
    c = Client(server.port)
    greet = c.line()
    assert greet.startswith(b"+OK <")
    assert c.cmd("USER " + user).startswith(b"+OK")
    r = c.cmd("PASS " + password)
    assert r.startswith(b"+OK"), r
    return c


def pop(server, user=USER, password=PASS):
    p = poplib.POP3("127.0.0.1", server.port, timeout=30)
    p.user(user)
    p.pass_(password)
    return p


def session_ended(server, timeout=15):
    wait_for(lambda: not server.sessions(), timeout=timeout, what="the session to end")


def test_greeting_capa_noop_quit(server, user):
    c = Client(server.port)
    greet = c.line()
    m = re.match(rb"^\+OK <(\d+)\.(\d+)@" + re.escape(POPHOST.encode()) + rb">$", greet)
    assert m, greet
    assert c.cmd("CAPA") == b"+OK capability list follows"
    assert set(c.multi()) >= {b"TOP", b"UIDL", b"USER"}
    assert c.cmd("NOOP").startswith(b"+OK")
    assert c.cmd("STAT") == b"-ERR authorization first"
    assert c.cmd("QUIT").startswith(b"+OK")
    assert c.closed()
    assert len(listing(user)["new"]) == 3     # no login, nothing touched


def test_every_command(server, user):
    c = login(server)
    assert c.cmd("STAT") == b"+OK 3 %d" % (len(MSG1) + len(MSG2) + len(MSG3))
    assert c.cmd("LIST").startswith(b"+OK")
    assert c.multi() == [b"1 %d" % len(MSG1), b"2 %d" % len(MSG2), b"3 %d" % len(MSG3)]
    assert c.cmd("LIST 2") == b"+OK 2 %d" % len(MSG2)
    assert c.cmd("UIDL").startswith(b"+OK")
    assert c.multi() == [b"1 1000000001.M1P1.host", b"2 1000000002.M2P2.host",
                         b"3 1000000003.M3P3.host"]
    assert c.cmd("UIDL 3") == b"+OK 3 1000000003.M3P3.host"
    # RETR: CRLF lines, dots doubled, and qmail's extra blank line at the end
    assert c.cmd("RETR 1").startswith(b"+OK")
    assert c.multi() == [b"From: a@example.org", b"Subject: one", b"", b"hello",
                         b"..dot line", b"...two dots", b"bye", b""]
    assert c.cmd("RETR 3").startswith(b"+OK")
    assert c.multi() == [b"Subject: three", b"", b"no final newline", b""]
    # TOP: the headers, the blank line and n body lines
    assert c.cmd("TOP 2 0").startswith(b"+OK")
    assert c.multi() == [b"From: b@example.org", b"Subject: two", b"X-Long: yes", b"", b""]
    assert c.cmd("TOP 2 2").startswith(b"+OK")
    assert c.multi() == [b"From: b@example.org", b"Subject: two", b"X-Long: yes", b"",
                         b"line 1", b"line 2", b""]
    assert c.cmd("TOP 2").startswith(b"-ERR")
    assert c.cmd("LAST") == b"+OK 3"
    assert c.cmd("NOOP").startswith(b"+OK")
    assert c.cmd("DELE 2").startswith(b"+OK")
    assert c.cmd("DELE 2") == b"-ERR already deleted"
    assert c.cmd("RETR 2") == b"-ERR already deleted"
    assert c.cmd("STAT") == b"+OK 2 %d" % (len(MSG1) + len(MSG3))
    assert c.cmd("LIST").startswith(b"+OK")
    assert c.multi() == [b"1 %d" % len(MSG1), b"3 %d" % len(MSG3)]
    assert c.cmd("RSET").startswith(b"+OK")
    assert c.cmd("LAST") == b"+OK 0"
    assert c.cmd("STAT") == b"+OK 3 %d" % (len(MSG1) + len(MSG2) + len(MSG3))
    assert c.cmd("RETR 0") == b"-ERR messages are counted from 1"
    assert c.cmd("RETR 4") == b"-ERR not that many messages"
    assert c.cmd("RETR x") == b"-ERR syntax error"
    assert c.cmd("LIST 99999999999999999999999") == b"-ERR syntax error"
    assert c.cmd("DELE 3").startswith(b"+OK")
    # nothing changes on disk before QUIT
    assert len(listing(user)["new"]) == 3
    assert c.cmd("QUIT").startswith(b"+OK")
    assert c.closed()
    # QUIT applied the deletion and moved the rest to cur/, marking what was read
    lst = listing(user)
    assert lst["new"] == []
    assert lst["cur"] == ["1000000001.M1P1.host:2,S", "1000000002.M2P2.host:2,"]
    got = contents(user)
    assert got["cur/1000000001.M1P1.host:2,S"] == MSG1
    assert got["cur/1000000002.M2P2.host:2,"] == MSG2


def test_poplib_retrieve_and_delete(server, user):
    p = pop(server)
    assert p.stat() == (3, len(MSG1) + len(MSG2) + len(MSG3))
    _resp, lines, _n = p.retr(1)
    # poplib undoes the dot-stuffing; the extra blank line stays
    assert b"\n".join(lines) == MSG1
    _resp, lines, _n = p.top(2, 1)
    assert lines == [b"From: b@example.org", b"Subject: two", b"X-Long: yes", b"", b"line 1", b""]
    uidl = p.uidl()[1]
    assert uidl == [b"1 1000000001.M1P1.host", b"2 1000000002.M2P2.host", b"3 1000000003.M3P3.host"]
    for i in (1, 2, 3):
        p.dele(i)
    p.quit()
    assert listing(user) == {"new": [], "cur": [], "tmp": []}


def test_crlf_and_large_message(server):
    pw = pop_user(USER, PASS)
    body = b"".join(b".%05d " % i + b"x" * (i % 3000) + b"\n" for i in range(3000))
    big = b"Subject: big\n\n" + body
    crlf = b"Subject: crlf\r\n\r\nalready crlf\r\n.dot\r\nbare\rcr\r\n"
    put_message(pw, "1.big.host", big, mtime=100)
    put_message(pw, "2.crlf.host", crlf, mtime=200)
    c = login(server)
    assert c.cmd("RETR 1").startswith(b"+OK")
    got = c.multi()
    assert got[-1] == b""
    assert b"\n".join(l[1:] if l.startswith(b".") else l for l in got[:-1]) + b"\n" == big
    assert c.cmd("RETR 2").startswith(b"+OK")
    # a stored CR LF is not doubled to CR CR LF; a bare CR is passed as it is
    assert c.multi() == [b"Subject: crlf", b"", b"already crlf", b"..dot", b"bare\rcr", b""]
    assert c.cmd("QUIT").startswith(b"+OK")


def test_aborted_session_loses_nothing(server, user):
    before = contents(user)
    c = login(server)
    for i in (1, 2, 3):
        assert c.cmd("DELE %d" % i).startswith(b"+OK")
    assert c.cmd("RETR 1") == b"-ERR already deleted"
    c.close()                   # no QUIT
    session_ended(server)
    assert contents(user) == before
    assert len(listing(user)["new"]) == 3
    # a session killed in the middle loses nothing either
    c = login(server)
    assert c.cmd("DELE 1").startswith(b"+OK")
    for pid in descendants(server.proc.pid):
        os.kill(pid, signal.SIGKILL)
    session_ended(server)
    c.close()
    assert contents(user) == before


def test_wrong_password_session_goes_on(server, user):
    c = Client(server.port)
    c.line()
    assert c.cmd("PASS " + PASS) == b"-ERR USER first"
    assert c.cmd("USER " + USER).startswith(b"+OK")
    assert c.cmd("PASS wrong") == b"-ERR authorization failed"
    # a refused login needs a new USER
    assert c.cmd("PASS " + PASS) == b"-ERR USER first"
    assert c.cmd("USER nosuchuser-hp").startswith(b"+OK")
    assert c.cmd("PASS " + PASS) == b"-ERR authorization failed"
    assert c.cmd("USER " + USER).startswith(b"+OK")
    assert c.cmd("PASS " + PASS).startswith(b"+OK")
    assert c.cmd("STAT").startswith(b"+OK 3 ")
    assert c.cmd("QUIT").startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        pop(server, password="nope")


def test_three_failures_close_the_connection(server, user):
    c = Client(server.port)
    c.line()
    for i in range(3):
        assert c.cmd("USER " + USER).startswith(b"+OK")
        assert c.cmd("PASS bad%d" % i) == b"-ERR authorization failed"
    assert c.closed()


@pytest.fixture
def root_alias():
    """A second uid-0 account with a known password, removed afterwards."""
    name = "hproot"
    subprocess.run(["userdel", "-f", name], capture_output=True)
    home = os.path.join(BUILDDIR, "users", name)
    subprocess.run(["useradd", "-o", "-u", "0", "-g", "0", "-M", "-d", home, "-s", "/bin/sh", name],
                   check=True)
    try:
        os.makedirs(os.path.join(home, "Maildir", "new"), exist_ok=True)
        for s in ("cur", "tmp"):
            os.makedirs(os.path.join(home, "Maildir", s), exist_ok=True)
        set_password(name, "root pw")
        yield name
    finally:
        subprocess.run(["userdel", "-f", name], check=True)
        shutil.rmtree(home, ignore_errors=True)


def test_root_refused(server, root_alias):
    c = Client(server.port)
    c.line()
    assert c.cmd("USER " + root_alias).startswith(b"+OK")
    assert c.cmd("PASS root pw") == b"-ERR authorization failed"
    assert c.cmd("QUIT").startswith(b"+OK")


def test_pop3d_refuses_root(tmp_path):
    os.makedirs(tmp_path / "Maildir" / "new")
    os.makedirs(tmp_path / "Maildir" / "cur")
    r = subprocess.run([bin_path("qmail-pop3d"), "Maildir"], cwd=tmp_path, input=b"STAT\r\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"root" in r.stderr
    # under qmail-popup the client only hears that the login failed
    fake = tmp_path / "letin"
    fake.write_text('#!/bin/sh\ncat <&3 >/dev/null\nexec "$@"\n')
    fake.chmod(0o755)
    r = subprocess.run([bin_path("qmail-popup"), POPHOST, str(fake), bin_path("qmail-pop3d"),
                        "Maildir"], cwd=tmp_path, input=b"USER x\r\nPASS y\r\nQUIT\r\n",
                       capture_output=True, timeout=30)
    assert r.stdout.split(b"\r\n")[1:] == [b"+OK ", b"-ERR authorization failed", b"+OK ", b""]


def test_overlong_lines_and_unknown_commands(server, user):
    c = Client(server.port)
    c.line()
    assert c.cmd("X" * 2000) == b"-ERR line too long"
    assert c.cmd("FROB") == b"-ERR authorization first"
    assert c.cmd("USER " + "u" * 3000) == b"-ERR line too long"
    assert c.cmd("NOOP").startswith(b"+OK")
    c.send(b"PASS a\0b\r\n")
    assert c.line() == b"-ERR syntax error"
    assert c.cmd("USER " + USER).startswith(b"+OK")
    assert c.cmd("PASS " + PASS).startswith(b"+OK")
    assert c.cmd("RETR " + "1" * 2000) == b"-ERR line too long"
    assert c.cmd("FROB 1") == b"-ERR unimplemented"
    assert c.cmd("USER " + USER) == b"-ERR unimplemented"
    # 8 MB with no line end: thrown away as it comes, memory stays small
    chunk = b"A" * 65536
    for _ in range(128):
        c.send(chunk)
    assert c.cmd("") == b"-ERR line too long"
    for pid in descendants(server.proc.pid):
        with open("/proc/%d/status" % pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")]
        assert hwm and hwm[0] < 8192, hwm
    assert c.cmd("STAT").startswith(b"+OK 3 ")
    assert c.cmd("QUIT").startswith(b"+OK")
    assert len(listing(user)["cur"]) == 3


def test_uidl_stable(server, user):
    p = pop(server)
    first = p.uidl()[1]
    p.quit()        # moves everything to cur/
    assert len(listing(user)["cur"]) == 3
    put_message(user, "1000000004.M4P4.host", b"Subject: four\n\nfour\n", mtime=1000000004)
    p = pop(server)
    second = p.uidl()[1]
    assert second[:3] == first
    assert second[3] == b"4 1000000004.M4P4.host"
    p.dele(1)
    p.quit()
    p = pop(server)
    third = [l.split()[1] for l in p.uidl()[1]]
    assert third == [l.split()[1] for l in second[1:]]
    p.quit()


def test_idle_timeout():
    pw = pop_user(USER, PASS)
    put_message(pw, "1.a.host", MSG1)
    s = PopServer(env={"POP3_TIMEOUT": "2"})
    try:
        c = Client(s.port)
        c.line()
        assert c.closed(timeout=15)         # never said a word: dropped
        c = login(s)
        assert c.cmd("DELE 1").startswith(b"+OK")
        assert c.closed(timeout=15)         # went idle after DELE: dropped, nothing applied
        session_ended(s)
        assert listing(pw)["new"] == ["1.a.host"]
    finally:
        s.stop()


def fake_checkpassword(tmp_path, code):
    rec = tmp_path / "fd3"
    fake = tmp_path / "fakecp"
    fake.write_text("#!/bin/sh\ncat <&3 > %s\nexit %d\n" % (rec, code))
    fake.chmod(0o755)
    return str(fake), rec


def test_apop_and_the_checkpassword_interface(tmp_path):
    """Another checkpassword-compatible program gets name, secret and the
    greeting's timestamp on fd 3."""
    fake, rec = fake_checkpassword(tmp_path, 1)
    s = PopServer(checkpw=fake)
    try:
        c = Client(s.port)
        greet = c.line()
        stamp = greet[4:]
        assert c.cmd("APOP bob c4c9334bac560ecc979e58001b3e22fb") == b"-ERR authorization failed"
        assert rec.read_bytes() == b"bob\0c4c9334bac560ecc979e58001b3e22fb\0" + stamp + b"\0"
        assert c.cmd("APOP bob") == b"-ERR syntax error"
        assert c.cmd("USER alice").startswith(b"+OK")
        assert c.cmd("PASS with space") == b"-ERR authorization failed"
        assert rec.read_bytes() == b"alice\0with space\0" + stamp + b"\0"
        assert c.cmd("QUIT").startswith(b"+OK")
    finally:
        s.stop()
    fake, rec = fake_checkpassword(tmp_path, 111)
    s = PopServer(checkpw=fake)
    try:
        c = Client(s.port)
        c.line()
        c.cmd("USER alice")
        assert c.cmd("PASS x").startswith(b"-ERR temporary")
    finally:
        s.stop()


def checkpw(data, prog, user=None):
    path = os.path.join(BUILDDIR, "hp-cpw.%d" % os.getpid())
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    try:
        return run(["sh", "-c", 'exec "$@" 3<' + path, "sh", bin_path("checkpassword")] + prog,
                   user=user)
    finally:
        os.unlink(path)


def test_checkpassword_direct():
    pw = pop_user(USER, PASS)
    show = ["sh", "-c", 'echo "$USER|$HOME|$SHELL|$(id -u)|$(id -g)|$(pwd)"']
    r = checkpw(USER.encode() + b"\0" + PASS.encode() + b"\0<1.2@x>\0", show)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "%s|%s|/bin/sh|%d|%d|%s" % (
        USER, pw.pw_dir, pw.pw_uid, pw.pw_gid, pw.pw_dir)
    ok = USER.encode() + b"\0" + PASS.encode() + b"\0\0"
    assert checkpw(ok, ["true"]).returncode == 0
    assert checkpw(USER.encode() + b"\0wrong\0\0", show).returncode == 1
    assert checkpw(b"nosuchuser-hp\0" + PASS.encode() + b"\0\0", show).returncode == 1
    assert checkpw(b"root\0whatever\0\0", show).returncode == 1
    assert checkpw(USER.encode() + b"\0\0\0", show).returncode == 1
    assert checkpw(ok, []).returncode == 2                      # no program
    assert checkpw(USER.encode() + b"\0" + b"p" * 600 + b"\0\0", show).returncode == 2
    assert checkpw(USER.encode() + b"no nul at all", show).returncode == 2
    # not root: the shadow file cannot be read, which is temporary
    assert checkpw(ok, ["true"], user="nobody").returncode == 111
    # a locked account is refused even with the right password
    subprocess.run(["usermod", "-L", USER], check=True)
    try:
        assert checkpw(ok, ["true"]).returncode == 1
    finally:
        subprocess.run(["usermod", "-U", USER], check=True)
    assert checkpw(ok, ["true"]).returncode == 0
    # an expired account too
    subprocess.run(["chage", "-E", "1", USER], check=True)
    try:
        assert checkpw(ok, ["true"]).returncode == 1
    finally:
        subprocess.run(["chage", "-E", "-1", USER], check=True)


def test_no_maildir(server):
    make_user(USER)
    set_password(USER, PASS)
    c = Client(server.port)
    c.line()
    c.cmd("USER " + USER)
    assert c.cmd("PASS " + PASS) == b"-ERR this user has no $HOME/Maildir"
    assert c.closed()


@pytest.mark.skipif(not shutil.which("fetchmail"), reason="fetchmail is not installed")
def test_fetchmail_gets_what_qmail_local_delivered(server):
    """The whole path: qmail-local delivers into ~/Maildir, fetchmail takes
    the mail over POP3 and deletes it."""
    pw = pop_user(USER, PASS)
    msgs = [b"From: x@example.org\nSubject: fm %d\n\nbody %d\n.leading dot\n" % (i, i)
            for i in (1, 2)]
    for m in msgs:
        r = qmail_local(pw, m)
        assert r.returncode == 0, r.stdout + r.stderr
    assert len(listing(pw)["new"]) == 2
    out = os.path.join(pw.pw_dir, "fetched")
    os.makedirs(out)
    os.chown(out, pw.pw_uid, pw.pw_gid)
    rc = os.path.join(pw.pw_dir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no syslog\n'
                'poll 127.0.0.1 with proto POP3 port %d auth password\n'
                '  user "%s" there with password "%s" is "%s" here\n'
                '  options fetchall nokeep sslproto ""\n'
                '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n' % (server.port, USER, PASS, USER, out))
    os.chown(rc, pw.pw_uid, pw.pw_gid)
    os.chmod(rc, 0o600)
    r = run(["fetchmail", "-f", rc, "--nosyslog", "-v"], user=USER,
            env={"HOME": pw.pw_dir, "FETCHMAILHOME": pw.pw_dir}, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = []
    for n in os.listdir(out):
        with open(os.path.join(out, n), "rb") as f:
            got.append(f.read())
    assert len(got) == 2
    for i in (1, 2):
        assert any(b"Subject: fm %d\n" % i in g and b"\n\nbody %d\n.leading dot\n" % i in g
                   for g in got), got
    assert all(b"Delivered-To: " + USER.encode() + b"@testhost.example" in g for g in got)
    assert listing(pw)["new"] == [] and listing(pw)["cur"] == []


def test_pipelined_login_loses_no_command(server, user):
    """Commands sent in one packet with USER and PASS reach qmail-pop3d:
    qmail-popup reads no byte past the PASS line."""
    c = Client(server.port)
    c.line()
    c.send(("USER %s\r\nPASS %s\r\nSTAT\r\nUIDL 1\r\nQUIT\r\n" % (USER, PASS)).encode())
    assert c.line().startswith(b"+OK")
    assert c.line().startswith(b"+OK 3 messages")
    assert c.line() == b"+OK 3 %d" % (len(MSG1) + len(MSG2) + len(MSG3))
    assert c.line() == b"+OK 1 1000000001.M1P1.host"
    assert c.line().startswith(b"+OK")
    assert c.closed()
