"""Remote delivery against real servers on 127.0.0.1 (issue 5).

qmail-send, qmail-rspawn and the real qmail-remote deliver through
control/smtproutes to Postfix's smtp-sink (one message to 1000 recipients
over 50 domains) and to a full private Postfix that delivers to a Maildir
or refuses an unknown user. The last test runs 1000 remote deliveries at
once (concurrencyremote 1000) through a fake $QMAILREMOTE that records
when each one starts and ends."""
import collections
import os
import re
import shutil
import time

import pytest

from conftest import HOME, BUILD, make_user, wait_for
from postfix_util import Postfix, Sink, missing
from send_util import ME, messages, queue as qq, send_fixtures, user_maildir as mbox

USER = "rpa"                  # ours: sender, receives the bounces
PFUSER = "rpb"                # a mailbox at the Postfix side
PFHOST = "pfx.test"
SENDER = USER + "@" + ME
WORK = os.path.join(BUILD or os.path.dirname(HOME), "remote-peers")

no_postfix = pytest.mark.skipif(missing() is not None, reason=missing() or "")


users, sched = send_fixtures([USER], prefix="peers-",
                              clear=("doublebounceto", "virtualdomains", "queuelifetime", "concurrencyremote",
                                     "remotebatch", "helohost", "timeoutremote", "timeoutconnect", "percenthack"))


def deliveries(s):
    """{remote recipient: [(result, text), ...]} from the log."""
    text = s.text(s.mark)
    to = {m.group(1): m.group(2) for m in re.finditer(r"^starting delivery (\d+): msg \d+ to remote (\S+)$", text, re.M)}
    out = {}
    for m in re.finditer(r"^delivery (\d+): (success|failure|deferral): (.*)$", text, re.M):
        if m.group(1) in to:
            out.setdefault(to[m.group(1)], []).append((m.group(2), m.group(3)))
    return out


def wait_results(s, n, timeout=30):
    return wait_for(lambda: (lambda d: sum(map(len, d.values())) >= n and d)(deliveries(s)),
                    timeout=timeout, what="%d remote delivery results" % n)


def drained(queue):
    """A bounded wait for an empty queue; says what is left when it is not."""
    end = time.monotonic() + 20
    while queue.all_files() and time.monotonic() < end:
        time.sleep(0.05)
    assert queue.all_files() == [], "queue not empty after 20 s: %r" % queue.all_files()


# ------------------------------------------------------------ smtp-sink

@no_postfix
def test_1000_recipients_over_50_domains_reach_smtp_sink(sched, queue, control):
    sink = Sink(os.path.join(WORK, "sink"))
    try:
        domains = ["d%d.sink.test" % i for i in range(50)]
        control["smtproutes"] = "".join("%s:127.0.0.1:%d\n" % (d, sink.port) for d in domains)
        rcpts = ["u%d@%s" % (j, d) for j in range(20) for d in domains]      # domains interleaved
        msg = b"From: " + SENDER.encode() + b"\nTo: list:;\nSubject: fan-out\n\none message, 1000 recipients\n"
        assert qq(msg, SENDER, rcpts) == 0
        s = sched()
        got = wait_results(s, 1000)

        # every recipient one success, with the sink's reply in the text
        assert sorted(got) == sorted(rcpts)
        bad = {r: v for r, v in got.items()
               if len(v) != 1 or v[0][0] != "success"
               or not v[0][1].startswith("127.0.0.1_accepted_message./Remote_host_said:_250_")}
        assert not bad, (len(bad), sorted(bad.items())[:3])
        drained(queue)
        lines = s.lines(s.mark)
        assert len([l for l in lines if re.fullmatch(r"delivery \d+: success: .*", l)]) == 1000

        # the sink saw each recipient exactly once, in one transaction per domain
        ts = wait_for(lambda: (lambda t: sum(len(x["rcpts"]) for x in t) >= 1000 and t)(sink.transactions()),
                      timeout=10, what="the sink's dumps")
        seen = collections.Counter(a for t in ts for a in t["rcpts"])
        assert seen == collections.Counter("<%s>" % r for r in rcpts)
        assert len(ts) == 50
        for t in ts:
            doms = {a.split("@")[1] for a in t["rcpts"]}    # "<u0@d14.sink.test>"
            assert len(doms) == 1 and len(t["rcpts"]) == 20, t["rcpts"]
            assert t["mail"] and t["mail"] == ["<%s> BODY=8BITMIME" % SENDER], t["mail"]
            assert t["helo"] == ME
            assert t["content"].replace(b"\r\n", b"\n").rstrip(b"\n").endswith(b"\n\none message, 1000 recipients")
        # 50 jobs, at most concurrencyremote (default 20) of them at once
        used = [int(m.group(1)) for m in re.finditer(r"^status: local \d+/\d+ remote (\d+)/\d+$", s.text(s.mark), re.M)]
        assert used and max(used) <= 20
        assert len([l for l in lines if l.startswith("starting delivery ")]) == 1000
        assert not os.listdir(os.path.join(mbox(USER), "new"))     # no bounce
    finally:
        sink.stop()


