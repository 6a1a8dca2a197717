"""Shared fixtures for the system tests.

The tests run against a hermetic installed home (make test builds it with
QMAILHOME under the build directory and exports QMAIL_HOME, QMAIL_BUILD and
QMAIL_SRC). They run as root, start every server they need themselves, and
stop it by pid. Every wait is a bounded poll (see wait_for).
"""
import os
import pwd
import shutil
import subprocess
import time

import pytest

HOME = os.environ.get("QMAIL_HOME")
BUILD = os.environ.get("QMAIL_BUILD")
SRC = os.environ.get("QMAIL_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

if not HOME or not os.path.isdir(HOME):
    raise RuntimeError("QMAIL_HOME is not an installed home; run the tests with make test")

QUEUE_DIRS = ("pid", "intd", "todo", "bounce", "mess", "info", "local", "remote")


def bin_path(name):
    return os.path.join(HOME, "bin", name)


def run(args, input=b"", env=None, user=None, timeout=60, **kw):
    """Run a program; return CompletedProcess with stdout/stderr as bytes.
    user= runs it under that account with runuser (so setuid bits matter)."""
    if user is not None:
        args = ["runuser", "-u", user, "--"] + list(args)
    # qmail-smtpd's recipient check is off for programs run here (tests
    # send to made-up users); tests of the check use smtpd_util.Server
    full_env = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin:/usr/sbin:/sbin", "RCPTCHECK": "0"}
    if env:
        full_env.update(env)
    return subprocess.run(args, input=input, env=full_env, capture_output=True, timeout=timeout, **kw)


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value or timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class Queue:
    """Read access to the installed queue, in qmail's layout."""

    def __init__(self, home):
        self.dir = os.path.join(home, "queue")

    def files(self, sub):
        out = []
        top = os.path.join(self.dir, sub)
        for root, _dirs, names in os.walk(top):
            for n in names:
                out.append(os.path.relpath(os.path.join(root, n), self.dir))
        return sorted(out)

    def todo(self):
        return sorted(int(n) for n in os.listdir(os.path.join(self.dir, "todo")))

    def all_files(self):
        out = []
        for sub in QUEUE_DIRS:
            out += self.files(sub)
        return out

    def split(self):
        with open(os.path.join(SRC, "conf-split")) as f:
            return int(f.readline())

    def mess_path(self, msgid):
        return os.path.join(self.dir, "mess", str(msgid % self.split()), str(msgid))

    def message(self, msgid):
        with open(self.mess_path(msgid), "rb") as f:
            return f.read()

    def envelope(self, msgid, sub="todo"):
        with open(os.path.join(self.dir, sub, str(msgid)), "rb") as f:
            return f.read()

    def clear(self):
        """Remove every queued message (no qmail-send may be running)."""
        for sub in QUEUE_DIRS:
            top = os.path.join(self.dir, sub)
            for root, _dirs, names in os.walk(top):
                for n in names:
                    os.unlink(os.path.join(root, n))


@pytest.fixture
def queue():
    q = Queue(HOME)
    q.clear()
    yield q
    q.clear()


class Control:
    """Write control files for one test and put the old ones back after."""

    def __init__(self, home):
        self.dir = os.path.join(home, "control")
        self.saved = {}

    def __setitem__(self, name, text):
        path = os.path.join(self.dir, name)
        if name not in self.saved:
            self.saved[name] = open(path, "rb").read() if os.path.exists(path) else None
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        os.chmod(path, 0o644)

    def __getitem__(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read().decode()

    def restore(self):
        for name, old in self.saved.items():
            path = os.path.join(self.dir, name)
            if old is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                with open(path, "wb") as f:
                    f.write(old)
        self.saved = {}


@pytest.fixture
def control():
    c = Control(HOME)
    yield c
    c.restore()


# the SMTP tests' fixtures (smtpd_util imports this module, hence the late
# imports)
@pytest.fixture
def fakeqq():
    """A qmail-queue stand-in (smtpd_util.FakeQueue), removed afterwards."""
    from smtpd_util import FakeQueue
    q = FakeQueue()
    yield q
    q.cleanup()


@pytest.fixture
def servers():
    """start(argv=None, **kw): a smtpd_util.Server (tcpserver as qmaild)
    running argv, by default qmail-smtpd; every server started, and what
    it still runs, is stopped afterwards."""
    from proc_util import descendants, term_all
    from smtpd_util import Server
    started = []

    def start(argv=None, **kw):
        s = Server(list(argv) if argv else [bin_path("qmail-smtpd")], **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        term_all(descendants(s.proc.pid))
        s.stop()


# accounts this run created, removed again when the run ends
CREATED_USERS = []


def make_user(name, home=None):
    """Create (or reuse) a real test account with its home under the build
    directory; returns its passwd entry. An account this run had to create
    is removed (with its group) when the run ends."""
    home = home or os.path.join(os.path.dirname(HOME), "users", name)
    os.makedirs(os.path.dirname(home), exist_ok=True)
    try:
        pw = pwd.getpwnam(name)
        if pw.pw_dir != home:
            subprocess.run(["usermod", "-d", home, name], check=True)
    except KeyError:
        subprocess.run(["useradd", "-d", home, "-M", "-s", "/bin/sh", "-U", name], check=True)
        CREATED_USERS.append(name)
    pw = pwd.getpwnam(name)
    if os.path.exists(home):
        shutil.rmtree(home)
    os.makedirs(home, mode=0o755)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return pwd.getpwnam(name)


@pytest.fixture(scope="session", autouse=True)
def base_control():
    """The hermetic home's baseline control files."""
    c = os.path.join(HOME, "control")
    for name, text in (("me", "testhost.example\n"), ("locals", "testhost.example\nlocalhost\n"),
                       ("rcpthosts", "testhost.example\nlocalhost\n")):
        with open(os.path.join(c, name), "w") as f:
            f.write(text)
    yield


@pytest.fixture(scope="session", autouse=True)
def remove_created_users():
    """Leave the machine's user database as the run found it."""
    yield
    for name in reversed(CREATED_USERS):
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
