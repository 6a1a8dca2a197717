"""ESMTP as clients and peers expect it (issue 11): qmail-smtpd's
ENHANCEDSTATUSCODES (RFC 2034), SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030),
the log of refusals and IPv6; qmail-remote's PIPELINING (RFC 2920), SIZE
(RFC 1870), SMTPUTF8 and IPv6. Real clients (smtplib, swaks, Postfix's
smtp-source, raw sockets) and real peers (a scripted socket peer, Postfix's
smtp-sink and a private Postfix)."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time
from email.message import EmailMessage

import pytest

from conftest import BUILD, HOME, bin_path, make_user, run, wait_for
from postfix_util import Postfix, Sink, missing
from send_util import ME, messages, send_fixtures, user_maildir, wait_mail, write_file
from smtpd_util import Client, FakeQueue, Server, vmhwm_kb

WORK = os.path.join(BUILD or os.path.dirname(HOME), "esmtp-test")
EHLO_LINES = ["PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"]


@pytest.fixture
def smtpd(servers, fakeqq, control):
    return servers(env={"QMAILQUEUE": fakeqq.prog})


@pytest.fixture
def logfile():
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "smtpd.log")
    open(path, "w").close()
    return path


def read_log(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# ------------------------------------------------ ENHANCEDSTATUSCODES

def test_ehlo_lists_the_extensions(smtpd):
    c = Client(smtpd.port)
    assert c.reply() == (220, ["testhost.example ESMTP"])
    assert c.cmd("EHLO client.example") == (250, ["testhost.example"] + EHLO_LINES)
    c.cmd("QUIT")


def test_size_limit_in_ehlo(servers, fakeqq, control):
    control["databytes"] = "5000\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    c = Client(s.port)
    c.reply()
    code, lines = c.cmd("EHLO c")
    assert "SIZE 5000" in lines and lines[-1] == "CHUNKING"


# (command, reply after EHLO, reply after HELO): the same text, the code
# moved to the front after EHLO, qmail's own words after HELO
SESSION = [
    ("NOOP", "250 2.0.0 ok", "250 ok"),
    ("VRFY x", "252 2.0.0 send some mail, i'll try my best", "252 send some mail, i'll try my best"),
    ("FOO", "502 5.5.1 unimplemented", "502 unimplemented (#5.5.1)"),
    ("RCPT TO:<u@testhost.example>", "503 5.5.1 MAIL first", "503 MAIL first (#5.5.1)"),
    ("MAIL FROM:<a@example.org>", "250 2.1.0 ok", "250 ok"),
    ("RCPT TO:<u@evil.example>", "553 5.7.1 sorry, that domain isn't in my list of allowed rcpthosts",
     "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
    ("RCPT TO:<>", "553 5.1.3 sorry, that is not a valid recipient address",
     "553 sorry, that is not a valid recipient address (#5.1.3)"),
    ("RCPT TO:<u@testhost.example>", "250 2.1.5 ok", "250 ok"),
    ("RCPT TO:<u@testhost.example", "250 2.1.5 ok", "250 ok"),
    ("RSET", "250 2.0.0 flushed", "250 flushed"),
    ("DATA", "503 5.5.1 MAIL first", "503 MAIL first (#5.5.1)"),
    ("MAIL FROM:<a@example.org> SIZE=999999999999999999999999", "552 5.3.4 sorry, that message size exceeds my databytes limit",
     "552 sorry, that message size exceeds my databytes limit (#5.3.4)"),
    ("HELP", "214 2.0.0 qmail-compatible SMTP server; see qmail-smtpd(8)",
     "214 qmail-compatible SMTP server; see qmail-smtpd(8)"),
    ("X" * 3000, "500 5.5.2 sorry, command line too long", "500 sorry, command line too long (#5.5.2)"),
    ("QUIT", "221 2.0.0 testhost.example", "221 testhost.example"),
]


def raw_session(port, hello, cmds):
    c = Client(port)
    c.reply()
    c.cmd(hello)
    got = []
    for cmd in cmds:
        c.send(cmd.encode() + b"\r\n")
        got.append(c.line())
    c.close()
    return got


@pytest.mark.parametrize("hello", ["EHLO client.example", "HELO client.example"])
def test_reply_codes_after_ehlo_and_helo(servers, fakeqq, control, hello):
    control["databytes"] = "100000\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    got = raw_session(s.port, hello, [c for c, _, _ in SESSION])
    want = [e if hello.startswith("EHLO") else h for _, e, h in SESSION]
    assert got == want


def test_codes_follow_the_last_greeting(smtpd):
    """EHLO then HELO: qmail's wording again; HELO then EHLO: codes."""
    c = Client(smtpd.port)
    c.reply()
    c.cmd("EHLO a")
    assert c.cmd("NOOP") == (250, ["2.0.0 ok"])
    assert c.cmd("HELO a") == (250, ["testhost.example"])
    assert c.cmd("NOOP") == (250, ["ok"])
    assert c.cmd("EHLO a")[1][1:] == EHLO_LINES      # no codes inside the EHLO reply
    assert c.cmd("NOOP") == (250, ["2.0.0 ok"])


