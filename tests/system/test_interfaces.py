"""Interface items (qmail's man pages; doc/conformance.md lists them)
that no other test file
covers, checked through the installed programs: the installed tree and
its modes (hier), qmail-start's descriptors, environment and limits, the
preprocessed queue records, cleanup of old files, lspawn's report
truncation, virtualdomains and SIGHUP, qmail-local's stdin and .qmail
rules, envnoathost and VERP, the exit-82 custom refusal and the bounce
defaults. doc/conformance.md maps every item to its tests."""
import grp
import os
import pwd
import re
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import HOME, SRC, bin_path, run, wait_for
from send_util import (ME, Send, children, fake_remote, maildir, messages, queue as qq, queue_empty,
                       send_fixtures, wait_mail, write_file)

QDIR = os.path.join(HOME, "queue")
USERS_DIR = os.path.join(os.path.dirname(HOME), "users")


def conf(name):
    with open(os.path.join(SRC, name)) as f:
        return f.read().split("\n")


# ---------------------------------------------------------------- fixtures

class WrappedSend(Send):
    """qmail-start run through a wrapper that execs it (same pid)."""

    def __init__(self, name, wrap, **kw):
        Send.__init__(self, name, **kw)
        self.wrap = list(wrap)

    def start(self):
        self.mark = self.size()
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.wrap + [bin_path("qmail-start"), self.defaultdelivery], stdout=log,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd="/", env=self.env)
        log.close()
        wait_for(lambda: "status: local" in self.text(self.mark), timeout=20, what="qmail-send to start")
        self.helpers = children(self.proc.pid)
        return self


def new_send(name, env=None, wrap=None):
    return WrappedSend(name, wrap, env=env) if wrap else Send(name, env=env)


users, sched = send_fixtures(["hza", "hzb"], prefix="hz-", new=new_send,
                             clear=("doublebounceto", "doublebouncehost", "virtualdomains", "queuelifetime",
                                    "percenthack", "envnoathost", "bouncefrom", "bouncehost", "concurrencylocal",
                                    "concurrencyremote"))


def msgid_of(s, rcpt):
    """The message id qmail-send logged for the delivery to rcpt."""
    m = s.wait_log(r"^starting delivery \d+: msg (\d+) to (local|remote) %s$" % re.escape(rcpt))
    return int(m.group(1))


# ---------------------------------------------------------------- §1 build constants, ids, modes

def test_conf_constants_users_and_groups():
    """INTERFACES §1.1/§1.2: qmail's build constants and the ids, in
    conf-users order, exist; the installed queue is split conf-split ways."""
    assert conf("conf-split")[0] == "23"
    assert conf("conf-break")[0] == "-"
    assert conf("conf-patrn")[0] == "002"
    assert int(conf("conf-spawn")[0]) >= 120
    assert conf("conf-home")[0] == "/var/qmail"
    assert conf("conf-users")[:8] == ["alias", "qmaild", "qmaill", "root", "qmailp", "qmailq", "qmailr", "qmails"]
    assert conf("conf-groups")[:2] == ["qmail", "nofiles"]
    for u in conf("conf-users")[:8]:
        pwd.getpwnam(u)
    for g in conf("conf-groups")[:2]:
        grp.getgrnam(g)
    for sub in ("mess", "info", "local", "remote"):
        assert sorted(os.listdir(os.path.join(QDIR, sub)), key=int) == [str(i) for i in range(23)]


# notqmail hier.c: owner and mode of each program it installs
HIER_BIN = {
    "qmail-queue": ("qmailq", 0o4711),
    "qmail-lspawn": ("root", 0o700), "qmail-start": ("root", 0o700),
    "qmail-newu": ("root", 0o700), "qmail-newmrh": ("root", 0o700),
    "qmail-getpw": ("root", 0o711), "qmail-local": ("root", 0o711), "qmail-remote": ("root", 0o711),
    "qmail-rspawn": ("root", 0o711), "qmail-clean": ("root", 0o711), "qmail-send": ("root", 0o711),
    "splogger": ("root", 0o711), "qmail-pw2u": ("root", 0o711), "qmail-popup": ("root", 0o711),
    "qmail-pop3d": ("root", 0o755),
}
for _p in ("qmail-inject predate datemail mailsubj qmail-showctl qmail-qread qmail-qstat qmail-tcpto "
           "qmail-tcpok qmail-qmqpc qmail-qmqpd qmail-qmtpd qmail-smtpd sendmail tcp-env qreceipt qlist qbiff "
           "forward preline condredirect bouncesaying except maildirmake maildir2mbox").split():
    HIER_BIN[_p] = ("root", 0o755)


