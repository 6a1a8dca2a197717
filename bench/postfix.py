"""A private Postfix instance for the benchmarks: Debian's postfix package,
its own config, queue and data directories under the build directory,
listening on 127.0.0.1 only, started with `postfix -c DIR start` and stopped
with `postfix -c DIR stop` (then by the master's pid if it lingers). No
system service is touched: /etc/postfix is never written and systemctl is
never run.

Local mail goes to ~/Maildir/ of real accounts (home_mailbox), extension
addresses user-ext reach user (recipient_delimiter = -), and the domains in
`routes` go by a texthash transport map to a fixed SMTP host:port."""
import os
import shutil
import signal
import subprocess

from util import wait_until, pid_alive

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
SENDMAIL = "/usr/sbin/sendmail"

# service type private unpriv chroot wakeup maxproc command: Postfix's
# standard set, every service outside a chroot (the instance has none).
MASTER = [
    ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
    ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
    ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
    ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
    ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
    ("error", "unix", "-", "-", "n", "-", "-", "error"),
    ("retry", "unix", "-", "-", "n", "-", "-", "error"),
    ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
    ("local", "unix", "-", "n", "n", "-", "-", "local"),
    ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
    ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
]


def available():
    """Why Postfix cannot be used here, or None when it can."""
    for p in (POSTFIX, POSTCONF, SENDMAIL, "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"):
        if not os.access(p, os.X_OK):
            return "%s missing (apt-get install postfix)" % p
    return None


class Postfix:
    def __init__(self, base, hostname, port, routes=None, tls=None):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.queue = os.path.join(base, "queue")
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "maillog")
        self.hostname = hostname
        self.port = port
        self.routes = routes or {}
        self.master_pid = None
        self.tls = tls          # (certfile, keyfile, smtps port) or None

    def setup(self):
        """Write a fresh config; the queue directory is emptied. A master
        left running by an interrupted run is stopped first."""
        if os.path.exists(self._pidfile()):
            try:
                with open(self._pidfile()) as f:
                    pid = int(f.read().split()[0])
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"master" in f.read():
                        self.master_pid = pid
                        self.stop()
            except (OSError, ValueError, IndexError):
                pass
        for d in (self.conf, self.queue, self.data):
            if os.path.exists(d):
                shutil.rmtree(d)
        os.makedirs(self.conf, mode=0o755)
        os.makedirs(self.queue, mode=0o755)
        os.makedirs(self.data, mode=0o700)
        shutil.chown(self.data, "postfix", "postfix")
        if os.path.exists(self.log):
            os.unlink(self.log)
        transport = os.path.join(self.conf, "transport")
        with open(transport, "w") as f:
            for dom, dest in sorted(self.routes.items()):
                f.write("%s smtp:%s\n" % (dom, dest))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.hostname,
            "myorigin": "$myhostname",
            "mydestination": "$myhostname, localhost",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_banner": "$myhostname ESMTP",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "unix:passwd.byname",
            "home_mailbox": "Maildir/",
            "recipient_delimiter": "-",
            "biff": "no",
            "append_dot_mydomain": "no",
            "mailbox_size_limit": "0",
            "maillog_file": self.log,
            "maillog_file_prefixes": self.base,
            "transport_maps": "texthash:" + transport,
            "relayhost": "",
        }
        if self.tls:
            main.update({"smtpd_tls_cert_file": self.tls[0], "smtpd_tls_key_file": self.tls[1],
                         "smtpd_tls_security_level": "may"})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % self.port)
            if self.tls:
                f.write("127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n" % self.tls[2])
            for row in MASTER:
                f.write(" ".join(row) + "\n")

    def _postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def _pidfile(self):
        return os.path.join(self.queue, "pid", "master.pid")

    def start(self):
        r = self._postfix("start")
        if r.returncode != 0:
            # without a terminal or syslog postfix says why nowhere: ask again under script(1)
            why = r.stdout + r.stderr
            try:
                c = subprocess.run(["script", "-qc", "%s -c %s check" % (POSTFIX, self.conf), "/dev/null"],
                                   capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
                why += c.stdout
            except (OSError, subprocess.TimeoutExpired):
                pass
            raise RuntimeError("postfix start failed: %s" % why.strip())
        if not wait_until(lambda: os.path.exists(self._pidfile()), 20):
            raise RuntimeError("postfix master did not write its pid file")
        with open(self._pidfile()) as f:
            self.master_pid = int(f.read().split()[0])

    def stop(self):
        if self.master_pid is None:
            return
        try:
            self._postfix("stop", timeout=30)
        except subprocess.TimeoutExpired:
            pass
        pid = self.master_pid
        if not wait_until(lambda: not pid_alive(pid), 20):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 10)
        self.master_pid = None

    def sendmail_cmd(self, recipients, sender):
        """argv and environment of Postfix's sendmail for this instance."""
        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "MAIL_CONFIG": self.conf}
        return [SENDMAIL, "-C", self.conf, "-f", sender, "-i", "--"] + list(recipients), env

    def sendmail(self, recipients, message, sender):
        """Submit one message with Postfix's sendmail; True on success."""
        argv, env = self.sendmail_cmd(recipients, sender)
        r = subprocess.run(argv, input=message, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        return r.returncode == 0

    def queue_empty(self):
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            d = os.path.join(self.queue, sub)
            for _, _, files in os.walk(d):
                if files:
                    return False
        return True

    def maillog_tail(self, lines=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
