"""Remote recipients of one domain share one delivery (issue 5).

qmail-send groups the remote recipients of a message by domain, up to
control/remotebatch, and qmail-rspawn runs one qmail-remote for each group;
every recipient keeps its own delivery number, log lines, mark, retry and
bounce paragraph. A fake $QMAILREMOTE records its command line and answers
by the recipient's local part (ok*: r, hard*: h, soft*: s) and by the
domain (zdom.*: Z after the recipients, ddom.*: D after them, before.*: Z
with no recipient reports at all). The last test uses the real
qmail-remote against an aiosmtpd peer routed by smtproutes."""
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import HOME, bin_path, run, wait_for
from remote_util import SmtpPeer
from send_util import ME, messages, queue as qq, queue_empty, send_fixtures

USER = "bta"
WORK = os.path.join(os.path.dirname(HOME), "batch-test")
ARGV = os.path.join(WORK, "argv.log")
FLAG = os.path.join(WORK, "soft-ok")
FAKE = os.path.join(WORK, "fake-remote")
RELEASE = os.path.join(WORK, "release")

FAKE_TEXT = r'''#!/usr/bin/python3
import json, os, sys, time
host, sender, rcpts = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.stdin.buffer.read()
fd = os.open(%(argv)r, os.O_WRONLY | os.O_APPEND)
os.write(fd, (json.dumps([host, sender] + rcpts) + "\n").encode())
os.close(fd)
if host.startswith("slow."):
    for _ in range(200):
        if os.path.exists(%(release)r):
            break
        time.sleep(0.05)
out = []
if not host.startswith("before."):
    for r in rcpts:
        local = r.split("@")[0]
        if local.startswith("hard"):
            out.append("h%%s refused for good\n" %% r)
        elif local.startswith("soft") and not os.path.exists(%(flag)r):
            out.append("s%%s busy, try later\n" %% r)
        elif host.startswith("long.") and not out:
            out.append("r" + "x" * 100000)
        else:
            out.append("r%%s accepted\n" %% r)
if host.startswith("zdom."):
    out.append("Z%%s lost the connection after RCPT\n" %% host)
elif host.startswith("ddom."):
    out.append("D%%s refused the message\n" %% host)
elif host.startswith("before."):
    out.append("Z%%s greeting failed\n" %% host)
else:
    out.append("K%%s took %%d\n" %% (host, len(rcpts)))
sys.stdout.write("".join(o + "\0" for o in out))
'''


@pytest.fixture
def fake():
    os.makedirs(WORK, exist_ok=True)
    os.chmod(WORK, 0o755)
    with open(FAKE, "w") as f:
        f.write(FAKE_TEXT % {"argv": ARGV, "flag": FLAG, "release": RELEASE})
    os.chmod(FAKE, 0o755)
    open(ARGV, "w").close()
    os.chmod(ARGV, 0o666)
    for f in (FLAG, RELEASE):
        if os.path.exists(f):
            os.unlink(f)
    yield
    for f in (FLAG, RELEASE):
        if os.path.exists(f):
            os.unlink(f)


users, sched = send_fixtures([USER], clear=("doublebounceto", "virtualdomains", "queuelifetime",
                                             "concurrencyremote", "remotebatch"))


def inject(*rcpts, sender=USER + "@" + ME, text="Subject: batch\n\nhello\n"):
    r = run([bin_path("qmail-inject"), "-f", sender] + list(rcpts), input=text.encode())
    assert r.returncode == 0, r.stderr


def runs():
    with open(ARGV) as f:
        return [json.loads(line) for line in f if line.strip()]


def mbox():
    return os.path.join(os.path.dirname(HOME), "users", USER, "Maildir")


def deliveries(s, start=None):
    """{remote recipient: [(delivery number, result, text), ...]} from the log."""
    text = s.text(s.mark if start is None else start)
    to = {m.group(1): m.group(2) for m in re.finditer(r"^starting delivery (\d+): msg \d+ to remote (\S+)$", text, re.M)}
    out = {}
    for m in re.finditer(r"^delivery (\d+): (success|failure|deferral): (.*)$", text, re.M):
        if m.group(1) in to:                   # not a local delivery (a bounce)
            out.setdefault(to[m.group(1)], []).append((m.group(1), m.group(2), m.group(3)))
    return out


def remote_used(s):
    return [int(m.group(1)) for m in re.finditer(r"^status: local \d+/\d+ remote (\d+)/\d+", s.text(s.mark), re.M)]


def wait_results(s, n, start=None):
    return wait_for(lambda: sum(len(v) for v in deliveries(s, start).values()) >= n and deliveries(s, start),
                    timeout=20, what="%d delivery results" % n)


