"""qmail-local and the .qmail helpers (preline, forward, condredirect,
bouncesaying, except, qreceipt, qbiff), run as a real test user through
runuser, with the message on a seekable stdin, as qmail-lspawn runs them.
What is checked is what a user sees: mailbox contents, owners, the report
on stdout/stderr and the exit code."""
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import HOME, bin_path, make_user, wait_for
from proc_util import child_pids, gone

USER = "qltest"
DOMAIN = "testhost.example"
SENDER = "snd@example.org"
MSG = (b"From: Sender <snd@example.org>\nTo: qltest@testhost.example\nSubject: hi\n\n"
       b"From here on\n>From quoted\n>>From twice\nFromage\nlast line\n")

CAPTURE = r'''#!/bin/sh
# a stand-in for qmail-queue that streams (so it adds no memory of its
# own): keep the message and the envelope, exit $CAPTURE_EXIT
n=$(ls "$CAPTURE_DIR" | grep -c '\.msg$')
cat > "$CAPTURE_DIR/$n.msg" || exit 53
cat <&1 > "$CAPTURE_DIR/$n.env" || exit 54
exit "${CAPTURE_EXIT:-0}"
'''


@pytest.fixture
def pw():
    p = make_user(USER)
    os.chmod(p.pw_dir, 0o755)
    return p


@pytest.fixture
def cap(pw):
    """A QMAILQUEUE replacement that records what it is given."""
    d = tempfile.mkdtemp(prefix="qlcap")
    os.chmod(d, 0o777)
    script = os.path.join(d, "qq")
    with open(script, "w") as f:
        f.write(CAPTURE)
    os.chmod(script, 0o755)

    class Cap:
        dir = d
        env = {"QMAILQUEUE": script, "CAPTURE_DIR": d}

        def messages(self):
            out = []
            i = 0
            while os.path.exists(os.path.join(d, "%d.msg" % i)):
                m = open(os.path.join(d, "%d.msg" % i), "rb").read()
                e = open(os.path.join(d, "%d.env" % i), "rb").read()
                out.append((m, e))
                i += 1
            return out
    yield Cap()
    shutil.rmtree(d)


def write(pw, name, text, mode=0o644):
    path = os.path.join(pw.pw_dir, name)
    with open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)
    return path


def maildir(pw, name="Maildir"):
    top = os.path.join(pw.pw_dir, name)
    for d in (top, top + "/tmp", top + "/new", top + "/cur"):
        os.mkdir(d, 0o700)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return top


def msgfile(data):
    f = tempfile.NamedTemporaryFile(prefix="qlmsg", delete=False)
    f.write(data)
    f.close()
    os.chmod(f.name, 0o644)
    return f.name


def qlocal(pw, msg=MSG, local=None, dash="", ext="", domain=DOMAIN, sender=SENDER,
           dd="./Mailbox", flags=(), env=None, wrap=(), timeout=120):
    """Run qmail-local as the test user; the message is a file on stdin."""
    if local is None:
        local = pw.pw_name + (dash + ext if dash else "")
    path = msgfile(msg)
    args = list(wrap) + ["runuser", "-u", pw.pw_name, "--", bin_path("qmail-local")] + list(flags) + [
        pw.pw_name, pw.pw_dir, local, dash, ext, domain, sender, dd]
    full = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin:/usr/sbin:/sbin"}
    if env:
        full.update(env)
    try:
        with open(path, "rb") as fin:
            return subprocess.run(args, stdin=fin, capture_output=True, env=full, timeout=timeout)
    finally:
        os.unlink(path)


def newfiles(top):
    d = os.path.join(top, "new")
    return sorted(os.path.join(d, n) for n in os.listdir(d))


def readenv(path):
    out = {}
    for item in open(path, "rb").read().split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


# ---------------------------------------------------------------- deliveries

def test_maildir_delivery(pw):
    top = maildir(pw)
    write(pw, ".qmail", "./Maildir/\n")
    r = qlocal(pw)
    assert r.returncode == 0, r
    assert r.stdout == b"did 1+0+0\n"
    files = newfiles(top)
    assert len(files) == 1
    data = open(files[0], "rb").read()
    assert data == b"Return-Path: <snd@example.org>\nDelivered-To: qltest@testhost.example\n" + MSG
    st = os.stat(files[0])
    assert st.st_uid == pw.pw_uid and stat.S_IMODE(st.st_mode) == 0o600
    assert os.listdir(os.path.join(top, "tmp")) == []
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