def test_message_replies_carry_codes(smtpd, fakeqq):
    with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30) as m:
        m.ehlo("c.example")
        assert m.docmd("MAIL FROM:<a@example.org>") == (250, b"2.1.0 ok")
        assert m.docmd("RCPT TO:<b@testhost.example>") == (250, b"2.1.5 ok")
        code, text = m.data(b"Subject: x\r\n\r\nbody\r\n")
        assert code == 250 and re.fullmatch(rb"2\.0\.0 ok \d+ qp \d+", text), text
        fakeqq.set_exit(31)                             # qmail-queue: permanent refusal
        m.docmd("MAIL FROM:<a@example.org>")
        m.docmd("RCPT TO:<b@testhost.example>")
        code, text = m.data(b"Subject: y\r\n\r\nbody\r\n")
        assert code == 554 and text.startswith(b"5.3.0 ") and b"(#" not in text, text


# ------------------------------------------------ the log of refusals

def test_every_refusal_is_logged(servers, fakeqq, control, logfile):
    control["databytes"] = "300\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog}, log=logfile)
    c = Client(s.port)
    c.reply()
    c.cmd("EHLO c.example")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<victim@evil.example>")[0] == 553
    assert c.cmd("RCPT TO:<u@testhost.example>")[0] == 250
    assert c.cmd("EXPN list")[0] == 502
    c.cmd("DATA")
    c.send(b"Subject: big\r\n\r\n" + b"x" * 400 + b"\r\n.\r\n")
    assert c.reply()[0] == 552
    assert c.cmd("NOOP")[0] == 250
    c.cmd("QUIT")
    c.close()
    log = wait_for(lambda: read_log(logfile).count("\n") >= 3 and read_log(logfile), what="three log lines")
    lines = log.splitlines()
    assert len(lines) == 3, log                      # accepted commands are not logged
    pid = r"\(pid \d+\)"
    assert re.fullmatch(r"qmail-smtpd: refused from 127\.0\.0\.1 %s: RCPT TO:<victim@evil\.example>: "
                        r"553 5\.7\.1 sorry, that domain isn't in my list of allowed rcpthosts" % pid, lines[0]), lines
    assert re.fullmatch(r"qmail-smtpd: refused from 127\.0\.0\.1 %s: EXPN list: 502 5\.5\.1 unimplemented" % pid,
                        lines[1]), lines
    assert re.fullmatch(r"qmail-smtpd: refused from 127\.0\.0\.1 %s: DATA: "
                        r"552 5\.3\.4 sorry, that message size exceeds my databytes limit" % pid, lines[2]), lines


