"""Our side of the benchmarks: the suite installed in a bench home (built
with that home compiled in), control files written for the run, qmail-start
with its log in a file (no logger program: qmail-start's own stdout is the
log), qmail-smtpd under tcpserver. Everything is stopped by pid."""
import os
import pwd
import grp
import signal
import subprocess

from util import wait_until, pid_alive, children, listening, record


class Qmail:
    def __init__(self, home, logdir):
        self.home = home
        self.logdir = logdir
        self.bin = os.path.join(home, "bin")
        self.send = None
        self.helpers = []
        self.tcpserver = None
        self.tlsserver = None
        self.starttlsserver = None
        self.tlsengine = None   # ucspi-tlsd -d, when start_tlsengine ran
        self.tlssock = None
        self.userpw = None      # the account users() put in users/cdb
        self.logpath = os.path.join(logdir, "qmail-send.log")
        self.env = {"PATH": self.bin + ":/usr/bin:/bin"}

    def missing(self):
        """Why our side cannot run, or None."""
        need = ["qmail-start", "qmail-send", "qmail-lspawn", "qmail-rspawn", "qmail-clean",
                "qmail-local", "qmail-getpw", "qmail-queue", "qmail-inject"]
        lost = [p for p in need if not os.access(os.path.join(self.bin, p), os.X_OK)]
        if lost:
            return "not installed in %s: %s" % (self.bin, " ".join(lost))
        return None

    def control(self, files):
        """Write control files: {name: text}; files not named are removed
        when they are among the ones a benchmark sets."""
        c = os.path.join(self.home, "control")
        for name in ("smtproutes", "concurrencylocal", "concurrencyremote", "virtualdomains"):
            p = os.path.join(c, name)
            if name not in files and os.path.exists(p):
                os.unlink(p)
        for name, text in files.items():
            with open(os.path.join(c, name), "w") as f:
                f.write(text)
        # users/cdb would shadow qmail-getpw with stale entries; the one
        # users() made is made again
        cdb = os.path.join(self.home, "users", "cdb")
        if os.path.exists(cdb):
            os.unlink(cdb)
        if self.userpw:
            self.users(self.userpw)

    def users(self, pw):
        """users/assign with pw's account and its extensions (qmail-users(5)),
        compiled by qmail-newu (and again whenever control() runs); True
        when users/cdb was made"""
        self.userpw = pw
        with open(os.path.join(self.home, "users", "assign"), "w") as f:
            f.write("=%s:%s:%d:%d:%s:::\n+%s-:%s:%d:%d:%s:-::\n.\n"
                    % ((pw.pw_name, pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir) * 2))
        r = subprocess.run([os.path.join(self.bin, "qmail-newu")], capture_output=True, timeout=30)
        return r.returncode == 0

    # --- qmail-send and its helpers ---

    def log(self, start=0):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(start)
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def start(self, timeout=15):
        """qmail-start ./Maildir/; False (with the log kept) when qmail-send
        does not log its first status line in time."""
        os.makedirs(self.logdir, exist_ok=True)
        log = open(self.logpath, "wb")
        self.send = subprocess.Popen([os.path.join(self.bin, "qmail-start"), "./Maildir/"],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.home, env=self.env)
        log.close()
        record(self.send.pid, "qmail-send")
        ok = wait_until(lambda: "status:" in self.log() or self.send.poll() is not None,
                        timeout, 0.02)
        self.helpers = children(self.send.pid)
        if not ok or self.send.poll() is not None or "status:" not in self.log():
            self.stop()
            return False
        return True

    def stop(self, timeout=20, smtpd=True):
        """qmail-send and its helpers, and the SMTP servers unless smtpd
        is false"""
        if self.send is not None:
            if self.send.poll() is None:
                os.kill(self.send.pid, signal.SIGTERM)
                try:
                    self.send.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.kill(self.send.pid, signal.SIGKILL)
                    self.send.wait(timeout=10)
            # the helpers see EOF on their pipes and leave
            for pid in self.helpers:
                if not wait_until(lambda: not pid_alive(pid), timeout, 0.02):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.send = None
            self.helpers = []
        if smtpd:
            self.stop_smtpd()

    def alive(self):
        return self.send is not None and self.send.poll() is None

    def queue_empty(self):
        mess = os.path.join(self.home, "queue", "mess")
        todo = os.path.join(self.home, "queue", "todo")
        for d in (mess, todo):
            for _, _, files in os.walk(d):
                if files:
                    return False
        return True

    def clear_queue(self):
        """Remove every queued message (files only; the tree stays). Only
        for a bench home, with qmail-send not running."""
        q = os.path.join(self.home, "queue")
        for sub in ("mess", "todo", "intd", "info", "local", "remote", "bounce"):
            for d, _, files in os.walk(os.path.join(q, sub)):
                for n in files:
                    os.unlink(os.path.join(d, n))

    def inject(self, recipients, message, sender):
        r = subprocess.run([os.path.join(self.bin, "qmail-inject"), "-f" + sender, "--"] + list(recipients),
                           input=message, env=self.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        return r.returncode == 0

    # --- qmail-smtpd under tcpserver ---

    def _tcpserver(self, port, localname, opts, argv, env):
        """tcpserver on 127.0.0.1:port running argv, or None when it does
        not come up (then it is stopped)"""
        cmd = ["tcpserver", "-q", "-R", "-H", "-l", localname, "-c", "200", "-b", "200"] + opts + \
              ["127.0.0.1", str(port)] + argv
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record(p.pid, "tcpserver")
        if not wait_until(lambda: p.poll() is not None or listening(port), 10, 0.02) or p.poll() is not None:
            _stop_server(p)
            return None
        # let the probe connection's qmail-smtpd finish before timing
        wait_until(lambda: not children(p.pid), 10, 0.02)
        return p

    def start_smtpd(self, port, localname):
        uid = pwd.getpwnam(_user(1)).pw_uid
        gid = grp.getgrnam(_group(1)).gr_gid
        self.tcpserver = self._tcpserver(port, localname, ["-u", str(uid), "-g", str(gid)],
                                         [os.path.join(self.bin, "qmail-smtpd")], self.env)
        return self.tcpserver is not None

    def start_tlsengine(self, cert, key):
        """ucspi-tlsd -d: the resident engine the TLS servers started after
        this hand their connections to (as root, workers as qmaild)"""
        uid = pwd.getpwnam(_user(1)).pw_uid
        gid = grp.getgrnam(_group(1)).gr_gid
        sock = os.path.join(self.logdir, "tlsd.sock")
        env = dict(self.env, CERTFILE=cert, KEYFILE=key, UID=str(uid), GID=str(gid))
        p = subprocess.Popen([os.path.join(self.bin, "ucspi-tlsd"), "-d", sock], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.logdir, "tlsd.log"), "ab"))
        record(p.pid, "ucspi-tlsd -d")
        if not wait_until(lambda: p.poll() is not None or os.path.exists(sock), 10, 0.02) or p.poll() is not None:
            _stop_server(p)
            return False
        self.tlsengine, self.tlssock = p, sock
        return True

    def _tls(self, port, localname, cert, key, opts):
        """qmail-smtpd behind ucspi-tlsd under a tcpserver of its own: the
        helper reads the key as root, then both drop to qmaild/nofiles
        (or ucspi-tlsd-front hands the connection to the resident engine)"""
        uid = pwd.getpwnam(_user(1)).pw_uid
        gid = grp.getgrnam(_group(1)).gr_gid
        env = dict(self.env, CERTFILE=cert, KEYFILE=key, UID=str(uid), GID=str(gid))
        helper = "ucspi-tlsd"
        if self.tlssock:
            env["TLSENGINE"] = self.tlssock
            helper = "ucspi-tlsd-front"
        return self._tcpserver(port, localname, [],
                               [os.path.join(self.bin, helper)] + opts +
                               [os.path.join(self.bin, "qmail-smtpd")], env)

    def start_smtps(self, port, localname, cert, key):
        """ucspi-tlsd -i: SMTPS"""
        self.tlsserver = self._tls(port, localname, cert, key, ["-i"])
        return self.tlsserver is not None

    def start_starttls(self, port, localname, cert, key):
        """ucspi-tlsd: qmail-smtpd offers STARTTLS"""
        self.starttlsserver = self._tls(port, localname, cert, key, [])
        return self.starttlsserver is not None

    def stop_smtpd(self):
        for p in (self.tlsserver, self.starttlsserver, self.tcpserver):
            if p is not None:
                _stop_server(p)
        self.tlsserver = self.starttlsserver = self.tcpserver = None
        if self.tlsengine is not None:
            _stop_server(self.tlsengine)
        self.tlsengine = self.tlssock = None



def _stop_server(p):
    """Stop tcpserver p (or the TLS engine), then (bounded) the sessions
    it was running."""
    if p.poll() is not None:
        return
    kids = children(p.pid)
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
    for pid in kids:
        if not wait_until(lambda: not pid_alive(pid), 10, 0.02):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _conf(name, n):
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(top, name)) as f:
        return f.read().splitlines()[n - 1].strip()


def _user(n):
    """conf-users line n: 1 alias, 2 qmaild, ... (qmaild is index 1 here)"""
    return _conf("conf-users", n + 1)


def _group(n):
    """conf-groups: 0 the qmail group, 1 nofiles"""
    return _conf("conf-groups", n + 1)
