"""qmail-send under a flood of new mail queued in parallel: it reads
todo/ no faster than its deliveries take the messages (what it has read
starts at once, and the rest stays in todo/, where it costs nothing,
instead of waiting in memory until it has to be committed), and a message
queued in the middle of the flood is delivered promptly; a flood of
remote mail that the remote deliveries cannot take does not hold back
local mail queued behind it."""
import os
import re
import socket
import threading
import time

from conftest import wait_for
from send_util import ME, Send, messages, queue as qq, send_fixtures, user_maildir as mbox, write_file


class Stamped(Send):
    """qmail-send whose log lines tai64n stamps as they come (the logger
    runs as qmaill and appends to the log file)."""

    def __init__(self, name, **kw):
        super().__init__(name, **kw)
        self.logger = ["sh", "-c", 'exec tai64n >> "$0"', self.logpath]
        os.chmod(self.logpath, 0o666)


users, sched = send_fixtures(["tfa", "tfb"], new=Stamped)

PARALLEL = 16
# qmail-send reads no more entries while 128 read ones wait for a slot
# (TODO_AHEAD), and 16 (TODO_BATCH) a turn: 144, with room to spare.
# The stamps are tai64n's, taken when it reads the pipe: under load a
# burst of lines read late gets stamps closer together than qmail-send
# wrote them (a loaded CI counted 178), so the room is 48 (three turns).
# Reading 16 a turn whatever the deliveries do gets to about 700 here,
# an unbounded reader with the commit delay about 335.
AHEAD_BOUND = 192
# A message that has waited COMMIT_DELAY (1 s) for a slot is committed
# and no longer holds the scan (doc/scheduler.md): where deliveries are
# slower than 128 a second, the scan goes on at that pace. The bound
# counts the messages read in the last second and a quarter (a commit
# comes in the first turn after it is due).
HOLD_WINDOW = 1.25


def flood(n, rcpt, queued, errors):
    """Queue n messages to rcpt, PARALLEL qmail-queue at a time, in the
    background; queued counts them. The threads, to join."""
    left = iter(range(n))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(left, None)
            if i is None:
                return
            if qq(b"Subject: flood %d\n\nx\n" % i, "tfb@" + ME, [rcpt]) != 0:
                errors.append(i)
            queued.append(i)
    ts = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for t in ts:
        t.start()
    return ts


def tai64n(stamp):
    """Seconds (TAI) of an @4000... label."""
    return int(stamp[1:17], 16) - (1 << 62) + int(stamp[17:25], 16) / 1e9


def read_not_started(lines):
    """The most messages read (`new msg`) in the last HOLD_WINDOW seconds
    and not yet started (`starting delivery`) at any point of the log."""
    pending, worst = {}, 0
    for line in lines:
        stamp, _, line = line.partition(" ")
        t = tai64n(stamp)
        m = re.match(r"new msg (\d+)$", line)
        if m:
            pending[m.group(1)] = t
            worst = max(worst, sum(1 for r in pending.values() if r >= t - HOLD_WINDOW))
            continue
        m = re.match(r"starting delivery \d+: msg (\d+) ", line)
        if m:
            pending.pop(m.group(1), None)
    return worst


def run_flood(s, queue, n, rcpt):
    queued, errors = [], []
    ts = flood(n, rcpt, queued, errors)
    wait_for(lambda: len(queued) >= n // 3, timeout=120, what="the flood to be under way")
    t = time.monotonic()
    assert qq(b"Subject: urgent\n\nmid-flood\n", "tfa@" + ME, ["tfb@" + ME]) == 0
    wait_for(lambda: messages(mbox("tfb")), timeout=120, what="the mid-flood message")
    took = time.monotonic() - t
    for th in ts:
        th.join()
    assert not errors
    wait_for(lambda: queue.all_files() == [], timeout=240, what="the queue to drain")
    assert len(messages(mbox("tfa"))) == n
    return took, read_not_started(s.lines(s.mark))


def test_flood_is_delivered_as_it_is_read(sched, queue, users):
    s = sched()
    took, worst = run_flood(s, queue, 500, "tfa@" + ME)
    # deliveries keep up: the flood's reading never runs ahead of them,
    # and the message queued in its middle goes out at once
    assert worst <= AHEAD_BOUND, worst
    assert took < 10, took


def test_slow_deliveries_hold_the_scan_back(sched, queue, users):
    # deliveries at most 10 x 20 a second, slower than the flood comes in
    write_file(users["tfa"].pw_dir + "/.qmail", "|sleep 0.05\n./Maildir/\n", "tfa")
    s = sched()
    took, worst = run_flood(s, queue, 400, "tfa@" + ME)
    # what cannot start yet stays in todo/, unread
    assert worst <= AHEAD_BOUND, worst
    assert took < 60, took


def test_a_bulk_remote_send_does_not_hold_local_mail_back(sched, queue, users, control):
    """Both remote slots hang on a peer that never answers, and 2000
    remote messages come in: the 128 read first wait for a slot, and
    with no local delivery running the scan reads on past them (what it
    reads waits in memory, to be committed), so that a local message
    queued after the flood is found and delivered within seconds, not
    when the waiting ones have been committed 128 a second (7-8.5 s
    with 1500 before the scan read on; 0.1-2.6 s since)."""
    n = 2000
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(64)
    control["smtproutes"] = "slow.example:127.0.0.1:%d\n" % peer.getsockname()[1]
    control["concurrencyremote"] = "2\n"
    try:
        sched()
        queued, errors = [], []
        for th in flood(n, "far@slow.example", queued, errors):
            th.join()
        assert not errors and len(queued) == n
        t = time.monotonic()
        assert qq(b"Subject: urgent\n\nbehind the bulk\n", "tfa@" + ME, ["tfb@" + ME]) == 0
        wait_for(lambda: messages(mbox("tfb")), timeout=120, what="the local message")
        took = time.monotonic() - t
        assert took < 5, (took, len(queue.todo()))
    finally:
        peer.close()                  # the hanging qmail-remote processes see a reset and end