def remote_records(queue):
    """The records of the one remote/ list in the queue (empty when none)."""
    files = queue.files("remote")
    if len(files) != 1:
        return []
    with open(os.path.join(queue.dir, files[0]), "rb") as f:
        return f.read().split(b"\0")[:-1]


def bounce_text():
    got = wait_for(lambda: messages(mbox()), timeout=20, what="a bounce")
    assert len(got) == 1, got
    return got[0].decode()


# ------------------------------------------------------------------ tests

def test_one_run_per_domain_with_every_recipient(sched, queue, fake):
    s = sched(env={"QMAILREMOTE": FAKE})
    rcpts = ["ok1@one.example", "ok2@two.example", "ok3@ONE.Example", "ok4@two.example", "ok5@one.example"]
    inject(*rcpts)
    got = wait_results(s, 5)
    queue_empty(queue)
    r = sorted(runs())
    # one qmail-remote per domain (case ignored), recipients in queue order
    assert r == [["one.example", USER + "@" + ME, "ok1@one.example", "ok3@ONE.Example", "ok5@one.example"],
                 ["two.example", USER + "@" + ME, "ok2@two.example", "ok4@two.example"]]
    # each recipient: its own delivery number and its own text
    assert sorted(got) == sorted(rcpts)
    nums = set()
    for rc in rcpts:
        [(num, result, text)] = got[rc]
        nums.add(num)
        host = "one.example" if rc.lower().endswith("one.example") else "two.example"
        n = 3 if host == "one.example" else 2
        assert result == "success"
        assert text == "%s_accepted/%s_took_%d/" % (rc, host, n)
    assert len(nums) == 5
    # one job per domain counts against concurrencyremote, never one per recipient
    assert max(remote_used(s)) <= 2
    # the log lines of qmail-log(5), byte for byte
    lines = s.lines(s.mark)
    starts = [l for l in lines if l.startswith("starting delivery")]
    assert len(starts) == 5
    for l in starts:
        assert re.fullmatch(r"starting delivery \d+: msg \d+ to remote \S+@\S+", l), l


def test_mixed_recipient_results(sched, queue, fake):
    s = sched(env={"QMAILREMOTE": FAKE})
    inject("ok1@mix.example", "hard1@mix.example", "soft1@mix.example", "ok2@mix.example")
    got = wait_results(s, 4)
    assert len(runs()) == 1 and runs()[0][2:] == ["ok1@mix.example", "hard1@mix.example",
                                                  "soft1@mix.example", "ok2@mix.example"]
    assert got["ok1@mix.example"][0][1:] == ("success", "ok1@mix.example_accepted/mix.example_took_4/")
    assert got["ok2@mix.example"][0][1:] == ("success", "ok2@mix.example_accepted/mix.example_took_4/")
    assert got["hard1@mix.example"][0][1:] == ("failure", "hard1@mix.example_refused_for_good/")
    assert got["soft1@mix.example"][0][1:] == ("deferral", "soft1@mix.example_busy,_try_later/")
    # only the deferred recipient is still to do
    wait_for(lambda: remote_records(queue) == [b"Dok1@mix.example", b"Dhard1@mix.example",
                                               b"Tsoft1@mix.example", b"Dok2@mix.example"],
             timeout=10, what="the marks")
    # its own retry: only soft1 goes out again
    open(FLAG, "w").close()
    mark = s.size()
    s.signal(signal.SIGALRM)
    again = wait_results(s, 1, start=mark)
    assert again == {"soft1@mix.example": [(again["soft1@mix.example"][0][0], "success",
                                            "soft1@mix.example_accepted/mix.example_took_1/")]}
    assert runs()[1][2:] == ["soft1@mix.example"]
    # one bounce, for the hard failure only
    b = bounce_text()
    body = b.split("\n\n", 1)[1]
    assert "<hard1@mix.example>:\nhard1@mix.example refused for good\n\n" in body
    assert "<ok1@mix.example>" not in body and "<soft1@mix.example>" not in body
    assert "<ok2@mix.example>" not in body
    queue_empty(queue)


