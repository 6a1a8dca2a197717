"""The speed benchmarks (issues 3, 4, 5, 14 and 16): ours and Postfix's in
one run, each figure measured RUNS times (default 3) with the two systems
taking turns, reported as median rates and the min/median/max of the
ours/Postfix ratios of the single runs.

    python3 bench/bench.py --build O --home QMAILHOME [--runs N] [JOB ...]

With no JOB names every default job runs. The fsync and fork+exec rates are
always measured, before and after, so every figure can be set against them.
See bench/README.md for what each figure means. Needs root (test accounts,
Postfix, tcpserver -u).

Adding a job: in a module named in JOB_MODULES (bench/<name>.py), write

    from bench import job, Figure, Result, goal

    @job("name", "what it measures")
    def name(ctx):
        yield Figure(["label"], lambda side: Result(n, secs))

A job is a generator of Figures; each Figure is measured ctx.runs times on
each side it names (default both; sides=("ours",) for one), and its
measure(side) returns one Result per label (a tuple when there are several).
ctx has the sides (ctx.ours, ctx.theirs), ctx.tools, ctx.work and ctx.sink.
goal(text, labels, test) adds a line to the goals check below the table.
"""
import argparse
import importlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# job modules say "from bench import job": let that name this very module
sys.modules.setdefault("bench", sys.modules[__name__])

from util import (wait_until, free_port, listening, make_user, make_maildir,  # noqa: E402
                  clear_maildir, count_new, empty_dir, write_owned, tree_cpu, disk_requests,
                  disk_total, DISK_KINDS)
import util  # noqa: E402
import postfix as pfx  # noqa: E402
import qmail as qm  # noqa: E402

RUNS = 3             # each figure, each side
USERSCDB = False     # --userscdb: ours with a users/cdb for QUSER
NLOCAL = 2000        # local (a) and smtp: messages
NEXT = 1000          # local (b): extension addresses
NREMOTE = 1000       # remote: recipients
NDOMAINS = 50        # remote: domains
INJECTORS = 8        # local (a): parallel injectors
SESSIONS = (1, 10, 50)
NTLS = 400           # tls: messages, one per SMTPS session
TLS_SESSIONS = (1, 50)
# BENCH_ITEMS=N: N items in every job instead (messages, extensions,
# recipients): a smoke run of the harness, as tests/system/test_bench.py
# makes; its figures say nothing about speed
if os.environ.get("BENCH_ITEMS"):
    NLOCAL = NEXT = NREMOTE = NTLS = int(os.environ["BENCH_ITEMS"])
# BENCH_SESSIONS=10 (or 1,50): only these SMTP concurrencies, to profile
# one figure (perf over the run); goals on the others are not checked
if os.environ.get("BENCH_SESSIONS"):
    SESSIONS = tuple(int(n) for n in os.environ["BENCH_SESSIONS"].split(","))
QDOMAIN = "bench.test"       # our local domain
PDOMAIN = "pf.bench.test"    # Postfix's local domain
QUSER = "benchq"
ATTIC = None         # where fresh() moves delivered mail (run sets it; util.clear_maildir)
PUSER = "benchp"
SENDER = "bench@client.test"
# modules with more jobs (bench/<name>.py); one that is not there is skipped
JOB_MODULES = ("scale", "deliver")


def say(*a):
    print(*a, flush=True)


class Stale(Exception):
    pass


class Result:
    """One measurement: n items in secs, or why it did not finish. A
    figure that is not a rate (memory, a count) gives value= and unit=."""

    def __init__(self, n=None, secs=None, status="ok", note="", value=None, unit=""):
        self.n, self.secs, self.status, self.note = n, secs, status, note
        self.value, self.unit = value, unit
        self.detail = ""
        self.cpu = None      # CPU seconds the side spent on it (measure_figure)
        self.io = None       # requests the disk completed meanwhile, by kind (measure_figure)

    @property
    def rate(self):
        """items per second, or the value; None when there is none"""
        if self.status != "ok":
            return None
        if self.value is not None:
            return self.value
        if not self.secs:
            return None
        return self.n / self.secs

    def __str__(self):
        if self.status != "ok":
            return "%s (%s)" % (self.status, self.note) if self.note else self.status
        extra = " (%s)" % self.detail if self.detail else ""
        if self.value is not None:
            return "%g %s%s" % (self.value, self.unit, extra)
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