def test_log_line_is_one_line_whatever_the_command(servers, fakeqq, control, logfile):
    s = servers(env={"QMAILQUEUE": fakeqq.prog}, log=logfile)
    c = Client(s.port)
    c.reply()
    c.send(b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x\x01\x1b[31m@evil.example>\r\n")
    c.reply(); c.reply()
    assert c.reply()[0] == 553
    c.cmd("QUIT")
    log = wait_for(lambda: read_log(logfile), what="a log line")
    assert log.count("\n") == 1
    assert "RCPT TO:<x??[31m@evil.example>: 553 sorry" in log and "\x1b" not in log


# ------------------------------------------------ SMTPUTF8

UTF8_RCPT = "j\u00f6rg@testhost.example"
UTF8_FROM = "\u00e9l\u00e8ve@\u00e9cole.example"


def test_smtplib_sends_utf8_with_smtputf8(smtpd, fakeqq):
    msg = EmailMessage()
    msg["From"] = UTF8_FROM
    msg["To"] = UTF8_RCPT
    msg["Subject"] = "gr\u00fc\u00dfe"
    msg.set_content("h\u00e9llo\n")
    with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30) as m:
        m.ehlo("c.example")
        assert m.has_extn("smtputf8")
        refused = m.send_message(msg)                    # smtplib adds SMTPUTF8 itself
        assert refused == {}
    [(body, env)] = fakeqq.messages()
    assert env == [b"F" + UTF8_FROM.encode(), b"T" + UTF8_RCPT.encode()]   # bytes as sent
    assert b"\nTo: " + UTF8_RCPT.encode() + b"\n" in body                   # header untouched
    assert re.search(rb"^  by testlocal with UTF8SMTP; ", body, re.M)


def test_8bit_address_without_smtputf8_is_refused(smtpd, fakeqq):
    c = Client(smtpd.port)
    c.reply()
    c.cmd("EHLO c")
    c.send(b"MAIL FROM:<\xc3\xa9@example.org>\r\n")
    assert c.reply() == (553, ["5.6.7 sorry, a non-ASCII address needs MAIL FROM with SMTPUTF8"])
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    c.send(b"RCPT TO:<j\xc3\xb6rg@testhost.example>\r\n")
    assert c.reply() == (553, ["5.6.7 sorry, a non-ASCII address needs MAIL FROM with SMTPUTF8"])
    # with SMTPUTF8 the UTF-8 must be well formed
    c.send(b"MAIL FROM:<\xc3@example.org> SMTPUTF8\r\n")
    assert c.reply() == (553, ["5.6.7 sorry, that sender address is not valid UTF-8"])
    c.send(b"MAIL FROM:<\xc3\xa9@example.org> SMTPUTF8\r\n")
    assert c.reply()[0] == 250
    for bad in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xff", b"\xe2\x82"):
        c.send(b"RCPT TO:<x" + bad + b"@testhost.example>\r\n")
        assert c.reply() == (553, ["5.6.7 sorry, that recipient address is not valid UTF-8"]), bad
    c.send(b"RCPT TO:<j\xc3\xb6rg@testhost.example>\r\n")
    assert c.reply()[0] == 250
    assert c.cmd("QUIT")[0] == 221


users, sched = send_fixtures(["esu"], prefix="esmtp-")


def test_utf8_address_delivered_through_dot_qmail_extension(sched, queue, control, users, servers):
    """qmail-smtpd -> qmail-queue -> qmail-send -> qmail-local: esu-ünï and
    esu-ascii reach ~/.qmail-ünï and ~/.qmail-ascii the same way."""
    home = users["esu"].pw_dir
    write_file(os.path.join(home, ".qmail-\u00fcn\u00ef"), "./Maildir/\n", "esu")
    write_file(os.path.join(home, ".qmail-ascii"), "./Maildir/\n", "esu")
    control["rcpthosts"] = ME + "\n"
    s = sched()
    srv = servers()
    for rcpt in ("esu-\u00fcn\u00ef@" + ME, "esu-ascii@" + ME):
        msg = EmailMessage()
        msg["From"] = UTF8_FROM
        msg["To"] = rcpt
        msg["Subject"] = "to " + rcpt
        msg.set_content("body\n")
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as m:
            m.ehlo("c.example")
            assert m.send_message(msg) == {}
    got = wait_mail("esu", 2)
    dt = sorted(re.search(rb"\nDelivered-To: ([^\n]+)\n", b"\n" + m).group(1) for m in got)
    assert dt == sorted([("esu-ascii@" + ME).encode(), ("esu-\u00fcn\u00ef@" + ME).encode()])
    for m in got:
        assert m.startswith(b"Return-Path: <" + UTF8_FROM.encode() + b">\n")


# ------------------------------------------------ CHUNKING

MSG = (b"From: a@example.org\r\nTo: u@testhost.example\r\nSubject: chunks\r\n\r\n"
       b"line one\r\n.leading dot\r\n..two dots\r\n\r\n8-bit caf\xc3\xa9 \xff\r\nlast\r\n")


def queued(queue, n):
    ids = wait_for(lambda: len(queue.todo()) >= n and queue.todo(), timeout=10, what="%d queued" % n)
    return ids


def strip_received(msg):
    assert msg.startswith(b"Received: ")
    return msg[msg.index(b"\n  by ") + 1:].split(b"\n", 1)[1]


def test_bdat_queues_what_data_would(servers, queue, control):
    s = servers()
    c = Client(s.port)
    c.reply()
    c.cmd("EHLO c.example")
    # DATA, dot-stuffed
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<u@testhost.example>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(re.sub(rb"(?m)^\.", b"..", MSG) + b".\r\n")
    assert c.reply()[0] == 250
    # BDAT, pipelined with MAIL and RCPT, in chunks that split a CR LF
    a, b = MSG[:MSG.index(b"\r\n") + 1], MSG[MSG.index(b"\r\n") + 1:]
    b1, b2 = b[:20], b[20:]
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\n" +
           b"BDAT %d\r\n" % len(a) + a + b"BDAT %d\r\n" % len(b1) + b1 +
           b"BDAT %d LAST\r\n" % len(b2) + b2)
    replies = [c.reply() for _ in range(5)]
    assert [r[0] for r in replies] == [250, 250, 250, 250, 250]
    assert replies[2] == (250, ["2.0.0 ok, %d octets" % len(a)])
    assert re.fullmatch(r"2\.0\.0 ok \d+ qp \d+", replies[4][1][0])
    # a last chunk of size 0
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\nBDAT %d\r\n" % len(MSG) +
           MSG + b"BDAT 0 LAST\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 250]
    c.cmd("QUIT")
    ids = queued(queue, 3)
    bodies = [strip_received(queue.message(i)) for i in ids]
    assert bodies[0] == MSG.replace(b"\r\n", b"\n")
    assert bodies[0] == bodies[1] == bodies[2]
    for i in ids:
        assert b"Fa@example.org\0Tu@testhost.example\0" in queue.envelope(i)