def test_maildir_concurrent_unique_names(pw):
    top = maildir(pw)
    write(pw, ".qmail", "./Maildir/\n")
    path = msgfile(MSG)
    procs = []
    for _ in range(30):
        fin = open(path, "rb")
        procs.append((subprocess.Popen(
            ["runuser", "-u", USER, "--", bin_path("qmail-local"), USER, pw.pw_dir, USER, "", "",
             DOMAIN, SENDER, "./Mailbox"], stdin=fin, stdout=subprocess.PIPE, stderr=subprocess.PIPE), fin))
    codes = []
    for p, fin in procs:
        p.communicate(timeout=60)
        fin.close()
        codes.append(p.returncode)
    os.unlink(path)
    assert codes == [0] * 30
    assert len(newfiles(top)) == 30
    assert os.listdir(os.path.join(top, "tmp")) == []


def test_missing_maildir_is_temporary(pw):
    write(pw, ".qmail", "./Nowhere/\n")
    r = qlocal(pw)
    assert r.returncode == 111
    assert b"maildir" in r.stderr


def test_default_delivery_mbox(pw):
    r = qlocal(pw)
    assert r.returncode == 0, r
    assert r.stdout == b"did 1+0+0\n"
    box = os.path.join(pw.pw_dir, "Mailbox")
    assert os.stat(box).st_uid == pw.pw_uid
    assert stat.S_IMODE(os.stat(box).st_mode) == 0o600
    data = open(box, "rb").read()
    first, rest = data.split(b"\n", 1)
    assert re.fullmatch(rb"From snd@example\.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                        rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d "
                        rb"\d\d:\d\d:\d\d \d{4}", first), first
    assert rest == (b"Return-Path: <snd@example.org>\nDelivered-To: qltest@testhost.example\n"
                    b"From: Sender <snd@example.org>\nTo: qltest@testhost.example\nSubject: hi\n\n"
                    b">From here on\n>>From quoted\n>>>From twice\nFromage\nlast line\n\n")
    # a second message is appended; one without a final newline gets two
    r = qlocal(pw, msg=b"Subject: x\n\nno newline", sender="")
    assert r.returncode == 0
    data2 = open(box, "rb").read()
    assert data2.startswith(data)
    tail = data2[len(data):]
    assert tail.startswith(b"From MAILER-DAEMON ")
    assert b"Return-Path: <>\n" in tail
    assert tail.endswith(b"no newline\n\n")


def test_mbox_quoting_at_block_edges(pw):
    """>From quoting must not depend on where read() splits the message."""
    body = b"".join((b"x" * n + b"\n" + b">" * (n % 5) + b"From y\n") for n in range(0, 9000, 97))
    r = qlocal(pw, msg=b"Subject: q\n\n" + body + b">>>From")
    assert r.returncode == 0, r
    data = open(os.path.join(pw.pw_dir, "Mailbox"), "rb").read()
    want = re.sub(rb"(?m)^(>*From )", rb">\1", b"Subject: q\n\n" + body + b">>>From")
    assert data.split(b"Delivered-To: qltest@testhost.example\n", 1)[1] == want + b"\n\n"


