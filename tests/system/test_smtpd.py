"""qmail-smtpd, qmail-qmtpd, qmail-qmqpd, qmail-qmqpc and tcp-env, driven
through tcpserver (or pipes) by real clients: Python smtplib, swaks and raw
sockets. Most tests hand messages to a stand-in qmail-queue (QMAILQUEUE)
that saves fd 0 and fd 1; some go through the real qmail-queue into the
queue fixture."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import HOME, bin_path, run, wait_for
from smtpd_util import Client, FakeQueue, cdb_write, vmhwm_kb

SMTPD = bin_path("qmail-smtpd")
LF_REPLY = "See https://cr.yp.to/docs/smtplf.html."


@pytest.fixture
def smtpd(servers, fakeqq, control):
    return servers(env={"QMAILQUEUE": fakeqq.prog})


def session(port, commands):
    """Send each command, return the list of (code, texts)."""
    c = Client(port)
    out = [c.reply()]
    for cmd in commands:
        out.append(c.cmd(cmd))
    c.close()
    return out


def send_message(port, rcpts, body=b"Subject: t\r\n\r\nhello\r\n", sender="a@example.org", helo="client.example"):
    c = Client(port)
    assert c.reply()[0] == 220
    assert c.cmd("HELO " + helo)[0] == 250
    assert c.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    for r in rcpts:
        assert c.cmd("RCPT TO:<%s>" % r)[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body + b".\r\n")
    r = c.reply()
    c.cmd("QUIT")
    c.close()
    return r


# --- the conversation -----------------------------------------------------

def test_greeting_and_ehlo_features(smtpd, control):
    c = Client(smtpd.port)
    assert c.reply() == (220, ["testhost.example ESMTP"])
    code, lines = c.cmd("EHLO client.example")
    assert code == 250
    assert lines[0] == "testhost.example"
    assert lines[1:] == ["PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"]
    # after EHLO every reply carries its RFC 2034 code (RFC 3463) in front
    assert c.cmd("QUIT") == (221, ["2.0.0 testhost.example"])
    assert c.closed()


def test_smtpgreeting_and_size_advertised(servers, fakeqq, control):
    control["smtpgreeting"] = "mx.example.net hello there\n"
    control["databytes"] = "12345\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as m:
        code, msg = m.ehlo("client.example")
        assert code == 250
        assert m.has_extn("pipelining") and m.has_extn("8bitmime")
        assert m.esmtp_features["size"] == "12345"
        assert msg.split(b"\n")[0] == b"mx.example.net hello there"


def test_command_replies(smtpd):
    r = session(smtpd.port, ["NOOP", "VRFY postmaster", "HELP", "EXPN list", "FOO bar",
                             "RCPT TO:<a@localhost>", "DATA", "mAiL fRoM:<a@example.org>", "DATA",
                             "rcpt to:<b@localhost>", "RSET", "DATA", "helo x", "QUIT"])
    codes = [x[0] for x in r]
    assert codes == [220, 250, 252, 214, 502, 502, 503, 503, 250, 503, 250, 250, 503, 250, 221]
    assert r[2][1] == ["send some mail, i'll try my best"]
    assert r[4][1] == ["unimplemented (#5.5.1)"]
    assert r[6][1] == ["MAIL first (#5.5.1)"]
    assert r[9][1] == ["RCPT first (#5.5.1)"]
    assert r[11][1] == ["flushed"]


def test_qmail_queue_waits_from_mail_and_leaves_nothing(servers, queue, control):
    """qmail-queue is started when MAIL is accepted; idle, it holds no file,
    serves the next MAIL after RSET, and goes with the session."""
    from proc_util import comm, descendants, gone
    s = servers()
    c = Client(s.port)
    assert c.reply()[0] == 220
    assert c.cmd("HELO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    qq = wait_for(lambda: [p for p in descendants(s.proc.pid) if comm(p) == "qmail-queue"],
                  timeout=10, what="a qmail-queue after MAIL")
    assert len(qq) == 1
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<b@example.org>")[0] == 250
    assert [p for p in descendants(s.proc.pid) if comm(p) == "qmail-queue"] == qq
    assert queue.all_files() == []
    assert c.cmd("QUIT")[0] == 221
    c.close()
    wait_for(lambda: gone(qq[0]), timeout=10, what="the idle qmail-queue to go")
    assert queue.all_files() == []


def test_message_lands_in_queue(servers, queue, control):
    """Through the real qmail-queue: todo/ gets the envelope, mess/ the
    message with our Received line naming host, HELO and IP."""
    s = servers()
    with smtplib.SMTP("127.0.0.1", s.port, timeout=30) as m:
        m.ehlo("client.example")
        code, text = m.docmd("MAIL FROM:<sender@example.org>")
        assert code == 250
        assert m.docmd("RCPT TO:<user@testhost.example>")[0] == 250
        code, text = m.data(b"Subject: queued\r\n\r\nbody line\r\n.leading dot\r\n")  # smtplib stuffs it
        assert code == 250
        assert re.fullmatch(rb"2\.0\.0 ok \d+ qp \d+", text)   # after EHLO: RFC 2034 code
    ids = wait_for(queue.todo, timeout=10, what="a message in todo/")
    assert len(ids) == 1
    env = queue.envelope(ids[0])
    assert b"Fsender@example.org\0" in env and b"Tuser@testhost.example\0" in env
    msg = queue.message(ids[0])
    assert re.search(rb"^Received: from unknown \(HELO client\.example\) \(127\.0\.0\.1\)\n"
                     rb"  by testlocal with SMTP; [^\n]+\n", msg, re.M)
    assert msg.endswith(b"Subject: queued\n\nbody line\n.leading dot\n")
    assert b"\r" not in msg


def test_pipelined_session(smtpd, fakeqq):
    c = Client(smtpd.port)
    assert c.reply()[0] == 220
    c.send(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@localhost>\r\n"
           b"RCPT TO:<y@evil.example>\r\nRCPT TO:<z@testhost.example>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 250, 553, 250, 354]
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<q@localhost>\r\nDATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    c.send(b"second\r\n.\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221
    msgs = fakeqq.messages()
    assert len(msgs) == 2
    envs = sorted(m[1] for m in msgs)
    assert [b"Fa@example.org", b"Tx@localhost", b"Tz@testhost.example"] in envs
    assert [b"Fb@example.org", b"Tq@localhost"] in envs


def test_swaks_delivers(smtpd, fakeqq):
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(smtpd.port), "--from", "s@example.org",
                        "--to", "r@testhost.example", "--helo", "swaks.example", "--pipeline",
                        "--body", "hello from swaks"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    msgs = fakeqq.messages()
    assert len(msgs) == 1
    assert msgs[0][1] == [b"Fs@example.org", b"Tr@testhost.example"]
    assert b"(HELO swaks.example)" in msgs[0][0]
    assert b"hello from swaks" in msgs[0][0]


# --- relay control --------------------------------------------------------

REFUSED = [
    "user@evil.example",
    "user@EVIL.example",
    '""@evil.example',
    "user%localhost@evil.example",
    "user@localhost@evil.example",
    '"user@localhost"@evil.example',
    "@localhost:user@evil.example",
    "@localhost,@testhost.example:user@evil.example",
    "localhost!user@evil.example",
    "user@localhost.",
    "user@testhost.example.",
    "user@[10.255.255.1]",
    "user@[IPv6:2001:db8::1]",
    "user@xlocalhost",
    "user@sub.testhost.example",
    "user@evil.example (localhost)",
]

ALLOWED = [
    "user@localhost",
    "User@LOCALHOST",
    "user%evil.example@localhost",
    '"user@evil.example"@localhost',
    "evil.example!user@testhost.example",
    "@evil.example:user@localhost",
    "user@evil.example@localhost",
    "postmaster",
]


def rcpt_codes(port, addrs, sender="a@example.org"):
    c = Client(port)
    c.reply()
    c.cmd("HELO x")
    assert c.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    out = [c.cmd("RCPT TO:<%s>" % a) for a in addrs]
    c.cmd("QUIT")
    return out


def test_relay_tricks_refused(smtpd):
    for addr, (code, text) in zip(REFUSED, rcpt_codes(smtpd.port, REFUSED)):
        assert code == 553, addr
        assert text == ["sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"], addr


def test_local_forms_accepted(smtpd):
    for addr, (code, _text) in zip(ALLOWED, rcpt_codes(smtpd.port, ALLOWED)):
        assert code == 250, addr


def test_envelope_of_tricky_local_forms(smtpd, fakeqq):
    assert send_message(smtpd.port, ['"a@b"@localhost', "@x.example:src@localhost",
                                     "box@[127.0.0.1]"])[0] == 250
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Ta@b@localhost", b"Tsrc@localhost", b"Tbox@testhost.example"]


def test_local_ip_literal_uses_localiphost(servers, fakeqq, control):
    control["localiphost"] = "literal.example\n"
    control["rcpthosts"] = "literal.example\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    assert send_message(s.port, ["box@[127.0.0.1]"])[0] == 250
    (msg, env), = fakeqq.messages()
    assert env[1] == b"Tbox@literal.example"


def test_null_recipient_refused(servers, fakeqq, control):
    for env in ({}, {"RELAYCLIENT": ""}):
        s = servers(env=dict(env, QMAILQUEUE=fakeqq.prog))
        for code, text in rcpt_codes(s.port, ["", "user@", "user@evil.example\\@", "@"]):
            assert code == 553
            assert "not a valid recipient" in text[0]
    assert fakeqq.messages() == []


def test_nul_in_address_is_refused(smtpd, fakeqq):
    c = Client(smtpd.port)
    c.reply()
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    c.send(b"RCPT TO:<x@localhost\0Tvictim@evil.example>\r\n")
    assert c.reply() == (501, ["sorry, an address may not contain CR, LF or NUL (#5.5.4)"])
    c.send(b"MAIL FROM:<a\0b@example.org>\r\n")
    assert c.reply()[0] == 501


def test_relayclient_from_tcprules(servers, fakeqq, control):
    rules = os.path.join(fakeqq.dir, "rules.cdb")     # readable by qmaild
    subprocess.run(["tcprules", rules, rules + ".tmp"],
                   input=b'127.0.0.1:allow,RELAYCLIENT=""\n:allow\n', check=True)
    os.chmod(rules, 0o644)
    s = servers(env={"QMAILQUEUE": fakeqq.prog}, rules=rules)
    assert send_message(s.port, ["far@evil.example", "near@localhost"])[0] == 250
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@evil.example", b"Tnear@localhost"]


def test_relayclient_value_appended(servers, fakeqq):
    s = servers(env={"QMAILQUEUE": fakeqq.prog, "RELAYCLIENT": ".relay"})
    assert send_message(s.port, ["far@evil.example"])[0] == 250
    (msg, env), = fakeqq.messages()
    assert env[1] == b"Tfar@evil.example.relay"


def test_missing_rcpthosts_refuses_relay(servers, fakeqq, control):
    """qmail's default was an open relay; ours is closed (issue 10; more
    in test_input_defects.py)."""
    control["rcpthosts"] = None
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    assert [c for c, _ in rcpt_codes(s.port, ["far@evil.example", "postmaster"])] == [553, 250]


def test_morercpthosts(servers, fakeqq, control):
    control["morercpthosts"] = "more.example\n.deep.example\n"
    cdb = os.path.join(HOME, "control", "morercpthosts.cdb")
    newmrh = bin_path("qmail-newmrh")
    control["morercpthosts.cdb"] = b""        # restored (removed) after the test
    if os.path.exists(newmrh):
        assert run([newmrh]).returncode == 0
    else:
        cdb_write(cdb, [(b"more.example", b""), (b".deep.example", b"")])
    os.chmod(cdb, 0o644)
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    codes = [c for c, _ in rcpt_codes(s.port, ["a@more.example", "a@MORE.EXAMPLE", "a@x.deep.example",
                                               "a@deep.example", "a@less.example"])]
    assert codes == [250, 250, 250, 553, 553]


def test_badmailfrom(servers, fakeqq, control):
    control["badmailfrom"] = "spammer@example.org\n@bad.example\n# comment\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    for sender in ("spammer@example.org", "SPAMMER@Example.ORG", "anyone@bad.example", "x@BAD.example"):
        (code, text), = rcpt_codes(s.port, ["user@localhost"], sender=sender)
        assert code == 553, sender
        assert text == ["sorry, your envelope sender is in my badmailfrom list (#5.7.1)"]
    for sender in ("friend@example.org", "a@sub.bad.example", "bad.example@good.example"):
        assert [c for c, _ in rcpt_codes(s.port, ["user@localhost"], sender=sender)] == [250], sender


def test_maxrcpt(servers, fakeqq, control):
    control["maxrcpt"] = "3\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    r = rcpt_codes(s.port, ["a@localhost", "b@localhost", "c@localhost", "d@localhost", "e@localhost"])
    assert [c for c, _ in r] == [250, 250, 250, 452, 452]
    assert r[3][1] == ["sorry, too many recipients (#4.5.3)"]


# --- DATA -------------------------------------------------------------------

def test_databytes(servers, fakeqq, control):
    control["databytes"] = "1000\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    c = Client(s.port)
    c.reply()
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1001")[0] == 552
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=999999999999999999999999")[0] == 552
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=900")[0] == 250
    assert c.cmd("RCPT TO:<u@localhost>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" * 1 + (b"y" * 78 + b"\r\n") * 20 + b".\r\n")
    assert c.reply() == (552, ["sorry, that message size exceeds my databytes limit (#5.3.4)"])
    assert c.cmd("NOOP")[0] == 250            # the session goes on
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<u@localhost>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    exact = b"Subject: s\r\n\r\n" + b"z" * (1000 - 13) + b"\r\n"   # 1000 bytes stored
    c.send(exact + b".\r\n")
    assert c.reply()[0] == 250
    msgs = fakeqq.messages()
    assert len(msgs) == 1
    assert msgs[0][0].endswith(b"Subject: s\n\n" + b"z" * 987 + b"\n")


def test_databytes_env_overrides(servers, fakeqq, control):
    control["databytes"] = "1000000\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog, "DATABYTES": "50"})
    assert send_message(s.port, ["u@localhost"], body=b"x" * 60 + b"\r\n")[0] == 552
    assert fakeqq.messages() == []


def test_bare_lf_disconnects(smtpd, fakeqq):
    for data in (b"Subject: x\r\n\r\nline\nmore\r\n.\r\n", b"Subject: x\nbad\r\n.\r\n"):
        c = Client(smtpd.port)
        c.reply()
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<u@localhost>")
        assert c.cmd("DATA")[0] == 354
        c.send(data)
        assert c.reply() == (451, [LF_REPLY])
        assert c.closed()
    time.sleep(0.5)
    assert fakeqq.messages() == []


def test_disconnect_during_data_queues_nothing(smtpd, fakeqq):
    c = Client(smtpd.port)
    c.reply()
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<u@localhost>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: cut\r\n\r\npartial\r\n")
    c.close()
    wait_for(lambda: not smtpd.children(), timeout=10, what="qmail-smtpd to exit")
    assert fakeqq.messages() == []


SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r.\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\n.\r"]


@pytest.mark.parametrize("seq", SMUGGLE, ids=lambda s: s.decode().replace("\r", "CR").replace("\n", "LF"))
def test_smuggling_never_splits(smtpd, fakeqq, seq):
    c = Client(smtpd.port)
    c.reply()
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<u@localhost>")
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: first\r\n\r\nbody" + seq +
           b"MAIL FROM:<smuggler@evil.example>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n"
           b"Subject: smuggled\r\n\r\nhidden\r\n.\r\n")
    code, _ = c.reply()
    assert code == 451          # every such sequence has a bare LF or a bare CR
    assert c.closed()
    time.sleep(0.3)
    assert fakeqq.messages() == []


def test_dot_stuffing_and_crlf(smtpd, fakeqq):
    body = b"Subject: d\r\n\r\n..\r\n...x\r\n.y\r\n \r\nend\r\n"
    assert send_message(smtpd.port, ["u@localhost"], body=body)[0] == 250
    (msg, env), = fakeqq.messages()
    assert msg.split(b"\n", 2)[2] == b"Subject: d\n\n.\n..x\ny\n \nend\n"


def test_hop_count(smtpd, fakeqq):
    def hdrs(n, name="Received"):
        return b"".join(b"%s: from h%d\r\n" % (name.encode(), i) for i in range(n))
    assert send_message(smtpd.port, ["u@localhost"], body=hdrs(99) + b"\r\nok\r\n")[0] == 250
    assert send_message(smtpd.port, ["u@localhost"], body=hdrs(100) + b"\r\nloop\r\n") == \
        (554, ["too many hops, this message is looping (#5.4.6)"])
    mixed = hdrs(60, "delivered-to") + hdrs(40, "RECEIVED")
    assert send_message(smtpd.port, ["u@localhost"], body=mixed + b"\r\nloop\r\n")[0] == 554
    # lines in the body do not count, nor do other fields
    body = hdrs(50) + b"X-Received: no\r\n" * 80 + b"\r\n" + hdrs(100)
    assert send_message(smtpd.port, ["u@localhost"], body=body)[0] == 250
    assert len(fakeqq.messages()) == 2


def test_queue_failures(smtpd, fakeqq):
    fakeqq.set_exit(71)
    code, text = send_message(smtpd.port, ["u@localhost"])
    assert code == 451 and text == ["mail server temporarily rejected message (#4.3.0)"]
    fakeqq.set_exit(31)
    code, text = send_message(smtpd.port, ["u@localhost"])
    assert code == 554 and text == ["mail server permanently rejected message (#5.3.0)"]
    fakeqq.set_exit(53)
    assert send_message(smtpd.port, ["u@localhost"])[0] == 451


def test_received_line_is_sanitised(fakeqq):
    script = (b"HELO a b(c)<d>;e\tf\xff\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@localhost>\r\n"
              b"DATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    r = run([SMTPD], input=script, env={"QMAILQUEUE": fakeqq.prog, "RCPTCHECK": "0", "TCPREMOTEINFO": "id(x)\n",
                                       "TCPREMOTEHOST": "h\tst", "TCPREMOTEIP": "192.0.2.1",
                                       "TCPLOCALHOST": "me;x"})
    assert r.returncode == 0
    (msg, env), = fakeqq.messages()
    assert msg.split(b"\n")[:2] == [b"Received: from h?st (HELO a?b?c??d??e?f?) (id?x??@192.0.2.1)",
                                     b"  by me?x with SMTP; " + msg.split(b"; ")[1].split(b"\n")[0]]


def test_stdin_mode_without_tcp_env(fakeqq):
    """sendmail -bs runs qmail-smtpd on a pipe with no tcpserver variables."""
    script = (b"HELO me\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n"
              b"Subject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    r = run([SMTPD], input=script, env={"QMAILQUEUE": fakeqq.prog, "RCPTCHECK": "0"})
    assert r.returncode == 0
    codes = [int(l[:3]) for l in r.stdout.split(b"\r\n") if l]
    assert codes == [220, 250, 250, 250, 354, 250, 221]
    (msg, env), = fakeqq.messages()
    assert re.match(rb"Received: from unknown \(HELO me\) \(unknown\)\n  by unknown with SMTP; ", msg)


def test_timeout(servers, fakeqq, control):
    control["timeoutsmtpd"] = "1\n"
    s = servers(env={"QMAILQUEUE": fakeqq.prog})
    c = Client(s.port)
    c.reply()
    t = time.monotonic()
    assert c.reply() == (421, ["timeout (#4.4.2)"])
    assert time.monotonic() - t < 10
    assert c.closed()


# --- bounded memory -----------------------------------------------------------

def smtpd_child(server):
    return wait_for(lambda: server.children(), timeout=10, what="qmail-smtpd child")[0]


def test_long_command_line_bounded(smtpd):
    c = Client(smtpd.port)
    c.reply()
    pid = smtpd_child(smtpd)
    assert c.cmd("NOOP " + "x" * 3000) == (500, ["sorry, command line too long (#5.5.2)"])
    chunk = b"A" * (1 << 20)
    for _ in range(64):                      # 64 MiB without a newline
        c.send(chunk)
    c.send(b"\r\n")
    assert c.reply()[0] == 500
    assert c.cmd("NOOP")[0] == 250
    assert vmhwm_kb(pid) < 8192
    assert c.cmd("QUIT")[0] == 221


def test_many_recipients_bounded(smtpd, fakeqq):
    c = Client(smtpd.port, timeout=120)
    c.reply()
    pid = smtpd_child(smtpd)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    n = 200000
    counts = {}

    def reader():
        for _ in range(n):
            code = c.reply()[0]
            counts[code] = counts.get(code, 0) + 1
    t = threading.Thread(target=reader)
    t.start()
    batch = b"".join(b"RCPT TO:<user%d@localhost>\r\n" % i for i in range(1000))
    for _ in range(n // 1000):
        c.send(batch)
    t.join(timeout=300)
    assert not t.is_alive()
    assert counts == {250: 1000, 452: n - 1000}
    assert vmhwm_kb(pid) < 8192
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
    assert c.reply()[0] == 250
    (msg, env), = fakeqq.messages()
    assert len(env) == 1001


def test_long_header_line_bounded(servers, control):
    q = FakeQueue(discard=True)
    try:
        s = servers(env={"QMAILQUEUE": q.prog})
        c = Client(s.port, timeout=120)
        c.reply()
        pid = smtpd_child(s)
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<u@localhost>")
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: ")
        chunk = b"h" * (1 << 20)
        for _ in range(64):
            c.send(chunk)
        c.send(b"\r\n\r\nbody\r\n.\r\n")
        assert c.reply()[0] == 250
        assert vmhwm_kb(pid) < 8192
        (msg, env), = q.messages()
        assert env == [b"Fa@example.org", b"Tu@localhost"]
    finally:
        q.cleanup()


# --- QMTP -------------------------------------------------------------------

def ns(b):
    return b"%d:%s," % (len(b), b)


def qmtp_package(msg, sender, rcpts, crlf=False):
    return ns((b"\r" if crlf else b"\n") + msg) + ns(sender) + ns(b"".join(ns(r) for r in rcpts))


def parse_netstrings(data):
    out = []
    while data:
        n, rest = data.split(b":", 1)
        n = int(n)
        out.append(rest[:n])
        assert rest[n:n + 1] == b","
        data = rest[n + 1:]
    return out


def test_qmtp_round_trip_into_queue(queue):
    pkg = qmtp_package(b"Subject: qmtp\n\nbody\n", b"s@example.org", [b"u@localhost", b"v@evil.example"])
    pkg += qmtp_package(b"Subject: two\r\n\r\ncrlf\r\n", b"", [b"w@testhost.example"], crlf=True)
    r = run([bin_path("qmail-qmtpd")], input=pkg, env={"TCPREMOTEIP": "192.0.2.7", "TCPLOCALHOST": "mx.local"})
    assert r.returncode == 0
    answers = parse_netstrings(r.stdout)
    assert len(answers) == 3
    assert re.fullmatch(rb"Kok \d+ qp \d+", answers[0])
    assert answers[1] == b"Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"
    assert answers[2].startswith(b"Kok ")
    ids = wait_for(lambda: len(queue.todo()) == 2 and queue.todo(), what="two queued messages")
    msgs = sorted(queue.message(i) for i in ids)
    assert any(re.search(rb"^Received: from unknown \(192\.0\.2\.7\)\n  by mx\.local with QMTP; ", m, re.M)
               and m.endswith(b"Subject: qmtp\n\nbody\n") for m in msgs)
    assert any(m.endswith(b"Subject: two\n\ncrlf\n") for m in msgs)


@pytest.mark.parametrize("bad", [b"12x:", b"x12:", b"012:", b":", b" 5:", b"-5:",
                                 b"99999999999999999999999999:", b"5:\nabcd;"])
def test_qmtp_malformed_length(fakeqq, bad):
    r = run([bin_path("qmail-qmtpd")], input=bad + b"\nmessage,", env={"QMAILQUEUE": fakeqq.prog})
    assert r.returncode == 100
    assert r.stdout == b""
    assert fakeqq.messages() == []


def test_qmtp_malformed_inside_package(fakeqq):
    good = qmtp_package(b"Subject: x\n\nb\n", b"s@example.org", [b"u@localhost"])
    assert b"15:11:u@localhost,," in good
    for bad in (good.replace(b"11:u@localhost", b"1x:u@localhost"),      # rcpt length
                good.replace(b"15:11:", b"14:11:"),                      # nested past parent
                good.replace(b"15:11:", b"15:011:"),                     # leading zero
                good.replace(b"13:s@example.org", b"13s@example.org"),  # sender colon
                good[:-1] + b";"):                                       # final comma
        r = run([bin_path("qmail-qmtpd")], input=bad, env={"QMAILQUEUE": fakeqq.prog})
        assert r.returncode == 100, bad
        assert r.stdout == b""
    assert fakeqq.messages() == []


def test_qmtp_limits(fakeqq, control):
    control["databytes"] = "100\n"
    control["maxrcpt"] = "2\n"
    pkg = qmtp_package(b"x" * 200, b"s@example.org", [b"u@localhost"])
    pkg += qmtp_package(b"small\n", b"s@example.org",
                        [b"a@localhost", b"", b"b" * 1200 + b"@localhost", b"c@localhost", b"d@localhost"])
    pkg += qmtp_package(b"small\n", b"s" * 2000, [b"a@localhost"])
    r = run([bin_path("qmail-qmtpd")], input=pkg, env={"QMAILQUEUE": fakeqq.prog})
    assert r.returncode == 0
    a = parse_netstrings(r.stdout)
    assert a[0] == b"Dsorry, that message size exceeds my databytes limit (#5.3.4)"
    assert a[1].startswith(b"Kok") and a[4].startswith(b"Kok")
    assert a[2] == a[3] == b"Dsorry, I can't handle that recipient (#5.1.3)"
    assert a[5] == b"Zsorry, too many recipients (#4.5.3)"
    assert a[6] == b"Dunacceptable sender (#5.1.7)"
    (msg, env), = fakeqq.messages()
    assert env == [b"Fs@example.org", b"Ta@localhost", b"Tc@localhost"]


def test_qmtp_answers_of_a_huge_package_fit_in_bounded_memory(fakeqq):
    """Each recipient needs its answer kept until the package ends. Answers
    alternating between refused and accepted once took 16 bytes each, so a
    client could grow the server without bound; past RUNSMAX (10000) runs of
    answers every further recipient is now deferred, and 400000 recipients
    fit in 8 MB of address space."""
    n = 400000
    rcpts = [b"" if i % 2 else b"u@localhost" for i in range(n)]
    pkg = qmtp_package(b"Subject: many\n\nb\n", b"s@example.org", rcpts)
    r = run(["prlimit", "--as=8000000", bin_path("qmail-qmtpd")], input=pkg,
            env={"QMAILQUEUE": fakeqq.prog}, timeout=120)
    assert r.returncode == 0, r.stderr
    answers, pos, out = [], 0, r.stdout
    while pos < len(out):
        colon = out.index(b":", pos)
        end = colon + 1 + int(out[pos:colon])
        assert out[end:end + 1] == b","
        answers.append(out[colon + 1:end])
        pos = end + 1
    assert len(answers) == n
    bad = b"Dsorry, I can't handle that recipient (#5.1.3)"
    later = b"Zsorry, too many recipients (#4.5.3)"
    assert answers[0].startswith(b"Kok ") and answers[1] == bad
    assert sum(1 for a in answers if a.startswith(b"Kok ")) == 1000   # maxrcpt
    assert answers[2000] == later and answers[2001] == bad
    assert set(answers[20000:]) == {later}
    (msg, env), = fakeqq.messages()
    assert len(env) == 1001


# --- QMQP -------------------------------------------------------------------

def qmqp_package(msg, sender, rcpts):
    return ns(ns(msg) + ns(sender) + b"".join(ns(r) for r in rcpts))


def test_qmqpd_round_trip(queue):
    pkg = qmqp_package(b"Subject: qmqp\n\nhi\n", b"s@example.org", [b"far@evil.example", b"u@localhost"])
    r = run([bin_path("qmail-qmqpd")], input=pkg, env={"TCPREMOTEIP": "192.0.2.9"})
    assert r.returncode == 0
    (answer,) = parse_netstrings(r.stdout)
    assert re.fullmatch(rb"Kok \d+ qp \d+", answer)
    ids = wait_for(queue.todo, what="a queued message")
    env = queue.envelope(ids[0])
    assert b"Tfar@evil.example\0" in env          # QMQP relays anything
    assert re.match(rb"(?s).*Received: from unknown \(192\.0\.2\.9\)\n  by unknown with QMQP; ",
                    queue.message(ids[0]))


@pytest.mark.parametrize("bad", [
    b"1x:",                                    # outer length
    b"30:18:Subject: qmqp\n\nhi\n,0:,3:a@b,,",  # outer length too short for its contents
    b"40:18x:Subject: qmqp\n\nhi\n,",          # message length
    b"32:18:Subject: qmqp\n\nhi\n,1:s,3:a@b,;",  # final comma
    b"31:18:Subject: qmqp\n\nhi\n,01:s,3:a@b,,",  # leading zero
])
def test_qmqpd_malformed(fakeqq, bad):
    r = run([bin_path("qmail-qmqpd")], input=bad, env={"QMAILQUEUE": fakeqq.prog})
    assert r.returncode == 100
    assert r.stdout == b""
    assert fakeqq.messages() == []


def test_qmqpd_bad_address(fakeqq):
    pkg = qmqp_package(b"m\n", b"s@example.org", [b"a\0b@localhost"])
    r = run([bin_path("qmail-qmqpd")], input=pkg, env={"QMAILQUEUE": fakeqq.prog})
    assert parse_netstrings(r.stdout) == [b"Dsorry, I can't accept addresses like that (#5.1.3)"]
    assert fakeqq.messages() == []


def test_qmqpc_through_qmqpd(servers, fakeqq, control):
    control["qmqpservers"] = "127.0.0.3\n127.0.0.1\n"
    try:
        s = servers([bin_path("qmail-qmqpd")], env={"QMAILQUEUE": fakeqq.prog}, port=628)
    except AssertionError:
        pytest.skip("port 628 is taken")
    msg = b"Subject: via qmqp\n\n" + b"line\n" * 10000
    env = b"Fs@example.org\0Tfar@evil.example\0Tnear@localhost\0\0"
    rfd, wfd = os.pipe()
    os.write(wfd, env)
    os.close(wfd)
    p = subprocess.run([bin_path("qmail-qmqpc")], input=msg, stdout=rfd, timeout=60)
    os.close(rfd)
    assert p.returncode == 0
    (got, envl), = fakeqq.messages()
    assert envl == [b"Fs@example.org", b"Tfar@evil.example", b"Tnear@localhost"]
    assert got.endswith(msg)
    assert b"with QMQP;" in got.split(b"\n")[1]


def test_qmqpc_envelope_errors(control):
    control["qmqpservers"] = "127.0.0.3\n"
    for env, code in ((b"Tu@localhost\0\0", 91), (b"Fs@example.org\0Tu@localhost\0", 91),
                      (b"Fs@example.org\0T" + b"u" * 1000 + b"\0\0", 11)):
        rfd, wfd = os.pipe()
        os.write(wfd, env)
        os.close(wfd)
        p = subprocess.run([bin_path("qmail-qmqpc")], input=b"m\n", stdout=rfd, timeout=60)
        os.close(rfd)
        assert p.returncode == code, env[:20]


def test_qmqpc_no_server(control):
    control["qmqpservers"] = "127.0.0.3\n"
    rfd, wfd = os.pipe()
    os.write(wfd, b"Fs@example.org\0Tu@localhost\0\0")
    os.close(wfd)
    p = subprocess.run([bin_path("qmail-qmqpc")], input=b"m\n", stdout=rfd, timeout=60)
    os.close(rfd)
    assert p.returncode in (73, 72)
    control["qmqpservers"] = None
    p = subprocess.run([bin_path("qmail-qmqpc")], input=b"m\n", timeout=60)
    assert p.returncode == 55


# --- tcp-env ------------------------------------------------------------------

def tcp_env(args, env=None, ident=None):
    """Run tcp-env args... env with fd 0 a TCP connection from 127.0.0.1."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    cli = socket.create_connection(lst.getsockname())
    conn, _ = lst.accept()
    try:
        full = {"PATH": "/usr/bin:/bin"}
        full.update(env or {})
        r = subprocess.run([bin_path("tcp-env")] + args + ["env"], stdin=conn, capture_output=True,
                           env=full, timeout=60)
        lines = dict(l.split("=", 1) for l in r.stdout.decode().splitlines() if "=" in l)
        return r.returncode, lines, conn.getsockname(), cli.getsockname()
    finally:
        cli.close()
        conn.close()
        lst.close()