def test_bdat_ends_an_unterminated_last_line_as_data_does(smtpd, fakeqq):
    c = Client(smtpd.port)
    c.reply()
    m1, m2 = b"Subject: x\r\n\r\n", b"Subject: x\r\n\r\nab"
    c.send(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\nBDAT %d LAST\r\n" % len(m1) + m1)
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 250]
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\nBDAT %d LAST\r\n" % len(m2) + m2)
    assert [c.reply()[0] for _ in range(3)] == [250, 250, 250]
    msgs = fakeqq.messages()
    assert [strip_received(m[0]) for m in msgs] == [b"Subject: x\n\n", b"Subject: x\n\nab\n"]


def test_bdat_errors_keep_the_session_in_step(servers, fakeqq, control, logfile):
    control["databytes"] = "1000\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog}, log=logfile)
    c = Client(s.port)
    c.reply()
    c.cmd("EHLO c")
    # no MAIL yet: refused, and the chunk is read and dropped, not run
    c.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\n")
    assert c.reply() == (503, ["5.5.1 MAIL first"])
    assert c.cmd("NOOP") == (250, ["2.0.0 ok"])
    assert c.cmd("BDAT x") == (501, ["5.5.4 syntax error, say BDAT size [LAST]"])
    assert c.cmd("BDAT 5 FIRST") == (501, ["5.5.4 syntax error, say BDAT size [LAST]"])
    # DATA and MAIL in the middle of a BDAT message; RSET drops it
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<u@testhost.example>")
    c.send(b"BDAT 4\r\nab\r\n")
    assert c.reply()[0] == 250
    assert c.cmd("DATA") == (503, ["5.5.1 sorry, a BDAT message is under way"])
    assert c.cmd("MAIL FROM:<b@example.org>") == (503, ["5.5.1 sorry, a BDAT message is under way"])
    assert c.cmd("RSET")[0] == 250
    c.send(b"BDAT 4 LAST\r\nab\r\n")
    assert c.reply() == (503, ["5.5.1 MAIL first"])
    # the size limit is on the sum of the chunks
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<u@testhost.example>")
    chunk = b"x" * 598 + b"\r\n"
    c.send(b"BDAT 600\r\n" + chunk)
    assert c.reply()[0] == 250
    c.send(b"BDAT 600\r\n" + chunk)
    assert c.reply() == (552, ["5.3.4 sorry, that message size exceeds my databytes limit"])
    c.send(b"BDAT 600 LAST\r\n" + chunk)            # the message is over: read and dropped
    assert c.reply() == (503, ["5.5.1 MAIL first"])
    assert c.cmd("QUIT")[0] == 221
    assert fakeqq.messages() == []                   # nothing was queued
    assert "BDAT 600: 552 5.3.4 sorry, that message size exceeds my databytes limit" in read_log(logfile)


def test_bdat_bare_lf_ends_the_session_as_data_does(smtpd, fakeqq):
    for chunk in (b"a\nb\r\n", b"a\rb\r\n"):
        c = Client(smtpd.port)
        c.reply()
        c.send(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\nBDAT %d LAST\r\n" % len(chunk)
               + chunk)
        assert [c.reply()[0] for _ in range(3)] == [250, 250, 250]
        assert c.reply() == (451, ["4.0.0 See https://cr.yp.to/docs/smtplf.html."])
        assert c.closed()
    assert fakeqq.messages() == []


