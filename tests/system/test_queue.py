"""qmail-queue: the message on fd 0 and the envelope on fd 1 land in the
queue in qmail's layout, or nothing lands at all (qmail-queue(8))."""
import email.utils
import hashlib
import os
import pwd
import re
import resource
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BUILD, HOME, SRC, bin_path, wait_for
from send_util import feed as _feed

QQ = bin_path("qmail-queue")
QDIR = os.path.join(HOME, "queue")
RECEIVED = re.compile(rb"^Received: \(qmail (\d+) invoked (by alias|from network|for bounce|by uid \d+)\); "
                      rb"([^\n]+)\n")


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


class Result:
    def __init__(self, code, pid, stderr):
        self.code, self.pid, self.stderr = code, pid, stderr


def qq(message=b"", envelope=b"", user=None, stdin=None, stdout=None, preexec=None, timeout=120, wrap=()):
    """Run qmail-queue (after the argv wrap, if any) with the message on a
    pipe to fd 0 and the envelope on a pipe to fd 1 (or the given
    descriptors). Returns a Result."""
    args = list(wrap) + ([QQ] if user is None else ["runuser", "-u", user, "--", QQ])
    feeders, close_after = [], []
    if stdin is None:
        r, w = os.pipe()
        stdin = r
        close_after.append(r)
        feeders.append(threading.Thread(target=_feed, args=(w, message)))
    if stdout is None:
        r, w = os.pipe()
        stdout = r
        close_after.append(r)
        feeders.append(threading.Thread(target=_feed, args=(w, envelope)))
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=err, preexec_fn=preexec,
                            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    for fd in close_after:
        os.close(fd)
    for t in feeders:
        t.start()
    end = time.monotonic() + timeout
    while True:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > end:
            proc.kill()
            proc.wait()
            raise AssertionError("qmail-queue did not finish in %ss" % timeout)
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in feeders:
        t.join(10)
    err.seek(0)
    text = err.read()
    err.close()
    return Result(proc.returncode, proc.pid, text)


def env(sender, *rcpts):
    return b"".join([b"F" + sender + b"\0"] + [b"T" + r + b"\0" for r in rcpts] + [b"\0"])


def only_message(queue):
    ids = queue.todo()
    assert len(ids) == 1, queue.all_files()
    return ids[0]


def assert_empty(queue):
    assert queue.all_files() == []


MSG = b"From: a@example.org\nTo: b@example.org\nSubject: test\n\nline one\nline two\n"


def check_queued(queue, message, envelope_records, uid, invoked, pid=None):
    """The one queued message has qmail's files, contents, owners and modes."""
    msgid = only_message(queue)
    mess = queue.mess_path(msgid)
    assert os.stat(mess).st_ino == msgid
    assert os.path.dirname(mess).endswith("/mess/%d" % (msgid % queue.split()))
    body = queue.message(msgid)
    m = RECEIVED.match(body)
    assert m, body[:200]
    assert m.group(2) == invoked
    when = email.utils.parsedate_to_datetime(m.group(3).decode())
    assert abs(when.timestamp() - time.time()) < 120
    assert body[m.end():] == message
    todo = queue.envelope(msgid, "todo")
    assert queue.envelope(msgid, "intd") == todo
    want = b"u%d\0p%s\0" % (uid, m.group(1)) + envelope_records
    assert todo == want
    if pid is not None:
        assert int(m.group(1)) == pid
    qmailq = uid_of("qmailq")
    for sub in ("todo", "intd"):
        st = os.stat(os.path.join(QDIR, sub, str(msgid)))
        assert st.st_uid == qmailq and stat.S_IMODE(st.st_mode) == 0o644
    assert os.stat(os.path.join(QDIR, "todo", str(msgid))).st_ino == \
        os.stat(os.path.join(QDIR, "intd", str(msgid))).st_ino
    st = os.stat(mess)
    assert st.st_uid == qmailq and stat.S_IMODE(st.st_mode) == 0o644
    assert queue.files("pid") == []
    return msgid


def test_queues_message_as_root(queue):
    r = qq(MSG, env(b"a@example.org", b"b@example.org", b"c@example.net"))
    assert r.code == 0 and r.stderr == b""
    check_queued(queue, MSG, b"Fa@example.org\0Tb@example.org\0Tc@example.net\0", 0, b"by uid 0", pid=r.pid)


def test_setuid_qmailq_when_run_by_nobody(queue):
    r = qq(MSG, env(b"x@example.org", b"y@example.org"), user="nobody")
    assert r.code == 0, r.stderr
    nobody = uid_of("nobody")
    check_queued(queue, MSG, b"Fx@example.org\0Ty@example.org\0", nobody, b"by uid %d" % nobody)


