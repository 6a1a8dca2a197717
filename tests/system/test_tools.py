"""The administrator tools: qmail-qread, qmail-qstat, qmail-showctl,
maildirmake, maildir2mbox and splogger; and qreceipt run on its own.

Queue entries are written straight into the hermetic queue in qmail's
layout (mess/N/id, todo/id, info/N/id, local/N/id, remote/N/id, bounce/id)
with qmail's owners, so the listing tools are checked against exactly the
files qmail-queue and qmail-send leave behind.
"""
import grp
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, HOME, bin_path, run
from smtpd_util import FakeQueue


def ids(user):
    return pwd.getpwnam(user).pw_uid, grp.getgrnam("qmail").gr_gid


def put(path, data, owner, mode, mtime=None):
    with open(path, "wb") as f:
        f.write(data)
    uid, gid = ids(owner)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def enqueue(queue, msgid, body, sender, rcpts=(), local=(), remote=(), mtime=1700000000,
            preprocessed=True, bouncing=False):
    """Make message msgid. Preprocessed: info, local and remote files with
    (done, addr) pairs; otherwise a todo envelope with rcpts."""
    split = queue.split()
    n = str(msgid % split)
    q = queue.dir
    put(os.path.join(q, "mess", n, str(msgid)), body, "qmailq", 0o644)
    if not preprocessed:
        env = b"u0\0p4242\0F" + sender + b"\0" + b"".join(b"T" + r + b"\0" for r in rcpts) + b"\0"
        put(os.path.join(q, "todo", str(msgid)), env, "qmailq", 0o644, mtime)
        return
    put(os.path.join(q, "info", n, str(msgid)), b"F" + sender + b"\0", "qmails", 0o600, mtime)
    for chan, lst in (("local", local), ("remote", remote)):
        if lst:
            data = b"".join((b"D" if done else b"T") + a + b"\0" for done, a in lst)
            put(os.path.join(q, chan, n, str(msgid)), data, "qmails", 0o600)
    if bouncing:
        put(os.path.join(q, "bounce", str(msgid)), b"", "qmails", 0o600)


def stamp(t):
    g = time.gmtime(t)
    return "%d %s %d %02d:%02d:%02d GMT" % (g.tm_mday, time.strftime("%b", g), g.tm_year,
                                          g.tm_hour, g.tm_min, g.tm_sec)


# ---------------------------------------------------------------- qmail-qread

def test_qread_empty_queue(queue):
    r = run([bin_path("qmail-qread")])
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")