def test_200k_tiny_bdat_chunks_in_flat_memory(servers, control):
    q = FakeQueue(discard=True)
    try:
        s = servers(env={"QMAILQUEUE": q.prog})
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@testhost.example>\r\n")
        while not f.readline().startswith(b"250 CHUNKING"):
            pass
        assert f.readline().startswith(b"250") and f.readline().startswith(b"250")
        got = {"n": 0}

        def reader(n):
            for _ in range(n):
                line = f.readline()
                assert line == b"250 2.0.0 ok, 1 octets\r\n", line
                got["n"] += 1
        t = threading.Thread(target=reader, args=(1000,))
        t.start()
        sock.sendall(b"BDAT 1\r\nx" * 1000)
        t.join(60)
        assert got["n"] == 1000
        [pid] = [p for p in s.children()]
        before = vmhwm_kb(pid)
        t = threading.Thread(target=reader, args=(200000,))
        t.start()
        batch = b"BDAT 1\r\nx" * 10000
        for _ in range(20):
            sock.sendall(batch)
        t.join(300)
        assert got["n"] == 201000
        after = vmhwm_kb(pid)
        sock.sendall(b"BDAT 2 LAST\r\n\r\n")
        assert f.readline().startswith(b"250 2.0.0 ok ")
        sock.sendall(b"QUIT\r\n")
        f.readline()
        sock.close()
        print("VmHWM of qmail-smtpd: %d kB after 1000 chunks, %d kB after 201000" % (before, after))
        assert after - before < 64, (before, after)
    finally:
        q.cleanup()


# ------------------------------------------------ other real clients

def test_swaks_pipe_ehlo_pipelining(fakeqq, control):
    r = subprocess.run(["swaks", "--pipe", bin_path("qmail-smtpd"), "--ehlo", "swaks.example", "--pipeline",
                        "--from", "s@example.org", "--to", "r@testhost.example", "--body", "over a pipe"],
                       capture_output=True, timeout=60, env={"QMAILQUEUE": fakeqq.prog, "PATH": "/usr/bin:/bin", "RCPTCHECK": "0"})  # r is made up
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.decode()
    assert "<-  250-ENHANCEDSTATUSCODES" in out and "<-  250 CHUNKING" in out
    assert re.search(r"<-  250 2\.1\.5 ok", out), out
    assert re.search(r"<-  250 2\.0\.0 ok \d+ qp \d+", out), out
    [(msg, env)] = fakeqq.messages()
    assert env == [b"Fs@example.org", b"Tr@testhost.example"]
    assert b"over a pipe" in msg


def test_smtp_source_pipelines_many_messages(control):
    q = FakeQueue()
    try:
        s = Server([bin_path("qmail-smtpd")], env={"QMAILQUEUE": q.prog})
        try:
            r = subprocess.run(["/usr/sbin/smtp-source", "-c", "-s", "2", "-m", "20", "-r", "3",
                                "-f", "src@example.org", "-t", "dst@testhost.example", "127.0.0.1:%d" % s.port],
                               capture_output=True, timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            msgs = wait_for(lambda: len(q.messages()) >= 20 and q.messages(), what="20 messages")
            assert len(msgs) == 20
            for m in msgs:
                assert m[1][0] == b"Fsrc@example.org" and len(m[1]) == 4, m[1]
                assert all(r.startswith(b"T") and r.endswith(b"dst@testhost.example") for r in m[1][1:]), m[1]
        finally:
            s.stop()
    finally:
        q.cleanup()


# ------------------------------------------------ IPv6 in qmail-smtpd

@pytest.fixture
def v6tcpserver():
    """tcpserver must be ucspi-tcp-ipv6's (scripts/test-deps.sh installs it)"""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "ucspi-tcp-ipv6"], capture_output=True)
    assert b"install ok installed" in r.stdout, "tcpserver is not IPv6-capable: apt-get install ucspi-tcp-ipv6"


def test_smtpd_on_ipv6_loopback(v6tcpserver, servers, fakeqq, control):
    s6 = servers(env={"QMAILQUEUE": fakeqq.prog}, host="::1")
    s4 = servers(env={"QMAILQUEUE": fakeqq.prog})
    for host, port, ip in (("::1", s6.port, b"::1"), ("127.0.0.1", s4.port, b"127.0.0.1")):
        with smtplib.SMTP(host, port, timeout=30) as m:
            m.ehlo("c.example")
            m.sendmail("a@example.org", ["u@testhost.example"], b"Subject: v6\r\n\r\nx\r\n")
    msgs = fakeqq.messages()
    assert len(msgs) == 2
    rec = sorted(re.match(rb"Received: from unknown \(HELO c\.example\) \(([^)]*)\)\n", m[0]).group(1) for m in msgs)
    assert rec == [b"127.0.0.1", b"::1"]


