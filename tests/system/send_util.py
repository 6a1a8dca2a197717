"""Helpers for the scheduler tests: start qmail-start in the hermetic home
with its log in a file, stop it by pid, read the log, set up test users
with maildirs and a users/assign (compiled by qmail-newu) like the one
qmail-pw2u makes, and queue messages with qmail-queue."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading

import pytest

from conftest import BUILD, HOME, bin_path, make_user, run, wait_for
from proc_util import child_pids as children, gone  # noqa: F401 (children is used by the tests)

ME = "testhost.example"
LOGDIR = os.path.join(BUILD, "send-logs")
ALIASDIR = os.path.join(HOME, "alias")


class Send:
    """qmail-start [defaultdelivery] with stdout (the log) in a file."""

    def __init__(self, name, defaultdelivery="./Maildir/", env=None, logger=None):
        os.makedirs(LOGDIR, exist_ok=True)
        self.logpath = os.path.join(LOGDIR, name + ".log")
        self.defaultdelivery = defaultdelivery
        self.env = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin"}
        if env:
            self.env.update(env)
        self.proc = None
        self.helpers = []
        self.logger = list(logger) if logger else []
        open(self.logpath, "wb").close()
        if self.logger:
            os.chmod(self.logpath, 0o666)   # the logger runs as qmaill

    def start(self):
        self.mark = self.size()
        log = open(self.logpath, "ab") if not self.logger else subprocess.DEVNULL
        self.proc = subprocess.Popen([bin_path("qmail-start"), self.defaultdelivery] + self.logger, stdout=log,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     cwd="/", env=self.env)
        if not self.logger:
            log.close()
        wait_for(lambda: "status: local" in self.text(self.mark), timeout=20, what="qmail-send to start")
        self.helpers = children(self.proc.pid)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def _reap(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("qmail-send did not exit")
        # the helpers see EOF and leave once their children are done
        for pid in self.helpers:
            wait_for(lambda: gone(pid), timeout=timeout, what="helper %d to exit" % pid)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._reap(timeout)
            return
        self.signal(signal.SIGTERM)
        self._reap(timeout)

    def kill(self, timeout=30):
        self.signal(signal.SIGKILL)
        self._reap(timeout)

    def size(self):
        return os.path.getsize(self.logpath)

    def text(self, start=0):
        with open(self.logpath, "rb") as f:
            f.seek(start)
            return f.read().decode("latin-1")

    def lines(self, start=0):
        return self.text(start).splitlines()

    def wait_log(self, pattern, timeout=20, start=None):
        """The first match of the regex pattern in the log (from start)."""
        rx = re.compile(pattern, re.M)
        begin = self.mark if start is None else start
        return wait_for(lambda: rx.search(self.text(begin)), timeout=timeout, what="log: " + pattern)


def maildir(path, user):
    """A maildir at path owned by user."""
    pw = pwd.getpwnam(user)
    for sub in ("", "tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)
        os.chown(os.path.join(path, sub), pw.pw_uid, pw.pw_gid)
    return path


def messages(path):
    new = os.path.join(path, "new")
    out = []
    for n in sorted(os.listdir(new)):
        with open(os.path.join(new, n), "rb") as f:
            out.append(f.read())
    return out


def write_file(path, text, user, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


def setup_users(names, extra=()):
    """Make test accounts with ~/Maildir, and a users/assign with their
    entries, any extra lines, and the alias catch-all pointing into this
    home (the alias account's passwd home is the installed /var/qmail)."""
    users = {}
    lines = list(extra)
    for n in names:
        pw = make_user(n)
        maildir(os.path.join(pw.pw_dir, "Maildir"), n)
        users[n] = pw
        lines.append("=%s:%s:%d:%d:%s:::" % (n, n, pw.pw_uid, pw.pw_gid, pw.pw_dir))
        lines.append("+%s-:%s:%d:%d:%s:-::" % (n, n, pw.pw_uid, pw.pw_gid, pw.pw_dir))
    al = pwd.getpwnam("alias")
    lines.append("+:alias:%d:%d:%s:-::" % (al.pw_uid, al.pw_gid, ALIASDIR))
    with open(os.path.join(HOME, "users", "assign"), "w") as f:
        f.write("\n".join(lines) + "\n.\n")
    r = run([bin_path("qmail-newu")])
    assert r.returncode == 0, r.stderr
    return users


def clear_alias():
    """Remove what a test left in ~alias (the directory itself stays)."""
    for n in os.listdir(ALIASDIR):
        p = os.path.join(ALIASDIR, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def remove_users():
    """Undo setup_users: clear ~alias and remove users/assign and users/cdb."""
    clear_alias()
    for n in ("cdb", "assign"):
        p = os.path.join(HOME, "users", n)
        if os.path.exists(p):
            os.unlink(p)


def send_fixtures(names, prefix="", clear=("doublebounceto", "virtualdomains", "queuelifetime"), new=Send):
    """The pytest fixtures users and sched for a scheduler test module:
    users makes the accounts `names` (setup_users) and removes them again;
    sched sets control/me and control/locals for ME, removes the control
    files in `clear`, and yields make(env=None, start=True, **kw), which
    makes a qmail-send with new(name, env=env, **kw) (name: prefix, the test
    name, then -N for the second and later ones), starts it unless
    start=False, and returns it; every one made is stopped afterwards.
    Use as `users, sched = send_fixtures([...])`."""
    @pytest.fixture
    def users():
        u = setup_users(names)
        yield u
        remove_users()

    @pytest.fixture
    def sched(request, queue, control, users):
        control["me"] = ME + "\n"
        control["locals"] = ME + "\nlocalhost\n"
        for n in clear:
            control[n] = None
        started = []

        def make(env=None, start=True, **kw):
            s = new(prefix + request.node.name + ("-%d" % len(started) if started else ""), env=env, **kw)
            started.append(s)
            return s.start() if start else s
        yield make
        for s in started:
            if s.proc is not None:
                s.stop()
    return users, sched


def user_maildir(user):
    """~user/Maildir of a test account made by make_user."""
    return os.path.join(os.path.dirname(HOME), "users", user, "Maildir")


def wait_mail(user, n=1, timeout=20):
    """The messages in user's new/ once there are at least n."""
    return wait_for(lambda: len(messages(user_maildir(user))) >= n and messages(user_maildir(user)),
                    timeout=timeout, what="%d message(s) for %s" % (n, user))


def queue_empty(queue, timeout=20):
    return wait_for(lambda: queue.all_files() == [], timeout=timeout, what="an empty queue")


def fake_remote(name):
    """A QMAILREMOTE at name (beside the home) that accepts every
    recipient and says who it was given."""
    script = os.path.join(os.path.dirname(HOME), name)
    with open(script, "w") as f:
        f.write("#!/bin/sh\ncat > /dev/null\n"
                "printf 'r%s accepted %s from %s\\n\\0Kfake said: 250 ok\\n\\0' \"$1\" \"$3\" \"$2\"\n")
    os.chmod(script, 0o755)
    return script


def feed(fd, data):
    """Write data to fd and close it; the reader may quit early."""
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:65536])
            view = view[n:]
    except OSError:
        pass
    finally:
        os.close(fd)


def queue(message, sender, recipients):
    """Queue one message with qmail-queue; returns its exit code."""
    env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in recipients) + b"\0"
    mr, mw = os.pipe()
    er, ew = os.pipe()
    proc = subprocess.Popen([bin_path("qmail-queue")], stdin=mr, stdout=er, env={"PATH": "/usr/bin:/bin"})
    os.close(mr)
    os.close(er)
    ts = [threading.Thread(target=feed, args=(mw, message)), threading.Thread(target=feed, args=(ew, env))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return proc.wait(timeout=60)