def test_qread_lists_preprocessed_messages_like_qmail(queue):
    t = 1700000000
    enqueue(queue, 4000, b"x" * 321, b"alice@example.org",
            local=[(False, b"bob@testhost.example"), (True, b"carol@testhost.example")],
            remote=[(True, b"dave@example.net"), (False, b"eve@example.net")], mtime=t)
    enqueue(queue, 4001, b"hello\n", b"", remote=[(False, b"x\x01y@example.com")],
            mtime=t + 3661, bouncing=True)
    r = run([bin_path("qmail-qread")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (
        "%s  #4000  321  <alice@example.org> \n"
        "\tlocal\tbob@testhost.example\n"
        "  done\tlocal\tcarol@testhost.example\n"
        "  done\tremote\tdave@example.net\n"
        "\tremote\teve@example.net\n"
        "%s  #4001  6  <>  bouncing\n"
        "\tremote\tx_y@example.com\n" % (stamp(t), stamp(t + 3661)))
    assert stamp(t) == "14 Nov 2023 22:13:20 GMT"


def test_qread_orders_by_subdirectory_then_id(queue):
    split = queue.split()
    # 3*split+1 and 2*split+1 share subdirectory 1; 5 is in subdirectory 5
    for i in (3 * split + 1, 5, 2 * split + 1):
        enqueue(queue, i, b"m\n", b"s@x", remote=[(False, b"r@y")])
    out = run([bin_path("qmail-qread")]).stdout.decode()
    assert re.findall(r"#(\d+)", out) == [str(2 * split + 1), str(3 * split + 1), "5"]


def test_qread_shows_messages_not_yet_preprocessed(queue):
    t = 1600000000
    enqueue(queue, 77, b"abc\n", b"who@example.org", rcpts=[b"a@testhost.example", b"b@example.com"],
            mtime=t, preprocessed=False)
    enqueue(queue, 78, b"12345\n", b"pre@example.org", remote=[(False, b"c@example.com")], mtime=t)
    r = run([bin_path("qmail-qread")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (
        "%s  #78  6  <pre@example.org> \n"
        "\tremote\tc@example.com\n"
        "%s  #77  4  <who@example.org>  not yet preprocessed\n"
        "\ttodo\ta@testhost.example\n"
        "\ttodo\tb@example.com\n" % (stamp(t), stamp(t)))


def test_qread_prefers_todo_while_preprocessing_is_unfinished(queue):
    # qmail-send writes info/local/remote before it removes todo/id, so a
    # message in both places is still being preprocessed: list it once
    enqueue(queue, 90, b"m\n", b"s@x", remote=[(False, b"partial@y")])
    enqueue(queue, 90, b"m\n", b"s@x", rcpts=[b"all@y"], preprocessed=False)
    out = run([bin_path("qmail-qread")]).stdout.decode()
    assert out.count("#90") == 1
    assert "\ttodo\tall@y\n" in out and "partial" not in out


def test_qread_runs_as_qmails_but_not_as_others(queue):
    enqueue(queue, 12, b"m\n", b"s@x", remote=[(False, b"r@y")])
    r = run([bin_path("qmail-qread")], user="qmails")
    assert r.returncode == 0, r.stderr
    assert b"#12  2  <s@x>" in r.stdout
    r = run([bin_path("qmail-qread")], user="qmaild")
    assert r.returncode == 111
    assert r.stderr.startswith(b"qmail-qread: fatal: unable to ")


def test_qread_warns_about_a_broken_message_and_goes_on(queue):
    enqueue(queue, 30, b"m\n", b"s@x", remote=[(False, b"r@y")])
    enqueue(queue, 31, b"m\n", b"t@x", remote=[(False, b"q@y")])
    os.unlink(queue.mess_path(30))
    r = run([bin_path("qmail-qread")])
    assert r.returncode == 111
    assert b"qmail-qread: warning: trouble with #30" in r.stderr
    assert b"#31  2  <t@x>" in r.stdout and b"#30" not in r.stdout


def test_qread_shows_a_message_queued_by_qmail_queue(queue, tmp_path):
    if not os.path.exists(bin_path("qmail-queue")):
        pytest.skip("qmail-queue is not built yet")
    msg = tmp_path / "msg"
    msg.write_bytes(b"Subject: hi\n\nbody\n")
    env = tmp_path / "env"
    env.write_bytes(b"Fsender@example.org\0Trcpt@example.com\0\0")
    # qmail-queue reads the message on fd 0 and the envelope on fd 1
    with open(msg, "rb") as m, open(env, "rb") as e:
        r = subprocess.run([bin_path("qmail-queue")], stdin=m, stdout=e, stderr=subprocess.PIPE,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    (msgid,) = queue.todo()
    size = len(queue.message(msgid))
    out = run([bin_path("qmail-qread")]).stdout.decode()
    assert re.fullmatch(r"\d+ \w{3} \d{4} \d\d:\d\d:\d\d GMT  #%d  %d  <sender@example.org>  "
                        r"not yet preprocessed\n\ttodo\trcpt@example.com\n" % (msgid, size), out), out
    r = run([bin_path("qmail-qstat")])
    assert r.stdout == (b"messages in queue: 1\n"
                        b"messages in queue but not yet preprocessed: 1\n")


# ---------------------------------------------------------------- qmail-qstat

def test_qstat_counts(queue):
    r = run([bin_path("qmail-qstat")])
    assert (r.returncode, r.stdout) == (0, b"messages in queue: 0\n"
                                           b"messages in queue but not yet preprocessed: 0\n")
    enqueue(queue, 100, b"m\n", b"s@x", remote=[(False, b"r@y")])
    enqueue(queue, 101, b"m\n", b"s@x", remote=[(False, b"r@y")])
    enqueue(queue, 102, b"m\n", b"s@x", rcpts=[b"r@y"], preprocessed=False)
    r = run([bin_path("qmail-qstat")])
    assert (r.returncode, r.stdout) == (0, b"messages in queue: 3\n"
                                           b"messages in queue but not yet preprocessed: 1\n")


def test_qstat_needs_the_qmail_group(queue):
    r = run([bin_path("qmail-qstat")], user="qmaild")
    assert r.returncode == 111
    assert r.stderr.startswith(b"qmail-qstat: fatal: unable to ")


# ---------------------------------------------------------------- qmail-showctl

def showctl_entry(out, name):
    """The text qmail-showctl prints for one control file."""
    m = re.search(r"^\n%s: (.*?)\n(?=\n|\Z)" % re.escape(name), "\n" + out, re.M | re.S)
    assert m, "no entry for %s in:\n%s" % (name, out)
    return m.group(1)


def test_showctl_compiled_in_settings():
    r = run([bin_path("qmail-showctl")])
    assert r.returncode == 0, r.stdout
    out = r.stdout.decode()
    uids = [pwd.getpwnam(u).pw_uid for u in
            ("alias", "qmaild", "qmaill", "root", "qmailp", "qmailq", "qmailr", "qmails")]
    gids = [grp.getgrnam(g).gr_gid for g in ("nofiles", "qmail")]
    with open(os.path.join(os.environ.get("QMAIL_SRC", "."), "conf-split")) as f:
        split = int(f.readline())
    assert out.startswith("qmail home directory: %s.\n" % HOME)
    assert "\nsubdirectory split: %d.\n" % split in out
    assert "\nuser-ext delimiter: -.\n" in out
    assert "\nuser ids: %s.\n" % ", ".join(map(str, uids)) in out
    assert "\ngroup ids: %s.\n" % ", ".join(map(str, gids)) in out


def test_showctl_shows_values_and_defaults(control):
    control["me"] = "mail.example.org\n"
    control["bouncefrom"] = None
    control["bouncehost"] = None
    control["databytes"] = "1000000\n"
    control["concurrencyremote"] = None
    control["rcpthosts"] = "example.org\n# comment\n.example.net\n"
    control["smtproutes"] = ":relay.example.com:2525\n"
    control["locals"] = None
    control["zzunknown"] = "x\n"
    r = run([bin_path("qmail-showctl")])
    assert r.returncode == 0, r.stdout
    out = r.stdout.decode()
    assert showctl_entry(out, "me") == "This host is called mail.example.org."
    assert showctl_entry(out, "bouncefrom") == "(Default.) Bounces come from user MAILER-DAEMON."
    assert showctl_entry(out, "bouncehost") == "(Default.) Bounces come from host mail.example.org."
    assert showctl_entry(out, "databytes") == "SMTP messages may have at most 1000000 bytes."
    assert showctl_entry(out, "concurrencyremote") == "(Default.) At most 20 remote deliveries at once."
    assert showctl_entry(out, "rcpthosts") == (
        "\nSMTP clients may send mail to recipients at example.org.\n"
        "SMTP clients may send mail to recipients at .example.net.")
    assert showctl_entry(out, "smtproutes") == "\nSMTP route: :relay.example.com:2525"
    assert showctl_entry(out, "locals") == "(Default.) Delivered here: mail for mail.example.org."
    assert showctl_entry(out, "zzunknown") == "Not a control file of this suite; nothing reads it."
    # every file of qmail-control(5) is explained
    for name in ("badmailfrom", "concurrencylocal", "defaultdomain", "defaulthost", "doublebouncehost",
                 "doublebounceto", "envnoathost", "helohost", "idhost", "localiphost", "morercpthosts",
                 "morercpthosts.cdb", "percenthack", "plusdomain", "qmqpservers", "queuelifetime",
                 "smtpgreeting", "timeoutconnect", "timeoutremote", "timeoutsmtpd", "virtualdomains"):
        showctl_entry(out, name)


def test_showctl_says_no_rcpthosts_is_closed_and_warns_of_bad_numbers(control):
    control["rcpthosts"] = None
    control["morercpthosts"] = None
    control["timeoutsmtpd"] = "soon\n"
    r = run([bin_path("qmail-showctl")])
    out = r.stdout.decode()
    assert "no recipient with a domain" in showctl_entry(out, "rcpthosts")
    # a bad number is no longer fatal anywhere: the default is used (issue 10)
    assert showctl_entry(out, "timeoutsmtpd").startswith("(Not a number: `soon'.) (Default.)")


def test_showctl_checks_morercpthosts_cdb(control):
    control["rcpthosts"] = "example.org\n"
    control["morercpthosts"] = "example.com\n"
    control["morercpthosts.cdb"] = None
    out = run([bin_path("qmail-showctl")]).stdout.decode()
    assert showctl_entry(out, "morercpthosts") == \
        "\nSMTP clients may also send mail to recipients at example.com."
    assert "qmail-newmrh" in showctl_entry(out, "morercpthosts.cdb")
    control["morercpthosts.cdb"] = b"x"
    out = run([bin_path("qmail-showctl")]).stdout.decode()
    assert showctl_entry(out, "morercpthosts.cdb") == "Made after the last change to morercpthosts."


# ---------------------------------------------------------------- maildirmake

@pytest.fixture
def opendir():
    """A directory every user can reach and write (tmp_path is root's only)."""
    d = tempfile.mkdtemp(prefix="tools.", dir=BUILD)
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d)


def test_maildirmake_creates_a_private_maildir(tmp_path):
    d = tmp_path / "Maildir"
    r = run([bin_path("maildirmake"), str(d)])
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    for p in (d, d / "tmp", d / "new", d / "cur"):
        st = os.stat(p)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, p
    assert sorted(os.listdir(d)) == ["cur", "new", "tmp"]


def test_maildirmake_as_a_user_with_a_loose_umask(opendir):
    d = os.path.join(opendir, "M")
    r = run(["sh", "-c", 'umask 0; exec "$0" "$1"', bin_path("maildirmake"), str(d)], user="qmaild")
    assert r.returncode == 0, r.stderr
    assert os.stat(d).st_uid == pwd.getpwnam("qmaild").pw_uid
    assert stat.S_IMODE(os.stat(os.path.join(d, "new")).st_mode) == 0o700


def test_maildirmake_refuses_an_existing_directory(tmp_path):
    d = tmp_path / "Maildir"
    d.mkdir()
    (d / "keep").write_text("x")
    r = run([bin_path("maildirmake"), str(d)])
    assert r.returncode == 100
    assert r.stderr.startswith(b"maildirmake: fatal: unable to mkdir ")
    assert os.listdir(d) == ["keep"]


def test_maildirmake_usage():
    for args in ([], ["a", "b"], [""]):
        r = run([bin_path("maildirmake")] + args)
        assert r.returncode == 100 and b"usage" in r.stderr


def test_maildirmake_temporary_failure(opendir):
    os.chmod(opendir, 0o755)
    d = os.path.join(opendir, "M")
    r = run([bin_path("maildirmake"), d], user="qmaild")  # EACCES
    assert r.returncode == 111
    assert not os.path.exists(d)


# ---------------------------------------------------------------- maildir2mbox

def ctime_utc(t):
    """the asctime(3) form of mbox From_ lines: the day padded with a space"""
    return time.asctime(time.gmtime(t))


def m2m_env(tmp_path):
    return {"MAILDIR": str(tmp_path / "Maildir"), "MAIL": str(tmp_path / "mbox"),
            "MAILTMP": str(tmp_path / "mbox.tmp")}


def put_msg(d, name, data, t):
    p = d / name
    p.write_bytes(data)
    os.utime(p, (t, t))


def test_maildir2mbox_moves_messages_in_order(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    t = 1700000000
    put_msg(md / "new", "%d.1.host" % (t + 20), b"Return-Path: <a b@x>\nSubject: two\n\n"
            b"From here\n>From there\nno newline", t + 20)
    put_msg(md / "cur", "%d.2.host:2,S" % t, b"Return-Path: <bob@example.org>\nSubject: one\n\nhi\n", t)
    put_msg(md / "new", "%d.3.host" % (t + 40), b"Return-Path: <>\n\nbounce\n", t + 40)
    put_msg(md / "new", "%d.4.host" % (t + 60), b"Subject: none\n\nx\n", t + 60)
    put_msg(md / "new", ".hidden", b"not a message\n", t)
    (tmp_path / "mbox").write_bytes(b"From old Thu Jan 01 00:00:00 1970\n\nold\n\n")
    os.chmod(tmp_path / "mbox", 0o640)
    r = run([bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert (r.returncode, r.stderr) == (0, b"")
    assert (tmp_path / "mbox").read_bytes().decode() == (
        "From old Thu Jan 01 00:00:00 1970\n\nold\n\n"
        "From bob@example.org %s\nReturn-Path: <bob@example.org>\nSubject: one\n\nhi\n\n"
        "From a-b@x %s\nReturn-Path: <a b@x>\nSubject: two\n\n>From here\n>>From there\nno newline\n\n"
        "From MAILER-DAEMON %s\nReturn-Path: <>\n\nbounce\n\n"
        "From XXX %s\nSubject: none\n\nx\n\n"
        % (ctime_utc(t), ctime_utc(t + 20), ctime_utc(t + 40), ctime_utc(t + 60)))
    assert os.listdir(md / "new") == [".hidden"]
    assert os.listdir(md / "cur") == []
    assert not os.path.exists(tmp_path / "mbox.tmp")
    assert stat.S_IMODE(os.stat(tmp_path / "mbox").st_mode) == 0o640


def test_maildir2mbox_nothing_to_do_leaves_mbox_alone(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    r = run([bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert r.returncode == 0
    assert not os.path.exists(tmp_path / "mbox")


def test_maildir2mbox_creates_the_mbox_and_cleans_tmp(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    old = time.time() - 40 * 3600
    put_msg(md / "tmp", "stale", b"x", old)
    put_msg(md / "tmp", "fresh", b"x", time.time())
    put_msg(md / "new", "1.1.h", b"Return-Path: <s@x>\n\nbody\n", 1000)
    r = run([bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mbox").read_bytes() == (
        b"From s@x Thu Jan  1 00:16:40 1970\nReturn-Path: <s@x>\n\nbody\n\n")
    assert stat.S_IMODE(os.stat(tmp_path / "mbox").st_mode) == 0o600
    assert os.listdir(md / "tmp") == ["fresh"]


def test_maildir2mbox_keeps_mail_when_it_cannot_write(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    put_msg(md / "new", "1.1.h", b"Subject: x\n\nbody\n", 1000)
    env = m2m_env(tmp_path)
    env["MAILTMP"] = str(tmp_path / "nodir" / "mbox.tmp")
    r = run([bin_path("maildir2mbox")], env=env)
    assert r.returncode == 111
    assert r.stderr.startswith(b"maildir2mbox: fatal: unable to create ")
    assert os.listdir(md / "new") == ["1.1.h"]
    assert (tmp_path / "mbox").read_bytes() == b""


def test_maildir2mbox_quotes_long_lines_once(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    long = b"From " + b"y" * 200000 + b"From \n"
    body = b"From the start\n" + long + b">From x\n" + b"z" * 70000 + b"\nFrom end"
    put_msg(md / "new", "1.1.h", body, 1000)
    r = run([bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mbox").read_bytes() == (
        b"From XXX Thu Jan  1 00:16:40 1970\n>From the start\n>" + long + b">>From x\n"
        + b"z" * 70000 + b"\n>From end\n\n")


def test_maildir2mbox_sender_with_odd_bytes(tmp_path):
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    put_msg(md / "new", "1.1.h", "Return-Path: <j\u00fcrgen\t@x>\n\nb\n".encode(), 1000)
    r = run([bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mbox").read_bytes().startswith(
        "From j\u00fcrgen-@x Thu Jan  1 00:16:40 1970\n".encode())


def test_maildir2mbox_makes_the_rename_durable_before_it_unlinks(tmp_path):
    """The maildir copies may go only once the new mbox name is on disk: the
    directory holding $MAIL is fsynced between the rename and the unlinks."""
    md = tmp_path / "Maildir"
    assert run([bin_path("maildirmake"), str(md)]).returncode == 0
    put_msg(md / "new", "1.1.h", b"Subject: x\n\nbody\n", 1000)
    log = tmp_path / "trace"
    r = run(["strace", "-f", "-y", "-qq", "-o", str(log), "-e", "trace=rename,renameat,renameat2,fsync,unlink,unlinkat",
             bin_path("maildir2mbox")], env=m2m_env(tmp_path))
    assert r.returncode == 0, r.stderr
    calls = [l for l in log.read_text().splitlines() if "= 0" in l]
    ren = next(i for i, l in enumerate(calls) if "rename" in l and "mbox.tmp" in l)
    unl = next(i for i, l in enumerate(calls) if "unlink" in l and "1.1.h" in l)
    assert any("fsync(" in l and "<%s>" % tmp_path in l for l in calls[ren:unl]), calls


@pytest.mark.parametrize("missing", ["MAIL", "MAILTMP", "MAILDIR"])
def test_maildir2mbox_needs_its_environment(tmp_path, missing):
    env = m2m_env(tmp_path)
    del env[missing]
    r = run([bin_path("maildir2mbox")], env=env)
    assert r.returncode == 100
    assert r.stderr == b"maildir2mbox: fatal: %s not set\n" % missing.encode()


# ---------------------------------------------------------------- splogger

class Syslog:
    """A /dev/log of our own: splogger runs in a private mount namespace
    with a temporary directory mounted on /dev."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="devlog.", dir=BUILD)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.dir, "log"))
        self.sock.settimeout(10)

    def run(self, args, input):
        return run(["unshare", "-m", "--", "sh", "-c",
                    'mount --bind "$0" /dev && exec "$@"', self.dir, bin_path("splogger")] + args,
                   input=input)

    def recv(self):
        data = self.sock.recv(65536).decode()
        m = re.fullmatch(r"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d ([^:]*): (.*)", data, re.S)
        assert m, data
        return int(m.group(1)), m.group(2), m.group(3)

    def pending(self):
        self.sock.setblocking(False)
        try:
            self.sock.recv(65536)
            return True
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir)


@pytest.fixture
def syslog():
    if subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("no mount namespaces here")
    s = Syslog()
    yield s
    s.close()


def test_splogger_sends_lines_to_syslog(syslog):
    before = time.time()
    r = syslog.run(["qmail"], b"status: local 0/10 remote 0/20\n\nwarning: trouble\n"
                              b"alert: bad\x01\xff\nlast line without newline")
    assert (r.returncode, r.stderr) == (0, b"")
    got = [syslog.recv() for _ in range(4)]
    assert not syslog.pending()  # the blank line was not logged
    mail = 2 << 3
    assert [(p, tag) for p, tag, _ in got] == [(mail | 6, "qmail"), (mail | 4, "qmail"),
                                              (mail | 1, "qmail"), (mail | 6, "qmail")]
    texts = []
    for _, _, msg in got:
        m = re.fullmatch(r"(\d+)\.(\d{6}) (.*)", msg, re.S)
        assert m, msg
        assert before - 1 <= int(m.group(1)) <= time.time() + 1
        texts.append(m.group(3))
    assert texts == ["status: local 0/10 remote 0/20", "warning: trouble", "alert: bad??",
                     "last line without newline"]


def test_splogger_folds_long_lines_and_takes_a_facility(syslog):
    line = b"".join(b"%09d " % i for i in range(250))  # 2500 bytes
    r = syslog.run(["tag", "3"], line + b"\n")
    assert r.returncode == 0
    got = [syslog.recv() for _ in range(4)]
    assert not syslog.pending()
    assert {(p, tag) for p, tag, _ in got} == {(3 << 3 | 6, "tag")}
    first = re.fullmatch(r"(\d+\.\d{6}) (.*)", got[0][2], re.S)
    pieces = [first.group(2)]
    for _, _, msg in got[1:]:
        assert msg.startswith(first.group(1) + "+")
        pieces.append(msg[len(first.group(1)) + 1:])
    assert [len(p) for p in pieces] == [799, 799, 799, 103]
    assert "".join(pieces) == line.decode()


def test_splogger_default_tag_and_facility(syslog):
    r = syslog.run([], b"hello\n")
    assert r.returncode == 0
    pri, tag, msg = syslog.recv()
    assert (pri, tag) == (2 << 3 | 6, "splogger")
    assert msg.endswith(" hello")


@pytest.mark.parametrize("args", [["t", "x"], ["t", "24"], ["t", "2", "extra"]])
def test_splogger_usage(args):
    r = run([bin_path("splogger")] + args, input=b"x\n")
    assert r.returncode == 100 and b"usage" in r.stderr


# --- qreceipt on its own ----------------------------------------------------

RECEIPT_ASKED = (b"Notice-Requested-Upon-Delivery-To: joe@example.com\n"
                 b"Message-ID: <m1@example.org>\nSubject: s\n\nbody\n")


@pytest.mark.parametrize("sender", ["a@b.example\nBcc: victim@example.net",
                                    "a@b.example\r\nX-Injected: yes", "a\x01b@example.org"])
def test_qreceipt_sends_no_notice_to_a_sender_with_a_line_break(sender):
    """$SENDER comes from the envelope, and QMTP or QMQP can carry any
    byte in it; in the notice's To field a line break would start a header
    line of the sender's choosing. Such a sender gets no notice."""
    q = FakeQueue()
    try:
        env = {"SENDER": sender, "QMAILQUEUE": q.prog}
        r = run([bin_path("qreceipt"), "joe@example.com"], input=RECEIPT_ASKED, env=env)
        assert r.returncode == 0, r.stderr
        assert q.messages() == []
        env["SENDER"] = "a@b.example"
        r = run([bin_path("qreceipt"), "joe@example.com"], input=RECEIPT_ASKED, env=env)
        assert r.returncode == 0, r.stderr
        (msg, rec), = q.messages()
        assert rec == [b"F", b"Ta@b.example"]
        assert b"\nTo: <a@b.example>\n" in msg and b"<m1@example.org>" in msg
    finally:
        q.cleanup()