def delivered_after(side, start, acc_secs, target):
    """The end-to-end Result of an SMTP job whose clients finished
    acc_secs after start: timed until all target messages are delivered,
    its detail how many were delivered when the last was accepted, and
    the delivery rates before and after that moment"""
    during = side.delivered()
    res = timed_count(start, side.delivered, target, 120)
    if res.status == "ok":
        after = res.secs - acc_secs
        res.detail = "%d delivered when the last was accepted: %.0f/s while accepting, %s after" % (
            during, during / acc_secs, "%.0f/s" % ((target - during) / after) if after > 0.001 else "none")
    return res


# --- the job registry ---

class Figure:
    """Rows of the table measured together: measure(side) returns one
    Result per label (a tuple when there are several). needs names Side
    attributes that must be set (e.g. "smtp_port"); lower=True marks a
    figure where the smaller value is the better (e.g. memory);
    injects=True says the programs the measurement starts are the side's
    own injectors (its sendmail), so their CPU counts as the side's."""

    def __init__(self, labels, measure, sides=("ours", "postfix"), needs=(), lower=False, injects=False):
        self.labels = [labels] if isinstance(labels, str) else list(labels)
        self.measure, self.sides, self.needs, self.lower = measure, sides, needs, lower
        self.injects = injects


JOBS = {}    # name -> (doc, generator function, runs by default)
GOALS = []   # (text, labels, test(rates by label and side))


def job(name, doc, default=True):
    """Register a job: fn(ctx) yields Figures."""
    def register(fn):
        JOBS[name] = (doc, fn, default)
        return fn
    return register


def goal(text, labels, test):
    """A line of the goals check: test(r) gets r(label, side), the median
    rate or value (None when missing), and says whether the aim is met."""
    GOALS.append((text, labels, test))


class Ctx:
    def __init__(self, tools, work, sink, ours, theirs, runs):
        self.tools, self.work, self.sink = tools, work, sink
        self.ours, self.theirs, self.runs = ours, theirs, runs

    def side(self, name):
        return self.ours if name == "ours" else self.theirs


# --- the machine's limits ---

def machine_rates(tools, scratch):
    """The machine's fsync and fork+exec rates, and the CPU a disk request
    costs it (microseconds: lower is better). The fsync loop creates and
    removes thousands of files: scratch's parent gets ext4's spreading
    hint (chattr +T) before scratch is made, so those files lie in a block
    group of their own, and the inodes they free are not walked past by
    the deliveries into the bench's Maildirs (ext4 without a journal
    skips inodes freed in the last minutes: util.clear_maildir)."""
    if not os.path.isdir(scratch):
        os.makedirs(os.path.dirname(scratch), exist_ok=True)
        subprocess.run(["chattr", "+T", os.path.dirname(scratch)], capture_output=True)
        os.makedirs(scratch, exist_ok=True)
    out = {}
    rates = os.path.join(tools, "rates")
    for label, args in (("fsync", ["fsync", scratch, "1", "1"]),
                        ("fsync4", ["fsync", scratch, "1", "4"]),
                        ("spawn", ["spawn", "1"]),
                        ("request", ["request", os.path.join(scratch, "request"), "1"])):
        if label == "request" and disk_requests(scratch) is None:
            continue   # no disk under it: nothing to wait for
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
        self.starttls_port = None

    def fresh(self):
        """Empty the Maildir once the previous job's mail has left the
        queue; raises Stale when it does not (so no late delivery of an
        earlier job is counted in this one)."""
        if not wait_until(self.drained, 30, 0.05):
            raise Stale("the queue still holds an earlier job's mail")
        clear_maildir(self.maildir, ATTIC)

    def delivered(self):
        return count_new(self.maildir)

    def cpu(self):
        """CPU seconds spent so far by this system's processes (util.tree_cpu)"""
        return tree_cpu(self.cpu_roots())


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

    def cpu_roots(self):
        """qmail-send (its helpers, qmail-local and qmail-remote under them)
        and the tcpservers (qmail-smtpd, ucspi-tlsd and qmail-queue), and
        the resident TLS engine with its workers"""
        q = self.q
        return [p.pid for p in (q.send, q.tcpserver, q.tlsserver, q.starttlsserver, q.tlsengine) if p is not None]


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

    def cpu_roots(self):
        """Postfix's master: every daemon is its child"""
        return [self.p.master_pid]


