"""Helpers for the POP3 and mail-store tests: a tcpserver running
qmail-popup, test accounts with real shadow passwords and maildirs, a raw
POP3 line client, delivery through qmail-local, and a private Dovecot
instance (its own config, base_dir and log under the build directory,
listening on 127.0.0.1) started in the foreground and stopped by pid."""
import os
import socket
import subprocess

from conftest import HOME, bin_path, make_user, run, wait_for
from proc_util import descendants, free_port, stop_process, term_all
from server_util import TcpServer

POPHOST = "pop.testhost.example"
BUILDDIR = os.path.dirname(HOME)


def set_password(name, password):
    subprocess.run(["chpasswd"], input=("%s:%s\n" % (name, password)).encode(), check=True)


def pop_user(name, password):
    """A test account with a password and an empty ~/Maildir."""
    pw = make_user(name)
    set_password(name, password)
    r = run([bin_path("maildirmake"), os.path.join(pw.pw_dir, "Maildir")], user=name)
    assert r.returncode == 0, r.stderr
    return pw


def maildir(pw):
    return os.path.join(pw.pw_dir, "Maildir")


def put_message(pw, name, data, sub="new", mtime=None):
    """Place a message file in the user's maildir as the mail store would."""
    path = os.path.join(maildir(pw), sub, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def listing(pw):
    """{'new': [...], 'cur': [...], 'tmp': [...]} file names, sorted."""
    return {s: sorted(os.listdir(os.path.join(maildir(pw), s))) for s in ("new", "cur", "tmp")}


def contents(pw):
    """{name: bytes} of every message in new/ and cur/."""
    out = {}
    for s in ("new", "cur"):
        d = os.path.join(maildir(pw), s)
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                out[s + "/" + n] = f.read()
    return out


def qmail_local(pw, msg, local=None, ext="", domain="testhost.example",
                sender="sender@example.org", default="./Maildir/", dash=""):
    """Deliver msg with qmail-local as the user, the way qmail-lspawn runs it."""
    local = local or pw.pw_name
    path = os.path.join(BUILDDIR, "hp-msg.%d" % os.getpid())
    with open(path, "wb") as f:
        f.write(msg)
    try:
        with open(path, "rb") as f:
            return run([bin_path("qmail-local"), pw.pw_name, pw.pw_dir, local, dash, ext,
                        domain, sender, default], user=pw.pw_name, stdin=f, input=None)
    finally:
        os.unlink(path)


class PopServer(TcpServer):
    """tcpserver on 127.0.0.1:<free port> running, as root,
    qmail-popup POPHOST CHECKPW qmail-pop3d Maildir."""

    def __init__(self, checkpw=None, env=None, sub=None):
        argv = [bin_path("qmail-popup"), POPHOST, checkpw or bin_path("checkpassword")]
        argv += sub or [bin_path("qmail-pop3d"), "Maildir"]
        TcpServer.__init__(self, argv, env=env)

    def sessions(self):
        return self.children()

    def stop(self):
        # sessions still running are ours too: end them, then tcpserver
        term_all(descendants(self.proc.pid))
        TcpServer.stop(self)


class Client:
    """A raw POP3 client: send lines, read single and multi-line replies."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += d
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def cmd(self, text):
        self.send(text.encode("latin-1") + b"\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line reply, lines as sent (still dot-stuffed)."""
        out = []
        while True:
            l = self.line()
            if l == b".":
                return out
            out.append(l)

    def closed(self, timeout=10):
        """True when the server closes the connection with nothing more to say."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return d == b"" and self.buf == b""

    def close(self):
        self.sock.close()


# ---- Dovecot ----

DOVECOT = "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"


class Dovecot:
    """A private Dovecot: IMAP on 127.0.0.1:<free port>, passwords from a
    passwd-file (PLAIN, test only), system users from passwd and virtual
    users from a second passwd-file, mail in maildir:~/Maildir. The
    dovecot-lda of this instance logs to stderr, so qmail-local's report
    carries its errors. Nothing of the system's Dovecot is used or touched."""

    def __init__(self, name="hp"):
        self.dir = os.path.join(BUILDDIR, "dovecot-" + name)
        subprocess.run(["rm", "-rf", self.dir], check=True)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.passwd = os.path.join(self.dir, "passwd")
        self.virtual = os.path.join(self.dir, "virtual")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.proc = None
        for p in (self.passwd, self.virtual):
            open(p, "w").close()
            os.chmod(p, 0o644)
        with open(self.conf, "w") as f:
            f.write(CONF % {"dir": self.dir, "port": self.port, "passwd": self.passwd,
                            "virtual": self.virtual, "log": self.log, "name": name})
        os.chmod(self.conf, 0o644)

    def add_login(self, user, password):
        with open(self.passwd, "a") as f:
            f.write("%s:{PLAIN}%s\n" % (user, password))

    def add_virtual(self, address, password, pw, home):
        """A virtual user stored under home, owned by the account pw."""
        self.add_login(address, password)
        with open(self.virtual, "a") as f:
            f.write("%s::%d:%d::%s::\n" % (address, pw.pw_uid, pw.pw_gid, home))

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited with %s: %s"
                                     % (self.proc.returncode, self.logtext()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return False
            return os.path.exists(os.path.join(self.dir, "run", "auth-userdb"))
        wait_for(up, timeout=20, what="dovecot to listen")

    def stop(self):
        if self.proc:
            stop_process(self.proc, timeout=15)
        self.proc = None

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""


CONF = """# a private Dovecot for the tests; see tests/system/pop3_util.py
base_dir = %(dir)s/run
state_dir = %(dir)s/state
instance_name = qmailtest-%(name)s
protocols = imap
listen = 127.0.0.1
log_path = %(log)s
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
postmaster_address = postmaster@testhost.example
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %(passwd)s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %(virtual)s
}
userdb {
  driver = passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol lda {
  log_path = /dev/stderr
  info_log_path = /dev/stderr
}
"""


def imap_messages(port, user, password):
    """Every message in INBOX, as bytes, in order."""
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", port)
    try:
        m.login(user, password)
        typ, _ = m.select("INBOX")
        assert typ == "OK"
        typ, data = m.search(None, "ALL")
        out = []
        for num in data[0].split():
            typ, d = m.fetch(num, "(RFC822)")
            out.append(d[0][1])
        return out
    finally:
        try:
            m.logout()
        except Exception:
            pass


def wait_gone(pid, timeout=10):
    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_for(gone, timeout=timeout, what="process %d to end" % pid)



# ---- Cyrus ----

CYRUS_BIN = "/usr/lib/cyrus/bin"


class Cyrus:
    """A private Cyrus IMAP (Debian's cyrus-imapd): its own imapd.conf,
    cyrus.conf, spool, database and LMTP socket under the build directory,
    INBOXes created on first delivery. Only lmtpd is served, for deliver;
    the mailbox is read back through Cyrus's own mbpath. The master runs
    in the foreground (as root, its services drop to cyrus) and is stopped
    by pid."""

    def __init__(self, name="hp"):
        self.dir = os.path.join(BUILDDIR, "cyrus-" + name)
        subprocess.run(["rm", "-rf", self.dir], check=True)
        for sub in ("lib", "spool", "sock", "run"):
            os.makedirs(os.path.join(self.dir, sub))
        self.conf = os.path.join(self.dir, "imapd.conf")
        with open(self.conf, "w") as f:
            f.write("configdirectory: %(d)s/lib\npartition-default: %(d)s/spool\n"
                    "admins: cyrus\nlmtpsocket: %(d)s/sock/lmtp\nidlesocket: %(d)s/sock/idle\n"
                    "notifysocket: %(d)s/sock/notify\nproc_path: %(d)s/run/proc\n"
                    "mboxname_lockpath: %(d)s/lib/lock\nsyslog_prefix: cyrus-test\n"
                    "unixhierarchysep: yes\nautocreate_post: 1\nautocreate_quota: 0\n"
                    % {"d": self.dir})
        self.master_conf = os.path.join(self.dir, "cyrus.conf")
        with open(self.master_conf, "w") as f:
            f.write('START {\n  recover cmd="ctl_cyrusdb -C %(c)s -r"\n}\n'
                    'SERVICES {\n'
                    '  lmtpunix cmd="lmtpd -C %(c)s" listen="%(d)s/sock/lmtp" prefork=0\n}\n'
                    'EVENTS {\n}\n' % {"c": self.conf, "d": self.dir})
        subprocess.run(["chown", "-R", "cyrus:mail", self.dir], check=True)
        os.chmod(self.dir, 0o755)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([os.path.join(CYRUS_BIN, "master"), "-C", self.conf, "-M",
                                      self.master_conf, "-p", os.path.join(self.dir, "run", "pid"),
                                      "-D"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(self.dir, "sock", "lmtp")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("cyrus master exited with %s" % self.proc.returncode)
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
            except OSError:
                return False
            finally:
                s.close()
            return True
        wait_for(up, timeout=20, what="cyrus lmtpd to listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            term_all(descendants(self.proc.pid))
            stop_process(self.proc, timeout=15)
        self.proc = None

    def messages(self, user):
        """The messages in user's INBOX, oldest first."""
        r = subprocess.run(["runuser", "-u", "cyrus", "--", os.path.join(CYRUS_BIN, "mbpath"),
                            "-C", self.conf, "user/" + user], capture_output=True, timeout=30)
        if r.returncode != 0:
            return []
        path = r.stdout.decode().strip()
        names = sorted((n for n in os.listdir(path) if n.endswith(".") and n[:-1].isdigit()),
                       key=lambda n: int(n[:-1]))
        out = []
        for n in names:
            with open(os.path.join(path, n), "rb") as f:
                out.append(f.read())
        return out
