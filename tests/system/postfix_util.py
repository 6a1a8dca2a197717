"""Postfix peers for the remote delivery tests (issue 5), from Debian's
postfix package; the approach of bench/postfix.py.

Sink: Postfix's smtp-sink on 127.0.0.1, one dump file per finished
transaction (-d), read back as (mail args, [rcpt args], content).

Postfix: a private instance whose config, queue and data directories live
under the build directory. It listens on 127.0.0.1 only, delivers its own
domain with local(8) to ~/Maildir/ of real accounts and rejects unknown
local parts at RCPT (local_recipient_maps). Started with `postfix -c DIR
start`, stopped with `postfix -c DIR stop` and then by the master's pid.
/etc/postfix is never written and no system service is touched."""
import os
import shutil
import signal
import subprocess
import time

from proc_util import alive, free_port, listening, stop_process

POSTFIX = "/usr/sbin/postfix"
SMTP_SINK = "/usr/sbin/smtp-sink"


def missing():
    """Why these peers cannot run here, or None."""
    for p in (POSTFIX, SMTP_SINK):
        if not os.access(p, os.X_OK):
            return "%s is missing (Debian package postfix)" % p
    return None


def poll(pred, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


class Sink:
    """smtp-sink on 127.0.0.1:port (a free one), as user nobody."""

    def __init__(self, workdir, hostname="sink.test"):
        self.dir = workdir
        self.dumps = os.path.join(workdir, "dumps")
        if os.path.exists(workdir):
            shutil.rmtree(workdir)
        os.makedirs(self.dumps)
        os.chmod(workdir, 0o755)
        shutil.chown(self.dumps, "nobody")
        self.port = free_port()
        self.log = open(os.path.join(workdir, "sink.log"), "wb")
        # backlog 1024: many clients may connect at once
        self.proc = subprocess.Popen([SMTP_SINK, "-u", "nobody", "-h", hostname,
                                      "-d", os.path.join(self.dumps, "t."),
                                      "127.0.0.1:%d" % self.port, "1024"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        if not poll(lambda: self.proc.poll() is not None or listening(self.port), 10) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("smtp-sink did not start: " + open(os.path.join(workdir, "sink.log")).read())

    def transactions(self):
        """Every finished transaction: dicts with mail (the MAIL FROM
        arguments), rcpts (each RCPT TO's arguments, in order), helo, and
        content (the message as received, LF line ends)."""
        out = []
        for n in sorted(os.listdir(self.dumps)):
            with open(os.path.join(self.dumps, n), "rb") as f:
                data = f.read()
            t = {"mail": [], "rcpts": [], "helo": None, "file": n}
            lines = data.split(b"\n")
            i = 0
            while i < len(lines) and not lines[i].startswith(b"Received:"):
                key, _, val = lines[i].partition(b": ")
                if key == b"X-Mail-Args":
                    t["mail"].append(val.decode("latin-1"))
                elif key == b"X-Rcpt-Args":
                    t["rcpts"].append(val.decode("latin-1"))
                elif key == b"X-Helo-Args":
                    t["helo"] = val.decode("latin-1")
                i += 1
            i += 3                        # smtp-sink's own Received: is three lines
            t["content"] = b"\n".join(lines[i:])
            out.append(t)
        return out

    def stop(self):
        stop_process(self.proc)
        self.log.close()


# service type private unpriv chroot wakeup maxproc command (no chroot)
SERVICES = """\
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A private Postfix for `hostname` with smtpd on 127.0.0.1:port."""

    def __init__(self, base, hostname, main_extra=()):
        self.main_extra = list(main_extra)    # more (name, value) for main.cf
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.queue = os.path.join(base, "queue")
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "maillog")
        self.hostname = hostname
        self.port = free_port()
        self.master = None

    def _pidfile(self):
        return os.path.join(self.queue, "pid", "master.pid")

    def _master_pid(self):
        try:
            with open(self._pidfile()) as f:
                pid = int(f.read().split()[0])
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return pid if b"master" in f.read() else None
        except (OSError, ValueError, IndexError):
            return None

    def setup(self):
        """A fresh configuration and an empty queue; a master left by an
        interrupted run of this instance is stopped first."""
        self.master = self._master_pid()
        self.stop()
        if os.path.exists(self.base):
            shutil.rmtree(self.base)
        for d, mode in ((self.conf, 0o755), (self.queue, 0o755), (self.data, 0o700)):
            os.makedirs(d, mode=mode)
            os.chmod(d, mode)
        os.chmod(self.base, 0o755)
        shutil.chown(self.data, "postfix", "postfix")
        main = [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue),
            ("data_directory", self.data),
            ("mail_owner", "postfix"),
            ("setgid_group", "postdrop"),
            ("myhostname", self.hostname),
            ("mydomain", self.hostname),
            ("myorigin", "$myhostname"),
            ("mydestination", "$myhostname"),
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("mynetworks", "127.0.0.0/8"),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination"),
            ("smtpd_banner", "$myhostname ESMTP"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_recipient_maps", "unix:passwd.byname"),
            ("unknown_local_recipient_reject_code", "550"),
            ("home_mailbox", "Maildir/"),
            ("biff", "no"),
            ("append_dot_mydomain", "no"),
            ("mailbox_size_limit", "0"),
            ("message_size_limit", "0"),
            ("relayhost", ""),
            ("maillog_file", self.log),
            ("maillog_file_prefixes", self.base),
        ] + self.main_extra
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in main))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port + SERVICES)
            if any(k.startswith("smtpd_tls") for k, _ in self.main_extra):
                f.write("tlsmgr unix - - n 1000? 1 tlsmgr\n")    # TLS needs its key cache manager
        return self

    def _postfix(self, *args):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    def start(self):
        r = self._postfix("start")
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: " + (r.stdout + r.stderr).strip() + "\n" + self.maillog())
        self.master = poll(self._master_pid, 20)
        if not self.master:
            raise RuntimeError("postfix master wrote no pid file\n" + self.maillog())
        if not poll(lambda: listening(self.port), 20):
            self.stop()
            raise RuntimeError("postfix smtpd is not listening\n" + self.maillog())
        return self

    def stop(self):
        pid, self.master = self.master, None
        if pid is None:
            return
        try:
            self._postfix("stop")
        except subprocess.TimeoutExpired:
            pass
        if not poll(lambda: not alive(pid), 20):
            os.kill(pid, signal.SIGKILL)
            poll(lambda: not alive(pid), 10)

    def queue_empty(self):
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(self.queue, sub)):
                if files:
                    return False
        return True

    def maillog(self, lines=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