@pytest.mark.parametrize("prog", sorted(HIER_BIN))
def test_install_modes(prog):
    """INTERFACES §1.5: owners and modes of qmail's hier.c."""
    owner, mode = HIER_BIN[prog]
    st = os.stat(bin_path(prog))
    assert pwd.getpwuid(st.st_uid).pw_name == owner
    assert grp.getgrgid(st.st_gid).gr_name == "qmail"
    assert stat.S_IMODE(st.st_mode) == mode, oct(stat.S_IMODE(st.st_mode))


def _owner_mode(path):
    st = os.lstat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)


def test_queue_and_alias_layout():
    """INTERFACES §1.5 (alias dir) and §2.1-§2.3: the queue directories,
    their split subdirectories and the lock files."""
    assert _owner_mode(os.path.join(HOME, "alias")) == ("alias", "qmail", 0o2755)
    want = {"": ("qmailq", 0o750), "pid": ("qmailq", 0o700), "intd": ("qmailq", 0o700),
            "todo": ("qmailq", 0o750), "bounce": ("qmails", 0o700), "lock": ("qmailq", 0o750),
            "mess": ("qmailq", 0o750), "info": ("qmails", 0o700), "local": ("qmails", 0o700),
            "remote": ("qmails", 0o700)}
    for sub, (owner, mode) in want.items():
        p = os.path.join(QDIR, sub)
        assert stat.S_ISDIR(os.lstat(p).st_mode), p
        assert _owner_mode(p) == (owner, "qmail", mode), p
    for sub in ("pid", "intd", "todo", "bounce"):          # not split
        assert not os.path.exists(os.path.join(QDIR, sub, "0"))
    for sub in ("mess", "info", "local", "remote"):
        for i in range(23):
            p = os.path.join(QDIR, sub, str(i))
            assert _owner_mode(p) == (want[sub][0], "qmail", want[sub][1]), p
    tcpto = os.path.join(QDIR, "lock", "tcpto")
    assert _owner_mode(tcpto) == ("qmailr", "qmail", 0o644) and os.path.getsize(tcpto) == 1024
    mutex = os.path.join(QDIR, "lock", "sendmutex")
    assert _owner_mode(mutex) == ("qmails", "qmail", 0o600) and os.path.getsize(mutex) == 0
    trigger = os.path.join(QDIR, "lock", "trigger")
    assert stat.S_ISFIFO(os.lstat(trigger).st_mode)
    assert _owner_mode(trigger) == ("qmails", "qmail", 0o622)


# ---------------------------------------------------------------- §1.4, §4 qmail-start and the daemons

def test_qmail_start_passes_environment_and_limits(sched, users):
    """INTERFACES §1.4, §4.4, §7.1: qmail-start's environment and rlimits
    reach the delivery program, which runs under sh in $HOME as the user
    with the user's gid and no supplementary groups."""
    pw = users["hza"]
    write_file(os.path.join(pw.pw_dir, ".qmail"),
               "|cat /proc/self/limits > lim; grep -E '^(Uid|Gid|Groups):' /proc/self/status > ids; "
               "env > env; pwd > cwd\n", "hza")
    s = sched(env={"HZMARK": "kept all the way"}, wrap=["prlimit", "--core=4096000:unlimited", "--"])
    r = run([bin_path("qmail-inject"), "hza@" + ME], input=b"Subject: env\n\nx\n")
    assert r.returncode == 0, r.stderr
    s.wait_log(r"^delivery \d+: success: did_0\+0\+1/$")
    home = pw.pw_dir
    env = open(os.path.join(home, "env")).read().splitlines()
    assert "HZMARK=kept all the way" in env
    assert re.search(r"^Max core file size\s+4096000\s+unlimited\s+bytes", open(os.path.join(home, "lim")).read(),
                     re.M)
    ids = dict(l.split(":", 1) for l in open(os.path.join(home, "ids")).read().splitlines())
    assert ids["Uid"].split() == [str(pw.pw_uid)] * 4
    assert ids["Gid"].split() == [str(pw.pw_gid)] * 4
    assert ids["Groups"].split() == [str(pw.pw_gid)]
    assert open(os.path.join(home, "cwd")).read() == home + "\n"


