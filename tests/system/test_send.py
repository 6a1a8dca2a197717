"""The scheduler: qmail-start, qmail-send, qmail-lspawn, qmail-rspawn and
qmail-clean, run from the installed home as qmail runs them. Messages go in
through qmail-inject or qmail-queue; the tests look at what users and the
postmaster see (maildirs, bounces), at the activity record (qmail-log(5))
line by line, and at the queue, which must end up empty."""
import os
import re
import signal
import time

from conftest import HOME, bin_path, run, wait_for
from send_util import (ALIASDIR, ME, Send, maildir, messages, queue as qq, queue_empty, send_fixtures,
                       setup_users, user_maildir as mbox, wait_mail, write_file)


users, sched = send_fixtures(["hsa", "hsb"])


def inject(text, *rcpts, sender="hsa@" + ME):
    r = run([bin_path("qmail-inject"), "-f", sender] + list(rcpts), input=text.encode())
    assert r.returncode == 0, r.stderr
    return r


def test_local_delivery_and_exact_log(sched, queue):
    s = sched()
    inject("Subject: one\n\nhello there\n", "hsa@" + ME)
    msg = wait_mail("hsa")[0]
    assert msg.startswith(b"Return-Path: <hsa@testhost.example>\nDelivered-To: hsa@testhost.example\n")
    assert b"\nhello there\n" in msg
    s.wait_log(r"^end msg \d+$")
    lines = s.lines(s.mark)
    m = re.fullmatch(r"new msg (\d+)", lines[1])
    assert lines[0] == "status: local 0/10 remote 0/20"
    assert m, lines
    mid = m.group(1)
    m = re.fullmatch(r"info msg %s: bytes (\d+) from <hsa@testhost.example> qp (\d+) uid 0" % mid, lines[2])
    assert m, lines[2]
    assert int(m.group(1)) > len("Subject: one\n\nhello there\n")
    assert re.fullmatch(r"starting delivery (\d+): msg %s to local hsa@testhost.example" % mid, lines[3]), lines
    d = lines[3].split()[2][:-1]
    assert lines[4:] == ["status: local 1/10 remote 0/20",
                         "delivery %s: success: did_1+0+0/" % d,
                         "status: local 0/10 remote 0/20",
                         "end msg %s" % mid]
    queue_empty(queue)
    s.stop()
    assert s.lines()[-1] == "status: exiting"


def test_missing_user_bounces_in_qsbmf(sched, queue):
    s = sched()
    inject("Subject: lost\n\nfind me\n", "nosuchuser@" + ME)
    s.wait_log(r"^delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/$")
    s.wait_log(r"^bounce msg \d+ qp \d+$")
    b = wait_mail("hsa")[0].decode()
    assert "\nFrom: MAILER-DAEMON@testhost.example\n" in b
    assert "\nTo: hsa@testhost.example\n" in b
    assert "\nSubject: failure notice\n" in b
    body = b.split("\n\n", 1)[1]
    assert body.startswith("Hi. This is the qmail-send program at testhost.example.\n"
                           "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
                           "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
                           "<nosuchuser@testhost.example>:\n"
                           "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
                           "--- Below this line is a copy of the message.\n\n"
                           "Return-Path: <hsa@testhost.example>\n"), body
    assert body.endswith("\nfind me\n")
    # the bounce itself had the empty sender
    assert b.startswith("Return-Path: <>\n")
    queue_empty(queue)


def test_double_and_triple_bounce(sched, queue, control):
    control["doublebounceto"] = "hsb\n"
    s = sched()
    # the sender does not exist either: the bounce bounces
    assert qq(b"Subject: dbl\n\nx\n", "ghost1@" + ME, ["ghost2@" + ME]) == 0
    b = wait_mail("hsb")[0].decode()
    assert "\nTo: hsb@testhost.example\n" in b
    body = b.split("\n\n", 1)[1]
    assert body.startswith("Hi. This is the qmail-send program at testhost.example.\n"
                           "I tried to deliver a bounce message to this address, but the bounce bounced!\n\n"
                           "<ghost1@testhost.example>:\n"), body
    assert "--- Below this line is the original bounce.\n\nReturn-Path: <>\n" in body
    assert "<ghost2@testhost.example>:\n" in body
    assert b.startswith("Return-Path: <#@[]>\n")
    queue_empty(queue)
    s.stop()
    # a double bounce that fails is dropped, and the log says so
    control["doublebounceto"] = "ghost3\n"
    s = sched()
    assert qq(b"Subject: tpl\n\nx\n", "ghost1@" + ME, ["ghost2@" + ME]) == 0
    s.wait_log(r"^triple bounce: discarding bounce/\d+$")
    queue_empty(queue)