def test_relayclient_rule_for_ipv6(v6tcpserver, servers, fakeqq, control):
    os.makedirs(WORK, exist_ok=True)
    rules = os.path.join(WORK, "rules")
    subprocess.run(["tcprules", rules + ".cdb", rules + ".tmp"], input=b'::1:allow,RELAYCLIENT=""\n:allow\n', check=True)
    s6 = servers(env={"QMAILQUEUE": fakeqq.prog}, host="::1", rules=rules + ".cdb")
    s4 = servers(env={"QMAILQUEUE": fakeqq.prog}, rules=rules + ".cdb")
    for host, port, want in (("::1", s6.port, 250), ("127.0.0.1", s4.port, 553)):
        c = Client(s6.port if host == "::1" else s4.port, host=host)
        c.reply()
        c.cmd("EHLO c")
        c.cmd("MAIL FROM:<a@example.org>")
        assert c.cmd("RCPT TO:<far@elsewhere.example>")[0] == want, host
        c.cmd("QUIT")


def test_ipv6_literal_of_this_host_is_local(v6tcpserver, servers, fakeqq, control):
    control["localiphost"] = "testhost.example\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog}, host="::1")
    with smtplib.SMTP("::1", s.port, timeout=30) as m:
        m.ehlo("c")
        m.sendmail("a@example.org", ["u@[IPv6:::1]", "v@[IPv6:0:0:0:0:0:0:0:1]", "w@[127.0.0.1]"], b"Subject: l\r\n\r\nx\r\n")
        m.docmd("MAIL FROM:<a@example.org>")
        assert m.docmd("RCPT TO:<x@[IPv6:2001:db8::1]>")[0] == 553    # not this host: a relay
    [(msg, env)] = fakeqq.messages()
    assert env[1:] == [b"Tu@testhost.example", b"Tv@testhost.example", b"Tw@testhost.example"]


# ------------------------------------------------ qmail-remote

class ScriptPeer:
    """A small SMTP server on one socket (127.0.0.1 or ::1) offering the
    EHLO keywords given. It records the client's bytes. With PIPELINING it
    holds the MAIL reply until DATA has arrived too (or 5 s passed), so a
    client that waits for each reply shows as not batched."""

    def __init__(self, host="127.0.0.1", keywords=("PIPELINING", "8BITMIME", "SIZE 1000000"),
                 mail_reply=b"250 2.1.0 ok"):
        self.keywords = list(keywords)
        self.mail_reply = mail_reply
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.raw = b""
        self.batched = None
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            try:
                self.handle(conn)
            except OSError:
                pass
            conn.close()

    def handle(self, conn):
        conn.settimeout(10)
        buf = b""
        rcpts = 0

        def more():
            nonlocal buf
            d = conn.recv(65536)
            if not d:
                raise OSError("closed")
            self.raw += d
            buf += d
        conn.sendall(b"220 peer.test ESMTP\r\n")
        while True:
            while b"\r\n" not in buf:
                more()
            line, buf = buf.split(b"\r\n", 1)
            verb = line[:4].upper()
            if verb == b"EHLO":
                ks = ["peer.test"] + self.keywords
                conn.sendall(b"".join(b"250%s%s\r\n" % (b"-" if i < len(ks) - 1 else b" ", k.encode())
                                      for i, k in enumerate(ks)))
            elif verb == b"MAIL":
                if "PIPELINING" in self.keywords:
                    end = time.monotonic() + 5
                    conn.settimeout(0.2)
                    while b"DATA\r\n" not in buf and time.monotonic() < end:
                        try:
                            more()
                        except socket.timeout:
                            pass
                    conn.settimeout(10)
                    self.batched = b"DATA\r\n" in buf
                conn.sendall(self.mail_reply + b"\r\n")
            elif verb == b"RCPT":
                if b"nobody@" in line:
                    conn.sendall(b"550 5.1.1 no such user\r\n")
                else:
                    rcpts += 1
                    conn.sendall(b"250 2.1.5 ok\r\n")
            elif verb == b"DATA" and not rcpts:
                conn.sendall(b"554 5.5.1 no valid recipients\r\n")
            elif verb == b"DATA":
                rcpts = 0
                conn.sendall(b"354 go\r\n")
                while b"\r\n.\r\n" not in buf:
                    more()
                buf = buf.split(b"\r\n.\r\n", 1)[1]
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.1 what\r\n")

    def wait_quit(self):
        wait_for(lambda: self.raw.endswith(b"QUIT\r\n"), timeout=10, what="QUIT at the peer")
        return self.raw

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.sock.close()