def test_qmail_send_descriptors(sched):
    """INTERFACES §4.1: qmail-send writes to lspawn, rspawn and clean on
    fds 1, 3, 5, reads them on 2, 4, 6, and logs on fd 0."""
    s = sched()

    def link(pid, fd):
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    by_name = {}
    for pid in s.helpers:
        with open("/proc/%d/comm" % pid) as f:
            by_name[f.read().strip()] = pid
    assert set(by_name) == {"qmail-lspawn", "qmail-rspawn", "qmail-clean"}
    assert link(s.pid, 0) == s.logpath
    for out, name in ((1, "qmail-lspawn"), (3, "qmail-rspawn"), (5, "qmail-clean")):
        h = by_name[name]
        assert link(s.pid, out).startswith("pipe:")
        assert link(s.pid, out) == link(h, 0), name
        assert link(s.pid, out + 1) == link(h, 1), name
        assert link(s.pid, out) != link(s.pid, out + 1)


def test_overlong_report_is_truncated_with_a_note(sched, users, queue):
    """INTERFACES §4.3 (qmail-limits.7): a delivery report past the limit
    is cut and ends with a note; exit 100 is a permanent failure."""
    write_file(os.path.join(users["hza"].pw_dir, ".qmail"),
               "|head -c 20000 /dev/zero | tr '\\000' x; exit 100\n", "hza")
    s = sched()
    assert qq(b"Subject: long\n\nx\n", "hzb@" + ME, ["hza@" + ME]) == 0
    m = s.wait_log(r"^delivery \d+: failure: (x+)/Error_report_too_long,_sorry\./$")
    assert 1000 <= len(m.group(1)) < 4000
    b = wait_mail("hzb")[0]
    assert b"Error report too long, sorry." in b
    queue_empty(queue)


# ---------------------------------------------------------------- §2 queue

def test_preprocessed_records_are_marked_done_in_place(sched, users, queue):
    """INTERFACES §2.8: after preprocessing, info/N/id holds F<sender>,
    local/N/id the T records, and a finished recipient's T becomes D."""
    write_file(os.path.join(users["hzb"].pw_dir, ".qmail"), "|exit 111\n", "hzb")
    s = sched()
    assert qq(b"Subject: two\n\nx\n", "hza@" + ME, ["hza@" + ME, "hzb@" + ME]) == 0
    mid = msgid_of(s, "hza@" + ME)
    s.wait_log(r"^delivery \d+: deferral: $")
    s.wait_log(r"^delivery \d+: success: did_1\+0\+0/$")
    n = str(mid % 23)
    local = os.path.join(QDIR, "local", n, str(mid))
    want = b"Dhza@testhost.example\0Thzb@testhost.example\0"
    wait_for(lambda: open(local, "rb").read() == want, what="the T record marked D")
    # the lists are written before qmail-clean takes todo/id away (and hza,
    # delivered from memory meanwhile, is D in them at once): wait for both
    todo = os.path.join(QDIR, "todo", str(mid))
    wait_for(lambda: not os.path.exists(todo), what="todo/id removed after the commit")
    assert open(local, "rb").read() == want
    assert open(os.path.join(QDIR, "info", n, str(mid)), "rb").read() == b"Fhza@testhost.example\0"
    for p in (local, os.path.join(QDIR, "info", n, str(mid))):
        assert pwd.getpwuid(os.stat(p).st_uid).pw_name == "qmails"
    assert not os.path.exists(os.path.join(QDIR, "remote", n, str(mid)))
    assert os.path.exists(os.path.join(QDIR, "mess", n, str(mid)))


def _fabricate(path, owner, age):
    with open(path, "wb") as f:
        f.write(b"Subject: stale\n\nx\n")
    pw = pwd.getpwnam(owner)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    t = time.time() - age
    os.utime(path, (t, t))


