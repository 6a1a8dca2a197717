"""The benchmarks of issues 3, 4 and 5, ours and Postfix's in one run.

    python3 bench/bench.py --build O --home QMAILHOME [fsync|local|smtp|remote ...]

With no names every benchmark runs. The fsync and fork+exec rates are always
measured first, so every figure can be set against them. See bench/README.md
for what each figure means. Needs root (test accounts, Postfix, tcpserver -u).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from util import (wait_until, free_port, listening, make_user, make_maildir,  # noqa: E402
                  clear_maildir, count_new, write_owned)
import util  # noqa: E402
import postfix as pfx  # noqa: E402
import qmail as qm  # noqa: E402
import scale  # noqa: E402

NLOCAL = 2000        # local (a) and smtp: messages
NEXT = 1000          # local (b): extension addresses
NREMOTE = 1000       # remote: recipients
NDOMAINS = 50        # remote: domains
INJECTORS = 8        # local (a): parallel injectors
SESSIONS = (1, 10, 50)
NTLS = 400           # tls: messages, one per SMTPS session
TLS_SESSIONS = (1, 50)
QDOMAIN = "bench.test"       # our local domain
PDOMAIN = "pf.bench.test"    # Postfix's local domain
QUSER = "benchq"
PUSER = "benchp"
SENDER = "bench@client.test"


def say(*a):
    print(*a, flush=True)


class Stale(Exception):
    pass


class Result:
    """One measurement: n items in secs, or why it did not finish."""

    def __init__(self, n=None, secs=None, status="ok", note=""):
        self.n, self.secs, self.status, self.note = n, secs, status, note
        self.detail = ""

    @property
    def rate(self):
        if self.status != "ok" or not self.secs:
            return None
        return self.n / self.secs

    def __str__(self):
        if self.status != "ok":
            return "%s (%s)" % (self.status, self.note) if self.note else self.status
        extra = " (%s)" % self.detail if self.detail else ""
        return "%d in %.3f s = %.1f/s%s" % (self.n, self.secs, self.rate, extra)


def not_run(why):
    return Result(status="not run", note=why)


def wait_count(count, target, timeout, stall=15.0):
    """Poll count() until it reaches target. Gives up after timeout seconds,
    or after stall seconds without progress. Returns (done, last count)."""
    end = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        n = count()
        now = time.monotonic()
        if n >= target:
            return True, n
        if n != last:
            last, last_change = n, now
        if now >= end or now - last_change >= stall:
            return False, n
        time.sleep(0.005)


def timed_count(start, count, target, timeout):
    ok, n = wait_count(count, target, timeout)
    secs = time.monotonic() - start
    if ok:
        return Result(target, secs)
    return Result(status="incomplete", note="%d of %d after %.1f s" % (n, target, secs))


# --- the machine's limits ---

def machine_rates(tools, scratch):
    os.makedirs(scratch, exist_ok=True)
    out = {}
    rates = os.path.join(tools, "rates")
    for label, args in (("fsync", ["fsync", scratch, "1", "1"]),
                        ("fsync4", ["fsync", scratch, "1", "4"]),
                        ("spawn", ["spawn", "1"])):
        try:
            r = subprocess.run([rates] + args, capture_output=True, text=True, timeout=30)
            out[label] = float(r.stdout.strip()) if r.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            out[label] = None
    return out


# --- smtp-sink, counting recipients of completed transactions ---

class Sink:
    """Postfix's smtp-sink on 127.0.0.1:port, dumping each finished
    transaction (with one X-Rcpt-Args line per recipient) to one file."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "sink")
        self.port = free_port()
        self.proc = None

    def start(self):
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        shutil.chown(self.dir, "nobody")
        self.dump = os.path.join(self.dir, "dump")
        self.proc = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-h", "sink.test", "-D", self.dump,
                                      "127.0.0.1:%d" % self.port, "1000"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        util.record(self.proc.pid, "smtp-sink")
        self.seen, self.offset, self.transactions = 0, 0, 0
        return wait_until(lambda: listening(self.port) or self.proc.poll() is not None, 10, 0.01) \
            and self.proc.poll() is None

    def recipients(self):
        """Recipients seen so far (reads only what was appended)."""
        try:
            with open(self.dump, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self.seen
        cut = data.rfind(b"\n") + 1
        self.seen += data[:cut].count(b"\nX-Rcpt-Args: ") + data[:cut].startswith(b"X-Rcpt-Args: ")
        self.transactions += data[:cut].count(b"\nX-Mail-Args: ") + data[:cut].startswith(b"X-Mail-Args: ")
        self.offset += cut
        return self.seen

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


# --- the two systems behind one interface ---

class Side:
    """What a job needs from a mail system: inject, its Maildir, its SMTP
    port, drain wait."""

    def __init__(self, name, user_pw, domain):
        self.name = name
        self.pw = user_pw
        self.domain = domain
        self.maildir = os.path.join(user_pw.pw_dir, "Maildir")
        self.user = user_pw.pw_name
        self.why = None      # set when this side cannot run
        self.smtp_port = None
        self.tls_port = None

    def fresh(self):
        """Empty the Maildir once the previous job's mail has left the
        queue; raises Stale when it does not (so no late delivery of an
        earlier job is counted in this one)."""
        if not wait_until(self.drained, 30, 0.05):
            raise Stale("the queue still holds an earlier job's mail")
        clear_maildir(self.maildir)

    def delivered(self):
        return count_new(self.maildir)


class Ours(Side):
    def __init__(self, q, pw):
        super().__init__("ours", pw, QDOMAIN)
        self.q = q

    def inject(self, rcpts, msg):
        return self.q.inject(rcpts, msg, SENDER)

    def inject_cmd(self, rcpts):
        return [os.path.join(self.q.bin, "qmail-inject"), "-f" + SENDER, "--"] + rcpts, self.q.env

    def drained(self):
        return self.q.queue_empty()


class Theirs(Side):
    def __init__(self, p, pw):
        super().__init__("postfix", pw, PDOMAIN)
        self.p = p
        self.smtp_port = p.port

    def inject(self, rcpts, msg):
        return self.p.sendmail(rcpts, msg, SENDER)

    def inject_cmd(self, rcpts):
        return self.p.sendmail_cmd(rcpts, SENDER)

    def drained(self):
        return self.p.queue_empty()


def message(to):
    return ("From: %s\nTo: %s\nSubject: bench\n\nA small benchmark message.\n" % (SENDER, to)).encode()


def settle(side, timeout=30):
    """Wait for the previous job's mail to leave the queue."""
    wait_until(side.drained, timeout, 0.05)


# --- the jobs ---

def job_local_many(side, tools, work):
    """(a) NLOCAL messages by INJECTORS parallel injectors to one user,
    timed until all are in the Maildir. The injectors are started by
    `rates inject` (C), so the driver's own cost stays out of the figure."""
    side.fresh()
    addr = "%s@%s" % (side.user, side.domain)
    msgfile = os.path.join(work, "message")
    with open(msgfile, "wb") as f:
        f.write(message(addr))
    argv, env = side.inject_cmd([addr])
    start = time.monotonic()
    try:
        r = subprocess.run([os.path.join(tools, "rates"), "inject", str(NLOCAL), str(INJECTORS), msgfile] + argv,
                           env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return Result(status="incomplete", note="injection still running after 120 s")
    injected = time.monotonic() - start
    if r.returncode != 0:
        return Result(status="failed", note="%s injections failed %s" % (r.stdout.strip() or "?", r.stderr.strip()))
    res = timed_count(start, side.delivered, NLOCAL, 120)
    res.detail = "injected in %.3f s" % injected
    settle(side)
    return res


def job_local_ext(side):
    """(b) one message to NEXT extension addresses of one user."""
    side.fresh()
    rcpts = ["%s-e%d@%s" % (side.user, i, side.domain) for i in range(NEXT)]
    start = time.monotonic()
    if not side.inject(rcpts, message("%s-list@%s" % (side.user, side.domain))):
        return Result(status="failed", note="injection failed")
    res = timed_count(start, side.delivered, NEXT, 60)
    settle(side)
    return res


def job_smtp(side, sessions):
    """smtp-source: NLOCAL messages over `sessions` parallel sessions, one
    message a connection. Returns (accepted, end-to-end)."""
    side.fresh()
    addr = "%s@%s" % (side.user, side.domain)
    cmd = ["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(NLOCAL), "-f", SENDER, "-t", addr,
           "-M", "client.test", "127.0.0.1:%d" % side.smtp_port]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        return (Result(status="incomplete", note="smtp-source still running after 120 s"),) * 2
    acc_secs = time.monotonic() - start
    if proc.returncode != 0:
        note = err.decode("latin-1").strip().splitlines()[-1:] or ["exit %d" % proc.returncode]
        return (Result(status="failed", note=note[0][:120]),) * 2
    accepted = Result(NLOCAL, acc_secs)
    e2e = timed_count(start, side.delivered, NLOCAL, 120)
    settle(side)
    return accepted, e2e


def job_tls(side, sessions):
    """NTLS messages, one per SMTPS (TLS from the first byte, RFC 8314)
    session, from `sessions` client threads (Python's ssl, the same client
    for both). Returns (accepted, end-to-end)."""
    import smtplib
    import ssl
    import threading
    side.fresh()
    addr = "%s@%s" % (side.user, side.domain)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = message(addr).replace(b"\n", b"\r\n")   # smtplib sends bytes as they are
    left = [NTLS]
    errors = []
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
            try:
                with smtplib.SMTP_SSL("127.0.0.1", side.tls_port, timeout=60, context=ctx,
                                      local_hostname="client.test") as c:
                    c.sendmail(SENDER, [addr], msg)
            except (OSError, smtplib.SMTPException) as e:
                with lock:
                    errors.append(str(e)[:120])
                return
    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    acc_secs = time.monotonic() - start
    if errors:
        return (Result(status="failed", note=errors[0]),) * 2
    accepted = Result(NTLS, acc_secs)
    e2e = timed_count(start, side.delivered, NTLS, 120)
    settle(side)
    return accepted, e2e


def job_remote(side, sink):
    """One message to NREMOTE recipients over NDOMAINS domains, all routed
    to smtp-sink; timed until the sink has seen every recipient."""
    side.fresh()
    if not sink.start():
        return Result(status="failed", note="smtp-sink did not start")
    try:
        rcpts = ["r%d@d%d.remote.test" % (i, i % NDOMAINS) for i in range(NREMOTE)]
        start = time.monotonic()
        if not side.inject(rcpts, message("list@remote.test")):
            return Result(status="failed", note="injection failed")
        res = timed_count(start, sink.recipients, NREMOTE, 60)
        res.detail = "%d SMTP transactions" % sink.transactions
        settle(side)
        return res
    finally:
        sink.stop()


# --- report ---

def fmt_rate(r):
    if r is None:
        return "-"
    if r.status != "ok":
        return r.status
    return "%.1f" % r.rate


def fmt_secs(r):
    if r is None or r.status != "ok":
        return "-"
    return "%.3f" % r.secs


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2f" % (a / b)


LA = "local %d msgs x%d inj" % (NLOCAL, INJECTORS)
LB = "local 1 msg %d ext" % NEXT
LR = "remote %d rcpt %d dom" % (NREMOTE, NDOMAINS)


def lacc(n):
    return "smtp %d sess accepted" % n


def le2e(n):
    return "smtp %d sess end-to-end" % n


def ltls(n, what):
    return "smtps %d sess %s" % (n, what)


def goals(rows):
    """The aims the issues set, each met, NOT met or unknown (a figure
    is missing)."""
    d = {label: (ours, theirs) for label, ours, theirs in rows}

    def rate(label, who):
        r = d.get(label, (None, None))[who]
        return r.rate if r is not None else None

    def check(text, *vals_and_test):
        *vals, test = vals_and_test
        if not any(label in d for label in text[1]):
            return None
        if any(v is None for v in vals):
            return "unknown  %s" % text[0]
        return "%s  %s" % ("met     " if test(*vals) else "NOT met ", text[0])

    out = [
        check(("issue 3: 1000 extensions faster than Postfix", [LB]),
              rate(LB, 0), rate(LB, 1), lambda a, b: a > b),
        check(("issue 3: 1000 extensions under notqmail's 1.7 s", [LB]),
              rate(LB, 0), lambda a: NEXT / a < 1.7),
        check(("issue 4: accepted/s at 50 sessions above Postfix", [lacc(50)]),
              rate(lacc(50), 0), rate(lacc(50), 1), lambda a, b: a > b),
        check(("issue 4: end-to-end/s at 50 sessions above Postfix", [le2e(50)]),
              rate(le2e(50), 0), rate(le2e(50), 1), lambda a, b: a > b),
        check(("issue 4: our end-to-end/s at 50 sessions not below 1 session", [le2e(50)]),
              rate(le2e(50), 0), rate(le2e(1), 0), lambda a, b: a >= b),
        check(("issue 5: fan-out no slower than Postfix", [LR]),
              rate(LR, 0), rate(LR, 1), lambda a, b: a >= b),
    ]
    return [x for x in out if x]


def report(rates, rows, out):
    lines = []
    w = lines.append
    f1, f4, sp = rates.get("fsync"), rates.get("fsync4"), rates.get("spawn")

    def num(v):
        return "%.0f" % v if v else "?"

    w("machine: fsync %s/s (1 writer), %s/s (4 writers); fork+exec %s/s" % (num(f1), num(f4), num(sp)))
    if "fsync runs" in rates:
        w("         (better of the measurements before and after the jobs: %s)" % "; ".join(
            "%s %s then %s" % (k.split()[0], num(rates[k][0]), num(rates[k][1]))
            for k in ("fsync runs", "fsync4 runs", "spawn runs")))
    w("")
    head = ("%-26s %10s %9s %10s %9s %8s %8s %8s %8s" %
            ("benchmark (items)", "ours/s", "ours s", "pfx/s", "pfx s", "ours/pfx", "ours/fs", "pfx/fs", "ours/sp"))
    w(head)
    w("-" * len(head))
    for label, ours, theirs in rows:
        orate = ours.rate if ours else None
        prate = theirs.rate if theirs else None
        w("%-26s %10s %9s %10s %9s %8s %8s %8s %8s" % (
            label, fmt_rate(ours), fmt_secs(ours), fmt_rate(theirs), fmt_secs(theirs),
            ratio(orate, prate), ratio(orate, f1), ratio(prate, f1), ratio(orate, sp)))
    notes = [(label, who, r) for label, ours, theirs in rows for who, r in (("ours", ours), ("postfix", theirs))
             if r is not None and r.status != "ok" and r.note]
    if notes:
        w("")
        for label, who, r in notes:
            w("%s, %s: %s" % (label, who, r))
    g = goals(rows)
    if g:
        w("")
        w("goals (issues 3, 4, 5):")
        for x in g:
            w("  " + x)
    w("")
    w("rates are items per second (messages, deliveries or recipients); ours/pfx > 1 means we are faster;")
    w("ours/fs and pfx/fs are items per single-writer fsync, ours/sp items per fork+exec.")
    text = "\n".join(lines) + "\n"
    say("")
    say(text)
    with open(out, "w") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S") + "\n" + text)


# --- setup ---

def make_cert(work):
    """A self-signed certificate both servers present (RSA 2048)."""
    d = os.path.join(work, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=bench.test", "-keyout", key, "-out", cert],
                       capture_output=True, check=True, timeout=60)
    os.chmod(key, 0o644)    # Postfix's smtpd reads it after dropping root
    return cert, key


def setup_ours(home, work, sink_port):
    q = qm.Qmail(home, os.path.join(work, "logs"))
    why = q.missing()
    pw = make_user(QUSER, os.path.join(work, "users", QUSER))
    make_maildir(os.path.join(pw.pw_dir, "Maildir"), pw)
    write_owned(os.path.join(pw.pw_dir, ".qmail-default"), "./Maildir/\n", pw)
    side = Ours(q, pw)
    if why:
        side.why = why
        return side
    routes = "".join("d%d.remote.test:127.0.0.1:%d\n" % (i, sink_port) for i in range(NDOMAINS))
    q.control({"me": QDOMAIN + "\n", "locals": QDOMAIN + "\nlocalhost\n",
               "rcpthosts": QDOMAIN + "\nlocalhost\n", "defaultdomain": QDOMAIN + "\n",
               "defaulthost": QDOMAIN + "\n", "smtproutes": routes})
    # leftovers of an earlier, interrupted run would be delivered into the
    # timings: a bench home inside the build directory is emptied, any
    # other home is left alone and our side not run
    if not q.queue_empty():
        if os.path.realpath(home).startswith(os.path.realpath(os.path.dirname(work)) + os.sep):
            q.clear_queue()
        else:
            side.why = "queue in %s is not empty" % home
            return side
    if not q.start():
        side.why = "qmail-start did not come up; see %s" % q.logpath
        return side
    side.smtp_port = free_port()
    if not q.start_smtpd(side.smtp_port, QDOMAIN):
        side.smtp_port = None
    cert, key = make_cert(work)
    side.tls_port = free_port()
    if not q.start_smtps(side.tls_port, QDOMAIN, cert, key):
        side.tls_port = None
    return side


def setup_postfix(work, sink_port):
    why = pfx.available()
    pw = make_user(PUSER, os.path.join(work, "users", PUSER))
    make_maildir(os.path.join(pw.pw_dir, "Maildir"), pw)
    routes = {"d%d.remote.test" % i: "[127.0.0.1]:%d" % sink_port for i in range(NDOMAINS)}
    cert, key = make_cert(work)
    p = pfx.Postfix(os.path.join(work, "postfix"), PDOMAIN, free_port(), routes, tls=(cert, key, free_port()))
    side = Theirs(p, pw)
    side.tls_port = p.tls[2]
    if why:
        side.why = why
        return side
    p.setup()
    try:
        p.start()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        side.why = str(e)
        return side
    if not wait_until(lambda: listening(p.port), 10, 0.02):
        side.why = "Postfix smtpd not listening; see %s" % p.log
    return side


def run(which, build, home):
    if os.geteuid() != 0:
        say("bench: must run as root (test accounts, Postfix, tcpserver -u)")
        return 100
    work = os.path.join(os.path.abspath(build), "bench")
    os.makedirs(work, exist_ok=True)
    util.PIDFILE = os.path.join(work, "servers.pids")
    util.stop_stale()
    say("bench: measuring fsync and fork+exec rates")
    tools = os.path.join(work, "tools")
    rates = machine_rates(tools, os.path.join(work, "fsync-scratch"))
    rows = []
    sides = []
    scaled = None
    sink = Sink(work)
    # a stray TERM/INT still stops everything we started
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(111))
    try:
        if which - {"fsync"}:
            ours = setup_ours(home, work, sink.port)
            sides.append(ours)
            theirs = setup_postfix(work, sink.port)
            sides.append(theirs)
            for s in (ours, theirs):
                say("bench: %s: %s" % (s.name, "ready" if not s.why else "not available: " + s.why))

            def both(label, fn, need_smtp=False, pair=False):
                out = []
                for s in (ours, theirs):
                    if s.why:
                        r = not_run(s.why)
                    elif need_smtp and not s.smtp_port:
                        r = not_run("no SMTP server")
                    else:
                        say("bench: %s: %s ..." % (label, s.name))
                        try:
                            r = fn(s)
                        except (OSError, subprocess.SubprocessError, Stale) as e:
                            r = Result(status="failed", note=str(e)[:120])
                            r = (r, r) if pair else r
                        say("bench: %s: %s: %s" % (label, s.name, " / ".join(map(str, r)) if pair else r))
                        out.append(r)
                        continue
                    out.append((r, r) if pair else r)
                return out

            if "local" in which:
                rows.append((LA,) +
                            tuple(both("local (a)", lambda s: job_local_many(s, tools, work))))
                rows.append((LB,) + tuple(both("local (b)", job_local_ext)))
            if "smtp" in which:
                for n in SESSIONS:
                    acc, e2e = zip(*both("smtp %d sessions" % n, lambda s: job_smtp(s, n), True, True))
                    rows.append((lacc(n),) + acc)
                    rows.append((le2e(n),) + e2e)
            if "tls" in which:
                for n in TLS_SESSIONS:
                    acc, e2e = zip(*both("smtps %d sessions" % n, lambda s: job_tls(s, n), True, True))
                    rows.append((ltls(n, "accepted"),) + acc)
                    rows.append((ltls(n, "end-to-end"),) + e2e)
            if "remote" in which:
                rows.append((LR,) +
                            tuple(both("remote", lambda s: job_remote(s, sink))))
            if "scale" in which and not ours.why:     # last: it restarts our side (bench/scale.py)
                scaled = scale.run(ours.q, ours.pw, QDOMAIN, tools, work, rates)
    finally:
        sink.stop()
        for s in sides:
            if isinstance(s, Ours):
                s.q.stop()
            else:
                s.p.stop()
        util.stop_stale()
    if rows:
        # the disk's rate drifts: measure again, and take the better of the two
        say("bench: measuring fsync and fork+exec rates again")
        again = machine_rates(tools, os.path.join(work, "fsync-scratch"))
        for k, v in again.items():
            rates[k + " runs"] = (rates[k], v)
            if v is not None and (rates[k] is None or v > rates[k]):
                rates[k] = v
    report(rates, rows, os.path.join(work, "results.txt"))
    if scaled:
        say(scaled)
        with open(os.path.join(work, "results.txt"), "a") as f:
            f.write("\n" + scaled)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="the build directory (O)")
    ap.add_argument("--home", required=True, help="the qmail home the build was made for")
    ap.add_argument("which", nargs="*", help="fsync local smtp tls remote scale (default: all)")
    a = ap.parse_args()
    names = {"fsync", "local", "smtp", "tls", "remote", "scale"}
    which = set(a.which) or names
    if which - names:
        ap.error("unknown benchmark: %s" % " ".join(sorted(which - names)))
    return run(which, a.build, a.home)


if __name__ == "__main__":
    sys.exit(main())