# ------------------------------------------------------------ full Postfix

@pytest.fixture(scope="module")
def postfix():
    if missing():
        pytest.skip(missing())
    make_user(PFUSER)
    pf = Postfix(os.path.join(WORK, "postfix"), PFHOST).setup().start()
    yield pf
    pf.stop()


@pytest.fixture
def to_postfix(postfix, control):
    control["smtproutes"] = "%s:127.0.0.1:%d\n" % (PFHOST, postfix.port)
    box = mbox(PFUSER)
    if os.path.exists(box):
        shutil.rmtree(box)
    return postfix


HEADER = (b"From: Sender <" + SENDER.encode() + b">\n"
          b"To: <" + PFUSER.encode() + b"@" + PFHOST.encode() + b">\n"
          b"Date: Fri, 21 Nov 2025 10:00:00 +0000\n"
          b"Message-ID: <peers.1@" + ME.encode() + b">\n"
          b"Subject: through Postfix\n"
          b"MIME-Version: 1.0\n"
          b"Content-Type: text/plain; charset=utf-8\n"
          b"Content-Transfer-Encoding: 8bit\n")
BODY = (b"first line\n"
        b".leading dot\n"
        b"..two dots\n"
        b".\n"
        b". \n"
        b"caf\xc3\xa9 \xe2\x82\xac 8-bit \xff\x80 bytes\n"
        b"\n"
        b"last line\n")


def delivered(box, n=1):
    return wait_for(lambda: len(os.listdir(os.path.join(box, "new"))) >= n and messages(box)
                    if os.path.isdir(os.path.join(box, "new")) else None, timeout=30, what="mail in " + box)


@no_postfix
def test_postfix_delivers_to_maildir_intact(sched, queue, to_postfix):
    assert qq(HEADER + b"\n" + BODY, SENDER, [PFUSER + "@" + PFHOST]) == 0
    s = sched()
    got = wait_results(s, 1)
    [(result, text)] = got[PFUSER + "@" + PFHOST]
    assert result == "success", text
    assert re.fullmatch(r"127\.0\.0\.1_accepted_message\./Remote_host_said:_250_2\.0\.0_Ok:_queued_as_\w+/", text), text
    drained(queue)
    [m] = delivered(mbox(PFUSER))
    head, body = m.split(b"\n\n", 1)
    # body bytes equal: dot-stuffing undone, 8-bit bytes untouched
    assert body == BODY
    hl = head.split(b"\n")
    # Postfix's own lines first, then ours
    assert hl[0] == b"Return-Path: <" + SENDER.encode() + b">"
    assert b"Delivered-To: " + PFUSER.encode() + b"@" + PFHOST.encode() in hl
    rx = [i for i, l in enumerate(hl) if l.startswith(b"Received: from " + ME.encode() + b" (")]
    assert rx, head                     # Postfix records our EHLO name
    assert b"by " + PFHOST.encode() + b" (Postfix) with ESMTP" in b"\n".join(hl[rx[0]:rx[0] + 3])
    ours = [i for i, l in enumerate(hl) if re.match(rb"Received: \(qmail \d+ invoked by uid 0\); ", l)]
    assert len(ours) == 1 and ours[0] > rx[0]
    # every header we sent, byte for byte and in order, after the Received lines
    assert head.endswith(HEADER.rstrip(b"\n")), head
    assert to_postfix.queue_empty()
    assert not os.listdir(os.path.join(mbox(USER), "new"))