def test_old_files_are_cleaned_up(sched, queue):
    """INTERFACES §2.10, made prompt by issue 10: qmail-clean removes pid/
    files older than 36 h, and those no qmail-queue holds locked once they
    are a minute old; qmail-send removes messages that never reached todo/
    as soon as no qmail-queue holds them locked (doc/failures.md)."""
    import fcntl
    old, mid, fresh = 37 * 3600, 600, 0
    _fabricate(os.path.join(QDIR, "pid", "4242.1.1"), "qmailq", old)
    _fabricate(os.path.join(QDIR, "pid", "4243.1.1"), "qmailq", mid)
    _fabricate(os.path.join(QDIR, "pid", "4244.1.1"), "qmailq", mid)
    _fabricate(os.path.join(QDIR, "pid", "4245.1.1"), "qmailq", fresh)
    held = open(os.path.join(QDIR, "pid", "4244.1.1"), "rb")
    fcntl.flock(held, fcntl.LOCK_EX)       # as a running qmail-queue does
    r = run([bin_path("qmail-clean")], user="qmailq")
    assert r.returncode == 0
    assert queue.files("pid") == ["pid/4244.1.1", "pid/4245.1.1"]
    held.close()
    for n in ("4244.1.1", "4245.1.1"):
        os.unlink(os.path.join(QDIR, "pid", n))
    # S2: mess (and intd) with no todo and no info
    ids = (23 * 900 + 7, 23 * 901 + 7, 23 * 902 + 7)
    for i, age in zip(ids, (old, mid, mid)):
        _fabricate(os.path.join(QDIR, "mess", "7", str(i)), "qmailq", age)
        _fabricate(os.path.join(QDIR, "intd", str(i)), "qmailq", age)
    held = open(os.path.join(QDIR, "mess", "7", str(ids[2])), "rb")
    fcntl.flock(held, fcntl.LOCK_EX)
    s = sched()
    for i in ids[:2]:
        wait_for(lambda: not os.path.exists(os.path.join(QDIR, "mess", "7", str(i))),
                 what="the abandoned message to go")
        assert not os.path.exists(os.path.join(QDIR, "intd", str(i)))
    time.sleep(0.5)
    assert os.path.exists(os.path.join(QDIR, "mess", "7", str(ids[2])))
    held.close()
    s.stop()


# ---------------------------------------------------------------- §10.3 virtualdomains, §4.6 SIGHUP

def test_virtualdomains_forms_and_hup(sched, users, queue, control):
    """INTERFACES §10.3 and §4.6: user@domain, domain, .suffix and empty
    (wildcard) entries, an empty prepend as an exception, locals first;
    SIGHUP rereads virtualdomains."""
    control["virtualdomains"] = "virt.example:hzb\n"
    write_file(os.path.join(users["hzb"].pw_dir, ".qmail-default"), "./Maildir/\n", "hzb")
    s = sched(env={"QMAILREMOTE": fake_remote("hz-fake-remote")})
    r = run([bin_path("qmail-inject"), "joe@v2.example"], input=b"Subject: before\n\nx\n")
    assert r.returncode == 0
    s.wait_log(r"^starting delivery \d+: msg \d+ to remote joe@v2.example$")
    s.wait_log(r"^delivery \d+: success: v2.example_accepted_joe@v2.example")
    control["virtualdomains"] = ("joe@v2.example:hzb-joe\nv2.example:hzb-v2\n.sub.example:hzb-sub\n"
                                 ":hzb-catch\nnot.example:\n" + ME + ":hzb-never\n")
    mark = s.size()
    s.signal(signal.SIGHUP)
    time.sleep(0.3)
    rcpts = ["joe@v2.example", "other@v2.example", "x@a.sub.example", "y@any.example", "z@not.example",
             "hza@" + ME]
    r = run([bin_path("qmail-inject")] + rcpts, input=b"Subject: after\n\nx\n")
    assert r.returncode == 0
    for where, addr in (("local", "hzb-joe-joe@v2.example"), ("local", "hzb-v2-other@v2.example"),
                        ("local", "hzb-sub-x@a.sub.example"), ("local", "hzb-catch-y@any.example"),
                        ("remote", "z@not.example"), ("local", "hza@" + ME)):
        s.wait_log(r"^starting delivery \d+: msg \d+ to %s %s$" % (where, re.escape(addr)), start=mark)
    got = wait_mail("hzb", 4)
    assert sorted(re.search(rb"Delivered-To: (\S+)\n", m).group(1) for m in got) == [
        b"hzb-catch-y@any.example", b"hzb-joe-joe@v2.example", b"hzb-sub-x@a.sub.example",
        b"hzb-v2-other@v2.example"]
    assert b"Delivered-To: hza@testhost.example\n" in wait_mail("hza")[0]
    queue_empty(queue)


# ---------------------------------------------------------------- §6-§8 qmail-local

def qlocal(pw, msgpath=None, stdin=None, dd="./Mailbox", input=None):
    args = ["runuser", "-u", pw.pw_name, "--", bin_path("qmail-local"), pw.pw_name, pw.pw_dir, pw.pw_name,
            "", "", ME, "s@example.org", dd]
    env = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin:/usr/sbin:/sbin"}
    if msgpath:
        with open(msgpath, "rb") as f:
            return subprocess.run(args, stdin=f, capture_output=True, env=env, timeout=60)
    return subprocess.run(args, input=input, capture_output=True, env=env, timeout=60)


