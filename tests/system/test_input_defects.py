"""Issue 10, defects 6 and 7 (unsafe defaults, hostile input), and the
MAIL/RCPT colon of issue 11: each test sends the input that used to get
through to the installed programs and checks what a client, a log or a
mailbox shows now. Unit tests cover the library side (tests/unit/cdb.c,
rfc822.c, rcpthosts.c, envaddr.c)."""
import os
import subprocess
import tempfile

import pytest

from conftest import HOME, bin_path, run
from send_util import ME, send_fixtures, write_file

users, sched = send_fixtures(["hia"], prefix="hid-")


def smtp(lines, fakeqq, env=None, raw=b""):
    """Run qmail-smtpd on a pipe; (reply lines, stderr)."""
    script = b"".join((l.encode("latin-1") if isinstance(l, str) else l) + b"\r\n" for l in lines) + raw
    full = {"QMAILQUEUE": fakeqq.prog, "TCPREMOTEIP": "192.0.2.77"}
    full.update(env or {})
    r = run([bin_path("qmail-smtpd")], input=script, env=full)
    return [l.decode("latin-1") for l in r.stdout.split(b"\r\n") if l], r.stderr.decode("latin-1")


def ns(b):
    return b"%d:%s," % (len(b), b)


def netstrings(data):
    out = []
    while data:
        n, rest = data.split(b":", 1)
        out.append(rest[:int(n)])
        data = rest[int(n) + 1:]
    return out


def qmtp(sender, rcpts, fakeqq, env=None):
    pkg = ns(b"\nSubject: q\n\nhi\n") + ns(sender) + ns(b"".join(ns(r) for r in rcpts))
    full = {"QMAILQUEUE": fakeqq.prog, "TCPREMOTEIP": "192.0.2.78"}
    full.update(env or {})
    r = run([bin_path("qmail-qmtpd")], input=pkg, env=full)
    return netstrings(r.stdout), r.stderr.decode("latin-1")


# --- 6a: no rcpthosts means no relaying -----------------------------------

RCPTS = ["MAIL FROM:<a@example.org>", "RCPT TO:<far@evil.example>", "RCPT TO:<u@localhost>",
         "RCPT TO:<postmaster>", "DATA", "Subject: x", "", "hi", ".", "QUIT"]


def test_missing_rcpthosts_refuses_relay_and_logs_it(fakeqq, control):
    control["rcpthosts"] = None
    out, err = smtp(RCPTS, fakeqq)
    assert out[2] == out[3] == "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"
    assert out[4].startswith("250")                  # a recipient without @ still passes
    assert out[6].startswith("250 ok")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tpostmaster"]
    lines = [l for l in err.splitlines() if "rcpthosts is missing" in l]
    assert lines == ["qmail-smtpd: relaying refused for 192.0.2.77: control/rcpthosts is missing"] * 2
    # and the reply layer logs each refusal it sent, with the client's address
    refused = [l for l in err.splitlines() if l.startswith("qmail-smtpd: refused from 192.0.2.77")]
    assert len(refused) == 2 and all(l.endswith("rcpthosts (#5.7.1)") for l in refused), err


def test_missing_rcpthosts_relayclient_still_relays(fakeqq, control):
    control["rcpthosts"] = None
    out, err = smtp(RCPTS, fakeqq, env={"RELAYCLIENT": ""})
    assert out[2].startswith("250") and out[3].startswith("250")
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tfar@evil.example", b"Tu@localhost", b"Tpostmaster"]
    assert "rcpthosts" not in err


def test_missing_control_directory_refuses_relay(fakeqq):
    """No control/ at all: qmail-smtpd still talks (me from the host
    name) and still refuses to relay."""
    cdir = os.path.join(HOME, "control")
    hidden = cdir + ".hid-hidden"
    os.rename(cdir, hidden)
    try:
        out, err = smtp(RCPTS, fakeqq)
    finally:
        os.rename(hidden, cdir)
    assert out[0].startswith("220 ")
    assert out[2].startswith("553 ") and out[3].startswith("553 ")
    assert "192.0.2.77: control/rcpthosts is missing" in err