def test_message_report_applies_to_recipients_without_their_own(sched, queue, fake):
    s = sched(env={"QMAILREMOTE": FAKE})
    inject("ok1@zdom.example", "hard1@zdom.example", "ok2@before.example", "ok3@before.example",
           "ok4@ddom.example", "ok5@ddom.example")
    got = wait_results(s, 6)
    assert len(runs()) == 3
    # r then Z: deferred with both texts; h stays a failure
    assert got["ok1@zdom.example"][0][1:] == (
        "deferral", "ok1@zdom.example_accepted/zdom.example_lost_the_connection_after_RCPT/")
    assert got["hard1@zdom.example"][0][1:] == ("failure", "hard1@zdom.example_refused_for_good/")
    # no recipient reports: the message's Z for each
    for rc in ("ok2@before.example", "ok3@before.example"):
        assert got[rc][0][1:] == ("deferral", "before.example_greeting_failed/")
    # r then D: both fail
    for rc in ("ok4@ddom.example", "ok5@ddom.example"):
        assert got[rc][0][1:] == ("failure", rc + "_accepted/ddom.example_refused_the_message/")
    wait_for(lambda: sorted(remote_records(queue)) == sorted(
        [b"Tok1@zdom.example", b"Dhard1@zdom.example", b"Tok2@before.example", b"Tok3@before.example",
         b"Dok4@ddom.example", b"Dok5@ddom.example"]), timeout=10, what="the marks")
    # the bounce waits for the deferred ones; after a good retry it holds the three failures
    open(FLAG, "w").close()
    with open(FAKE) as f:
        text = f.read()
    with open(FAKE, "w") as f:
        f.write(text.replace('host.startswith("zdom.")', 'False').replace('not host.startswith("before.")', 'True')
                .replace('elif host.startswith("before.")', 'elif False'))
    mark = s.size()
    s.signal(signal.SIGALRM)
    again = wait_results(s, 3, start=mark)
    assert sorted(again) == ["ok1@zdom.example", "ok2@before.example", "ok3@before.example"]
    assert all(v[0][1] == "success" for v in again.values())
    body = bounce_text().split("\n\n", 1)[1]
    for rc in ("hard1@zdom.example", "ok4@ddom.example", "ok5@ddom.example"):
        assert "<%s>:\n" % rc in body
    assert body.count(">:\n") == 3
    assert "<ok4@ddom.example>:\nok4@ddom.example accepted\nddom.example refused the message\n\n" in body
    queue_empty(queue)


def test_remotebatch_caps_a_run_and_one_restores_qmail(sched, queue, fake, control):
    control["remotebatch"] = "2\n"
    s = sched(env={"QMAILREMOTE": FAKE})
    rcpts = ["ok%d@cap.example" % i for i in range(5)]
    inject(*rcpts)
    wait_results(s, 5)
    queue_empty(queue)
    assert sorted(r[2:] for r in runs()) == [rcpts[0:2], rcpts[2:4], rcpts[4:5]]
    s.stop()
    control["remotebatch"] = "1\n"
    open(ARGV, "w").close()
    s = sched(env={"QMAILREMOTE": FAKE})
    inject(*rcpts)
    wait_results(s, 5)
    queue_empty(queue)
    assert sorted(r[2:] for r in runs()) == [[r] for r in rcpts]


def test_verp_sender_gets_one_run_per_recipient(sched, queue, fake):
    s = sched(env={"QMAILREMOTE": FAKE})
    inject("ok1@verp.example", "ok2@verp.example", sender="list-@" + ME + "-@[]")
    wait_results(s, 2)
    queue_empty(queue)
    assert sorted(r[1:] for r in runs()) == [["list-ok1=verp.example@" + ME, "ok1@verp.example"],
                                             ["list-ok2=verp.example@" + ME, "ok2@verp.example"]]


@pytest.mark.parametrize("committed", [True, False])
def test_crash_before_the_reports_repeats_the_whole_batch(sched, queue, fake, committed):
    """Killed before the reports came: every recipient is delivered again.
    A message in the queue for a second is committed (remote/ holds
    its T records); one killed sooner may still be only in todo/, to be
    preprocessed again from scratch."""
    rcpts = ["ok1@slow.example", "ok2@slow.example", "ok3@slow.example"]
    s = sched(env={"QMAILREMOTE": FAKE})
    inject(*rcpts)
    wait_for(lambda: runs(), timeout=20, what="the run to start")
    if committed:
        wait_for(lambda: queue.files("remote"), timeout=20, what="the commit")
    s.signal(signal.SIGKILL)
    open(RELEASE, "w").close()       # qmail-remote finishes, but nobody hears it
    s.stop()
    if committed or not queue.files("todo"):
        assert remote_records(queue) == [b"T" + r.encode() for r in rcpts]
    else:
        assert remote_records(queue) == []
    s2 = sched(env={"QMAILREMOTE": FAKE})
    got = wait_results(s2, 3)
    assert all(got[r][0][1] == "success" for r in rcpts)
    queue_empty(queue)
    assert [r[2:] for r in runs()] == [rcpts, rcpts]