def test_mbox_waits_for_lock(pw):
    import fcntl
    box = write(pw, "Mailbox", b"")
    fd = os.open(box, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = msgfile(MSG)
    fin = open(path, "rb")
    p = subprocess.Popen(["runuser", "-u", USER, "--", bin_path("qmail-local"), USER, pw.pw_dir, USER,
                          "", "", DOMAIN, SENDER, "./Mailbox"], stdin=fin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert p.poll() is None  # still waiting for the lock
    assert os.path.getsize(box) == 0
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    p.communicate(timeout=30)
    fin.close()
    os.unlink(path)
    assert p.returncode == 0
    assert b"Return-Path" in open(box, "rb").read()


def test_mbox_write_error_cuts_back(pw):
    old = b"From old Thu Jan  1 00:00:00 1970\nSubject: old\n\nold\n\n" * 20
    box = write(pw, "Mailbox", old, mode=0o600)
    big = b"Subject: big\n\n" + b"y" * 200000 + b"\n"
    r = qlocal(pw, msg=big, wrap=["prlimit", "--fsize=%d" % (len(old) + 5000)])
    assert r.returncode == 111, r
    assert b"Unable to write" in r.stderr
    assert open(box, "rb").read() == old


def test_program_environment(pw):
    write(pw, ".qmail-foo-default", "|env -0 > envdump; cat > progin\n")
    r = qlocal(pw, dash="-", ext="foo-Bar.x-baz", domain="a.b.c.d.example")
    assert r.returncode == 0, r
    assert r.stdout == b"did 0+0+1\n"
    e = readenv(os.path.join(pw.pw_dir, "envdump"))
    assert e["SENDER"] == SENDER
    assert e["NEWSENDER"] == SENDER
    assert e["RECIPIENT"] == "qltest-foo-Bar.x-baz@a.b.c.d.example"
    assert e["USER"] == USER
    assert e["HOME"] == pw.pw_dir
    assert e["LOCAL"] == "qltest-foo-Bar.x-baz"
    assert e["HOST"] == "a.b.c.d.example"
    assert (e["HOST2"], e["HOST3"], e["HOST4"]) == ("a.b.c.d", "a.b.c", "a.b")
    assert e["EXT"] == "foo-Bar.x-baz"
    assert (e["EXT2"], e["EXT3"], e["EXT4"]) == ("Bar.x-baz", "baz", "")
    assert e["DEFAULT"] == "Bar.x-baz"  # as written in the address, not the file name
    assert e["DTLINE"] == "Delivered-To: qltest-foo-Bar.x-baz@a.b.c.d.example\n"
    assert e["RPLINE"] == "Return-Path: <snd@example.org>\n"
    assert re.fullmatch(r"From snd@example\.org \w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d \d{4}\n", e["UFLINE"])
    # the program gets the bare message, in the home directory, as the user
    assert open(os.path.join(pw.pw_dir, "progin"), "rb").read() == MSG
    assert os.stat(os.path.join(pw.pw_dir, "progin")).st_uid == pw.pw_uid


def test_ufline_after_a_maildir_line(pw):
    """UFLINE is made when a program or an mbox first needs it, after a
    maildir line too: the program sees it, and the mbox's From_ line is
    the same line."""
    maildir(pw)
    write(pw, ".qmail", "./Maildir/\n|env -0 > envdump\n./Mailbox\n")
    r = qlocal(pw)
    assert r.returncode == 0, r
    assert r.stdout == b"did 2+0+1\n"
    e = readenv(os.path.join(pw.pw_dir, "envdump"))
    assert re.fullmatch(r"From snd@example\.org \w\w\w \w\w\w [ \d]\d \d\d:\d\d:\d\d \d{4}\n", e["UFLINE"])
    box = open(os.path.join(pw.pw_dir, "Mailbox"), "rb").read()
    assert box.startswith(e["UFLINE"].encode()), box[:80]


def test_host_without_dots_and_no_default(pw):
    write(pw, ".qmail", "|env -0 > envdump\n")
    r = qlocal(pw, domain="localhost")
    assert r.returncode == 0, r
    e = readenv(os.path.join(pw.pw_dir, "envdump"))
    assert (e["HOST2"], e["HOST3"], e["HOST4"]) == ("localhost",) * 3
    assert (e["EXT"], e["EXT2"]) == ("", "")
    assert "DEFAULT" not in e


def test_shellshock_sender_is_not_evaluated(pw):
    mark = "/tmp/qlshellshock-%d" % os.getpid()
    if os.path.exists(mark):
        os.unlink(mark)
    evil = "() { :;}; /usr/bin/touch %s" % mark
    write(pw, ".qmail", "|env -0 > envdump\n|bash -c true\n|/bin/sh -c true\n./Mailbox\n")
    r = qlocal(pw, sender=evil)
    assert r.returncode == 0, r
    assert not os.path.exists(mark)
    e = readenv(os.path.join(pw.pw_dir, "envdump"))
    assert e["SENDER"] == evil
    assert e["NEWSENDER"] == evil
    # the From_ line turns blanks into dashes; Return-Path quotes the local part
    data = open(os.path.join(pw.pw_dir, "Mailbox"), "rb").read()
    assert data.startswith(b"From ()-{-:;};-/usr/bin/touch-" + mark.encode() + b" ")
    assert b'Return-Path: <"() { :;}; /usr/bin/touch ' in data


# ---------------------------------------------------------------- .qmail lookup

def test_extension_lookup_order(pw):
    write(pw, ".qmail-foo:bar", "./exact\n")
    write(pw, ".qmail-list-default", "./listdefault\n")
    write(pw, ".qmail-default", "./topdefault\n")
    assert qlocal(pw, dash="-", ext="Foo.BAR").returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "exact"))
    assert qlocal(pw, dash="-", ext="list-a-b").returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "listdefault"))
    assert qlocal(pw, dash="-", ext="other").returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "topdefault"))
    # dots never reach the file system: ../x is looked up as ::/x
    r = qlocal(pw, dash="-", ext="../../etc")
    assert r.returncode == 0
    assert open(os.path.join(pw.pw_dir, "topdefault"), "rb").read().count(b"Delivered-To:") == 2