def message(to):
    return ("From: %s\nTo: %s\nSubject: bench\n\nA small benchmark message.\n" % (SENDER, to)).encode()


def settle(side, timeout=30):
    """Wait for the previous job's mail to leave the queue."""
    wait_until(side.drained, timeout, 0.05)


# --- the measurements ---

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
    e2e = delivered_after(side, start, acc_secs, NLOCAL)
    settle(side)
    return accepted, e2e


def job_tls(side, sessions, starttls=False):
    """NTLS messages, one per SMTPS (TLS from the first byte, RFC 8314)
    session, or with starttls one per session that says STARTTLS (RFC
    3207) first, from `sessions` client threads (Python's ssl, the same
    client for both). Returns (accepted, end-to-end)."""
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
                if starttls:
                    with smtplib.SMTP("127.0.0.1", side.starttls_port, timeout=60,
                                      local_hostname="client.test") as c:
                        c.starttls(context=ctx)
                        c.sendmail(SENDER, [addr], msg)
                else:
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
    e2e = delivered_after(side, start, acc_secs, NTLS)
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



# --- the jobs ---

def lacc(n):
    return "smtp %d sess accepted" % n


def le2e(n):
    return "smtp %d sess end-to-end" % n


def ltls(n, what, starttls=False):
    return "%s %d sess %s" % ("starttls" if starttls else "smtps", n, what)


LA = "local %d msgs x%d inj" % (NLOCAL, INJECTORS)
LB = "local 1 msg %d ext" % NEXT
LR = "remote %d rcpt %d dom" % (NREMOTE, NDOMAINS)


@job("local", "local delivery: %s; one message to %d extensions" % (LA, NEXT))
def local_jobs(ctx):
    yield Figure(LA, lambda s: job_local_many(s, ctx.tools, ctx.work), injects=True)
    yield Figure(LB, job_local_ext, injects=True)


@job("smtp", "smtp-source, one message a session, at %s sessions" % "/".join(map(str, SESSIONS)))
def smtp_jobs(ctx):
    for n in SESSIONS:
        yield Figure((lacc(n), le2e(n)), lambda s, n=n: job_smtp(s, n), needs=("smtp_port",))


@job("tls", "SMTPS and STARTTLS, one message a session, at %s sessions" % "/".join(map(str, TLS_SESSIONS)))
def tls_jobs(ctx):
    for st, port in ((False, "tls_port"), (True, "starttls_port")):
        for n in TLS_SESSIONS:
            yield Figure((ltls(n, "accepted", st), ltls(n, "end-to-end", st)),
                         lambda s, n=n, st=st: job_tls(s, n, st), needs=(port,))


@job("remote", "one message to %d recipients in %d domains, to smtp-sink" % (NREMOTE, NDOMAINS))
def remote_jobs(ctx):
    yield Figure(LR, lambda s: job_remote(s, ctx.sink), injects=True)


def _ratio_at_least(k, label):
    return lambda r: None if None in (r(label, "ours"), r(label, "postfix")) \
        else r(label, "ours") >= k * r(label, "postfix")


for _n in SESSIONS:
    goal("issue 14: SMTP accepted/s at %d sessions >= 1.2x Postfix" % _n, [lacc(_n)], _ratio_at_least(1.2, lacc(_n)))
    goal("issue 14: SMTP end-to-end/s at %d sessions >= 1.2x Postfix" % _n, [le2e(_n)],
         _ratio_at_least(1.2, le2e(_n)))
goal("issue 14: our end-to-end/s at 50 sessions not below 1 session", [le2e(50), le2e(1)],
     lambda r: None if None in (r(le2e(50), "ours"), r(le2e(1), "ours")) else r(le2e(50), "ours") >= r(le2e(1), "ours"))
goal("issue 14: local fan-out (1000 extensions) under 0.6 s", [LB],
     lambda r: None if r(LB, "ours") is None else NEXT / r(LB, "ours") < 0.6)
goal("issue 14: local fan-out >= 1.3x Postfix", [LB], _ratio_at_least(1.3, LB))
goal("issue 14: remote fan-out ahead of Postfix", [LR],
     lambda r: None if None in (r(LR, "ours"), r(LR, "postfix")) else r(LR, "ours") > r(LR, "postfix"))