def test_qmail_local_needs_a_seekable_stdin(users):
    """INTERFACES §6.1: the message must be seekable; a pipe is a
    temporary failure and nothing is delivered."""
    pw = users["hza"]
    r = qlocal(pw, input=b"Subject: pipe\n\nx\n")
    assert r.returncode == 111, r
    assert not os.path.exists(os.path.join(pw.pw_dir, "Mailbox"))


def test_program_lines_share_the_rewound_message(users):
    """INTERFACES §7.1: every program line gets the whole message (from
    the start, without Return-Path and Delivered-To) on the one descriptor."""
    pw = users["hza"]
    msg = b"Subject: local\n\n" + b"body line\n" * 1000
    fd, path = tempfile.mkstemp(prefix="hzmsg")
    os.write(fd, msg)
    os.close(fd)
    os.chmod(path, 0o644)
    try:
        write_file(os.path.join(pw.pw_dir, ".qmail"), "|head -c 7 > p1\n|cat > p2\n|cat > p3\n", "hza")
        r = qlocal(pw, msgpath=path)
    finally:
        os.unlink(path)
    assert r.returncode == 0, r
    assert open(os.path.join(pw.pw_dir, "p1"), "rb").read() == msg[:7]
    assert open(os.path.join(pw.pw_dir, "p2"), "rb").read() == msg
    assert open(os.path.join(pw.pw_dir, "p3"), "rb").read() == msg


def test_writable_bits_follow_conf_patrn(users):
    """INTERFACES §8.2 with conf-patrn 002: a group-writable home or .qmail
    is fine, an other-writable one defers."""
    pw = users["hza"]
    box = os.path.join(pw.pw_dir, "Mailbox")
    msg = b"Subject: patrn\n\nx\n"
    fd, path = tempfile.mkstemp(prefix="hzmsg")
    os.write(fd, msg)
    os.close(fd)
    os.chmod(path, 0o644)
    try:
        for home_mode, qmail_mode, want in ((0o775, 0o664, 0), (0o757, 0o644, 111), (0o755, 0o646, 111),
                                            (0o755, 0o644, 0)):
            os.chmod(pw.pw_dir, home_mode)
            write_file(os.path.join(pw.pw_dir, ".qmail"), "./Mailbox\n", "hza", mode=qmail_mode)
            before = os.path.getsize(box) if os.path.exists(box) else 0
            r = qlocal(pw, msgpath=path)
            assert r.returncode == want, (oct(home_mode), oct(qmail_mode), r)
            after = os.path.getsize(box) if os.path.exists(box) else 0
            assert (after > before) == (want == 0)
    finally:
        os.chmod(pw.pw_dir, 0o755)
        os.unlink(path)


# ---------------------------------------------------------------- §13.5 envelopes

def test_envnoathost_and_verp(sched, users, queue, control):
    """INTERFACES §13.5: a recipient with no @ gets envnoathost; the VERP
    sender pre-@host-@[] becomes pre-box=dom@host for each recipient."""
    control["envnoathost"] = ME + "\n"
    s = sched(env={"QMAILREMOTE": fake_remote("hz-fake-remote")})
    assert qq(b"Subject: noat\n\nx\n", "hzb@" + ME, ["hza"]) == 0
    m = wait_mail("hza")[0]
    assert b"\nDelivered-To: hza@testhost.example\n" in b"\n" + m
    verp = "list-@" + ME + "-@[]"
    assert qq(b"Subject: verp\n\nx\n", verp, ["hzb@" + ME, "box@far.example"]) == 0
    m = wait_mail("hzb")[0]
    assert m.startswith(b"Return-Path: <list-hzb=testhost.example@testhost.example>\n"), m[:200]
    s.wait_log(r"^delivery \d+: success: far.example_accepted_box@far.example_from_"
               r"list-box=far.example@testhost.example/fake_said:_250_ok/$")
    queue_empty(queue)


# ---------------------------------------------------------------- §3.5 exit 82

