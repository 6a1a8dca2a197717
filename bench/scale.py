"""The scale job of issue 14 (bench/README.md, "scale"): a queue of N
messages deferred by a remote peer, and 1000 remote deliveries in flight.

For each N (10000, 50000, 100000; BENCH_SCALE="1000,2000" for a smoke run):
qmail-send is started fresh with smtproutes sending scale.remote.test to a
peer on 127.0.0.1 that answers 451 to every RCPT (Postfix's smtp-sink -r);
N messages are put in through qmail-queue itself by `rates queue` (bench/rates.c), 8 at a
time, while a local message is sent now and then and its delivery timed.
Once every message has been tried and deferred: qmail-send's memory, five
more local latencies, qmail-qstat and qmail-qread on the full queue. Then a
peer that accepts comes up on a second port, smtproutes points there (no
gap, so no attempt meets a closed port), qmail-send gets SIGALRM (the
documented "the peer is back, retry now") and the drain is timed until the
queue is empty. The peer's own rate is smtp-source at the same concurrency
against the same accepting sink.

The concurrency part: concurrencyremote 1000, 1000 messages to a peer that
holds every session (smtp-sink -w: the reply to DATA comes HOLD seconds
late); once 1000 qmail-remote processes run, the memory of qmail-send,
qmail-rspawn and all the qmail-remote processes (RSS and PSS, which counts
shared pages once).
"""
import os
import shutil
import signal
import statistics
import subprocess
import time

from util import wait_until, free_port, listening, record, clear_maildir, count_new, appended, stop_proc
from bench import job, Figure, Result, QDOMAIN

SIZES = (10000, 50000, 100000)
INJECTORS = 8
RDOMAIN = "scale.remote.test"
SENDER = "scale@client.test"
NINFLIGHT = 1000
HOLD = 20            # seconds the holding peer sits on DATA


def say(*a):
    print(*a, flush=True)


def sizes():
    env = os.environ.get("BENCH_SCALE", "")
    if env:
        return tuple(int(x) for x in env.replace(",", " ").split())
    return SIZES


# --- processes and their memory ---

def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def cpu_secs(pid):
    """User plus system CPU seconds pid has used so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def procs(name):
    """Pids whose command name is name."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() == name[:15]:
                        out.append(int(d))
            except OSError:
                pass
    return out


# --- the peer ---

class Peer:
    """smtp-sink on 127.0.0.1: mode defer (451 to RCPT), accept (counting
    finished transactions in a dump file) or hold (DATA answered late)."""

    def __init__(self, work, mode, maxconn=256):
        self.work, self.mode, self.maxconn = work, mode, maxconn
        self.port = free_port()
        self.proc = None
        self.dir = os.path.join(work, "scale-sink-%d" % self.port)
        self.dump = os.path.join(self.dir, "dump")
        self.seen, self.offset = 0, 0

    def start(self):
        args = ["/usr/sbin/smtp-sink", "-u", "nobody", "-h", "peer.test", "-m", str(self.maxconn)]
        if self.mode == "defer":
            args += ["-r", "RCPT", "-b", "451 4.3.0 try again later"]
        elif self.mode == "hold":
            args += ["-w", str(HOLD)]
        else:
            # smtp-sink (as nobody) creates the dump itself
            if os.path.exists(self.dir):
                shutil.rmtree(self.dir)
            os.makedirs(self.dir)
            shutil.chown(self.dir, "nobody")
            args += ["-D", self.dump]
        args += ["127.0.0.1:%d" % self.port, str(max(self.maxconn, 256))]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        record(self.proc.pid, "smtp-sink")
        return wait_until(lambda: listening(self.port) or self.proc.poll() is not None, 10, 0.01) \
            and self.proc.poll() is None

    def transactions(self):
        data, self.offset = appended(self.dump, self.offset)
        self.seen += data.count(b"\nX-Mail-Args: ") + data.startswith(b"X-Mail-Args: ")
        return self.seen

    def stop(self):
        stop_proc(self.proc)
        self.proc = None
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)


class LogCount:
    """Counts lines of qmail-send's log that contain a pattern, reading
    only what was appended."""

    def __init__(self, path, pattern):
        self.path, self.pattern = path, pattern.encode()
        self.n, self.offset = 0, 0

    def __call__(self):
        data, self.offset = appended(self.path, self.offset)
        self.n += data.count(self.pattern)
        return self.n