goal("issue 3: 1000 extensions under notqmail's 1.7 s", [LB],
     lambda r: None if r(LB, "ours") is None else NEXT / r(LB, "ours") < 1.7)


# --- running the figures ---

def measure_figure(ctx, fig):
    """fig measured ctx.runs times on each of its sides, taking turns;
    returns {label: {side name: [Result per run]}}."""
    out = {label: {name: [] for name in fig.sides} for label in fig.labels}
    for run in range(ctx.runs):
        for name in fig.sides:
            s = ctx.side(name)
            missing = [a for a in fig.needs if not getattr(s, a, None)]
            if s.why or missing:
                rs = [not_run(s.why or "no %s" % missing[0])] * len(fig.labels)
            else:
                say("bench: %s: %s run %d ..." % (fig.labels[0], name, run + 1))
                cpu = s.cpu() + (children_cpu() if fig.injects else 0)
                io = disk_requests(ctx.work)
                try:
                    rs = fig.measure(s)
                    rs = list(rs) if isinstance(rs, (tuple, list)) else [rs]
                except (OSError, subprocess.SubprocessError, Stale) as e:
                    rs = [Result(status="failed", note=str(e)[:120])] * len(fig.labels)
                cpu = s.cpu() + (children_cpu() if fig.injects else 0) - cpu
                if io is not None:
                    after = disk_requests(ctx.work)
                    io = {k: after[k] - io[k] for k in DISK_KINDS}
                for r in rs:
                    r.cpu, r.io = cpu, io
                say("bench: %s: %s run %d: %s%s" % (fig.labels[0], name, run + 1, " / ".join(map(str, rs)),
                                                    disk_said(io, rs[0])))
            for label, r in zip(fig.labels, rs):
                out[label][name].append(r)
    return out


def disk_said(io, r):
    """the disk's requests per item of one run, by kind, for the log"""
    if io is None or r.rate is None or r.value is not None or not r.n:
        return ""
    n = float(r.n)
    return "; disk a item: %.2f requests: %.2f reads, %.2f writes (%.2f flushes), %.2f discards" % (
        disk_total(io) / n, io["reads"] / n, io["writes"] / n, io["flushes"] / n, io["discards"] / n)


def children_cpu():
    """CPU seconds of this process's children that it has waited for
    (and theirs): the injectors a figure with injects=True starts"""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Row:
    """One label's runs on both sides, summarized: the median rate of
    each side over the runs that finished, and the ours/Postfix ratio of
    each run where both finished (min, median, max)."""

    def __init__(self, label, runs, lower=False):
        self.label, self.lower = label, lower
        self.ours = runs.get("ours", [])
        self.theirs = runs.get("postfix", [])
        self.ratios = [a.rate / b.rate for a, b in zip(self.ours, self.theirs)
                       if a.rate is not None and b.rate]
        if lower:
            self.ratios = [1 / x for x in self.ratios if x]

    @staticmethod
    def median(results):
        v = [r.rate for r in results if r.rate is not None]
        return statistics.median(v) if v else None

    def rate(self, side):
        return self.median(self.ours if side == "ours" else self.theirs)

    def secs(self, side):
        v = [r.secs for r in (self.ours if side == "ours" else self.theirs) if r.rate is not None and r.secs]
        return statistics.median(v) if v else None

    def per_item(self, side, of):
        """the median over the side's runs of of(r) per item, over the runs
        that finished as rates and for which of(r) is not None"""
        v = [of(r) / r.n for r in (self.ours if side == "ours" else self.theirs)
             if r.rate is not None and r.value is None and r.n and of(r) is not None]
        return statistics.median(v) if v else None

    def cpu_ms(self, side):
        """the median over the runs of the side's CPU milliseconds per item"""
        return self.per_item(side, lambda r: None if r.cpu is None else 1000 * r.cpu)

    def io_per(self, side):
        """the median over the runs of the disk requests per item"""
        return self.per_item(side, lambda r: None if r.io is None else disk_total(r.io))

    def unit(self):
        for r in self.ours + self.theirs:
            if r.status == "ok" and r.value is not None:
                return r.unit
        return None

    def notes(self):
        for side, rs in (("ours", self.ours), ("postfix", self.theirs)):
            for i, r in enumerate(rs):
                if r.status != "ok":
                    yield "%s, %s, run %d: %s" % (self.label, side, i + 1, r)


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def fmt_io(v):
    """disk requests per item: two decimals, three below one (a fan-out's
    recipients share a few)"""
    return fmt(v, "%.2f" if v is None or v >= 1 else "%.3f")