def test_no_such_extension_bounces(pw):
    r = qlocal(pw, dash="-", ext="nobody")
    assert r.returncode == 100
    assert b"Sorry, no mailbox here by that name. (#5.1.1)" in r.stderr
    # the plain address with no .qmail uses defaultdelivery
    r = qlocal(pw, dd="./Maildefault")
    assert r.returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "Maildefault"))


def test_empty_qmail_uses_defaultdelivery(pw):
    maildir(pw)
    write(pw, ".qmail-empty", "")
    r = qlocal(pw, dash="-", ext="empty", dd="./Maildir/\n|echo hello from default\n")
    assert r.returncode == 0, r
    assert r.stdout == b"hello from default\ndid 1+0+1\n"


def test_n_flag_lists_instructions(pw):
    write(pw, ".qmail", "# comment\n./Maildir/\n./Mailbox\n|prog arg\n&a@b.example\nc@d.example\n\n")
    r = qlocal(pw, flags=["-n"])
    assert r.returncode == 0, r
    assert r.stdout == (b"maildir ./Maildir/\nmbox ./Mailbox\nprogram prog arg\n"
                        b"forward a@b.example\nforward c@d.example\ndid 2+2+1\n")
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


# ---------------------------------------------------------------- safety checks

def test_writable_qmail_defers(pw):
    write(pw, ".qmail", "./Mailbox\n", mode=0o646)
    r = qlocal(pw)
    assert r.returncode == 111
    assert b".qmail file is writable" in r.stderr
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


def test_writable_home_defers(pw):
    os.chmod(pw.pw_dir, 0o757)
    r = qlocal(pw)
    assert r.returncode == 111
    assert b"home directory is writable" in r.stderr


def test_sticky_home_defers(pw):
    os.chmod(pw.pw_dir, 0o1755)
    r = qlocal(pw)
    assert r.returncode == 111
    assert b"Home directory is sticky" in r.stderr
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))
    r = qlocal(pw, flags=["-n"])  # -n only warns
    assert r.returncode == 0
    assert b"sticky" in r.stderr


@pytest.mark.parametrize("line", ["./Mailbox", "./Maildir/", "|true"])
def test_executable_qmail_only_forwards(pw, cap, line):
    write(pw, ".qmail", "fwd@example.net\n" + line + "\n", mode=0o755)
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 111
    assert b"x bit set" in r.stderr
    assert cap.messages() == []


def test_executable_qmail_forwards(pw, cap):
    write(pw, ".qmail", "fwd@example.net\n", mode=0o755)
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 0, r
    assert len(cap.messages()) == 1


def test_blank_first_line_defers(pw):
    write(pw, ".qmail", "\n./Mailbox\n")
    r = qlocal(pw)
    assert r.returncode == 111
    assert b"first line of .qmail file is blank" in r.stderr
    # blank lines later, and trailing blanks, are fine
    write(pw, ".qmail", "./Mailbox \t\n\n\n")
    assert qlocal(pw).returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


def test_edge_lines_do_not_crash(pw, cap):
    # lone |, a NUL byte, a file with no final newline
    write(pw, ".qmail", "|\n")
    assert qlocal(pw).returncode == 0
    write(pw, ".qmail", b"|true\0rm -rf ~\n")
    r = qlocal(pw)
    assert r.returncode == 111
    write(pw, ".qmail", "&\n")
    assert qlocal(pw, env=cap.env).returncode == 111
    write(pw, ".qmail", "./Mailbox")
    assert qlocal(pw).returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


# ---------------------------------------------------------------- loops

def test_delivered_to_loop_bounces(pw):
    looped = b"Delivered-To: qltest@testhost.example\n" + MSG
    r = qlocal(pw, msg=looped)
    assert r.returncode == 100
    assert b"This message is looping: it already has my Delivered-To line. (#5.4.6)" in r.stderr
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))
    # another address's line, or ours in the body, is no loop
    other = b"Delivered-To: someone@testhost.example\n" + MSG + b"Delivered-To: qltest@testhost.example\n"
    assert qlocal(pw, msg=other).returncode == 0


def peak_rss_kb(args, stdin_path, env=None):
    """Run args in a fresh Python whose children are only them; return
    (returncode, peak RSS of the largest descendant in KiB)."""
    code = ("import resource, subprocess, sys\n"
            "with open(sys.argv[1], 'rb') as f:\n"
            "    p = subprocess.run(sys.argv[2:], stdin=f, capture_output=True)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    full = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin:/usr/sbin:/sbin"}
    if env:
        full.update(env)
    out = subprocess.run([sys.executable, "-c", code, stdin_path] + args, capture_output=True,
                         env=full, timeout=300, check=True).stdout.split()
    return int(out[0]), int(out[1])