def test_missing_rcpthosts_qmtpd_refuses_relay(fakeqq, control):
    control["rcpthosts"] = None
    answers, err = qmtp(b"s@example.org", [b"far@evil.example", b"box"], fakeqq)
    assert answers[0] == b"Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"
    assert answers[1].startswith(b"Kok ")
    assert "qmail-qmtpd: relaying refused for 192.0.2.78: control/rcpthosts is missing" in err
    answers, err = qmtp(b"s@example.org", [b"far@evil.example"], fakeqq, env={"RELAYCLIENT": ""})
    assert answers[0].startswith(b"Kok ")
    assert sorted(e[1:] for _, e in fakeqq.messages()) == [[b"Tbox"], [b"Tfar@evil.example"]]


# --- issue 11: MAIL FROM x without the colon --------------------------------

def test_mail_and_rcpt_need_the_colon(fakeqq):
    """Without brackets the address must follow FROM: or TO:; an address
    in brackets is taken as qmail took it (mail <addr>, typed by hand)."""
    out, _ = smtp(["MAIL FROM a@example.org", "MAIL a@example.org", "MAIL FROM:a@example.org",
                   "RCPT TO u@localhost", "RCPT u@localhost", "RCPT TO:u@localhost",
                   "mail <b@example.org>", "rcpt <v@localhost>", "MAIL FROM <c@example.org>",
                   "RCPT to : w@localhost", "DATA", "Subject: x", "", "hi", ".", "QUIT"], fakeqq)
    bad = "501 syntax error, expected FROM:<address> or TO:<address> (#5.5.4)"
    assert out[1:3] == [bad] * 2
    assert out[3] == "250 ok"
    assert out[4:6] == [bad] * 2
    assert out[6:11] == ["250 ok"] * 5
    assert out[12].startswith("250 ok")
    (msg, env), = fakeqq.messages()
    assert env == [b"Fc@example.org", b"Tw@localhost"]    # each MAIL starts afresh


# --- 7a: CR, LF and NUL in an envelope address -------------------------------

CRBAD = "501 sorry, an address may not contain CR, LF or NUL (#5.5.4)"


@pytest.mark.parametrize("cmd", [
    b"MAIL FROM:<a\r@example.org>",
    b"MAIL FROM:<\"a\rDelivered-To: x\"@example.org>",
    b"MAIL FROM:<a@example.org> SIZE=10\r",
    b"MAIL FROM:<a@exa\x00mple.org>",
])
def test_cr_or_nul_in_mail_refused(fakeqq, cmd):
    out, _ = smtp([cmd, "RCPT TO:<u@localhost>", "QUIT"], fakeqq)
    assert out[1] == CRBAD
    assert out[2].startswith("503")                  # no transaction was started


@pytest.mark.parametrize("rcpt", [
    b"RCPT TO:<u\r@localhost>",
    b"RCPT TO:<u@localhost\r>",
    b"RCPT TO:<\"u\\\rX-Evil: 1\"@localhost>",
    b"RCPT TO:<u@localhost> \rX",
])
def test_cr_in_rcpt_refused(fakeqq, rcpt):
    out, _ = smtp(["MAIL FROM:<a@example.org>", rcpt, "RCPT TO:<u@localhost>", "DATA", "Subject: x", "",
                   "hi", ".", "QUIT"], fakeqq)
    assert out[2] == CRBAD
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tu@localhost"]


def test_cr_in_qmtp_addresses_refused(fakeqq):
    answers, _ = qmtp(b"s@example.org", [b"u\r@localhost", b"v@localhost\n", b"w@localhost"], fakeqq)
    assert answers[0] == answers[1] == b"Dsorry, an address may not contain CR, LF or NUL (#5.1.3)"
    assert answers[2].startswith(b"Kok ")
    (msg, env), = fakeqq.messages()
    assert env == [b"Fs@example.org", b"Tw@localhost"]
    answers, _ = qmtp(b"s\r@example.org", [b"w@localhost"], fakeqq)
    assert answers == [b"Dunacceptable sender (#5.1.7)"]
    assert len(fakeqq.messages()) == 1


def test_cr_in_qmqp_addresses_refused(fakeqq):
    for sender, rcpt in ((b"s@example.org", b"u\r@localhost"), (b"s\n@example.org", b"u@localhost")):
        pkg = ns(ns(b"m\n") + ns(sender) + ns(rcpt))
        r = run([bin_path("qmail-qmqpd")], input=pkg, env={"QMAILQUEUE": fakeqq.prog})
        assert netstrings(r.stdout) == [b"Dsorry, I can't accept addresses like that (#5.1.3)"]
    assert fakeqq.messages() == []