def test_real_qmail_remote_one_transaction(sched, queue, control, request):
    peer = SmtpPeer(os.path.join(WORK, "peer-" + request.node.name),
                    {"rcpt_replies": {"nobody@peer.test": "550 5.1.1 no such user here"}})
    try:
        control["smtproutes"] = "peer.test:127.0.0.1:%d\n" % peer.port
        control["helohost"] = None
        control["timeoutremote"] = None
        control["timeoutconnect"] = None
        s = sched()
        inject("u1@peer.test", "u2@PEER.test", "nobody@peer.test", "u3@peer.test",
               text="Subject: three\n\none transaction\n")
        got = wait_results(s, 4)
        for rc in ("u1@peer.test", "u2@PEER.test", "u3@peer.test"):
            assert got[rc][0][1:] == ("success", "127.0.0.1_accepted_message./Remote_host_said:_250_2.0.0_queued_as_4711/")
        assert got["nobody@peer.test"][0][1:] == (
            "failure", "127.0.0.1_does_not_like_recipient./Remote_host_said:_550_5.1.1_no_such_user_here/")
        msgs = peer.messages()
        assert len(msgs) == 1
        assert msgs[0]["rcpt_tos"] == ["u1@peer.test", "u2@PEER.test", "u3@peer.test"]
        assert msgs[0]["content"].endswith(b"\r\n\r\none transaction\r\n")
        assert len(peer.raw()) == 1
        body = bounce_text().split("\n\n", 1)[1]
        assert ("<nobody@peer.test>:\n127.0.0.1 does not like recipient.\n"
                "Remote host said: 550 5.1.1 no such user here\n") in body
        queue_empty(queue)
    finally:
        peer.stop()


def rspawn_session(queue, jobs, remote=FAKE):
    """Run qmail-rspawn by hand with remote as $QMAILREMOTE: queue one
    message, send the jobs (bytes with {mess} for its name), close, and
    return (exit code, {(slot, index): report})."""
    assert qq(b"Subject: direct\n\nx\n", "s@x.example", ["t@x.example"]) == 0
    [mid] = queue.todo()
    messfn = ("%d/%d" % (mid % queue.split(), mid)).encode()
    p = subprocess.Popen([bin_path("qmail-rspawn")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={"PATH": "/usr/bin:/bin", "QMAILREMOTE": remote})
    out, _ = p.communicate(b"".join(j.replace(b"{mess}", messfn) for j in jobs), timeout=30)
    fields = out.split(b"\0")
    assert fields[-1] == b""
    limit, fields = fields[0], fields[1:-1]
    assert int(limit) >= 1
    assert len(fields) % 3 == 0, fields
    reps = {}
    for i in range(0, len(fields), 3):
        key = (int(fields[i]), int(fields[i + 1]))
        assert key not in reps
        reps[key] = fields[i + 2]
    return p.returncode, reps


def test_rspawn_answers_each_recipient_of_a_job(queue, fake):
    job = (b"0\0{mess}\0s@x.example\0" b"5\0"
           b"ok1@a.example\0x@b.example\0\0nohost\0ok2@A.EXAMPLE\0")
    job2 = b"1\0{mess}\0s@x.example\0" b"2\0" b"ok3@long.example\0ok4@long.example\0"
    rc, reps = rspawn_session(queue, [job, job2])
    assert rc == 0
    assert reps == {
        (0, 0): b"Kok1@a.example accepted\na.example took 2\n",
        (0, 1): b"ZInternal error: recipients of one job must share a domain. (#4.3.5)\n",
        (0, 2): b"DSorry, the recipient address is empty; there is no mailbox to deliver to. (#5.1.1)\n",
        (0, 3): b"DSorry, address must include host name. (#5.1.3)\n",
        (0, 4): b"Kok2@A.EXAMPLE accepted\na.example took 2\n",
        # a 100 kB report is cut to 8000 bytes; the reports after it survive
        (1, 0): b"K" + b"x" * 7999 + b"long.example took 2\n",
        (1, 1): b"Kok4@long.example accepted\nlong.example took 2\n",
    }
    assert sorted(runs()) == [["a.example", "s@x.example", "ok1@a.example", "ok2@A.EXAMPLE"],
                              ["long.example", "s@x.example", "ok3@long.example", "ok4@long.example"]]


def test_rspawn_defers_when_qmail_remote_cannot_be_run(queue, fake, tmp_path):
    """A child that cannot exec qmail-remote (started with vfork, it only
    execs) exits 111: every recipient is deferred, none bounced, and
    qmail-rspawn goes on to the next job."""
    job = b"0\0{mess}\0s@x.example\0" b"2\0" b"ok1@a.example\0ok2@a.example\0"
    job2 = b"1\0{mess}\0s@x.example\0" b"1\0" b"ok3@b.example\0"
    rc, reps = rspawn_session(queue, [job, job2], remote=str(tmp_path / "no-such-remote"))
    z = b"ZUnable to run qmail-remote.\n"
    assert rc == 0
    assert reps == {(0, 0): z, (0, 1): z, (1, 0): z}
    assert runs() == []


def test_rspawn_gives_up_on_a_count_it_cannot_read(queue, fake):
    rc, reps = rspawn_session(queue, [b"0\0{mess}\0s@x.example\0" b"many\0" b"ok1@a.example\0"])
    assert rc == 111 and reps == {} and runs() == []