def test_huge_header_line_bounded_memory(pw, cap):
    """CVE-2005-1513's qmail-local path, scaled: a 48 MiB header line.
    Delivery to maildir, mbox, a program and a forward, and the loop check
    past it, all in a few MiB."""
    maildir(pw)
    write(pw, ".qmail", "./Maildir/\n./Mailbox\n|cat > progin\nfwd@example.net\n")
    huge = b"X-Huge: " + b"a" * (48 << 20) + b"\n"
    msg = huge + MSG
    path = msgfile(msg)
    args = ["runuser", "-u", USER, "--", bin_path("qmail-local"), USER, pw.pw_dir, USER, "", "",
            DOMAIN, SENDER, "./Mailbox"]
    try:
        code, rss = peak_rss_kb(args, path, env=cap.env)
        assert code == 0
        assert rss < 16 * 1024, rss
        files = newfiles(os.path.join(pw.pw_dir, "Maildir"))
        assert os.path.getsize(files[0]) == len(msg) + len(
            b"Return-Path: <snd@example.org>\nDelivered-To: qltest@testhost.example\n")
        assert os.path.getsize(os.path.join(pw.pw_dir, "progin")) == len(msg)
        assert len(cap.messages()[0][0]) == len(msg) + len(b"Delivered-To: qltest@testhost.example\n")
    finally:
        os.unlink(path)
    # our Delivered-To after the huge line is still found
    path = msgfile(huge + b"Delivered-To: qltest@testhost.example\n" + MSG)
    try:
        code, rss = peak_rss_kb(args, path)
        assert code == 100
        assert rss < 16 * 1024, rss
    finally:
        os.unlink(path)


# ---------------------------------------------------------------- programs

@pytest.mark.parametrize("code,want", [(0, 0), (100, 100), (111, 111), (64, 100), (65, 100),
                                       (70, 100), (76, 100), (77, 100), (78, 100), (112, 100),
                                       (1, 111), (2, 111), (75, 111), (101, 111), (255, 111)])
def test_program_exit_codes(pw, code, want):
    write(pw, ".qmail", "|echo program says hi; exit %d\n./Mailbox\n" % code)
    r = qlocal(pw)
    assert r.returncode == want, r
    assert b"program says hi" in r.stdout
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox")) == (want == 0)


def test_program_crash_is_temporary(pw):
    write(pw, ".qmail", "|kill -9 $$\n")
    r = qlocal(pw)
    assert r.returncode == 111
    assert b"crashed" in r.stderr


def test_exit_99_stops_but_keeps_earlier_forwards(pw, cap):
    write(pw, ".qmail", "&early@example.net\n|exit 99\n./Mailbox\nlate@example.net\n")
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 0, r
    assert r.stdout.startswith(b"did 0+1+1\nqp ")
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))
    msgs = cap.messages()
    assert len(msgs) == 1
    assert msgs[0][1] == b"Fsnd@example.org\0Tearly@example.net\0\0"


def test_failure_prevents_forwards(pw, cap):
    write(pw, ".qmail", "&a@example.net\n|exit 111\n")
    assert qlocal(pw, env=cap.env).returncode == 111
    assert cap.messages() == []


# ---------------------------------------------------------------- forwarding

def test_forward_through_qmailqueue(pw, cap):
    write(pw, ".qmail", "&one@example.net\ntwo@example.com\n./Mailbox\n")
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 0, r
    m = re.fullmatch(rb"did 1\+2\+0\nqp (\d+)\n", r.stdout)
    assert m, r.stdout
    msgs = cap.messages()
    assert len(msgs) == 1
    mess, env = msgs[0]
    assert mess == b"Delivered-To: qltest@testhost.example\n" + MSG  # no Return-Path
    assert env == b"Fsnd@example.org\0Tone@example.net\0Ttwo@example.com\0\0"


def test_forward_failure_codes(pw, cap):
    write(pw, ".qmail", "&one@example.net\n")
    r = qlocal(pw, env=dict(cap.env, CAPTURE_EXIT="31"))
    assert r.returncode == 100
    assert b"Unable to forward message" in r.stderr
    r = qlocal(pw, env=dict(cap.env, CAPTURE_EXIT="53"))
    assert r.returncode == 111