def local_delivery(pw, domain, sender, dd):
    fd, path = tempfile.mkstemp(prefix="hidmsg")
    os.write(fd, b"Subject: cr\n\nbody\n")
    os.close(fd)
    os.chmod(path, 0o644)
    try:
        with open(path, "rb") as fin:
            return subprocess.run(["runuser", "-u", "hia", "--", bin_path("qmail-local"), "hia", pw.pw_dir,
                                   "hia", "", "", domain, sender, dd], stdin=fin, capture_output=True,
                                  timeout=60)
    finally:
        os.unlink(path)


@pytest.mark.parametrize("brk", [b"\r", b"\n", b"\r\n"])
def test_qmail_local_never_writes_a_line_break_from_an_address(users, brk):
    """Whatever the caller passes, Delivered-To, Return-Path and the mbox
    From_ line stay one line each: CR and LF become '_' ('-' in From_)."""
    pw = users["hia"]
    domain = ME.encode() + brk + b"X-Injected: domain"
    sender = b"s" + brk + b"X-Injected: sender@example.org"
    for dd in ("./Mailbox", "./Maildir/"):
        r = local_delivery(pw, domain, sender, dd)
        assert r.returncode == 0, r.stderr
    box = open(os.path.join(pw.pw_dir, "Mailbox"), "rb").read()
    new = os.path.join(pw.pw_dir, "Maildir", "new")
    (name,) = os.listdir(new)
    md = open(os.path.join(new, name), "rb").read()
    u = b"_" * len(brk)
    for text in (box, md):
        head = text.split(b"\n\n", 1)[0]
        assert b"\r" not in head
        assert b"\nX-Injected" not in head
        assert b"Delivered-To: hia@" + ME.encode() + u + b"X-Injected: domain\n" in head
        assert b'Return-Path: <"s' + u + b'X-Injected: sender"@example.org>\n' in head
    assert box.startswith(b"From s" + b"-" * len(brk) + b"X-Injected:-sender@example.org ")


def test_qmail_local_forward_keeps_one_delivered_to_line(users, fakeqq):
    """A forward carries the same escaped Delivered-To line."""
    pw = users["hia"]
    write_file(os.path.join(pw.pw_dir, ".qmail"), "&fwd@example.net\n", "hia")
    fd, path = tempfile.mkstemp(prefix="hidmsg")
    os.write(fd, b"Subject: cr\n\nbody\n")
    os.close(fd)
    os.chmod(path, 0o644)
    try:
        with open(path, "rb") as fin:
            r = subprocess.run(["runuser", "-u", "hia", "--", "env", "QMAILQUEUE=" + fakeqq.prog,
                                bin_path("qmail-local"), "hia", pw.pw_dir, "hia", "", "",
                                ME + "\rX-Injected: 1", "s@example.org", "./Maildir/"],
                               stdin=fin, capture_output=True, timeout=60)
    finally:
        os.unlink(path)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert msg.startswith(b"Delivered-To: hia@" + ME.encode() + b"_X-Injected: 1\n")
    assert b"\r" not in msg


# --- 6b, 7c: qmail-inject -----------------------------------------------------

HOSTFILES = ("defaulthost", "defaultdomain", "plusdomain", "idhost")


def inject(args, msg, fakeqq, env=None):
    full = {"QMAILQUEUE": fakeqq.prog, "USER": "alice"}
    full.update(env or {})
    return run([bin_path("qmail-inject")] + list(args), input=msg, env=full)


