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
import time

from conftest import BUILD, HOME, bin_path, make_user, run, wait_for
from proc_util import child_pids as children, gone  # noqa: F401 (children is used by the tests)

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


def _feed(fd, data):
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
    ts = [threading.Thread(target=_feed, args=(mw, message)), threading.Thread(target=_feed, args=(ew, env))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return proc.wait(timeout=60)