@pytest.mark.parametrize("files,sender,want", [
    ([], SENDER, SENDER),
    ([".qmail-list-owner"], SENDER, "qltest-list-owner@testhost.example"),
    ([".qmail-list-owner", ".qmail-list-owner-default"], SENDER,
     "qltest-list-owner-@testhost.example-@[]"),
    ([".qmail-list-owner"], "", ""),
    ([".qmail-list-owner", ".qmail-list-owner-default"], "#@[]", "#@[]"),
])
def test_owner_convention(pw, cap, files, sender, want):
    write(pw, ".qmail-list", "&member@example.net\n|env -0 > envdump\n")
    for f in files:
        write(pw, f, "./ownerbox\n")
    r = qlocal(pw, dash="-", ext="list", sender=sender, env=cap.env)
    assert r.returncode == 0, r
    assert cap.messages()[0][1] == b"F" + want.encode() + b"\0Tmember@example.net\0\0"
    assert readenv(os.path.join(pw.pw_dir, "envdump"))["NEWSENDER"] == want


def test_base_address_owner(pw, cap):
    write(pw, ".qmail", "&member@example.net\n")
    write(pw, ".qmail-owner", "./ownerbox\n")
    assert qlocal(pw, env=cap.env).returncode == 0
    assert cap.messages()[0][1].startswith(b"Fqltest-owner@testhost.example\0")


# ---------------------------------------------------------------- helpers

def test_preline(pw):
    write(pw, ".qmail", "|preline cat > all\n|preline -f cat > nofrom\n|preline -dfr cat > none\n")
    r = qlocal(pw)
    assert r.returncode == 0, r
    all_ = open(os.path.join(pw.pw_dir, "all"), "rb").read()
    assert re.match(rb"From snd@example\.org .{24}\nReturn-Path: <snd@example\.org>\n"
                    rb"Delivered-To: qltest@testhost\.example\n", all_)
    assert all_.endswith(b"\n" + MSG)
    assert open(os.path.join(pw.pw_dir, "nofrom"), "rb").read() == (
        b"Return-Path: <snd@example.org>\nDelivered-To: qltest@testhost.example\n" + MSG)
    assert open(os.path.join(pw.pw_dir, "none"), "rb").read() == MSG


def test_preline_passes_exit_code(pw):
    write(pw, ".qmail", "|preline sh -c 'cat >/dev/null; exit 100'\n")
    assert qlocal(pw).returncode == 100
    write(pw, ".qmail", "|preline /nonexistent/program\n")
    assert qlocal(pw).returncode == 111


def test_forward_program(pw, cap):
    write(pw, ".qmail", "|forward a@example.net b@example.net\n")
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 0, r
    assert b"forward: qp" in r.stdout
    mess, env = cap.messages()[0]
    assert mess == b"Delivered-To: qltest@testhost.example\n" + MSG
    assert env == b"Fsnd@example.org\0Ta@example.net\0Tb@example.net\0\0"


def test_condredirect(pw, cap):
    write(pw, ".qmail", "|condredirect other@example.net grep -q '^Subject: hi'\n./Mailbox\n")
    r = qlocal(pw, env=cap.env)
    assert r.returncode == 0, r
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))  # 99 skipped it
    mess, env = cap.messages()[0]
    assert mess == b"Delivered-To: qltest@testhost.example\n" + MSG
    assert env == b"Fsnd@example.org\0Tother@example.net\0\0"
    # no match: the rest of .qmail goes on
    write(pw, ".qmail", "|condredirect other@example.net grep -q '^Subject: nope'\n./Mailbox\n")
    assert qlocal(pw, env=cap.env).returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))
    assert len(cap.messages()) == 1
    write(pw, ".qmail", "|condredirect other@example.net sh -c 'exit 111'\n./Mailbox\n")
    assert qlocal(pw, env=cap.env).returncode == 111


def test_bouncesaying(pw):
    write(pw, ".qmail", "|bouncesaying 'This address no longer accepts mail.'\n")
    r = qlocal(pw)
    assert r.returncode == 100
    assert b"This address no longer accepts mail." in r.stdout
    write(pw, ".qmail", "|bouncesaying 'Go away.' grep -q '^Subject: hi'\n./Mailbox\n")
    assert qlocal(pw).returncode == 100
    write(pw, ".qmail", "|bouncesaying 'Go away.' grep -q '^Subject: nope'\n./Mailbox\n")
    assert qlocal(pw).returncode == 0
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))
    write(pw, ".qmail", "|bouncesaying 'Go away.' sh -c 'exit 111'\n")
    assert qlocal(pw).returncode == 111
    write(pw, ".qmail", "|bouncesaying 'Go away.' /nonexistent/prog\n")
    assert qlocal(pw).returncode == 0


