"""Known qmail defects (the "Known defects" table of doc/conformance.md)
that had no test of their own elsewhere:
each test sends the triggering input (or a scaled equivalent) through the
installed programs and checks the outcome. doc/conformance.md maps every
row to its tests, here or in the other files."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, HOME, bin_path, run
from remote_util import SmtpPeer, wire_data
from send_util import (ME, fake_remote, messages, queue as qq, queue_empty, send_fixtures, user_maildir as mdir,
                       wait_mail, write_file)


users, sched = send_fixtures(["hza", "hzb"], prefix="hzd-",
                             clear=("doublebounceto", "virtualdomains", "queuelifetime", "percenthack", "bouncehost",
                                    "bouncefrom", "smtproutes", "concurrencylocal", "concurrencyremote"))


def smtp_script(*lines):
    return b"".join(l.encode("latin-1") + b"\r\n" for l in lines)


def smtpd(script, env=None):
    r = run([bin_path("qmail-smtpd")], input=script, env=env)
    return [l.decode("latin-1") for l in r.stdout.split(b"\r\n") if l]


def test_other_length_overflows_huge_quoted_addresses(users):
    """DEFECTS 'other length overflows' (alloc, quote, catb/copyb,
    qmail-local): a 100 kB sender that needs quoting everywhere is
    delivered with an exact Return-Path, and qmail-inject refuses an
    over-long quoted address cleanly."""
    pw = users["hza"]
    write_file(os.path.join(pw.pw_dir, ".qmail"), "./Mailbox\n|env -0 > envdump\n", "hza")
    local = 'a b".' * 20000
    sender = local + "@example.org"
    fd, path = tempfile.mkstemp(prefix="hzdmsg")
    os.write(fd, b"Subject: big sender\n\nx\n")
    os.close(fd)
    os.chmod(path, 0o644)
    try:
        with open(path, "rb") as fin:
            r = subprocess.run(["runuser", "-u", "hza", "--", bin_path("qmail-local"), "hza", pw.pw_dir, "hza",
                                "", "", ME, sender, "./Mailbox"], stdin=fin, capture_output=True, timeout=60)
    finally:
        os.unlink(path)
    assert r.returncode == 0, r.stderr[:300]
    box = open(os.path.join(pw.pw_dir, "Mailbox"), "rb").read()
    quoted = '"' + local.replace('"', '\\"') + '"@example.org'
    assert box.split(b"\n")[1] == b"Return-Path: <" + quoted.encode() + b">"
    env = dict(x.split(b"=", 1) for x in open(os.path.join(pw.pw_dir, "envdump"), "rb").read().split(b"\0")
               if b"=" in x)
    assert env[b"SENDER"] == sender.encode()
    assert env[b"RPLINE"] == b"Return-Path: <" + quoted.encode() + b">\n"
    r = run([bin_path("qmail-inject"), "-n", '"' + "x y" * 400 + '"@example.org'], input=b"Subject: s\n\nb\n")
    assert r.returncode == 100 and r.stderr.startswith(b"qmail-inject: ")


def test_percenthack_only_for_listed_domains(sched, queue, control):
    """DEFECTS 'percenthack rewriting': by default user%host@local stays
    local (no relay through the percent hack); only a domain listed in
    control/percenthack has user%host@domain rewritten to user@host."""
    s = sched(env={"QMAILREMOTE": fake_remote("hzd-fake-remote")})
    r = run([bin_path("qmail-inject"), "-f", "hza@" + ME, "victim%far.example@" + ME],
            input=b"Subject: pct\n\nx\n")
    assert r.returncode == 0
    s.wait_log(r"^starting delivery \d+: msg \d+ to local victim_far.example@testhost.example$")   # % is logged as _
    s.wait_log(r"^delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/$")
    assert "to remote" not in s.text(s.mark)
    wait_mail("hza")          # the bounce
    queue_empty(queue)
    s.stop()
    control["percenthack"] = ME + "\n"
    s = sched(env={"QMAILREMOTE": fake_remote("hzd-fake-remote")})
    r = run([bin_path("qmail-inject"), "-f", "hza@" + ME, "box%far.example@" + ME], input=b"Subject: pct\n\nx\n")
    assert r.returncode == 0
    s.wait_log(r"^starting delivery \d+: msg \d+ to remote box@far.example$")
    s.wait_log(r"^delivery \d+: success: far.example_accepted_box@far.example_from_hza@testhost.example/")
    queue_empty(queue)


def test_bounce_amplification_one_bounce_per_message(sched, queue):
    """DEFECTS 'backscatter and bounce amplification': a message to 50
    nonexistent users gives one bounce naming all 50, not 50 bounces. (The
    bounce still carries the whole original: no size cap, as in qmail.)"""
    s = sched()
    ghosts = ["ghost%02d@%s" % (i, ME) for i in range(50)]
    body = b"Subject: flood\n\n" + b"y" * 100000 + b"\n"
    assert qq(body, "hza@" + ME, ghosts) == 0
    s.wait_log(r"^bounce msg \d+ qp \d+$")
    queue_empty(queue)
    got = messages(mdir("hza"))
    assert len(got) == 1
    assert len(re.findall(rb"^<ghost\d\d@testhost\.example>:$", got[0], re.M)) == 50
    assert got[0].endswith(b"y" * 100000 + b"\n")
    assert len(re.findall(r"^bounce msg ", s.text(s.mark), re.M)) == 1


def test_rcpt_verification_is_the_delivery_lookup(fakeqq, users):
    """DEFECTS CVE-2020-3811/3812 (qmail-verify): the RCPT check decides
    with delivery's own lookup (users/cdb here, whose keys ignore case, and
    the .qmail search), so no case or extension form gets a different
    answer than delivery gives, and the reply names no rule or account.
    test_rcptcheck.py runs a whole table through both paths."""
    rcpts = ["hza@" + ME, "HZA@" + ME, "hza-ext@" + ME, "HZA-Ext@" + ME, "nosuchuser@" + ME, "NoSuchUser-x@" + ME]
    out = smtpd(smtp_script("HELO x", "MAIL FROM:<a@example.org>", *["RCPT TO:<%s>" % r for r in rcpts]),
                env={"QMAILQUEUE": fakeqq.prog, "RCPTCHECK": "1"})
    no = "550 sorry, no mailbox here by that name (#5.1.1)"
    assert out[3:3 + len(rcpts)] == ["250 ok", "250 ok", no, no, no, no], out
    write_file(os.path.join(users["hza"].pw_dir, ".qmail-ext"), "./Maildir/\n", "hza")
    out = smtpd(smtp_script("HELO x", "MAIL FROM:<a@example.org>", *["RCPT TO:<%s>" % r for r in rcpts]),
                env={"QMAILQUEUE": fakeqq.prog, "RCPTCHECK": "1"})
    assert out[3:3 + len(rcpts)] == ["250 ok", "250 ok", "250 ok", "250 ok", no, no], out


def test_shellshock_sender_through_smtp_to_program(sched, queue, users):
    """DEFECTS Shellshock: MAIL FROM:<() { :;}; cmd> through qmail-smtpd,
    qmail-queue, qmail-send and qmail-local to |program lines run by bash
    and sh: the command never runs; SENDER arrives verbatim."""
    mark = os.path.join(BUILD, "hzd-shellshock-mark")
    if os.path.exists(mark):
        os.unlink(mark)
    home = users["hza"].pw_dir
    write_file(os.path.join(home, ".qmail"), "|env -0 > envdump\n|bash -c true\n|sh -c true\n./Maildir/\n", "hza")
    s = sched()
    evil = "() { :;}; /usr/bin/touch " + mark
    out = smtpd(smtp_script("HELO x", "MAIL FROM:<%s>" % evil, "RCPT TO:<hza@%s>" % ME, "DATA",
                            "Subject: ss", "", "hi", ".", "QUIT"))
    assert out[2:6] == ["250 ok", "250 ok", "354 go ahead", out[5]] and out[5].startswith("250 ok "), out
    s.wait_log(r"^delivery \d+: success: did_1\+0\+3/$")
    assert not os.path.exists(mark)
    env = dict(x.split(b"=", 1) for x in open(os.path.join(home, "envdump"), "rb").read().split(b"\0") if b"=" in x)
    assert env[b"SENDER"] == evil.encode()
    queue_empty(queue)


def test_bare_cr_forwarded_off_host_is_not_smuggled(sched, queue, users, control):
    """DEFECTS 'outbound SMTP smuggling through a bare CR', forwarded path:
    a queued message with \\r.\\r\\n and SMTP commands in its body, forwarded
    by a .qmail to a remote address, reaches the next hop as one message."""
    peer = SmtpPeer(os.path.join(BUILD, "hzd-smuggle-peer"), {})
    try:
        control["smtproutes"] = "far.example:127.0.0.1:%d\n" % peer.port
        with open(os.path.join(HOME, "queue", "lock", "tcpto"), "r+b") as f:
            f.write(b"\0" * 1024)
        write_file(os.path.join(users["hza"].pw_dir, ".qmail"), "&dest@far.example\n", "hza")
        s = sched()
        evil = (b"Subject: fwd\n\nhello\r.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@far.example>\r\n"
                b"DATA\r\nSubject: forged\r\n\r\nhi\r\n\r.\nQUIT\r\n.\r\rend\n")
        assert qq(evil, "hzb@" + ME, ["hza@" + ME]) == 0
        s.wait_log(r"^delivery \d+: success: 127.0.0.1_accepted_message")
        queue_empty(queue)
        msgs = peer.messages()
        assert len(msgs) == 1
        assert msgs[0]["rcpt_tos"] == ["dest@far.example"]
        raw = peer.raw()[0]
        data = wire_data(raw)
        lines = data.split(b"\r\n")
        assert lines[-2:] == [b".", b""]
        assert b"." not in lines[:-2]
        assert b"\r" not in data.replace(b"\r\n", b"")
        assert raw.index(b"MAIL FROM:<evil@x.example>") > raw.index(b"DATA\r\n")
        assert b"victim@far.example" not in b"".join(m["rcpt_tos"][0].encode() for m in msgs)
    finally:
        peer.stop()


def test_control_files_with_crlf(fakeqq, control):
    """DEFECTS 'control files with CRLF line ends', for qmail-smtpd's
    readers (qmail-send's locals is in test_send): CR and trailing blanks
    never become part of a name."""
    control["me"] = ME + "\r\n"
    control["smtpgreeting"] = None
    control["rcpthosts"] = ME + " \r\n.sub.example\t\r\n# comment\r\n"
    control["badmailfrom"] = "bad@example.org\r\n"
    control["databytes"] = "1000\r\n"
    out = smtpd(smtp_script("EHLO x", "MAIL FROM:<bad@example.org>", "RCPT TO:<u@%s>" % ME, "RSET",
                            "MAIL FROM:<a@example.org>",
                            "RCPT TO:<u@%s>" % ME, "RCPT TO:<u@x.sub.example>", "RCPT TO:<u@far.example>", "QUIT"),
                env={"QMAILQUEUE": fakeqq.prog, "RCPTCHECK": "0"})     # u is made up
    assert out[0] == "220 %s ESMTP" % ME
    assert out[1] == "250-" + ME
    assert "250 SIZE 1000" in out or "250-SIZE 1000" in out, out
    # the EHLO reply ends at its first "250 " line; the answers follow it
    i = next(k for k, l in enumerate(out) if k > 0 and l.startswith("250 "))
    codes = [l[:3] for l in out[i + 1:]]
    # badmailfrom answers at RCPT time in qmail; MAIL itself is accepted
    assert codes == ["250", "553", "250", "250", "250", "250", "553", "221"], out
    # after EHLO each answer carries its RFC 2034 code in front
    assert out[i + 2] == "553 5.7.1 sorry, your envelope sender is in my badmailfrom list", out


def test_empty_me_bounce_has_a_host(sched, queue, control):
    """DEFECTS 'empty control/me': the bounce's From and greeting line name
    the host, never an empty host."""
    control["me"] = "\n"
    s = sched()
    host = os.uname().nodename
    s.wait_log(r"^warning: control/me is missing or empty")
    assert qq(b"Subject: m\n\nx\n", "hza@" + ME, ["ghost@" + ME]) == 0
    b = wait_mail("hza")[0].decode()
    head, body = b.split("\n\n", 1)
    assert "\nFrom: MAILER-DAEMON@%s\n" % host in head + "\n"
    assert "MAILER-DAEMON@\n" not in head + "\n"
    assert body.startswith("Hi. This is the qmail-send program at %s.\n" % host)
    queue_empty(queue)


DNS_RESPONDER = r'''
import socket, struct, sys
evil = sys.argv[1].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    i = 12
    while i < len(q) and q[i]:
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    if qtype == 15:
        name = b"".join(bytes([len(l)]) + l for l in (evil, b"test")) + b"\0"
        rdata = struct.pack(">H", 10) + name
        ans = struct.pack(">HHHIH", 0xc00c, 15, 1, 60, len(rdata)) + rdata
        s.sendto(q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + question + ans, peer)
    else:
        s.sendto(q[:2] + struct.pack(">HHHHH", 0x8183, 1, 0, 0, 0) + question, peer)
'''


def test_mx_name_with_shell_metacharacters_is_never_run(control):
    """DEFECTS 'shell injection through an MX hostname': an MX answer whose
    name holds shell syntax is data, never a command: qmail-remote gives a
    clean report and nothing runs. The DNS server is a small responder in
    a private network namespace."""
    ns = "hzd-mx-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True)
    if r.returncode != 0:
        pytest.skip("network namespaces are not permitted here: " + r.stderr.decode().strip())
    etc = "/etc/netns/" + ns
    mark = "/tmp/hzmx%d" % (os.getpid() % 10000)
    proc = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        os.makedirs(etc, exist_ok=True)
        with open(etc + "/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\n")
        control["smtproutes"] = None
        evil = ";touch${IFS}%s;$(touch${IFS}%s)" % (mark, mark)
        assert len(evil) < 64
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", DNS_RESPONDER, evil],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout.readline() == b"ready\n"
        p = run(["ip", "netns", "exec", ns, bin_path("qmail-remote"), "evil.test", "a@example.org", "u@evil.test"],
                input=b"Subject: x\n\nx\n", timeout=60)
        assert p.returncode == 0
        assert p.stdout.endswith(b"\0") and p.stdout.count(b"\0") == 1, p.stdout
        # the MX answer arrived (no NXDOMAIN report) and its name was refused
        assert p.stdout == b"DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0", p.stdout
        time.sleep(0.2)
        assert not os.path.exists(mark)
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)
        if os.path.exists(mark):
            os.unlink(mark)