def test_deferral_then_alarm_delivers(sched, queue, users):
    home = users["hsa"].pw_dir
    write_file(os.path.join(home, ".qmail"), "|exit 111\n", "hsa")
    s = sched()
    inject("Subject: later\n\nwait\n", "hsa@" + ME)
    s.wait_log(r"^delivery \d+: deferral: $")
    assert messages(mbox("hsa")) == []
    write_file(os.path.join(home, ".qmail"), "./Maildir/\n", "hsa")
    mark = s.size()
    s.signal(signal.SIGALRM)
    s.wait_log(r"^delivery \d+: success: did_1\+0\+0/$", start=mark)
    assert b"\nwait\n" in wait_mail("hsa")[0]
    queue_empty(queue)


def test_queuelifetime_turns_deferral_into_bounce(sched, queue, users, control):
    control["queuelifetime"] = "1\n"
    write_file(os.path.join(users["hsb"].pw_dir, ".qmail"), "|echo busy; exit 111\n", "hsb")
    s = sched()
    inject("Subject: old\n\nx\n", "hsb@" + ME)
    s.wait_log(r"^delivery \d+: deferral: busy/$")
    time.sleep(2.1)
    mark = s.size()
    s.signal(signal.SIGALRM)
    s.wait_log(r"^delivery \d+: failure: busy/I'm_not_going_to_try_again;_this_message_has_been_in_the_queue_too_long./$",
               start=mark)
    b = wait_mail("hsa")[0].decode()
    assert "<hsb@testhost.example>:\nbusy\nI'm not going to try again; this message has been in the queue too long.\n\n" in b
    queue_empty(queue)


def test_hup_rereads_locals(sched, queue, control):
    control["locals"] = ME + "\n"
    s = sched(env={"QMAILREMOTE": "/nonexistent/qmail-remote"})
    inject("Subject: a\n\nfirst\n", "hsb@newdom.example")
    s.wait_log(r"^starting delivery \d+: msg \d+ to remote hsb@newdom.example$")
    # a remote program that cannot run means later, never a bounce
    s.wait_log(r"^delivery \d+: deferral: Unable_to_run_qmail-remote./$")
    control["locals"] = ME + "\r\nnewdom.example\r\n"   # CRLF, as a Windows editor saves it
    mark = s.size()
    s.signal(signal.SIGHUP)
    s.wait_log(r"^status: local", start=mark)
    inject("Subject: b\n\nsecond\n", "hsb@newdom.example")
    s.wait_log(r"^starting delivery \d+: msg \d+ to local hsb@newdom.example$", start=mark)
    msg = wait_mail("hsb")[0]
    assert b"Delivered-To: hsb@newdom.example\n" in msg and b"\nsecond\n" in msg


def test_remote_reports_through_qmail_remote(sched, queue, tmp_path):
    script = os.path.join(os.path.dirname(HOME), "fake-remote")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ncat > /dev/null\n"
                "printf 'r%s accepted %s from %s\\n\\0Kfake said: 250 ok\\n\\0' \"$1\" \"$3\" \"$2\"\n")
    os.chmod(script, 0o755)
    s = sched(env={"QMAILREMOTE": script})
    inject("Subject: out\n\nx\n", "someone@far.example")
    s.wait_log(r"^delivery \d+: success: far.example_accepted_someone@far.example_from_hsa@testhost.example/"
               r"fake_said:_250_ok/$")
    queue_empty(queue)