@pytest.mark.parametrize("prog,want", [("true", 100), ("false", 0), ("sh -c 'exit 111'", 111),
                                       ("sh -c 'exit 7'", 0)])
def test_except(prog, want):
    r = subprocess.run([bin_path("except")] + ["sh", "-c", prog], capture_output=True, timeout=30)
    assert r.returncode == want


def test_qreceipt(pw, cap):
    asked = (b"Notice-Requested-Upon-Delivery-To: Joe <QLtest@testhost.example>,\n"
             b" other@example.net\nMessage-ID: <abc@example.org>\n") + MSG
    write(pw, ".qmail", "|qreceipt qltest@testhost.example\n./Mailbox\n")
    r = qlocal(pw, msg=asked, env=cap.env)
    assert r.returncode == 0, r
    mess, env = cap.messages()[0]
    assert env == b"F\0Tsnd@example.org\0\0"
    assert b"To: <snd@example.org>" in mess
    assert b"qltest@testhost.example" in mess and b"<abc@example.org>" in mess
    # not asked, or a bounce: no notice
    assert qlocal(pw, env=cap.env).returncode == 0
    assert qlocal(pw, msg=asked, sender="", env=cap.env).returncode == 0
    assert len(cap.messages()) == 1


def test_qbiff_never_fails(pw):
    write(pw, ".qmail", "|qbiff\n./Mailbox\n")
    r = qlocal(pw)
    assert r.returncode == 0, r
    assert os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


# --- qmail-lspawn, qmail-getpw and its server mode ------------------------

# logs each run's arguments on one line, then behaves as the real
# qmail-getpw; as a server (-s) it exits at once when NOSERVER is set
# (qlfail: 111)
GETPW_COUNTER = r"""#!/bin/sh
echo "$*" >> "%(log)s"
if [ "$1" = -s ]; then
  %(noserver)s
  exec "%(real)s" "$@"
fi
[ "$1" = -- ] && shift
[ "$1" = qlfail ] && exit 111
exec "%(real)s" -- "$@"
"""


def lspawn_job(proc, slot, messid, rcpt):
    """One job to a running qmail-lspawn; its one report (K, Z or D text)."""
    proc.stdin.write(b"%d\0%s\0%s\0" % (slot, messid.encode(), SENDER.encode()) + b"1\0" + rcpt.encode() + b"\0")
    proc.stdin.flush()
    fields = []
    while len(fields) < 3:
        field = b""
        while True:
            c = proc.stdout.read(1)
            assert c, "qmail-lspawn closed its reports"
            if c == b"\0":
                break
            field += c
        fields.append(field)
    assert fields[:2] == [b"%d" % slot, b"0"], fields
    return fields[2]