@pytest.mark.parametrize("me", ["", "\n", None])
def test_inject_without_me_refuses_unqualified_addresses(fakeqq, control, me):
    """control/me empty (or missing): qualifying with the literal
    'defaulthost' lost the mail; now it is a temporary failure."""
    control["me"] = me
    for n in HOSTFILES:
        control[n] = None
    full = b"From: a@example.org\nTo: x@example.net\nSubject: s\n\nb\n"
    for args, msg, fn in ((["bob"], full, b"defaulthost"),
                          (["-f", "a@example.org", "bob@box"], full, b"defaultdomain"),
                          (["-f", "a@example.org", "bob@box+"], full, b"plusdomain"),
                          (["-f", "a@example.org"], b"From: a@example.org\nTo: joe\n\nb\n", b"defaulthost"),
                          (["x@example.net"], full, b"defaulthost"),                 # the default sender
                          (["-f", "a@example.org", "x@example.net"], b"To: x@example.net\n\nb\n",
                           b"defaulthost")):                                         # the default From
        r = inject(args, msg, fakeqq)
        assert r.returncode == 111, (args, r.stderr)
        assert r.stderr.startswith(b"qmail-inject: fatal: unable to qualify "), r.stderr
        assert b"control/me is empty or missing and control/" + fn + b" is not set" in r.stderr
    assert fakeqq.messages() == []
    # fully qualified mail still goes
    r = inject(["-f", "a@example.org", "x@example.net"], full, fakeqq)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert env == [b"Fa@example.org", b"Tx@example.net"]
    # and so does mail qualified from the environment
    r = inject(["bob"], full, fakeqq, env={"QMAILDEFAULTHOST": "env.example"})
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args", [["bob@ex(ample.com"], ["-f", "bob@ex(ample.com", "x@example.net"],
                                  ["-fbob@ex(ample.com", "x@example.net"], ['a"b@example.net'],
                                  ["a@example.net, b@example.net"], ["list: a@example.net;"],
                                  ["(only a comment)"], ["a\\b@example.net"]])
def test_inject_refuses_unparsable_argument_addresses(fakeqq, control, args):
    r = inject(args, b"Subject: s\n\nb\n", fakeqq)
    assert r.returncode == 100, r.stderr
    assert r.stderr.startswith(b"qmail-inject: fatal: unable to parse "), r.stderr
    assert fakeqq.messages() == []


def test_inject_argument_addresses_are_unquoted(fakeqq, control):
    r = inject(["-f", "Me <a@example.org>", '"b c"@example.net', "<d@example.net>", "e@example.net (E)"],
               b"Subject: s\n\nb\n", fakeqq)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert env == [b"Fa@example.org", b"Tb c@example.net", b"Td@example.net", b"Te@example.net"]
    for null in ("", "<>"):
        r = run([bin_path("qmail-inject"), "-n", "-f", null, "x@example.net"], input=b"\nb\n")
        assert r.returncode == 0 and r.stdout.startswith(b"Return-Path: <>\n"), r.stderr


def test_inject_keeps_a_comment_only_field(control):
    r = run([bin_path("qmail-inject"), "-n", "x@example.net"],
            input=b"To: x@example.net\nCc: (only a comment)\nReply-To:   (nobody)\nSubject: s\n\nb\n")
    assert r.returncode == 0, r.stderr
    head = r.stdout.split(b"\n\n", 1)[0].split(b"\n")
    assert b"Cc: (only a comment)" in head
    assert b"Reply-To:   (nobody)" in head
    assert b"To: x@example.net" in head


def test_inject_quoted_domain_is_rendered_quoted_and_never_misrouted(fakeqq, control):
    """7b end to end: a domain from a quoted string is written back quoted
    (one address, not two); one holding an '@' is refused, since the
    envelope would route it to the text after that '@'."""
    r = inject([], b'To: x@"a, b.c"\nSubject: s\n\nb\n', fakeqq)
    assert r.returncode == 0, r.stderr
    (msg, env), = fakeqq.messages()
    assert env[1:] == [b"Tx@a, b.c"]
    assert b'\nTo: x@"a, b.c"\n' in msg
    for args, text in (([], b'To: x@"a, evil@attacker.example"\n\nb\n'),
                       (['x@"a, evil@attacker.example"'], b"\nb\n"),
                       (["-f", 'x@"a@b.example"', "y@example.net"], b"\nb\n")):
        r = inject(args, text, fakeqq)
        assert r.returncode == 100, r.stderr
        assert b"'@' in the domain" in r.stderr
    assert len(fakeqq.messages()) == 1
    # under -a a recipient field is only carried along, and stays one address
    r = run([bin_path("qmail-inject"), "-n", "-a", "y@example.net"],
            input=b'To: x@"a, evil@attacker.example"\n\nb\n')
    assert r.returncode == 0 and b'\nTo: x@"a, evil@attacker.example"\n' in r.stdout