@pytest.mark.parametrize("user,invoked", [("alias", b"by alias"), ("qmaild", b"from network"),
                                          ("qmails", b"for bounce")])
def test_received_line_names_the_caller(queue, user, invoked):
    r = qq(MSG, env(b"", b"z@example.org"), user=user)
    assert r.code == 0, r.stderr
    check_queued(queue, MSG, b"F\0Tz@example.org\0", uid_of(user), invoked)


def test_message_bytes_kept_exactly(queue):
    msg = b"no header at all\r\n\0binary\xff\x00\nlast line without newline"
    assert qq(msg, env(b"a@b", b"c@d")).code == 0
    check_queued(queue, msg, b"Fa@b\0Tc@d\0", 0, b"by uid 0")


def test_empty_message_and_no_recipients(queue):
    assert qq(b"", b"Fa@b\0\0").code == 0
    check_queued(queue, b"", b"Fa@b\0", 0, b"by uid 0")


def test_data_after_final_nul_is_ignored(queue):
    assert qq(MSG, b"Fa@b\0Tc@d\0\0Tjunk\0").code == 0
    check_queued(queue, MSG, b"Fa@b\0Tc@d\0", 0, b"by uid 0")


def test_trigger_is_pulled(queue):
    fifo = os.open(os.path.join(QDIR, "lock", "trigger"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert os.read(fifo, 10) == b""  # no writer, nothing waiting
        assert qq(MSG, env(b"a@b", b"c@d")).code == 0
        assert os.read(fifo, 10) == b"\0"
    finally:
        os.close(fifo)


def test_failed_message_does_not_pull_trigger(queue):
    fifo = os.open(os.path.join(QDIR, "lock", "trigger"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert qq(MSG, b"Xa@b\0\0").code == 91
        assert os.read(fifo, 10) == b""
    finally:
        os.close(fifo)


@pytest.mark.parametrize("envelope", [b"Ta@b\0\0", b"Xa@b\0\0", b"\0", b"Fa@b\0Xc@d\0\0",
                                      b"Fa@b\0Tc@d\0Fe@f\0\0", b"Fa@b\0Tc@d\0 \0"])
def test_bad_envelope_format_exits_91(queue, envelope):
    r = qq(MSG, envelope, user="nobody")
    assert r.code == 91
    assert_empty(queue)


@pytest.mark.parametrize("envelope", [b"", b"F", b"Fa@b", b"Fa@b\0", b"Fa@b\0Tc@d\0", b"Fa@b\0Tc@"])
def test_envelope_cut_short_exits_54(queue, envelope):
    r = qq(MSG, envelope, user="nobody")
    assert r.code == 54
    assert_empty(queue)


def test_address_of_1000_characters_is_accepted(queue):
    a = b"s" * 990 + b"@x.example"
    b = b"r" * 990 + b"@y.example"
    assert len(a) == 1000
    assert qq(MSG, env(a, b)).code == 0
    check_queued(queue, MSG, b"F" + a + b"\0T" + b + b"\0", 0, b"by uid 0")


@pytest.mark.parametrize("which", ["sender", "recipient", "huge"])
def test_address_too_long_exits_11(queue, which):
    long = b"l" * 991 + b"@x.example"
    assert len(long) == 1001
    envelope = {"sender": env(long, b"a@b"), "recipient": env(b"a@b", b"c@d", long),
                "huge": env(b"a@b", b"x" * (8 << 20))}[which]
    r = qq(MSG, envelope, user="nobody")
    assert r.code == 11
    assert_empty(queue)


def test_message_from_directory_exits_54(queue):
    d = os.open(QDIR, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = qq(stdin=d, envelope=env(b"a@b", b"c@d"))
    finally:
        os.close(d)
    assert r.code == 54
    assert_empty(queue)


@pytest.mark.parametrize("fd", [0, 1])
def test_closed_input_exits_54(queue, fd):
    r = qq(MSG, env(b"a@b", b"c@d"), user="nobody", preexec=lambda: os.close(fd))
    assert r.code == 54
    assert_empty(queue)


def test_envelope_on_write_only_descriptor_exits_54(queue):
    r, w = os.pipe()
    try:
        res = qq(MSG, stdout=w)
    finally:
        os.close(r)
        os.close(w)
    assert res.code == 54
    assert_empty(queue)


def test_file_size_limit_is_a_write_error(queue):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))
    r = qq(b"x" * 1000000, env(b"a@b", b"c@d"), preexec=limit, user="nobody")
    assert r.code == 53
    assert_empty(queue)


def test_disk_full_exits_53_and_leaves_nothing(queue):
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", QDIR], capture_output=True)
    if mount.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %r" % mount.stderr)
    try:
        subprocess.run(["sh", os.path.join(SRC, "scripts", "setup.sh"), BUILD, HOME], check=True,
                       capture_output=True)
        r = qq(os.urandom(2 << 20), env(b"a@b", b"c@d"), user="nobody")
        assert r.code == 53
        assert_empty(queue)
        # the space came back: a small message still fits
        assert qq(MSG, env(b"a@b", b"c@d")).code == 0
        check_queued(queue, MSG, b"Fa@b\0Tc@d\0", 0, b"by uid 0")
        queue.clear()
    finally:
        subprocess.run(["umount", QDIR], check=True)


@pytest.mark.parametrize("sub,code", [("pid+mess", 63), ("mess", 64), ("intd", 65), ("todo", 66)])
def test_unwritable_queue_directory(queue, sub, code):
    """qmail-queue makes its files nameless in mess/N and names them
    there, or (when mess/N takes no file) makes the pid file and links
    it: pid/ matters only when mess/N fails too"""
    dirs = []
    for d in sub.split("+"):
        if d == "mess":
            dirs += [os.path.join(QDIR, "mess", str(i)) for i in range(queue.split())]
        else:
            dirs.append(os.path.join(QDIR, d))
    modes = [os.stat(d).st_mode for d in dirs]
    try:
        for d in dirs:
            os.chmod(d, 0o550)
        r = qq(MSG, env(b"a@b", b"c@d"), user="nobody")
    finally:
        for d, m in zip(dirs, modes):
            os.chmod(d, stat.S_IMODE(m))
    assert r.code == code
    assert_empty(queue)


def test_unwritable_pid_directory_is_not_needed(queue):
    """nameless files (O_TMPFILE, Linux) need no pid/ file: the message
    is queued, and nothing is left in pid/"""
    d = os.path.join(QDIR, "pid")
    mode = os.stat(d).st_mode
    os.chmod(d, 0o550)
    try:
        r = qq(MSG, env(b"a@b", b"c@d"), user="nobody")
    finally:
        os.chmod(d, stat.S_IMODE(mode))
    assert r.code == 0
    nobody = pwd.getpwnam("nobody").pw_uid
    check_queued(queue, MSG, b"Fa@b\0Tc@d\0", nobody, b"by uid %d" % nobody)
    assert queue.files("pid") == []
    queue.clear()


@pytest.mark.parametrize("err", ["ENOENT", "EPERM"])
def test_a_kernel_that_refuses_a_link_by_descriptor_gets_the_proc_link(queue, err, tmp_path):
    """Before Linux 6.10 linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH
    and says ENOENT (EPERM, from a security module or a seccomp filter,
    counts the same): strace makes the first linkat of each file say so,
    and qmail-queue names the nameless file through /proc/self/fd
    instead, queued the same"""
    log = str(tmp_path / "linkat")
    r = qq(MSG, env(b"a@b", b"c@d"), user="nobody",
           wrap=["strace", "-f", "-qq", "-o", log, "-e", "trace=linkat",
                 "-e", "inject=linkat:error=%s:when=1..3+2" % err])
    assert r.code == 0, r.stderr
    nobody = pwd.getpwnam("nobody").pw_uid
    check_queued(queue, MSG, b"Fa@b\0Tc@d\0", nobody, b"by uid %d" % nobody)
    calls = open(log).read()
    assert calls.count("AT_EMPTY_PATH) = -1 %s" % err) == 2, calls
    assert calls.count('linkat(AT_FDCWD, "/proc/self/fd/') == 2, calls
    queue.clear()


@pytest.mark.skipif(subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0,
                    reason="needs a mount namespace")
def test_without_nameless_files_the_pid_file_names_the_message(queue):
    """where no nameless file can be made (here: no /proc, so no way to
    link one), qmail-queue names the message by a pid/ file, as qmail
    does: queued the same, and nothing left in pid/"""
    hide = ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
            'mount -t tmpfs none /proc && ! [ -e /proc/self ] && exec "$@"', "hide"]
    r = qq(MSG, env(b"a@b", b"c@d"), wrap=hide)
    assert r.code == 0, r.stderr
    check_queued(queue, MSG, b"Fa@b\0Tc@d\0", 0, b"by uid 0")
    assert queue.files("pid") == []
    queue.clear()
    # the same with pid/ unwritable: there is no way to name it, exit 63
    d = os.path.join(QDIR, "pid")
    mode = os.stat(d).st_mode
    os.chmod(d, 0o550)
    try:
        r = qq(MSG, env(b"a@b", b"c@d"), user="nobody", wrap=hide)
    finally:
        os.chmod(d, stat.S_IMODE(mode))
    assert r.code == 63, r.stderr
    assert_empty(queue)


def test_missing_queue_directory_exits_62(queue):
    moved = QDIR + ".away"
    os.rename(QDIR, moved)
    try:
        r = qq(MSG, env(b"a@b", b"c@d"))
    finally:
        os.rename(moved, QDIR)
    assert r.code == 62


class Piped:
    """qmail-queue started on two pipes (the message, the envelope) that the
    test writes and closes itself; on leaving, what is still open is closed
    and a qmail-queue still running is killed."""

    def __init__(self):
        r, self.w = os.pipe()
        er, self.ew = os.pipe()
        self.proc = subprocess.Popen([QQ], stdin=r, stdout=er, env={})
        os.close(r)
        os.close(er)

    def close_message(self):
        os.close(self.w)
        self.w = None

    def close_envelope(self):
        os.close(self.ew)
        self.ew = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fd in (self.w, self.ew):
            if fd is not None:
                os.close(fd)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_timer_expiry_exits_52_and_cleans_up(queue):
    with Piped() as q:
        os.write(q.w, b"part of a message\n")
        wait_for(lambda: queue.files("mess"), what="mess file")
        q.proc.send_signal(signal.SIGALRM)
        assert q.proc.wait(timeout=20) == 52
    assert_empty(queue)


def reading_fd0(pid):
    """pid is blocked in read(2) on fd 0 (/proc/PID/syscall: number, args)"""
    nr = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)
    if nr is None:
        pytest.skip("read(2)'s number on this machine is not known here")
    with open("/proc/%d/syscall" % pid) as f:
        return f.read().startswith(nr + " 0x0 ")


def test_no_file_until_the_message_begins(queue):
    """Started ahead of time (as qmail-smtpd does at MAIL), qmail-queue waits
    for its input holding no file; the first bytes make the message file."""
    with Piped() as q:
        wait_for(lambda: reading_fd0(q.proc.pid), what="qmail-queue waiting on fd 0")
        assert queue.all_files() == []
        os.write(q.w, MSG)
        wait_for(lambda: queue.files("mess"), what="mess file")
        q.close_message()
        os.write(q.ew, env(b"a@example.org", b"b@example.org"))
        q.close_envelope()
        assert q.proc.wait(timeout=20) == 0
    check_queued(queue, MSG, b"Fa@example.org\0Tb@example.org\0", 0, b"by uid 0")


def test_idle_then_closed_exits_54_and_leaves_nothing(queue):
    with Piped() as q:
        wait_for(lambda: reading_fd0(q.proc.pid), what="qmail-queue waiting on fd 0")
        q.close_message()
        q.close_envelope()
        assert q.proc.wait(timeout=20) == 54
    assert_empty(queue)


def test_caller_interrupt_is_ignored_then_eof_cleans_up(queue):
    with Piped() as q:
        os.write(q.w, b"part of a message\n")
        wait_for(lambda: queue.files("mess"), what="mess file")
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
            q.proc.send_signal(sig)
        time.sleep(0.2)
        assert q.proc.poll() is None
        q.close_message()
        q.close_envelope()  # EOF on the envelope before the F record
        assert q.proc.wait(timeout=20) == 54
    assert_empty(queue)


def limit_memory():
    """Less address space than the input below: slurping it would fail."""
    resource.setrlimit(resource.RLIMIT_AS, (24 << 20, 24 << 20))


def test_many_recipients_are_streamed(queue):
    rcpts = [b"user%07d@example.org" % i for i in range(1500000)]
    envelope = env(b"a@b", *rcpts)
    assert len(envelope) > 32 << 20
    r = qq(MSG, envelope, preexec=limit_memory)
    assert r.code == 0
    msgid = only_message(queue)
    assert queue.envelope(msgid).split(b"\0", 2)[2] == envelope[:-1]


def test_large_message_is_streamed(queue):
    msg = (b"0123456789abcdef" * 4 + b"\n") * (1 << 20)  # 65 MiB
    r = qq(msg, env(b"a@b", b"c@d"), preexec=limit_memory)
    assert r.code == 0
    body = queue.message(only_message(queue))
    m = RECEIVED.match(body)
    assert m and hashlib.sha256(body[m.end():]).digest() == hashlib.sha256(msg).digest()


def test_parallel_injections_get_distinct_ids(queue):
    results = [None] * 20

    def one(i):
        results[i] = qq(b"Subject: %d\n\n" % i, env(b"a@b", b"r%d@x" % i), user="nobody").code
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [0] * 20
    ids = queue.todo()
    assert len(ids) == 20
    seen = set()
    for msgid in ids:
        body = queue.message(msgid)
        n = int(re.search(rb"Subject: (\d+)", body).group(1))
        assert queue.envelope(msgid).endswith(b"Tr%d@x\0" % n)
        seen.add(n)
    assert seen == set(range(20))
    assert queue.files("pid") == [] and len(queue.files("intd")) == 20