def test_kill_mid_batch_loses_nothing(sched, queue, users):
    n = 200
    for i in range(n):
        assert qq(b"Subject: batch %d\n\nnumber %d\n" % (i, i), "hsb@" + ME, ["hsa@" + ME]) == 0
    s = sched()
    wait_mail("hsa", 20, timeout=60)
    s.kill()
    # the files left show the crash landed in the middle of the batch
    assert queue.all_files() != []
    s2 = sched()
    wait_for(lambda: queue.all_files() == [], timeout=120, what="the queue to drain")
    got = set()
    for m in messages(mbox("hsa")):
        got.add(int(re.search(rb"\nnumber (\d+)\n", m).group(1)))
    assert got == set(range(n))
    s2.stop()


def test_virtualdomains_and_assign_routing(sched, queue, control, users):
    control["virtualdomains"] = "virt.example:hsb\n.wild.example:hsb-w\n"
    home = users["hsb"].pw_dir
    maildir(os.path.join(home, "virt"), "hsb")
    write_file(os.path.join(home, ".qmail-info"), "./virt/\n", "hsb")
    write_file(os.path.join(home, ".qmail-w-default"), "./virt/\n", "hsb")
    s = sched()
    inject("Subject: v\n\nvirtual\n", "info@virt.example", "any@x.wild.example")
    s.wait_log(r"^starting delivery \d+: msg \d+ to local hsb-info@virt.example$")
    s.wait_log(r"^starting delivery \d+: msg \d+ to local hsb-w-any@x.wild.example$")
    got = wait_for(lambda: len(messages(os.path.join(home, "virt"))) >= 2 and messages(os.path.join(home, "virt")),
                   what="two virtual deliveries")
    assert sorted(re.search(rb"Delivered-To: (\S+)\n", m).group(1) for m in got) == \
        [b"hsb-info@virt.example", b"hsb-w-any@x.wild.example"]
    queue_empty(queue)


def test_alias_postmaster(sched, queue):
    al = "alias"
    pm = maildir(os.path.join(ALIASDIR, "pm"), al)
    write_file(os.path.join(ALIASDIR, ".qmail-postmaster"), "./pm/\n", al)
    s = sched()
    inject("Subject: pm\n\nfor the postmaster\n", "Postmaster@" + ME)
    s.wait_log(r"^delivery \d+: success: did_1\+0\+0/$")
    m = wait_for(lambda: messages(pm), what="postmaster mail")[0]
    # qmail-command(8): DTLINE is Delivered-To: $LOCAL@$HOST, as addressed
    assert b"\nDelivered-To: Postmaster@testhost.example\n" in m, m[:300]
    queue_empty(queue)


def test_empty_recipient_is_bounced_not_dropped(sched, queue):
    s = sched()
    assert qq(b"Subject: empty\n\nnobody\n", "hsa@" + ME, [""]) == 0
    s.wait_log(r"^starting delivery \d+: msg \d+ to local $")
    s.wait_log(r"^delivery \d+: failure: .*empty.*$")
    b = wait_mail("hsa")[0].decode()
    assert "\n<>:\n" in b
    queue_empty(queue)


def test_empty_me_falls_back_and_warns(sched, queue, control):
    control["me"] = "\n"
    s = sched()
    host = os.uname().nodename
    s.wait_log(r"^warning: control/me is missing or empty; using the host name %s$" % re.escape(host))
    # qmail-inject qualifies nothing without me (issue 10): a full From
    inject("From: hsa@%s\nSubject: m\n\nx\n" % ME, "hsa@" + ME)
    wait_mail("hsa")
    queue_empty(queue)


def test_second_qmail_send_refuses(sched, queue):
    s = sched()
    t = Send("second")
    t.proc = None
    log = open(t.logpath, "ab")
    import subprocess
    p = subprocess.Popen([bin_path("qmail-start"), "./Maildir/"], stdout=log, stdin=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd="/", env=t.env)
    log.close()
    assert p.wait(timeout=20) == 111
    assert "alert: cannot start: qmail-send is already running" in t.text()
    assert s.proc.poll() is None


def test_term_waits_for_deliveries_in_progress(sched, queue, users):
    write_file(os.path.join(users["hsa"].pw_dir, ".qmail"), "|sleep 2\n./Maildir/\n", "hsa")
    s = sched()
    inject("Subject: slow\n\nx\n", "hsa@" + ME)
    s.wait_log(r"^starting delivery \d+: msg \d+ to local hsa@testhost.example$")
    s.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None      # still waiting for the delivery
    s.stop()
    lines = s.lines(s.mark)
    assert re.fullmatch(r"delivery \d+: success: did_1\+0\+1/", lines[-3]), lines
    assert lines[-2:] == ["status: local 0/10 remote 0/20 exitasap", "status: exiting"]
    assert len(messages(mbox("hsa"))) == 1