def keeplog(q, name):
    """qmail-start truncates its log: keep each part's"""
    if os.path.exists(q.logpath):
        shutil.copyfile(q.logpath, os.path.join(os.path.dirname(q.logpath), name + ".log"))


def wait_progress(count, target, timeout, stall=30.0, interval=0.05):
    """Poll count() up to target; False after timeout or stall seconds
    without progress."""
    end = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while True:
        n = count()
        now = time.monotonic()
        if n >= target:
            return True
        if n != last:
            last, since = n, now
        if now >= end or now - since >= stall:
            return False
        time.sleep(interval)


def ndir(path):
    try:
        return len(os.listdir(path))
    except OSError:
        return 0


# --- one local message, timed ---

INJECT_SECS = []     # how long qmail-inject itself took, each time

def local_latency(q, user, domain, maildir, timeout=30.0):
    """Seconds from the start of qmail-inject until the message is in
    the Maildir, or None."""
    before = count_new(maildir)
    msg = ("From: %s\nTo: %s@%s\nSubject: latency\n\nwhile the queue waits\n" % (SENDER, user, domain)).encode()
    t0 = time.monotonic()
    if not q.inject(["%s@%s" % (user, domain)], msg, SENDER):
        return None
    INJECT_SECS.append(time.monotonic() - t0)
    if not wait_until(lambda: count_new(maildir) > before, timeout, 0.002):
        return None
    return time.monotonic() - t0


def timed(argv, env, runs=3):
    """Median wall time of argv over runs, its median CPU time (user plus
    system), and its last stdout."""
    times, cpu, out = [], [], b""
    for _ in range(runs):
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = p.stdout.read()
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        times.append(time.monotonic() - t0)
        cpu.append(ru.ru_utime + ru.ru_stime)
    return statistics.median(times), statistics.median(cpu), out


def inject(tools, q, n, prefix, file, par=INJECTORS):
    return subprocess.Popen([os.path.join(tools, "rates"), "queue", str(n), str(par), os.path.join(q.bin, "qmail-queue"),
                             file, SENDER, prefix, "@" + RDOMAIN],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=q.env)