def report(rates, rows, runs, out):
    lines = []
    w = lines.append
    f1, f4, sp = rates.get("fsync"), rates.get("fsync4"), rates.get("spawn")

    def num(v):
        return "%.0f" % v if v else "?"

    w("machine: fsync %s/s (1 writer), %s/s (4 writers); fork+exec %s/s" % (num(f1), num(f4), num(sp)))
    if "fsync runs" in rates:
        w("         (better of the measurements before and after the jobs: %s)" % "; ".join(
            "%s %s then %s%s" % (k.split()[0], num(rates[k][0]), num(rates[k][1]),
                                 " us" if k == "request runs" else "")
            for k in ("fsync runs", "fsync4 runs", "spawn runs", "request runs") if k in rates))
    if rates.get("request"):
        w("disk: a request (4 KB written and waited for) costs the machine %.0f us of CPU" % rates["request"])
    w("%d runs of each figure on each side, taking turns; rates are medians over the runs," % runs)
    w("ours/pfx is the median of the runs' ratios, with their min and max")
    w("")
    head = ("%-26s %9s %8s %9s %8s %8s %13s %7s %7s %7s %7s %7s %7s %7s" %
            ("benchmark (items)", "ours/s", "ours s", "pfx/s", "pfx s", "ours/pfx", "(min-max)",
             "ours/fs", "pfx/fs", "ours/sp", "ours ms", "pfx ms", "ours io", "pfx io"))
    w(head)
    w("-" * len(head))
    for row in rows:
        o, p = row.rate("ours"), row.rate("postfix")
        rr = row.ratios
        spread = "(%.2f-%.2f)" % (min(rr), max(rr)) if rr else "-"
        med = statistics.median(rr) if rr else None
        unit = row.unit()
        if unit:   # not a rate: the value in the rate columns, no fsync/spawn figures
            w("%-26s %9s %8s %9s %8s %8s %13s" % (row.label, fmt(o, "%g"), unit, fmt(p, "%g"), unit if p else "-",
                                                  fmt(med, "%.2f"), spread))
            continue
        w("%-26s %9s %8s %9s %8s %8s %13s %7s %7s %7s %7s %7s %7s %7s" % (
            row.label, fmt(o), fmt(row.secs("ours"), "%.3f"), fmt(p), fmt(row.secs("postfix"), "%.3f"),
            fmt(med, "%.2f"), spread,
            fmt(o / f1 if o and f1 else None, "%.2f"), fmt(p / f1 if p and f1 else None, "%.2f"),
            fmt(o / sp if o and sp else None, "%.2f"),
            fmt(row.cpu_ms("ours"), "%.3f"), fmt(row.cpu_ms("postfix"), "%.3f"),
            fmt_io(row.io_per("ours")), fmt_io(row.io_per("postfix"))))
    notes = [n for row in rows for n in row.notes()]
    if notes:
        w("")
        for n in notes:
            w(n)
    by = {row.label: row for row in rows}

    def r(label, side):
        return by[label].rate(side) if label in by else None

    checks = []
    for text, labels, test in GOALS:
        if not any(label in by for label in labels):
            continue
        v = test(r)
        checks.append("%s  %s" % ("unknown " if v is None else "met     " if v else "NOT met ", text))
    if checks:
        w("")
        w("goals:")
        for x in checks:
            w("  " + x)
    w("")
    w("rates are items per second (messages, deliveries or recipients); ours/pfx > 1 means we are faster;")
    w("ours/fs and pfx/fs are items per single-writer fsync, ours/sp items per fork+exec;")
    w("ours ms and pfx ms are the CPU milliseconds a system's own processes spent per item, from the")
    w("start of a run until its mail left the queue (the local and remote jobs count the injectors")
    w("too, the SMTP clients are not counted): set against the 2 cores' wall time, they say whether")
    w("a figure is bound by the CPU or by waiting. ours io and pfx io are the requests per item that")
    w("the disk under the bench completed over the same span (reads, writes and discards; an fsync's")
    w("cache flush is one write); the disk line above says what one costs the machine's CPU, outside")
    w("the ms columns in part.")
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
    # users/cdb answers RCPT in qmail-smtpd itself and replaces qmail-getpw
    if USERSCDB and not q.users(pw):
        side.why = "qmail-newu failed"
        return side
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
    # BENCH_TLSENGINE=0: every TLS connection loads OpenSSL itself
    if os.environ.get("BENCH_TLSENGINE", "1") != "0":
        q.start_tlsengine(cert, key)
    side.tls_port = free_port()
    if not q.start_smtps(side.tls_port, QDOMAIN, cert, key):
        side.tls_port = None
    side.starttls_port = free_port()
    if not q.start_starttls(side.starttls_port, QDOMAIN, cert, key):
        side.starttls_port = None
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
    side.starttls_port = p.port     # its smtpd offers STARTTLS (security level may)
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