def test_getpw_fallback_without_users_cdb(sched, queue):
    os.unlink(os.path.join(HOME, "users", "cdb"))
    s = sched()
    inject("Subject: pw\n\nby passwd\n", "hsb@" + ME)
    assert b"\nby passwd\n" in wait_mail("hsb")[0]
    s.wait_log(r"^delivery \d+: success: did_1\+0\+0/$")
    queue_empty(queue)
    setup_users(["hsa", "hsb"])   # the fixture removes it again


def test_lspawn_refuses_root(sched, queue, users):
    setup_users(["hsa", "hsb"], extra=["=rootbox:root:0:0:/root:::"])
    s = sched()
    inject("Subject: r\n\nx\n", "rootbox@" + ME)
    s.wait_log(r"^delivery \d+: deferral: Not_allowed_to_perform_deliveries_as_root./$")


def test_concurrency_beyond_select_limit(sched, queue, users, control):
    # qmail's select() loop stops at (FD_SETSIZE - 5) / 2 = 509 deliveries
    n = 600
    control["concurrencylocal"] = "%d\n" % n
    write_file(os.path.join(users["hsa"].pw_dir, ".qmail"), "|sleep 4\n", "hsa")
    for i in range(n):
        assert qq(b"Subject: c %d\n\nx\n" % i, "hsb@" + ME, ["hsa@" + ME]) == 0
    s = sched()
    assert s.lines(s.mark)[0] == "status: local 0/%d remote 0/20" % n
    s.wait_log(r"^status: local 5[1-9]\d/%d " % n, timeout=60)
    wait_for(lambda: queue.all_files() == [], timeout=120, what="the queue to drain")


def test_qmail_clean_protocol(queue):
    qd = queue.dir
    for p in ("intd/71", "todo/71", "intd/72", "mess/%d/72" % (72 % queue.split())):
        open(os.path.join(qd, p), "w").close()
    os.mkdir(os.path.join(qd, "intd", "73"))
    open(os.path.join(qd, "intd", "73", "x"), "w").close()
    cmds = b"todo/71\0foop/72\0foop/73\0bogus/1\0todo/7a\0todo/\0" + b"todo/" + b"9" * 200 + b"\0foop/74\0"
    r = run([bin_path("qmail-clean")], input=cmds)
    try:
        assert r.returncode == 0
        assert r.stdout == b"++!xxxx+"
        assert queue.all_files() == ["intd/73/x"]
    finally:
        os.unlink(os.path.join(qd, "intd", "73", "x"))
        os.rmdir(os.path.join(qd, "intd", "73"))


def test_qmail_clean_done_removes_todo_then_message(queue):
    """done/id: intd, todo and then the message; when todo cannot go, the
    message stays, so todo never names a message that is gone."""
    qd = queue.dir
    sp = queue.split()
    for p in ("intd/81", "todo/81", "mess/%d/81" % (81 % sp), "mess/%d/82" % (82 % sp)):
        open(os.path.join(qd, p), "w").close()
    os.mkdir(os.path.join(qd, "todo", "82"))      # a todo/ entry unlink cannot remove
    open(os.path.join(qd, "todo", "82", "x"), "w").close()
    r = run([bin_path("qmail-clean")], input=b"done/81\0done/82\0done/83\0done/8x\0")
    try:
        assert r.returncode == 0
        assert r.stdout == b"+!+x"
        assert sorted(queue.all_files()) == ["mess/%d/82" % (82 % sp), "todo/82/x"]
    finally:
        os.unlink(os.path.join(qd, "todo", "82", "x"))
        os.rmdir(os.path.join(qd, "todo", "82"))
        os.unlink(os.path.join(qd, "mess", "%d" % (82 % sp), "82"))


def dir_mtimes(queue, subs):
    out = {}
    for sub in subs:
        for d in sorted(os.listdir(os.path.join(queue.dir, sub))):
            st = os.stat(os.path.join(queue.dir, sub, d))
            out[sub + "/" + d] = st.st_mtime_ns
    return out