@no_postfix
def test_postfix_rejection_comes_back_as_bounce(sched, queue, to_postfix):
    good, bad = PFUSER + "@" + PFHOST, "nosuchuser@" + PFHOST
    assert qq(b"Subject: one good, one bad\n\nhello\n", SENDER, [good, bad]) == 0
    s = sched()
    got = wait_results(s, 2)
    assert got[good][0][0] == "success"
    result, text = got[bad][0]
    assert result == "failure"
    said = ("550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % bad)
    assert text == "127.0.0.1_does_not_like_recipient./Remote_host_said:_%s/" % said.replace(" ", "_")
    # the good one arrived; the bad one comes back to the sender in qmail's format
    [m] = delivered(mbox(PFUSER))
    assert m.endswith(b"\n\nhello\n")
    [b] = delivered(mbox(USER))
    head, body = b.decode("latin-1").split("\n\n", 1)
    assert "\nFrom: MAILER-DAEMON@%s\n" % ME in "\n" + head + "\n"
    assert "\nTo: %s\n" % SENDER in "\n" + head + "\n"
    assert "\nSubject: failure notice\n" in "\n" + head + "\n"
    assert body.startswith("Hi. This is the qmail-send program at %s.\n" % ME)
    assert "<%s>:\n127.0.0.1 does not like recipient.\nRemote host said: %s\n\n" % (
        bad, said) in body
    assert "<%s>" % good not in body
    assert re.search(r"\n--- Below this line is a copy of the message\.\n\nReturn-Path: <%s>\n"
                     r"Received: \(qmail \d+ invoked by uid 0\); [^\n]+\nSubject: one good, one bad\n\nhello\n\Z"
                     % re.escape(SENDER), body), body
    drained(queue)


# ------------------------------------------------------------ concurrencyremote 1000

FAKE = r"""#!/bin/sh
# fake qmail-remote host sender recip: note the start and the end
echo "+ $3" >> %(log)s
sleep 2
echo "- $3" >> %(log)s
printf 'r%%s accepted\n\0K%%s took it\n\0' "$3" "$1"
"""


def test_concurrencyremote_1000(sched, queue, control):
    work = os.path.join(WORK, "conc")
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    os.chmod(work, 0o755)
    log = os.path.join(work, "events")
    open(log, "w").close()
    os.chmod(log, 0o666)                # the fake runs as qmailr
    fake = os.path.join(work, "fake-remote")
    with open(fake, "w") as f:
        f.write(FAKE % {"log": log})
    os.chmod(fake, 0o755)
    control["concurrencyremote"] = "1000\n"
    rcpts = ["x@c%d.conc.test" % i for i in range(1000)]              # 1000 domains: no batching
    assert qq(b"Subject: wide\n\nx\n", SENDER, rcpts) == 0
    s = sched(env={"QMAILREMOTE": fake})
    got = wait_results(s, 1000, timeout=40)
    assert sorted(got) == sorted(rcpts)
    # each report belongs to its own run, even when 1000 end together
    bad = {r: v for r, v in got.items() if v != [("success", "%s_accepted/%s_took_it/" % (r, r.split("@")[1]))]}
    assert not bad, (len(bad), sorted(bad.items())[:5])
    drained(queue)
    # how many fakes ran at once, from the order of their start and end lines
    with open(log) as f:
        events = f.read().split("\n")[:-1]
    assert sorted(e[2:] for e in events if e[0] == "+") == sorted(rcpts)
    assert sorted(e[2:] for e in events if e[0] == "-") == sorted(rcpts)
    now = peak = 0
    for e in events:
        now += {"+": 1, "-": -1}.get(e[0], 0)
        peak = max(peak, now)
    assert peak >= 900, peak
    used = [int(m.group(1)) for m in re.finditer(r"^status: local \d+/\d+ remote (\d+)/(\d+)$", s.text(s.mark), re.M)]
    assert max(used) >= 900 and max(used) <= 1000
    assert re.search(r"^status: local \d+/\d+ remote \d+/1000$", s.text(s.mark), re.M)
