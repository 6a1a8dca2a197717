"""A smoke run of `make bench` (bench/run.sh): the harness builds a bench
home of its own, runs the local, smtp, tls and remote jobs on our suite and
on a private Postfix with a few items each (BENCH_ITEMS), and prints its
table. The speeds say nothing here; what is checked is that every figure
was measured on both sides, with the CPU each side spent on it, so a
change that breaks the benchmarks is seen in make test and not only when
someone runs them."""
import os
import pwd
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, SRC

ITEMS = 60
LABELS = ["local %d msgs x8 inj" % ITEMS, "local 1 msg %d ext" % ITEMS] + \
    ["smtp %d sess %s" % (n, w) for n in (1, 10, 50) for w in ("accepted", "end-to-end")] + \
    ["%s %d sess %s" % (k, n, w) for k in ("smtps", "starttls") for n in (1, 50)
     for w in ("accepted", "end-to-end")] + \
    ["remote %d rcpt 50 dom" % ITEMS]
NUM = r"(\d+\.\d+)"


def exists(user):
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


@pytest.fixture
def bench_dir():
    if not os.path.exists("/usr/sbin/postfix"):
        pytest.skip("Postfix is not installed (scripts/test-deps.sh installs it)")
    o = os.path.join(BUILD, "bench-smoke")
    had = {u: exists(u) for u in ("benchq", "benchp")}
    yield o
    # the accounts the bench made, and its files
    for user, was in had.items():
        if not was and exists(user):
            subprocess.run(["userdel", user], capture_output=True)
            subprocess.run(["groupdel", user], capture_output=True)
    shutil.rmtree(o, ignore_errors=True)


def test_bench_smoke_measures_every_figure_on_both_sides(bench_dir):
    env = dict(os.environ, O=bench_dir, BENCH_ITEMS=str(ITEMS))
    env.pop("QMAILHOME", None)
    r = subprocess.run(["sh", os.path.join(SRC, "bench", "run.sh"), "--runs", "1",
                        "local", "smtp", "tls", "remote"],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(bench_dir, "bench", "results.txt")) as f:
        table = f.read()
    assert re.search(r"^machine: fsync \d+/s \(1 writer\), \d+/s \(4 writers\); fork\+exec \d+/s$",
                     table, re.M), table
    # the disk columns are there where the bench's file system is a block
    # device's (not tmpfs or overlay): then every figure wrote mail to it
    dev = os.stat(bench_dir).st_dev
    disk = os.path.exists("/sys/dev/block/%d:%d/stat" % (os.major(dev), os.minor(dev)))
    io = NUM if disk else "(-)"
    if disk:
        assert re.search(r"^disk: a request \(4 KB written and waited for\) costs the machine \d+ us of CPU$",
                         table, re.M), table
    for label in LABELS:
        # ours/s ours-s pfx/s pfx-s ratio (min-max) ours/fs pfx/fs ours/sp ours-ms pfx-ms ours-io pfx-io
        row = re.search(r"^%s +%s +%s +%s +%s +%s +\(%s-%s\) +%s +%s +%s +%s +%s +%s +%s$"
                        % ((re.escape(label),) + (NUM,) * 12 + (io,) * 2), table, re.M)
        assert row, "no complete row for %r in:\n%s" % (label, table)
        ours_rate, _, pfx_rate, _, ratio = (float(x) for x in row.groups()[:5])
        assert ours_rate > 0 and pfx_rate > 0
        assert abs(ratio - ours_rate / pfx_rate) < 0.01 + 0.01 * ratio
        ours_ms, pfx_ms = float(row.group(11)), float(row.group(12))
        # every figure makes each side's processes work: 60 sessions are
        # many clock ticks, and the local and remote rows count the
        # injectors too, which are timed exactly
        assert ours_ms > 0 and pfx_ms > 0, row.group(0)
        if disk:
            assert float(row.group(13)) > 0 and float(row.group(14)) > 0, row.group(0)
    assert "\ngoals:\n" in table
    # each SMTP run says how far delivery had come when the last message
    # was accepted: a count no greater than what was sent, on both sides
    out = r.stdout + r.stderr
    for side in ("ours", "postfix"):
        for label in [l for l in LABELS if l.endswith(" accepted")]:
            m = re.search(r"^bench: %s: %s run 1: .* / %d in %s s = %s/s \((\d+) delivered when the last "
                          r"was accepted: %s/s while accepting, (?:%s/s|none) after\)"
                          % (re.escape(label), side, ITEMS, NUM, NUM, r"(\d+)", r"(\d+)"),
                          out, re.M)
            assert m and int(m.group(3)) <= ITEMS, "no delivery split for %s %s in:\n%s" % (side, label, out[-3000:])
    # both systems were stopped: no process runs a program of the bench
    # home or works in the bench's directory (Postfix's daemons sit in
    # their queue directory there)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        assert bench_dir.encode() not in cmd, "pid %s still runs %r" % (pid, cmd)
        assert not (cwd + "/").startswith(bench_dir + "/"), "pid %s still works in %s" % (pid, cwd)