def test_quick_message_is_never_committed(sched, queue, users):
    """A message delivered at once is finished before its commit: nothing
    is ever created in info/, local/ or remote/ (their directories are
    untouched), and the log is the usual one."""
    s = sched()
    before = dir_mtimes(queue, ("info", "local", "remote"))
    time.sleep(0.05)                  # a change would show in the mtimes
    inject("Subject: quick\n\nquick\n", "hsa@" + ME, "hsb@" + ME)
    wait_mail("hsa")
    wait_mail("hsb")
    s.wait_log(r"^end msg \d+$")
    queue_empty(queue)
    assert dir_mtimes(queue, ("info", "local", "remote")) == before
    lines = s.lines(s.mark)
    assert [l.split()[0] + " " + l.split()[1] for l in lines if l.startswith(("new msg", "end msg"))] == \
        ["new msg", "end msg"]


def test_deferred_message_is_committed(sched, queue, users):
    """A temporary failure commits the message at once: info/ and local/
    hold it in qmail's layout (the recipient done already marked D),
    todo/ no longer does, while qmail-send still runs."""
    write_file(os.path.join(users["hsb"].pw_dir, ".qmail"), "|exit 111\n", "hsb")
    s = sched()
    inject("Subject: later\n\nlater\n", "hsa@" + ME, "hsb@" + ME)
    s.wait_log(r"^delivery \d+: deferral: $")
    wait_mail("hsa")
    locals_ = wait_for(lambda: queue.files("local"), what="the local list")
    path = os.path.join(queue.dir, locals_[0])
    wait_for(lambda: open(path, "rb").read() == b"Dhsa@testhost.example\0Thsb@testhost.example\0",
             what="the list with hsa marked done")
    assert queue.files("todo") == [] and queue.files("intd") == []
    assert len(queue.files("info")) == 1
    with open(os.path.join(queue.dir, queue.files("info")[0]), "rb") as f:
        assert f.read() == b"Fhsa@testhost.example\0"
    s.stop()


def test_leftovers_of_an_unfinished_commit_are_removed(sched, queue, users):
    """A message still in todo/ with info, local and bounce files beside it
    (a run that died in the middle of a commit) is preprocessed again from
    todo/: the leftovers go, each recipient gets it once, and no stale
    bounce text is sent."""
    assert qq(b"Subject: left\n\nleft\n", "hsb@" + ME, ["hsa@" + ME]) == 0
    mid = int(queue.files("todo")[0].split("/")[1])
    n = mid % queue.split()
    qd = queue.dir
    import pwd
    qs = pwd.getpwnam("qmails")
    for sub, data in (("info/%d/%d" % (n, mid), b"Fstale@example.org\0"),
                      ("local/%d/%d" % (n, mid), b"Tstale@testhost.example\0"),
                      ("remote/%d/%d" % (n, mid), b"Tstale@far.example\0"),
                      ("bounce/%d" % mid, b"<stale@example.org>:\nstale\n\n")):
        with open(os.path.join(qd, sub), "wb") as f:
            f.write(data)
        os.chown(os.path.join(qd, sub), qs.pw_uid, qs.pw_gid)
    s = sched()
    wait_mail("hsa")
    s.wait_log(r"^end msg %d$" % mid)
    queue_empty(queue)
    assert len(messages(mbox("hsa"))) == 1
    text = s.text(s.mark)
    assert "stale" not in text and "bounce msg" not in text


def fabricate(queue, first, n, sender, rcpt, channel="local"):
    """Leave n preprocessed messages in the queue as qmail-send does (and as
    netqmail's qmail-send leaves them): mess/ by qmailq, info/ and local/
    by qmails, with the records of envelopes(5)."""
    import pwd
    qq = pwd.getpwnam("qmailq")
    qs = pwd.getpwnam("qmails")
    split = queue.split()
    for i in range(first, first + n):
        files = (("mess", qq, b"Subject: old %d\n\nbacklog %d\n" % (i, i)),
                 ("info", qs, b"F" + sender.encode() + b"\0"),
                 (channel, qs, b"T" + rcpt.encode() + b"\0"))
        for d, owner, data in files:
            p = os.path.join(queue.dir, d, str(i % split), str(i))
            with open(p, "wb") as f:
                f.write(data)
            os.chown(p, owner.pw_uid, owner.pw_gid)