class Lspawn:
    """A qmail-lspawn of its own with a counting qmail-getpw and a message
    in the queue; no users/cdb while it runs."""

    def __init__(self, pw, server):
        """server: True for the real qmail-getpw -s, False for one that
        exits at once, "slow" for one that sleeps half a second first."""
        write(pw, ".qmail-default", "./Maildir/\n")
        subprocess.run(["runuser", "-u", USER, "--", bin_path("maildirmake"),
                        os.path.join(pw.pw_dir, "Maildir")], check=True)
        self.pw = pw
        qmailq = pwd.getpwnam("qmailq")
        messid = 987654321
        split = "%d" % (messid % 23)
        self.job = "%s/%d" % (split, messid)
        self.mess = os.path.join(HOME, "queue", "mess", split, str(messid))
        with open(self.mess, "wb") as f:
            f.write(MSG)
        os.chown(self.mess, qmailq.pw_uid, qmailq.pw_gid)
        self.getpw = bin_path("qmail-getpw")
        self.real = self.getpw + ".real"
        self.log = os.path.join(os.path.dirname(HOME), "getpw-runs")
        self.cdb = os.path.join(HOME, "users", "cdb")
        self.aside = self.cdb + ".aside"
        with open(self.log, "w"):
            pass
        os.chmod(self.log, 0o666)   # qmail-getpw runs as qmailp
        os.rename(self.getpw, self.real)
        if os.path.exists(self.cdb):
            os.rename(self.cdb, self.aside)
        self.proc = None
        with open(self.getpw, "w") as f:
            f.write(GETPW_COUNTER % {"log": self.log, "real": self.real,
                                     "noserver": {True: "", False: "exit 0", "slow": "sleep 0.5"}[server]})
        os.chmod(self.getpw, 0o755)
        self.proc = subprocess.Popen([bin_path("qmail-lspawn"), "./Maildir/"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=os.path.join(HOME, "queue", "mess"))
        limit = b""
        while not limit.endswith(b"\0"):
            c = self.proc.stdout.read(1)
            assert c
            limit += c

    def deliver(self, slot, local):
        return lspawn_job(self.proc, slot, self.job, "%s@%s" % (local, DOMAIN))

    def runs(self):
        return [line for line in open(self.log).read().split("\n") if line]

    def delivered(self):
        return len(os.listdir(os.path.join(self.pw.pw_dir, "Maildir", "new")))

    def servers(self):
        """qmail-getpw -s processes that are children of qmail-lspawn."""
        out = []
        for pid in child_pids(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if not gone(pid) and b"-s" in argv[1:] and any(a.endswith(b"qmail-getpw.real") or
                                                          a.endswith(b"qmail-getpw") for a in argv):
                out.append(pid)
        return out

    def close(self):
        try:
            if self.proc is not None:
                self.proc.stdin.close()
                assert self.proc.wait(timeout=30) == 0
        finally:
            os.rename(self.real, self.getpw)
            if os.path.exists(self.aside):
                os.rename(self.aside, self.cdb)
            os.unlink(self.mess)


def test_lspawn_without_getpw_server(pw):
    """When the getpw server cannot run (qmail-getpw -s exits at once),
    every delivery still succeeds: it runs qmail-getpw for its own lookup,
    once, and nothing is remembered for the next one (three deliveries to
    one local part, three runs); a failed lookup is a temporary failure;
    the server is tried again at most once a second."""
    ls = Lspawn(pw, server=False)
    try:
        start = time.monotonic()
        for slot in range(3):
            assert ls.deliver(slot, USER).startswith(b"K"), slot
        assert ls.deliver(0, USER + "-ext").startswith(b"K")
        for slot in range(2):
            assert ls.deliver(slot, "qlfail").startswith(b"Z")
        elapsed = time.monotonic() - start
        runs = [r for r in ls.runs() if r != "-s"]
        assert runs == ["-- " + USER] * 3 + ["-- %s-ext" % USER, "-- qlfail", "-- qlfail"], runs
        # once a second by a clock of whole seconds: one more start when a
        # second ends in between, never one per delivery (six here)
        assert 1 <= ls.runs().count("-s") <= int(elapsed) + 2, (ls.runs(), elapsed)
        assert ls.delivered() == 4
    finally:
        ls.close()


def test_lspawn_waits_for_slow_getpw_server(pw):
    """A server slower than qmail-lspawn's own short wait (this one takes
    half a second to start) still answers: the delivery waits for it in a
    child of its own, and no qmail-getpw runs for a single lookup."""
    ls = Lspawn(pw, server="slow")
    try:
        assert ls.deliver(0, USER + "-first").startswith(b"K")
        for i in range(4):
            assert ls.deliver(i % 2, "%s-s%d" % (USER, i)).startswith(b"K"), i
        assert ls.runs() == ["-s"], ls.runs()
        assert ls.delivered() == 5
    finally:
        ls.close()


def test_lspawn_keeps_one_getpw_server(pw):
    """qmail-lspawn runs qmail-getpw -s once, as qmailp, and every lookup
    goes to it: no qmail-getpw run per delivery. Killed, it is replaced
    (at most once a second) and deliveries meanwhile still succeed; when
    qmail-lspawn's input ends, the server goes too."""
    ls = Lspawn(pw, server=True)
    try:
        for i in range(6):
            assert ls.deliver(i % 3, "%s-s%d" % (USER, i)).startswith(b"K"), i
        assert ls.runs() == ["-s"]
        srv = ls.servers()
        assert len(srv) == 1, srv
        st = os.stat("/proc/%d" % srv[0])
        assert st.st_uid == pwd.getpwnam("qmailp").pw_uid
        os.kill(srv[0], 9)
        assert wait_for(lambda: gone(srv[0]), 10)
        # the next delivery asks the old way or a new server: either works
        assert ls.deliver(0, USER + "-after").startswith(b"K")
        time.sleep(1.2)
        assert ls.deliver(1, USER + "-later").startswith(b"K")
        assert ls.runs().count("-s") == 2, ls.runs()
        new = ls.servers()
        assert len(new) == 1 and new != srv
        assert ls.delivered() == 8
        ls.proc.stdin.close()
        assert ls.proc.wait(timeout=30) == 0
        ls.proc = None
        assert wait_for(lambda: gone(new[0]), 10), "qmail-getpw -s outlived qmail-lspawn"
    finally:
        ls.close()