def run(which, build, home, runs):
    if os.geteuid() != 0:
        say("bench: must run as root (test accounts, Postfix, tcpserver -u)")
        return 100
    work = os.path.join(os.path.abspath(build), "bench")
    os.makedirs(work, exist_ok=True)
    util.PIDFILE = os.path.join(work, "servers.pids")
    util.stop_stale()
    global ATTIC
    ATTIC = os.path.join(work, "attic")
    empty_dir(ATTIC)
    say("bench: measuring fsync and fork+exec rates")
    tools = os.path.join(work, "tools")
    rates = machine_rates(tools, os.path.join(work, "spread", "fsync-scratch"))
    rows = []
    sides = []
    sink = Sink(work)
    # a stray TERM/INT still stops everything we started
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(111))
    try:
        if which:
            ours = setup_ours(home, work, sink.port)
            sides.append(ours)
            theirs = setup_postfix(work, sink.port)
            sides.append(theirs)
            for s in (ours, theirs):
                say("bench: %s: %s" % (s.name, "ready" if not s.why else "not available: " + s.why))
            ctx = Ctx(tools, work, sink, ours, theirs, runs)
            for name in JOBS:
                if name not in which:
                    continue
                for fig in JOBS[name][1](ctx):
                    got = measure_figure(ctx, fig)
                    rows.extend(Row(label, got[label], fig.lower) for label in fig.labels)
    finally:
        sink.stop()
        for s in sides:
            if isinstance(s, Ours):
                s.q.stop()
            else:
                s.p.stop()
        util.stop_stale()
        empty_dir(ATTIC)
    if rows:
        # the disk's rate drifts: measure again, and take the better of the two
        say("bench: measuring fsync and fork+exec rates again")
        again = machine_rates(tools, os.path.join(work, "spread", "fsync-scratch"))
        for k, v in again.items():
            rates[k + " runs"] = (rates[k], v)
            # the higher rate is the better, the lower request cost
            if v is not None and (rates[k] is None or (v < rates[k] if k == "request" else v > rates[k])):
                rates[k] = v
    report(rates, rows, runs, os.path.join(work, "results.txt"))
    return 0


def load_modules():
    here = os.path.dirname(os.path.abspath(__file__))
    for m in JOB_MODULES:
        if os.path.exists(os.path.join(here, m + ".py")):
            importlib.import_module(m)


def main():
    load_modules()
    ap = argparse.ArgumentParser(epilog="jobs: " + "; ".join("%s: %s" % (k, v[0]) for k, v in JOBS.items()))
    ap.add_argument("--build", required=True, help="the build directory (O)")
    ap.add_argument("--home", required=True, help="the qmail home the build was made for")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", RUNS)),
                    help="runs of each figure (default %d, or $BENCH_RUNS)" % RUNS)
    ap.add_argument("--userscdb", action="store_true",
                    help="give ours a users/cdb for %s (default: none, qmail-getpw's rules)" % QUSER)
    ap.add_argument("which", nargs="*", help="fsync or job names (default: every default job)")
    a = ap.parse_args()
    global USERSCDB
    USERSCDB = a.userscdb
    names = set(JOBS) | {"fsync"}
    which = set(a.which) or {k for k, v in JOBS.items() if v[2]}
    if which - names:
        ap.error("unknown job: %s" % " ".join(sorted(which - names)))
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    return run(which - {"fsync"}, a.build, a.home, a.runs)


if __name__ == "__main__":
    sys.exit(main())