def test_qmail_layout_backlog_and_fresh_mail_first(sched, queue, users, control):
    # a backlog of slow deliveries left by an earlier qmail-send
    control["concurrencylocal"] = "4\n"
    write_file(os.path.join(users["hsa"].pw_dir, ".qmail"), "|sleep 1\n./Maildir/\n", "hsa")
    fabricate(queue, 900000, 300, "hsb@" + ME, "hsa@" + ME)
    s = sched()
    s.wait_log(r"^starting delivery \d+: msg 9\d{5} to local hsa@testhost.example$")
    # new mail does not wait behind the backlog of 75 seconds
    t = time.monotonic()
    inject("Subject: fresh\n\nfresh\n", "hsb@" + ME)
    assert b"\nfresh\n" in wait_mail("hsb", timeout=15)[0]
    assert time.monotonic() - t < 10
    assert len(messages(mbox("hsa"))) < 300
    s.stop()
    # what is left is still queued, in qmail's layout, for the next run
    assert any(f.startswith("local/") for f in queue.all_files())


def test_todo_flood_does_not_starve_deliveries(sched, queue, users):
    n = 400
    for i in range(n):
        assert qq(b"Subject: f %d\n\nx\n" % i, "hsb@" + ME, ["hsa@" + ME]) == 0
    s = sched()
    wait_for(lambda: queue.all_files() == [], timeout=120, what="the queue to drain")
    lines = s.lines(s.mark)
    news = [i for i, l in enumerate(lines) if l.startswith("new msg ")]
    first_start = next(i for i, l in enumerate(lines) if l.startswith("starting delivery "))
    assert len(news) == n
    # deliveries go out after the first batch of 16 is preprocessed, not
    # after the whole backlog
    assert first_start < news[16], (first_start, news[16])
    assert len(messages(mbox("hsa"))) == n


def test_qmailqueue_used_for_bounces(sched, queue):
    marker_dir = os.path.join(os.path.dirname(HOME), "qq-marker")
    os.makedirs(marker_dir, exist_ok=True)
    os.chmod(marker_dir, 0o777)
    marker = os.path.join(marker_dir, "used")
    if os.path.exists(marker):
        os.unlink(marker)
    script = os.path.join(os.path.dirname(HOME), "qq-wrapper")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho bounce >> %s\nexec %s\n" % (marker, bin_path("qmail-queue")))
    os.chmod(script, 0o755)
    s = sched(env={"QMAILQUEUE": script})
    inject("Subject: q\n\nx\n", "ghost@" + ME)
    wait_mail("hsa")
    s.wait_log(r"^bounce msg \d+ qp \d+$")
    assert open(marker).read() == "bounce\n"
    queue_empty(queue)


def test_logger_gets_the_record_as_qmaill(sched, queue, request):
    import pwd
    s = Send(request.node.name, logger=["sh", "-c", "exec cat >> '%s'" % os.path.join(
        os.path.dirname(HOME), "send-logs", request.node.name + ".log")])
    s.start()
    try:
        inject("Subject: l\n\nlogged\n", "hsa@" + ME)
        s.wait_log(r"^end msg \d+$")
        uids = {}
        for pid in s.helpers:
            with open("/proc/%d/status" % pid) as f:
                st = f.read()
            name = re.search(r"Name:\s+(\S+)", st).group(1)
            uids[name] = int(re.search(r"Uid:\s+(\d+)", st).group(1))
            gids = re.search(r"Groups:\s*([\d ]*)", st).group(1).split()
            assert len(gids) == 1, (name, gids)
        assert uids["cat"] == pwd.getpwnam("qmaill").pw_uid
        assert uids["qmail-lspawn"] == 0
        assert uids["qmail-rspawn"] == pwd.getpwnam("qmailr").pw_uid
        assert uids["qmail-clean"] == pwd.getpwnam("qmailq").pw_uid
        with open("/proc/%d/status" % s.pid) as f:
            assert int(re.search(r"Uid:\s+(\d+)", f.read()).group(1)) == pwd.getpwnam("qmails").pw_uid
    finally:
        s.stop()
    assert s.lines()[-1] == "status: exiting"
