"""qmail-inject and the sendmail wrapper: header rewriting (qmail-header(5)),
recipient selection, the envelope handed to qmail-queue, and clean 100/111
failures that queue nothing (qmail-inject(8), sendmail(8))."""
import os
import re
import shutil
import stat
import tempfile

import pytest

from conftest import HOME, bin_path, run

INJECT = bin_path("qmail-inject")
SENDMAIL = bin_path("sendmail")
ME = "testhost.example"
DATE = re.compile(rb"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
                  rb"\d\d:\d\d:\d\d \+0000$", re.M)
MSGID = re.compile(rb"^Message-ID: <\d{14}\.\d+\.qmail@([^>]+)>$", re.M)
RECEIVED = re.compile(rb"^Received: \(qmail \d+ invoked by uid \d+\); [^\n]+\n")
HOSTFILES = ("defaulthost", "defaultdomain", "plusdomain", "idhost")


@pytest.fixture
def ctl(control):
    """control/me only: every host-name file falls back to it."""
    control["me"] = ME + "\n"
    for name in HOSTFILES:
        control[name] = None
    return control


class FakeQueue:
    """A QMAILQUEUE program that saves fd 0 and fd 1 and exits as told."""

    def __init__(self, tmp):
        self.dir = tmp
        self.prog = os.path.join(tmp, "fake-qq")
        with open(self.prog, "w") as f:
            f.write('#!/bin/sh\ncat > "%s/mess"\ncat <&1 > "%s/env"\n'
                    'exit $(cat "%s/code" 2>/dev/null || echo 0)\n' % (tmp, tmp, tmp))
        os.chmod(self.prog, 0o755)
        self.exit(0)

    def exit(self, code):
        with open(os.path.join(self.dir, "code"), "w") as f:
            f.write("%d\n" % code)

    def env(self, extra=None):
        e = {"QMAILQUEUE": self.prog}
        e.update(extra or {})
        return e

    def ran(self):
        return os.path.exists(os.path.join(self.dir, "env"))

    def message(self):
        with open(os.path.join(self.dir, "mess"), "rb") as f:
            return f.read()

    def envelope(self):
        with open(os.path.join(self.dir, "env"), "rb") as f:
            data = f.read()
        assert data.endswith(b"\0\0") or data == b"", data
        return parse_envelope(data)

    def reset(self):
        for n in ("mess", "env"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                os.unlink(p)


def parse_envelope(data):
    """(sender, [recipients]) from qmail-queue's F/T records (the todo file
    may also hold u and p records before them)."""
    sender, rcpts = None, []
    for rec in data.split(b"\0"):
        if rec.startswith(b"F") and sender is None:
            sender = rec[1:].decode()
        elif rec.startswith(b"T"):
            rcpts.append(rec[1:].decode())
    return sender, rcpts


@pytest.fixture
def fq():
    tmp = tempfile.mkdtemp(prefix="fakeqq.")
    os.chmod(tmp, 0o755)
    yield FakeQueue(tmp)
    shutil.rmtree(tmp)


def inject(args, msg, env=None, prog=INJECT):
    if isinstance(msg, str):
        msg = msg.encode()
    return run([prog] + list(args), input=msg, env=env)


def header(out):
    return out.split(b"\n\n", 1)[0]


def body(out):
    return out.split(b"\n\n", 1)[1]


def field(out, name):
    """Unfolded values of every field called name in the header of out."""
    h = header(out).decode("utf-8", "replace")
    vals = []
    for m in re.finditer(r"^%s:[ \t]*(.*(?:\n[ \t].*)*)" % re.escape(name), h, re.M | re.I):
        vals.append(re.sub(r"\n[ \t]+", " ", m.group(1)))
    return vals


def only_queued(queue):
    ids = queue.todo()
    assert len(ids) == 1, ids
    return ids[0], queue.message(ids[0]), parse_envelope(queue.envelope(ids[0]))


# --- through the real qmail-queue ----------------------------------------

def test_inject_args_into_queue(queue, ctl):
    r = inject(["joe@example.com"], "Subject: hi\n\nbody line\n", env={"USER": "alice"})
    assert r.returncode == 0, r.stderr
    _id, mess, (sender, rcpts) = only_queued(queue)
    assert sender == "alice@" + ME
    assert rcpts == ["joe@example.com"]
    assert RECEIVED.match(mess), mess[:200]
    assert DATE.search(mess) and MSGID.search(mess)
    assert MSGID.search(mess).group(1) == ME.encode()
    assert b"\nFrom: alice@" + ME.encode() + b"\n" in mess
    assert b"\nCc: recipient list not shown: ;\n" in mess
    assert mess.endswith(b"\n\nbody line\n")


def test_inject_header_recipients_into_queue(queue, ctl):
    msg = "To: a@x.example, b\nCc: \"c d\"@y.example\nBcc: e@z.example\nSubject: s\n\nb\n"
    r = inject([], msg, env={"USER": "alice"})
    assert r.returncode == 0, r.stderr
    _id, mess, (sender, rcpts) = only_queued(queue)
    assert rcpts == ["a@x.example", "b@" + ME, "c d@y.example", "e@z.example"]
    assert b"Bcc" not in mess and b"e@z.example" not in mess
    assert b"\nTo: a@x.example, b@testhost.example\n" in mess
    assert b"\nCc: \"c d\"@y.example\n" in mess
    assert b"recipient list not shown" not in mess


def test_sendmail_into_queue(queue, ctl):
    r = inject(["-f", "bounces@example.org", "-F", "Ann Other", "-oi", "dest@example.net"],
               "Subject: via sendmail\n\nx\n", prog=SENDMAIL)
    assert r.returncode == 0, r.stderr
    _id, mess, (sender, rcpts) = only_queued(queue)
    assert sender == "bounces@example.org"
    assert rcpts == ["dest@example.net"]
    assert b"\nFrom: \"Ann Other\" <bounces@example.org>\n" in mess


def test_sendmail_t_qualifies_root(queue, ctl):
    """notqmail #147: sendmail -t with To: root must reach root@defaulthost."""
    r = inject(["-t"], "To: root\nSubject: cron\n\nout\n", prog=SENDMAIL)
    assert r.returncode == 0, r.stderr
    _id, mess, (_s, rcpts) = only_queued(queue)
    assert rcpts == ["root@" + ME]
    assert b"\nTo: root@testhost.example\n" in mess


BAD = [
    ("unbalanced quote", [], "To: \"joe@x.example\nSubject: s\n\nb\n"),
    ("unbalanced angle", [], "To: Joe <joe@x.example\n\nb\n"),
    ("stray angle", [], "To: joe@x.example>\n\nb\n"),
    ("unbalanced comment", [], "To: joe@x.example (oops\n\nb\n"),
    ("group without semicolon", [], "To: foo: bar, baz\n\nb\n"),
    ("broken From even with -a", ["-a", "x@y.example"], "From: \"me\n\nb\n"),
    ("broken Return-Path", ["x@y.example"], "Return-Path: <a@b\n\nb\n"),
    ("long header address", [], "To: " + "a" * 1001 + "@x.example\n\nb\n"),
    ("long argument", ["a" * 995 + "@x.example"], "Subject: s\n\nb\n"),
    ("long sender", ["-f", "s" * 1001, "x@y.example"], "Subject: s\n\nb\n"),
    ("header too large", [], "To: a@x.example\nX-Big: " + "y" * (1024 * 1024 + 10) + "\n\nb\n"),
    ("header too large, folded", [], "To: a@x.example\nX-Big: y\n" + " y\n" * 600000 + "\nb\n"),
    ("NUL in header", [], "To: a@x.example\nSubject: a\0b\n\nb\n"),
    ("no recipients", [], "Subject: nobody\n\nb\n"),
    ("only an empty group", [], "To: list: ;\n\nb\n"),
    ("unknown option", ["-z", "x@y.example"], "Subject: s\n\nb\n"),
    ("-f without argument", ["-f"], "Subject: s\n\nb\n"),
    ("empty recipient", [""], "Subject: s\n\nb\n"),
]


@pytest.mark.parametrize("why,args,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exit_100_nothing_queued(queue, ctl, why, args, msg):
    r = inject(args, msg)
    assert r.returncode == 100, (why, r.returncode, r.stderr)
    assert r.stderr.startswith(b"qmail-inject: "), r.stderr
    assert queue.all_files() == []


@pytest.mark.parametrize("why,args,msg", BAD, ids=[b[0] for b in BAD])
def test_bad_input_never_starts_qmail_queue(fq, ctl, why, args, msg):
    r = inject(args, msg, env=fq.env())
    assert r.returncode == 100, (why, r.stderr)
    assert not fq.ran()


def test_no_recipients_from_sendmail(queue, ctl):
    r = inject([], "Subject: s\n\nb\n", prog=SENDMAIL)
    assert r.returncode == 100
    assert b"usage" in r.stderr
    assert queue.all_files() == []


# --- header rewriting, seen with -n ---------------------------------------

def show(msg, args=(), env=None):
    r = inject(["-n"] + list(args), msg, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_n_prints_return_path_and_rewritten_header(ctl):
    out = show("To: joe, fred@x bob@y.z\nSubject: hi\nBcc: secret@a.example\n"
               "Return-Path: <rp@example.org>\nContent-Length: 99\n\nbody\n",
               env={"USER": "alice"})
    lines = header(out).split(b"\n")
    assert lines[0] == b"Return-Path: <rp@example.org>"
    assert field(out, "To") == ["joe@%s, fred@x.%s, bob@y.z" % (ME, ME)]
    assert field(out, "Return-Path") == ["<rp@example.org>"]   # only the new first line
    assert not field(out, "Bcc") and not field(out, "Content-Length")
    assert field(out, "Subject") == ["hi"]
    assert DATE.search(out) and MSGID.search(out)
    assert body(out) == b"body\n"


def test_qualification_with_control_files(control):
    control["me"] = "me.example\n"
    control["defaulthost"] = "dh.example\n"
    control["defaultdomain"] = "dd.example\n"
    control["plusdomain"] = "pd.example\n"
    control["idhost"] = "id.example\n"
    out = show("To: a, b@c, d@e+, f@g.h+, i@[10.0.0.1], j@k.\nCc: <@r1,@r2:l@m.example>\n\nx\n")
    assert field(out, "To") == ["a@dh.example, b@c.dd.example, d@e.pd.example, "
                                "f@g.h.pd.example, i@[10.0.0.1], j@k.dd.example"]
    assert field(out, "Cc") == ["<l@m.example>"]
    assert MSGID.search(out).group(1) == b"id.example"
    assert field(out, "From") == ["anonymous@dh.example"]


def test_defaulthost_without_dots_gets_defaultdomain(control):
    control["me"] = "me.example\n"
    control["defaulthost"] = "box\n"
    control["defaultdomain"] = "dd.example\n"
    control["plusdomain"] = None
    control["idhost"] = None
    out = show("To: a, b@plus+\n\nx\n")
    assert field(out, "To") == ["a@box.dd.example, b@plus.me.example"]
    assert MSGID.search(out).group(1) == b"me.example"


def test_env_overrides_control(ctl):
    out = show("To: a, b@c, d@e+\n\nx\n", env={
        "QMAILDEFAULTHOST": "edh.example", "QMAILDEFAULTDOMAIN": "edd.example",
        "QMAILPLUSDOMAIN": "epd.example", "QMAILIDHOST": "eid.example"})
    assert field(out, "To") == ["a@edh.example, b@c.edd.example, d@e.epd.example"]
    assert MSGID.search(out).group(1) == b"eid.example"


def test_from_and_sender_from_environment(ctl):
    out = show("To: x@y.example\n\nb\n", env={
        "QMAILUSER": "qu", "MAILUSER": "mu", "USER": "u", "LOGNAME": "l",
        "QMAILHOST": "qh.example", "MAILHOST": "mh.example",
        "QMAILNAME": "Q. \"Name\"", "MAILNAME": "M", "NAME": "N"})
    assert field(out, "From") == ['"Q. \\"Name\\"" <qu@qh.example>']
    assert header(out).startswith(b"Return-Path: <qu@qh.example>\n")
    for env, want in (({"MAILUSER": "mu", "USER": "u", "LOGNAME": "l"}, "mu"),
                      ({"USER": "u", "LOGNAME": "l"}, "u"), ({"LOGNAME": "l"}, "l"), ({}, "anonymous")):
        assert field(show("To: x@y.example\n\nb\n", env=env), "From") == ["%s@%s" % (want, ME)]
    out = show("To: x@y.example\n\nb\n", env={"USER": "u", "MAILHOST": "mh", "MAILNAME": "M N",
                                              "QMAILINJECT": "c"})
    assert field(out, "From") == ["u@mh.%s (M N)" % ME]
    out = show("To: x@y.example\n\nb\n", env={"USER": "u", "QMAILSUSER": "su",
                                              "QMAILSHOST": "sh.example"})
    assert header(out).startswith(b"Return-Path: <su@sh.example>\n")
    assert field(out, "From") == ["u@" + ME]


def test_name_with_line_break_cannot_inject_fields(ctl):
    out = show("To: x@y.example\n\nb\n", env={"USER": "u", "NAME": "Evil\nBcc: victim@x"})
    assert not field(out, "Bcc")
    assert field(out, "From") == ['"Evil Bcc: victim@x" <u@%s>' % ME]


def test_qmailinject_flags(ctl):
    msg = ("From: Old <old@o.example>\nMessage-ID: <old@o.example>\n"
           "Return-Path: <rp@r.example>\nTo: x@y.example\n\nb\n")
    out = show(msg, env={"USER": "u"})
    assert field(out, "From") == ["Old <old@o.example>"]
    assert field(out, "Message-ID") == ["<old@o.example>"]
    assert header(out).startswith(b"Return-Path: <rp@r.example>\n")
    out = show(msg, env={"USER": "u", "QMAILINJECT": "fis"})
    assert field(out, "From") == ["u@" + ME]
    assert MSGID.search(out)
    assert header(out).startswith(b"Return-Path: <u@%s>\n" % ME.encode())
    out = show("To: x@y.example\n\nb\n", env={"USER": "u", "QMAILINJECT": "r"})
    # the envelope sender is u-@host-@[]; printed with its local part quoted
    assert header(out).startswith(b"Return-Path: <\"u-@%s-\"@[]>\n" % ME.encode())
    out = show("To: x@y.example\n\nb\n", env={"USER": "u", "QMAILINJECT": "m"})
    assert re.match(rb"Return-Path: <u-\d+\.\d+@testhost\.example>\n", out)


def test_f_overrides_return_path_and_env(ctl):
    out = show("Return-Path: <rp@r.example>\nTo: x@y.example\n\nb\n", ["-f", "given"],
               env={"QMAILSUSER": "su"})
    assert header(out).startswith(b"Return-Path: <given@%s>\n" % ME.encode())
    out = show("To: x@y.example\n\nb\n", ["-f<>"])
    assert header(out).startswith(b"Return-Path: <>\n")
    out = show("To: x@y.example\n\nb\n", ["-f", ""])
    assert header(out).startswith(b"Return-Path: <>\n")


def test_resent_message(ctl):
    msg = ("From: orig@o.example\nTo: orig-to@o.example\nDate: 1 Jan 2000 00:00:00 -0000\n"
           "Message-ID: <orig@o.example>\nResent-To: fwd\nResent-Bcc: hidden@h.example\n\nb\n")
    out = show(msg, env={"USER": "u"})
    assert field(out, "Resent-To") == ["fwd@" + ME]
    assert field(out, "Resent-From") == ["u@" + ME]
    assert len(field(out, "Resent-Date")) == 1 and len(field(out, "Resent-Message-ID")) == 1
    assert field(out, "Date") == ["1 Jan 2000 00:00:00 -0000"]
    assert field(out, "From") == ["orig@o.example"]
    assert not field(out, "Resent-Bcc") and not field(out, "Resent-Cc")
    out = show("Resent-From: r@r.example\nTo: t@t.example\n\nb\n")
    assert field(out, "Resent-Cc") == ["recipient list not shown: ;"]
    assert not field(out, "Cc")


def test_resent_recipients_into_queue(fq, ctl):
    msg = ("To: orig-to@o.example\nResent-To: fwd@f.example\nResent-Bcc: hidden@h.example\n\nb\n")
    r = inject([], msg, env=fq.env())
    assert r.returncode == 0, r.stderr
    assert fq.envelope()[1] == ["fwd@f.example", "hidden@h.example"]


def test_mail_followup_to(ctl, tmp_path):
    lists = tmp_path / "lists"
    lists.write_text("List@Example.org\n")
    out = show("To: joe@x.example\nCc: list@example.org\n\nb\n", env={"QMAILMFTFILE": str(lists)})
    assert field(out, "Mail-Followup-To") == ["joe@x.example, list@example.org"]
    out = show("To: joe@x.example\n\nb\n", env={"QMAILMFTFILE": str(lists)})
    assert not field(out, "Mail-Followup-To")
    out = show("To: list@example.org\nMail-Followup-To: me@x.example\n\nb\n",
               env={"QMAILMFTFILE": str(lists)})
    assert field(out, "Mail-Followup-To") == ["me@x.example"]


def test_crlf_mbox_line_and_header_without_blank_line(ctl):
    out = show("From someone Sat Jan  1 00:00:00 2000\r\nTo: x@y.example\r\nSubject: s\r\n\r\n"
               "line1\r\nline2\rstill\r\n")
    assert field(out, "MBOX-Line") == ["From someone Sat Jan  1 00:00:00 2000"]
    assert b"\r\n" not in out
    assert body(out) == b"line1\nline2\rstill\n"
    out = show("To: x@y.example\nthis is not a header\nmore\n")
    assert body(out) == b"this is not a header\nmore\n"
    out = show("To: x@y.example\n\nno final newline")
    assert body(out) == b"no final newline\n"


def test_long_body_line_after_header_is_body(ctl):
    """A header-less message whose first line is huge is body, not header."""
    line = b"x" * (2 * 1024 * 1024)
    r = inject(["-n", "a@b.example"], line + b"\nend\n")
    assert r.returncode == 0, r.stderr
    assert body(r.stdout) == line + b"\nend\n"


def test_body_is_streamed_in_bounded_memory(fq, ctl):
    big = (b"0123456789" * 10 + b"\n") * 600000   # about 66 MB
    r = run(["sh", "-c", "ulimit -v 40000; exec %s a@b.example" % INJECT],
            input=b"Subject: big\n\n" + big, env=fq.env())
    assert r.returncode == 0, r.stderr
    mess = fq.message()
    assert len(mess) > len(big) and mess.endswith(big)


# --- recipient selection -a -A -h -H ---------------------------------------

RMSG = "To: hdr@h.example\nCc: foo: bar, baz;\n\nb\n"


@pytest.mark.parametrize("opts,want", [
    ([], ["arg@a.example"]),
    (["-A"], ["arg@a.example"]),
    (["-a"], ["arg@a.example"]),
    (["-h"], ["hdr@h.example", "bar@" + ME, "baz@" + ME]),
    (["-H"], ["arg@a.example", "hdr@h.example", "bar@" + ME, "baz@" + ME]),
])
def test_recipient_strategies(fq, ctl, opts, want):
    r = inject(opts + ["arg@a.example"], RMSG, env=fq.env())
    assert r.returncode == 0, r.stderr
    assert fq.envelope()[1] == want
    if opts == ["-h"] or not opts:
        fq.reset()
        r = inject(opts, RMSG, env=fq.env())
        assert r.returncode == 0, r.stderr
        assert fq.envelope()[1] == ["hdr@h.example", "bar@" + ME, "baz@" + ME]


def test_a_does_not_parse_header_recipients(fq, ctl):
    """notqmail PR #8: a broken To: must not stop qmail-inject -a."""
    msg = "To: foo: bar, baz\nCc: \"open\nSubject: fwd\n\nb\n"
    r = inject(["-a", "me@m.example"], msg, env=fq.env())
    assert r.returncode == 0, r.stderr
    assert fq.envelope() == ("anonymous@" + ME, ["me@m.example"])
    mess = fq.message()
    assert b"\nTo: foo: bar, baz\n" in mess and b"\nCc: \"open\n" in mess
    fq.reset()
    r = inject(["-h"], msg, env=fq.env())
    assert r.returncode == 100 and not fq.ran()


def test_message_handed_over_exactly(fq, ctl):
    r = inject(["-f", "s@s.example", "x@y.example"], "Subject: s\n\nbody\n",
               env=fq.env({"USER": "u"}))
    assert r.returncode == 0, r.stderr
    raw = open(os.path.join(fq.dir, "env"), "rb").read()
    assert raw == b"Fs@s.example\0Tx@y.example\0\0"
    mess = fq.message()
    assert mess.startswith(b"Date: ") and mess.endswith(b"\n\nbody\n")


# --- qmail-queue failures --------------------------------------------------

@pytest.mark.parametrize("code,want", [(53, 111), (51, 111), (81, 111), (31, 100), (11, 100)])
def test_qmail_queue_failures(fq, ctl, code, want):
    fq.exit(code)
    r = inject(["x@y.example"], "Subject: s\n\nb\n", env=fq.env())
    assert r.returncode == want, r.stderr
    assert r.stderr.startswith(b"qmail-inject: fatal: ")


def test_qmail_queue_missing_is_temporary(ctl, tmp_path):
    r = inject(["x@y.example"], "Subject: s\n\nb\n",
               env={"QMAILQUEUE": str(tmp_path / "no-such-qq")})
    assert r.returncode == 111, r.stderr


def test_unreadable_control_is_temporary(queue, control):
    control["me"] = ME + "\n"
    path = os.path.join(HOME, "control", "defaulthost")
    control["defaulthost"] = "x\n"
    os.unlink(path)
    os.mkdir(path)   # a directory cannot be read as a file
    try:
        r = inject(["x@y.example"], "Subject: s\n\nb\n")
        assert r.returncode == 111, r.stderr
        assert queue.all_files() == []
    finally:
        os.rmdir(path)


# --- the sendmail wrapper --------------------------------------------------

@pytest.mark.parametrize("args,sender,rcpts", [
    (["a@x.example", "b"], "anonymous@" + ME, ["a@x.example", "b@" + ME]),
    (["-fs@s.example", "a@x.example"], "s@s.example", ["a@x.example"]),
    (["-r", "s@s.example", "a@x.example"], "s@s.example", ["a@x.example"]),
    (["-i", "-oi", "-odi", "-oem", "-v", "-B8BITMIME", "-x", "-m", "a@x.example"],
     "anonymous@" + ME, ["a@x.example"]),
    (["-ti", "-oi"], "anonymous@" + ME, ["hdr@h.example"]),
    (["-t", "a@x.example"], "anonymous@" + ME, ["a@x.example", "hdr@h.example"]),
    (["-e", "q", "-p", "smtp:x", "-E", "-Jfoo", "--", "-weird@x.example"],
     "anonymous@" + ME, ["-weird@x.example"]),
])
def test_sendmail_options(fq, ctl, args, sender, rcpts):
    r = inject(args, "To: hdr@h.example\nSubject: s\n\nb\n", env=fq.env(), prog=SENDMAIL)
    assert r.returncode == 0, r.stderr
    assert fq.envelope() == (sender, rcpts)


def test_sendmail_f_sets_from_and_F_name(fq, ctl):
    r = inject(["-F", "Full Name", "-f", "robot@r.example", "a@x.example"], "Subject: s\n\nb\n",
               env=fq.env({"USER": "u", "NAME": "Other", "QMAILHOST": "h.example"}), prog=SENDMAIL)
    assert r.returncode == 0, r.stderr
    assert b"\nFrom: \"Full Name\" <robot@r.example>\n" in b"\n" + fq.message()
    fq.reset()
    r = inject(["-f", "robot", "a@x.example"], "Subject: s\n\nb\n",
               env=fq.env({"USER": "u", "NAME": "Other"}), prog=SENDMAIL)
    assert r.returncode == 0, r.stderr
    assert fq.envelope()[0] == "robot@" + ME
    assert b"\nFrom: robot@" + ME.encode() + b"\n" in b"\n" + fq.message()


@pytest.mark.parametrize("args", [["-bt", "a@x.example"], ["-Z", "a@x.example"], ["-f"]])
def test_sendmail_refuses(fq, ctl, args):
    r = inject(args, "Subject: s\n\nb\n", env=fq.env(), prog=SENDMAIL)
    assert r.returncode == 100, r.stderr
    assert r.stderr.startswith(b"sendmail: ")
    assert not fq.ran()


def test_sendmail_q_is_harmless(fq, ctl):
    r = inject(["-q"], "", env=fq.env(), prog=SENDMAIL)
    assert r.returncode == 0 and b"note" in r.stderr
    r = inject(["-q15m"], "", env=fq.env(), prog=SENDMAIL)
    assert r.returncode == 0
    assert not fq.ran()


def test_mailq_and_newaliases_names(queue, ctl, tmp_path):
    for n in ("mailq", "newaliases"):
        os.symlink(SENDMAIL, str(tmp_path / n))
    # newaliases explains where aliases live and succeeds, as do -bi and
    # the installed bin/newaliases, so package scripts that call it go on
    for args in ([str(tmp_path / "newaliases")], [SENDMAIL, "-bi"], [bin_path("newaliases")]):
        r = run(args)
        assert r.returncode == 0, r
        assert b"nothing to rebuild" in r.stdout and b"/alias/.qmail-NAME" in r.stdout
    qread = run([bin_path("qmail-qread")])
    assert run([bin_path("mailq")]).stdout == qread.stdout
    qread = run([bin_path("qmail-qread")])
    r = run([str(tmp_path / "mailq")])
    assert (r.returncode, r.stdout) == (qread.returncode, qread.stdout)
    r = run([SENDMAIL, "-bp"])
    assert (r.returncode, r.stdout) == (qread.returncode, qread.stdout)


def test_sendmail_bs_runs_smtpd(queue, ctl):
    r = run([SENDMAIL, "-bs"], input=b"HELO me\r\nMAIL FROM:<s@s.example>\r\nRCPT TO:<r@r.example>\r\n"
                                      b"DATA\r\nSubject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    assert r.stdout.startswith(b"220 "), r.stdout
    assert b"\r\n250 ok" in r.stdout and b"\r\n221 " in r.stdout, r.stdout
    _id, mess, (sender, rcpts) = only_queued(queue)
    assert (sender, rcpts) == ("s@s.example", ["r@r.example"])
    assert b"sendmail-bs" in mess.split(b"\n\n")[0] or b"127.0.0.1" in mess.split(b"\n\n")[0]


def test_sendmail_bs_without_smtpd(ctl):
    smtpd = bin_path("qmail-smtpd")
    hidden = smtpd + ".hidden-by-test"
    os.rename(smtpd, hidden)
    try:
        r = run([SENDMAIL, "-bs"], input=b"QUIT\r\n")
    finally:
        os.rename(hidden, smtpd)
    assert r.returncode == 100
    assert b"qmail-smtpd" in r.stderr


# --- predate, datemail, mailsubj -------------------------------------------

def test_predate_puts_date_in_front(ctl):
    r = run([bin_path("predate"), "sh", "-c", "cat; exit 7"], input=b"Subject: s\n\nb\n")
    assert r.returncode == 7
    first, rest = r.stdout.split(b"\n", 1)
    assert re.match(rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
                    rb"\d\d:\d\d:\d\d [+-]\d{4}$", first), first
    assert rest == b"Subject: s\n\nb\n"
    assert run([bin_path("predate")]).returncode == 100
    assert run([bin_path("predate"), "/nonexistent/prog"]).returncode == 111


def test_datemail_keeps_its_date(fq, ctl):
    r = inject(["a@x.example"], "Subject: s\n\nb\n", env=fq.env(), prog=bin_path("datemail"))
    assert r.returncode == 0, r.stderr
    mess = fq.message()
    assert len(field(mess, "Date")) == 1
    assert fq.envelope()[1] == ["a@x.example"]


def test_mailsubj(fq, ctl):
    r = inject(["Weekly\nBcc: evil@x.example", "a@x.example", "b"], "the body\n", env=fq.env(),
               prog=bin_path("mailsubj"))
    assert r.returncode == 0, r.stderr
    mess = fq.message()
    assert field(mess, "Subject") == ["Weekly Bcc: evil@x.example"]
    assert field(mess, "To") == ["a@x.example, b@" + ME]
    assert body(mess) == b"the body\n"
    assert fq.envelope()[1] == ["a@x.example", "b@" + ME]
    assert run([bin_path("mailsubj"), "only-subject"]).returncode == 100