def injected(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, "injection still running after %d s" % timeout
    if proc.returncode != 0:
        return None, "rates queue: %s %s" % (out.decode().strip(), err.decode().strip()[:120])
    return float(out.split()[1]), None


# --- the queue of N ---

def one_size(q, pw, domain, controls, tools, work, n):
    r = {"n": n}
    maildir = os.path.join(pw.pw_dir, "Maildir")
    clear_maildir(maildir)
    defer, accept = Peer(work, "defer"), Peer(work, "accept")
    try:
        if not defer.start() or not accept.start():
            r["error"] = "smtp-sink did not start"
            return r
        routes = "%s:127.0.0.1:%d\n" % (RDOMAIN, defer.port)
        q.control(dict(controls, smtproutes=routes))
        if not q.start():
            r["error"] = "qmail-start did not come up"
            return r
        send = q.send.pid
        time.sleep(0.5)
        r["rss0"] = status_kb(send, "VmRSS")
        cpu0 = cpu_secs(send)
        msgfile = os.path.join(work, "scale-message")
        with open(msgfile, "wb") as f:
            f.write(("From: %s\nTo: someone@%s\nSubject: scale\n\n%s\n" % (SENDER, RDOMAIN, "x" * 1000)).encode())
        deferrals = LogCount(q.logpath, ": deferral: ")
        t0 = time.monotonic()
        proc = inject(tools, q, n, "r", msgfile)
        # local mail while the queue fills up and todo/ has a backlog
        during = []
        del INJECT_SECS[:]
        while proc.poll() is None:
            during.append(local_latency(q, pw.pw_name, domain, maildir))
            time.sleep(1.0)
        secs, why = injected(proc, 10 + n / 50)
        if why:
            r["error"] = why
            return r
        r["inject"] = secs
        r["todo_left"] = ndir(os.path.join(q.home, "queue", "todo"))
        during.append(local_latency(q, pw.pw_name, domain, maildir))
        ok = wait_progress(deferrals, n, 120 + n / 20)
        r["first_tries"] = time.monotonic() - t0
        if not ok:
            r["error"] = "%d of %d first attempts deferred after %.0f s" % (deferrals(), n, r["first_tries"])
            return r
        r["during"] = during
        r["during_inject"] = list(INJECT_SECS)
        r["rss"] = status_kb(send, "VmRSS")
        r["hwm"] = status_kb(send, "VmHWM")
        cpu1 = cpu_secs(send)
        r["fill_cpu"] = cpu1 - cpu0
        r["after"] = [local_latency(q, pw.pw_name, domain, maildir) for _ in range(5)]
        qenv = dict(q.env)
        r["qstat"], r["qstat_cpu"], out = timed([os.path.join(q.bin, "qmail-qstat")], qenv)
        r["qstat_out"] = out.decode(errors="replace").split("\n")[0]
        r["qread"], r["qread_cpu"], out = timed([os.path.join(q.bin, "qmail-qread")], qenv)
        r["qread_lines"] = out.count(b"\n")
        # the peer recovers: point the route at the accepting peer, retry now
        q.control(dict(controls, smtproutes="%s:127.0.0.1:%d\n" % (RDOMAIN, accept.port)))
        t1 = time.monotonic()
        os.kill(send, signal.SIGALRM)
        ok = wait_progress(accept.transactions, n, 120 + n / 20)
        r["drain"] = time.monotonic() - t1
        if not ok:
            r["error"] = "drain: %d of %d after %.0f s" % (accept.transactions(), n, r["drain"])
            return r
        wait_until(q.queue_empty, 60, 0.1)
        r["drain_empty"] = time.monotonic() - t1
        r["hwm_end"] = status_kb(send, "VmHWM")
        r["drain_cpu"] = cpu_secs(send) - cpu1
        # the peer's own rate: a C client at the same concurrency, one
        # message a session as qmail-remote sends them
        m = min(n, 20000)
        conc = int(controls.get("concurrencyremote", "20"))
        t2 = time.monotonic()
        sp = subprocess.run(["/usr/sbin/smtp-source", "-s", str(conc), "-m", str(m), "-f", SENDER,
                             "-t", "x@" + RDOMAIN, "-l", "1000", "127.0.0.1:%d" % accept.port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        if sp.returncode == 0:
            r["peer_rate"] = m / (time.monotonic() - t2)
        return r
    finally:
        q.stop(smtpd=False)
        keeplog(q, "scale-%d" % n)
        defer.stop()
        accept.stop()
        if not q.queue_empty():
            q.clear_queue()


# --- 1000 in flight ---

def inflight(q, controls, tools, work):
    r = {"n": NINFLIGHT}
    hold = Peer(work, "hold", maxconn=NINFLIGHT + 100)
    try:
        if not hold.start():
            r["error"] = "smtp-sink did not start"
            return r
        q.control(dict(controls, smtproutes="%s:127.0.0.1:%d\n" % (RDOMAIN, hold.port),
                       concurrencyremote="%d\n" % NINFLIGHT))
        if not q.start():
            r["error"] = "qmail-start did not come up"
            return r
        send = q.send.pid
        r["limit"] = "remote 0/%d" % NINFLIGHT in q.log()
        rspawn = [p for p in procs("qmail-rspawn") if p in q.helpers]
        msgfile = os.path.join(work, "scale-message")
        with open(msgfile, "wb") as f:
            f.write(("From: %s\nTo: someone@%s\nSubject: scale\n\n%s\n" % (SENDER, RDOMAIN, "x" * 1000)).encode())
        t0 = time.monotonic()
        proc = inject(tools, q, NINFLIGHT, "h", msgfile)

        def running():
            return len(procs("qmail-remote"))
        peak = [0]

        def count():
            k = running()
            peak[0] = max(peak[0], k)
            return k
        ok = wait_progress(count, NINFLIGHT, HOLD - 2, stall=HOLD)
        r["ramp"] = time.monotonic() - t0
        r["peak"] = peak[0]
        remotes = procs("qmail-remote")
        r["remotes"] = len(remotes)
        r["send_rss"] = status_kb(send, "VmRSS")
        r["send_hwm"] = status_kb(send, "VmHWM")
        r["rspawn_rss"] = sum(status_kb(p, "VmRSS") or 0 for p in rspawn)
        r["rspawn_hwm"] = sum(status_kb(p, "VmHWM") or 0 for p in rspawn)
        r["remote_rss"] = sum(status_kb(p, "VmRSS") or 0 for p in remotes)
        r["remote_pss"] = sum(pss_kb(p) or 0 for p in remotes)
        injected(proc, 60)
        if not ok:
            r["error"] = "only %d qmail-remote at once after %.1f s" % (peak[0], r["ramp"])
        if wait_until(q.queue_empty, HOLD + 120, 0.1):
            r["done"] = time.monotonic() - t0
        return r
    finally:
        q.stop(smtpd=False)
        keeplog(q, "scale-inflight")
        hold.stop()
        if not q.queue_empty():
            q.clear_queue()


# --- report ---

def fmt(v, f="%.3f"):
    return "-" if v is None else f % v


def table(results, fl):
    lines = []
    w = lines.append
    w("scale: N messages to a peer that answers 451, then recovers (qmail-send, concurrencyremote 20)")
    head = "%-8s %8s %9s %8s %8s %8s %8s %8s %9s %8s %8s %8s" % (
        "N", "inject", "us/msg", "tried", "RSS KB", "B/msg", "HWM KB", "qstat s", "qread s",
        "drain/s", "peer/s", "drain us")
    w(head)
    w("-" * len(head))
    for r in results:
        if "error" in r and "drain" not in r:
            w("%-8d %s" % (r["n"], r["error"]))
            continue
        n = r["n"]
        per = (r["rss"] - r["rss0"]) * 1024 / n if r.get("rss") and r.get("rss0") else None
        drain = n / r["drain"] if r.get("drain") else None
        w("%-8d %8s %9s %8s %8s %8s %8s %8s %9s %8s %8s %8s" % (
            n, fmt(r.get("inject"), "%.1f"), fmt(r["inject"] * 1e6 / n if r.get("inject") else None, "%.0f"),
            fmt(r.get("first_tries"), "%.1f"), fmt(r.get("rss"), "%d"), fmt(per, "%.1f"), fmt(r.get("hwm"), "%d"),
            fmt(r.get("qstat")), fmt(r.get("qread")), fmt(drain, "%.0f"), fmt(r.get("peer_rate"), "%.0f"),
            fmt(r["drain"] * 1e6 / n if r.get("drain") else None, "%.0f")))
    w("")
    w("CPU time per message, us (load-independent: the figure that shows a quadratic step)")
    head = "%-8s %12s %12s %12s %12s %12s %12s" % ("N", "send fill", "send drain", "qstat", "qread",
                                                    "qstat wall", "qread wall")
    w(head)
    w("-" * len(head))
    for r in results:
        n = r["n"]

        def us(k):
            return fmt(r[k] * 1e6 / n if r.get(k) is not None else None, "%.1f")
        w("%-8d %12s %12s %12s %12s %12s %12s" % (n, us("fill_cpu"), us("drain_cpu"), us("qstat_cpu"),
                                                 us("qread_cpu"), us("qstat"), us("qread")))
    for r in results:
        if "error" in r:
            w("  N=%d: %s" % (r["n"], r["error"]))
        dur = [x for x in r.get("during", []) if x is not None]
        aft = [x for x in r.get("after", []) if x is not None]
        if dur or aft:
            w("  N=%d local latency: while filling max %s s median %s s (%d of %d delivered; todo/ left %s);"
              " deferred queue max %s s median %s s (%d of %d)" % (
                  r["n"], fmt(max(dur) if dur else None), fmt(statistics.median(dur) if dur else None),
                  len(dur), len(r.get("during", [])), r.get("todo_left", "-"),
                  fmt(max(aft) if aft else None), fmt(statistics.median(aft) if aft else None),
                  len(aft), len(r.get("after", []))))
        inj = r.get("during_inject")
        if inj:
            w("  N=%d   of which qmail-inject itself (qmail-queue's fsyncs on the busy disk): max %s s median %s s" % (
                r["n"], fmt(max(inj)), fmt(statistics.median(inj))))
        if "qstat_out" in r:
            w("  N=%d qmail-qstat: %s; qmail-qread: %d lines; queue empty %s s after ALRM" % (
                r["n"], r["qstat_out"], r.get("qread_lines", 0), fmt(r.get("drain_empty"), "%.1f")))
    if fl:
        w("")
        w("inflight: %d messages, concurrencyremote %d, peer holding DATA %d s" % (fl["n"], fl["n"], HOLD))
        if "error" in fl:
            w("  %s" % fl["error"])
        if "remotes" in fl:
            w("  %d qmail-remote at once (peak %d) %.1f s after the first injection; limit in status line: %s" % (
                fl["remotes"], fl["peak"], fl["ramp"], "yes" if fl.get("limit") else "no"))
            w("  qmail-send RSS %s KB (HWM %s); qmail-rspawn RSS %s KB (HWM %s)" % (
                fl["send_rss"], fl["send_hwm"], fl["rspawn_rss"], fl["rspawn_hwm"]))
            k = max(fl["remotes"], 1)
            w("  qmail-remote: RSS %d KB total (%.0f KB each), PSS %d KB total (%.0f KB each)" % (
                fl["remote_rss"], fl["remote_rss"] / k, fl["remote_pss"], fl["remote_pss"] / k))
            w("  all %d delivered %s s after the first injection" % (fl["n"], fmt(fl.get("done"), "%.1f")))
    w("")
    w("inject: seconds to put N in through qmail-queue (%d at a time); tried: seconds until every message" % INJECTORS)
    w("had its first attempt deferred; B/msg: qmail-send's RSS growth per queued message; drain/s: messages")
    w("per second from SIGALRM until the peer had them all; peer/s: smtp-source against the same peer.")
    return "\n".join(lines) + "\n"


CONTROLS = ("me", "locals", "rcpthosts", "defaultdomain", "defaulthost", "smtproutes",
            "concurrencylocal", "concurrencyremote", "virtualdomains")


def run(q, pw, domain, tools, work):
    """The whole scale experiment, with our qmail-send restarted for each
    part and then brought back with the control files it had; returns
    (the N results, the in-flight result, the report text)."""
    controls = {"me": domain + "\n", "locals": domain + "\nlocalhost\n", "rcpthosts": domain + "\nlocalhost\n",
                "defaultdomain": domain + "\n", "defaulthost": domain + "\n"}
    saved = {}
    for name in CONTROLS:
        try:
            with open(os.path.join(q.home, "control", name)) as f:
                saved[name] = f.read()
        except FileNotFoundError:
            pass
    q.stop(smtpd=False)
    if not q.queue_empty():
        q.clear_queue()
    results = []
    try:
        for n in sizes():
            say("bench: scale %d ..." % n)
            r = one_size(q, pw, domain, controls, tools, work, n)
            say("bench: scale %d: %s" % (n, {k: v for k, v in r.items()
                                              if k not in ("during", "after", "during_inject")}))
            results.append(r)
        say("bench: scale: %d in flight ..." % NINFLIGHT)
        fl = inflight(q, controls, tools, work)
        say("bench: scale inflight: %s" % fl)
    finally:
        q.control(saved)
        q.start()
    text = table(results, fl)
    say(text)
    with open(os.path.join(work, "scale.txt"), "w") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S") + "\n" + text)
    return results, fl, text


@job("scale", "a queue of 10000/50000/100000 deferred by a 451 peer, then drained; 1000 remote "
     "deliveries in flight (ours only, one run whatever --runs; its own table in scale.txt)")
def scale_job(ctx):
    if ctx.ours.why:
        return
    results, fl, _ = run(ctx.ours.q, ctx.ours.pw, QDOMAIN, ctx.tools, ctx.work)
    # the main table gets the headline figures; measured once, so every
    # run of a figure reports that one measurement
    for r in results:
        n = r["n"]
        rows = [("scale %d drain, msgs" % n, Result(n, r["drain"]) if "drain" in r and "error" not in r
                 else Result(status="failed", note=r.get("error", "?"))),
                ("scale %d qmail-qread" % n, Result(n, r["qread"]) if "qread" in r
                 else Result(status="failed", note=r.get("error", "?")))]
        for label, res in rows:
            yield Figure(label, lambda side, res=res: res, sides=("ours",))