def custom_qq(tmpdir, text):
    path = os.path.join(tmpdir, "qq82")
    with open(path, "w") as f:
        f.write("#!/bin/sh\ncat > /dev/null\ncat <&1 > /dev/null\nprintf '%s' >&6\nexit 82\n" % text)
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("kind,smtp", [("D", 554), ("Z", 451)])
def test_custom_refusal_exit_82_is_relayed(tmp_path, control, kind, smtp):
    """INTERFACES §3.5: exit 82 with D/Z text on fd 6 is relayed by
    qmail-smtpd, qmail-qmtpd and qmail-inject."""
    text = "filter says no thanks (#%s.7.1)" % ("5" if kind == "D" else "4")
    prog = custom_qq(str(tmp_path), kind + text + "\\nignored second line")
    script = (b"HELO me\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n"
              b"Subject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    # u@localhost is made up: the RCPT check is off (test_rcptcheck.py has it)
    r = run([bin_path("qmail-smtpd")], input=script, env={"QMAILQUEUE": prog, "RCPTCHECK": "0"})
    replies = [l for l in r.stdout.split(b"\r\n") if l]
    assert replies[-2] == b"%d %s" % (smtp, text.encode()), replies
    msg = b"Subject: q\n\nx\n"
    pkg = b"%d:\n%s,13:s@example.org,15:11:u@localhost,," % (len(msg) + 1, msg)
    r = run([bin_path("qmail-qmtpd")], input=pkg, env={"QMAILQUEUE": prog})
    assert r.stdout == b"%d:%s%s," % (len(text) + 1, kind.encode(), text.encode()), r.stdout
    r = run([bin_path("qmail-inject"), "x@y.example"], input=b"Subject: s\n\nb\n", env={"QMAILQUEUE": prog})
    assert r.returncode == (100 if kind == "D" else 111), r
    assert text.encode() in r.stderr


# ---------------------------------------------------------------- §10.2 / §13 bounce defaults

def test_bounce_sender_settings_and_default_doublebounceto(sched, users, queue, control):
    """INTERFACES §10.2, §13.2, §13.4: bouncefrom@bouncehost is the From of
    a bounce; with no doublebounceto the double bounce goes to postmaster
    (here through ~alias/.qmail-postmaster), from #@[]."""
    control["bouncefrom"] = "bouncer\n"
    control["bouncehost"] = "bounces.example\n"
    pm = maildir(os.path.join(HOME, "alias", "pm"), "alias")
    write_file(os.path.join(HOME, "alias", ".qmail-postmaster"), "./pm/\n", "alias")
    sched()
    assert qq(b"Subject: dbl\n\nx\n", "ghost1@" + ME, ["ghost2@" + ME]) == 0
    m = wait_for(lambda: messages(pm), what="the double bounce")[0].decode()
    assert m.startswith("Return-Path: <#@[]>\nDelivered-To: postmaster@testhost.example\n"), m[:300]
    head = m.split("\n\n", 1)[0] + "\n"
    assert "\nFrom: bouncer@bounces.example\n" in head
    assert "\nTo: postmaster@testhost.example\n" in head
    assert "\nSubject: failure notice\n" in head
    assert re.search(r"\nDate: ", head)
    queue_empty(queue)


# ---------------------------------------------------------------- §13.8 maildir readers

def test_pop3d_skips_dot_files_and_removes_stale_tmp(users):
    """INTERFACES §13.8: a maildir reader skips dot-files and removes tmp/
    files not accessed for 36 hours (fresh ones stay)."""
    pw = users["hza"]
    md = os.path.join(pw.pw_dir, "Maildir")
    files = {"new/1000000001.M1P1.host": (b"Subject: one\n\nhello\n", 60),
             "new/.hidden": (b"Subject: hidden\n\nx\n", 60),
             "cur/.also-hidden:2,": (b"Subject: hidden\n\ny\n", 60),
             "tmp/1000000002.M2P2.host": (b"partial", 37 * 3600),
             "tmp/1000000003.M3P3.host": (b"in progress", 60)}
    for name, (data, age) in files.items():
        write_file(os.path.join(md, name), data.decode(), "hza", mode=0o600)
        t = time.time() - age
        os.utime(os.path.join(md, name), (t, t))
    r = subprocess.run(["runuser", "-u", "hza", "--", bin_path("qmail-pop3d"), "Maildir"], cwd=pw.pw_dir,
                       input=b"STAT\r\nQUIT\r\n", capture_output=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    lines = r.stdout.split(b"\r\n")
    assert lines[1] == b"+OK 1 %d" % len(b"Subject: one\n\nhello\n"), r.stdout   # [0] is the login answer
    assert sorted(os.listdir(os.path.join(md, "tmp"))) == ["1000000003.M3P3.host"]