RMSG = b"From: a@example.org\nSubject: remote\n\nhello\n"


def qr(host, sender, *recips, input=RMSG):
    """qmail-remote with the message in a file on fd 0, as qmail-rspawn gives it"""
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "message")
    with open(path, "wb") as f:
        f.write(input)
    with open(path, "rb") as f:
        p = subprocess.run([bin_path("qmail-remote"), host, sender] + list(recips), stdin=f,
                           capture_output=True, timeout=60)
    assert p.stdout.endswith(b"\0"), p.stdout
    return p.stdout[:-1].split(b"\0")


@pytest.fixture
def peer_factory(control):
    made = []
    control["helohost"] = None
    control["timeoutremote"] = None
    control["timeoutconnect"] = None
    with open(os.path.join(HOME, "queue", "lock", "tcpto"), "r+b") as f:
        f.write(b"\0" * 1024)

    def make(route_host="127.0.0.1", **kw):
        p = ScriptPeer(**kw)
        made.append(p)
        control["smtproutes"] = "peer.test:%s:%d\n" % (route_host, p.port)
        return p
    yield make
    for p in made:
        p.stop()


def test_remote_pipelines_mail_rcpts_and_data(peer_factory):
    p = peer_factory()
    r = qr("peer.test", "a@example.org", "u1@peer.test", "nobody@peer.test", "u2@peer.test")
    assert r[0] == b"r" and r[2] == b"r"
    assert r[1].startswith(b"h127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user")
    assert r[3].startswith(b"K127.0.0.1 accepted message.")
    assert p.batched is True
    size = len(RMSG)
    assert (b"MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=%d\r\nRCPT TO:<u1@peer.test>\r\n"
            b"RCPT TO:<nobody@peer.test>\r\nRCPT TO:<u2@peer.test>\r\nDATA\r\n" % size) in p.raw


def test_remote_pipelined_sender_refused(peer_factory):
    p = peer_factory(mail_reply=b"553 5.7.1 not you")
    r = qr("peer.test", "a@example.org", "u@peer.test")
    assert r == [b"DConnected to 127.0.0.1 but sender was rejected.\nRemote host said: 553 5.7.1 not you\n"]
    assert p.batched is True          # the refusal came after the whole batch


def test_remote_without_pipelining_waits_for_each_reply(peer_factory):
    p = peer_factory(keywords=("8BITMIME",))
    r = qr("peer.test", "a@example.org", "u1@peer.test")
    assert r[0] == b"r" and r[1].startswith(b"K127.0.0.1 accepted message.")
    assert b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\n" in p.raw    # no SIZE offered: none declared


def test_remote_every_pipelined_rcpt_refused(peer_factory):
    p = peer_factory()
    r = qr("peer.test", "a@example.org", "nobody@peer.test")
    assert r[0].startswith(b"h127.0.0.1 does not like recipient.")
    assert r[1].startswith(b"DGiving up on 127.0.0.1.\n")
    assert p.wait_quit().endswith(b"DATA\r\nQUIT\r\n")                # nothing sent after a refused DATA


def test_remote_message_over_the_peers_size_is_bounced_unsent(peer_factory):
    p = peer_factory(keywords=("PIPELINING", "SIZE 100"))
    r = qr("peer.test", "a@example.org", "u@peer.test", input=b"Subject: big\n\n" + b"y" * 200 + b"\n")
    assert r == [b"DSorry, the message is larger than 127.0.0.1 accepts (SIZE). (#5.3.4)\n"]
    assert b"MAIL" not in p.wait_quit()


def test_remote_utf8_envelope_needs_smtputf8(peer_factory):
    p = peer_factory(keywords=("PIPELINING", "8BITMIME"))
    r = qr("peer.test", "a@example.org", "j\u00f6rg@peer.test")
    assert r == [b"DSorry, the envelope has non-ASCII addresses and 127.0.0.1 does not offer SMTPUTF8. (#5.6.7)\n"]
    assert b"MAIL" not in p.wait_quit()