def test_tcp_env_sets_variables():
    code, env, local, remote = tcp_env(["-R"], env={"TCPREMOTEINFO": "stale"})
    assert code == 0
    assert env["PROTO"] == "TCP"
    assert env["TCPLOCALIP"] == "127.0.0.1" and env["TCPLOCALPORT"] == str(local[1])
    assert env["TCPREMOTEIP"] == "127.0.0.1" and env["TCPREMOTEPORT"] == str(remote[1])
    assert "TCPREMOTEINFO" not in env
    if "TCPREMOTEHOST" in env:
        assert env["TCPREMOTEHOST"] == env["TCPREMOTEHOST"].lower()


def test_tcp_env_trusts_proto_tcp():
    r = run([bin_path("tcp-env"), "env"], env={"PROTO": "TCP", "TCPREMOTEIP": "192.0.2.1"})
    assert r.returncode == 0
    assert b"TCPREMOTEIP=192.0.2.1\n" in r.stdout


def test_tcp_env_usage_and_not_a_socket():
    assert run([bin_path("tcp-env")]).returncode == 100
    assert run([bin_path("tcp-env"), "-x", "env"]).returncode == 100
    r = run([bin_path("tcp-env"), "-R", "env"], input=b"")
    assert r.returncode == 111
    assert b"tcp-env: fatal:" in r.stderr


def test_tcp_env_ident():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("127.0.0.1", 113))
    except OSError:
        pytest.skip("port 113 is taken")
    srv.listen(1)
    srv.settimeout(30)

    def answer():
        try:
            c, _ = srv.accept()
            q = c.recv(100).decode().strip()
            c.sendall(("%s : USERID : UNIX : remote(user)\r\n" % q).encode())
            c.close()
        except OSError:
            pass
    t = threading.Thread(target=answer)
    t.start()
    try:
        code, env, local, remote = tcp_env(["-t5"])
    finally:
        t.join(timeout=30)
        srv.close()
    assert code == 0
    assert env.get("TCPREMOTEINFO") == "remote(user)"