def test_remote_utf8_envelope_to_a_smtputf8_peer(peer_factory):
    p = peer_factory(keywords=("PIPELINING", "SMTPUTF8"))
    rcpt = "j\u00f6rg@peer.test".encode()
    p2 = subprocess.run([bin_path("qmail-remote"), "peer.test", "\u00e9@example.org".encode(), rcpt],
                        input=RMSG, capture_output=True, timeout=60)
    r = p2.stdout[:-1].split(b"\0")
    assert r[0] == b"r" and r[1].startswith(b"K127.0.0.1 accepted message.")
    assert b"MAIL FROM:<\xc3\xa9@example.org> SMTPUTF8\r\nRCPT TO:<" + rcpt + b">\r\n" in p.raw


def test_remote_to_smtp_sink_without_smtputf8(control):
    """Postfix's smtp-sink offers PIPELINING but not SMTPUTF8."""
    if missing():
        pytest.skip(missing())
    sink = Sink(os.path.join(WORK, "sink"))
    try:
        control["smtproutes"] = "sink.test:127.0.0.1:%d\n" % sink.port
        r = qr("sink.test", "a@example.org", "u@sink.test")
        assert r[0] == b"r" and r[1].startswith(b"K127.0.0.1 accepted message.")
        r = qr("sink.test", "a@example.org", "\u00fc@sink.test")
        assert r[0].endswith(b"(#5.6.7)\n"), r
        t = wait_for(lambda: sink.transactions(), what="a transaction at the sink")
        assert len(t) == 1 and t[0]["rcpts"] == ["<u@sink.test>"]
    finally:
        sink.stop()


def test_remote_peer_on_ipv6_loopback(peer_factory):
    for route in ("[::1]", "[IPv6:::1]"):
        p = peer_factory(host="::1", route_host=route)
        r = qr("peer.test", "a@example.org", "u@peer.test")
        assert r == [b"r", b"K::1 accepted message.\nRemote host said: 250 2.0.0 queued\n"], route
        assert p.batched is True


PFU = "esp"
PFUHOST = "pfu.test"


def test_remote_smtputf8_through_postfix(control):
    """A private Postfix (it offers SMTPUTF8) takes a UTF-8 sender from
    qmail-remote and delivers the message to a Maildir."""
    if missing():
        pytest.skip(missing())
    make_user(PFU)
    pf = Postfix(os.path.join(WORK, "postfix"), PFUHOST).setup().start()
    try:
        control["smtproutes"] = "%s:127.0.0.1:%d\n" % (PFUHOST, pf.port)
        control["helohost"] = None
        box = user_maildir(PFU)
        if os.path.exists(box):
            shutil.rmtree(box)
        sender = "\u00e9l\u00e8ve@testhost.example".encode()
        msg = b"From: " + sender + b"\nSubject: caf\xc3\xa9\n\nutf-8 envelope\n"
        os.makedirs(WORK, exist_ok=True)
        path = os.path.join(WORK, "message")
        with open(path, "wb") as f:
            f.write(msg)
        with open(path, "rb") as f:
            p = subprocess.run([bin_path("qmail-remote"), PFUHOST, sender, (PFU + "@" + PFUHOST).encode()],
                               stdin=f, capture_output=True, timeout=60)
        r = p.stdout[:-1].split(b"\0")
        assert r[0] == b"r" and r[1].startswith(b"K127.0.0.1 accepted message."), (r, pf.maillog())
        got = wait_for(lambda: os.path.isdir(os.path.join(box, "new")) and messages(box), timeout=30,
                       what="the message in the Postfix user's Maildir")
        assert got[0].startswith(b"Return-Path: <" + sender + b">\n"), got[0][:200]
        assert got[0].endswith(b"\n\nutf-8 envelope\n")
    finally:
        pf.stop()


def test_remote_tcpto_records_an_ipv6_timeout(peer_factory, control):
    """a listener on ::1 with a full backlog drops SYNs: the connect times
    out, qmail-tcpto shows ::1, and a later good connection clears it"""
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            c = socket.socket(socket.AF_INET6)
            c.setblocking(False)
            try:
                c.connect(("::1", port))
            except BlockingIOError:
                pass
            fillers.append(c)
        time.sleep(0.2)
        control["smtproutes"] = "peer.test:[::1]:%d\n" % port
        control["timeoutconnect"] = "1\n"
        r = qr("peer.test", "a@example.org", "u@peer.test")
        assert r == [b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"]
        out = run([bin_path("qmail-tcpto")]).stdout.decode()
        assert out.startswith("::1 timed out ") and out.endswith("# recent timeouts: 1\n"), out
    finally:
        for c in fillers:
            c.close()
        s.close()
    p = peer_factory(host="::1", route_host="[::1]")
    assert qr("peer.test", "a@example.org", "u@peer.test")[0] == b"r"
    assert run([bin_path("qmail-tcpto")]).stdout == b""
