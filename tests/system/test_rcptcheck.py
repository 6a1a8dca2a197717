"""Recipient validation at RCPT time (qmail-rcptcheck(8), doc/rcptcheck.md).

The central test runs one table of addresses through both paths: RCPT over
SMTP (smtplib, through tcpserver as qmaild) and real delivery (the same
address queued with qmail-queue and delivered by qmail-send, qmail-lspawn
and qmail-local), and requires the same verdict from each: 250 = delivered,
550 = bounced, 451 = deferred. Then the cases where the lookup cannot be
made (451, never 550), the relay tricks that used to be accepted and
bounced, relay clients, and the switch that turns the check off.

qmail-smtpd decides itself when users/cdb answers, or when /etc/passwd
gives what getpwnam would (nsswitch.conf names files first and the
account is there, or files alone), and runs qmail-rcptcheck only when
the rest of the password database is needed: the table tests trace
qmail-smtpd's execve calls (strace) and count the helper's."""
import os
import pwd
import re
import smtplib
import subprocess
import tempfile

import pytest

from conftest import HOME, bin_path, make_user
from smtpd_util import ids
from send_util import ALIASDIR, ME, Send, maildir, queue as qq, remove_users, setup_users, write_file

VIRT = "virt.example"
SENDER = "#@[]"           # a bounce of it is dropped: one delivery per message
USERS = ("hrca", "hrcv", "hrcb")

VERDICT = {250: "accept", 550: "bounce", 451: "defer"}
DELIVERY = {"success": "accept", "failure": "bounce", "deferral": "defer"}

# (address as the client writes it in RCPT, address as queued, verdict)
# with users/cdb: =hrca, +hrca-, =hrcx (ext x of hrca), +hrcw- (ext w- of
# hrca), +hrcv- (the owner of virt.example) and the +: catch-all to ~alias
TABLE_ASSIGN = [
    ("hrca@" + ME, None, "accept"),                          # simple entry, no .qmail needed
    ("HRCA@" + ME, None, "accept"),                          # users/cdb keys ignore case
    ("hrca@LOCALHOST", None, "accept"),                      # locals ignore case
    ("hrca-list@" + ME, None, "accept"),                     # wildcard, .qmail-list
    ("hrca-LIST@" + ME, None, "accept"),                     # extensions ignore case
    ("hrca-nope@" + ME, None, "bounce"),                     # unknown extension, no -default
    ("hrca-tag-anything@" + ME, None, "accept"),             # .qmail-tag-default
    ("hrca-tag@" + ME, None, "bounce"),                      # tag- prefix only
    ("hrca-a.b@" + ME, None, "accept"),                      # dots become colons: .qmail-a:b
    ("hrcx@" + ME, None, "accept"),                          # simple entry with ext: .qmail-x
    ("hrcxy@" + ME, None, "bounce"),                         # no entry: ~alias, no .qmail-hrcxy
    ("hrcw-foo@" + ME, None, "accept"),                      # wildcard with pre: .qmail-w-default
    ("box@" + VIRT, None, "accept"),                         # virtualdomains, ~hrcv/.qmail-box
    ("BOX@VIRT.EXAMPLE", None, "accept"),
    ("nobox@" + VIRT, None, "bounce"),
    ("sales-eu@" + VIRT, None, "accept"),                    # ~hrcv/.qmail-sales-default
    ("postmaster@" + ME, None, "accept"),                    # ~alias/.qmail-postmaster
    ("Postmaster@" + ME, None, "accept"),
    ("postmaster", None, "accept"),                          # envnoathost
    ("info-sales@" + ME, None, "accept"),                    # ~alias/.qmail-info-default
    ("info@" + ME, None, "bounce"),
    ("nosuchuser@" + ME, None, "bounce"),
    ("nosuchuser-ext@" + ME, None, "bounce"),
    ("hrcb@" + ME, None, "bounce"),                          # users/cdb wins over the passwd file
    # the relay tricks: local forms that used to be accepted, then bounced
    ("user%evil.example@localhost", None, "bounce"),
    ('"user@evil.example"@localhost', "user@evil.example@localhost", "bounce"),
    ("evil.example!user@" + ME, None, "bounce"),
    ("user@evil.example@localhost", None, "bounce"),
]

# without users/cdb: qmail-getpw's rules (the passwd file, then alias)
TABLE_GETPW = [
    ("hrcb@" + ME, None, "accept"),
    ("HRCB@" + ME, None, "accept"),                          # account names are lower-cased
    ("hrcb-list@" + ME, None, "accept"),
    ("hrcb-nope@" + ME, None, "bounce"),
    ("hrcb-tag-x@" + ME, None, "accept"),
]

TRICKS = [row[0] for row in TABLE_ASSIGN[-4:]]


@pytest.fixture
def site(queue, control):
    control["me"] = ME + "\n"
    control["locals"] = ME + "\nlocalhost\n"
    control["rcpthosts"] = ME + "\nlocalhost\n" + VIRT + "\n"
    control["virtualdomains"] = VIRT + ":hrcv\n"
    for n in ("doublebounceto", "queuelifetime", "rcptcheck", "percenthack", "envnoathost"):
        control[n] = None
    a = make_user("hrca")
    extra = ["=hrcx:hrca:%d:%d:%s:-:x:" % (a.pw_uid, a.pw_gid, a.pw_dir),
             "+hrcw-:hrca:%d:%d:%s:-:w-:" % (a.pw_uid, a.pw_gid, a.pw_dir)]
    users = setup_users(["hrca", "hrcv"], extra)
    users["hrcb"] = make_user("hrcb")
    maildir(os.path.join(users["hrcb"].pw_dir, "Maildir"), "hrcb")
    maildir(os.path.join(ALIASDIR, "Maildir"), "alias")
    home = {n: users[n].pw_dir for n in USERS}
    for n, f in (("hrca", ""), ("hrca", "-list"), ("hrca", "-tag-default"), ("hrca", "-a:b"),
                 ("hrca", "-x"), ("hrca", "-w-default"), ("hrcv", "-box"), ("hrcv", "-sales-default"),
                 ("hrcb", "-list"), ("hrcb", "-tag-default")):
        write_file(os.path.join(home[n], ".qmail" + f), "./Maildir/\n", n)
    for f in ("postmaster", "info-default"):
        write_file(os.path.join(ALIASDIR, ".qmail-" + f), "./Maildir/\n", "alias")
    sched = []

    def start():
        s = Send("hrc-%d" % len(sched)).start()
        sched.append(s)
        return s
    yield {"users": users, "home": home, "start": start}
    for s in sched:
        s.stop()
    for n in USERS:
        os.chmod(home[n], 0o755)
    remove_users()


@pytest.fixture
def smtpd(servers):
    """start(env=None, trace=None, log=None): qmail-smtpd with its
    recipient check on; trace: a file for strace's execve lines of every
    session (appended); log: a file for its stderr"""
    def start(env=None, trace=None, log=None):
        argv = [bin_path("qmail-smtpd")]
        if trace:
            argv = ["strace", "-f", "-qq", "-A", "-o", trace, "-e", "trace=execve"] + argv
        return servers(argv, env=env, rcptcheck=True, log=log)
    return start


@pytest.fixture
def tracefile():
    """a file qmaild's strace may append to"""
    d = tempfile.mkdtemp(prefix="hd-rcpttrace.")
    os.chmod(d, 0o777)
    yield os.path.join(d, "trace")
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))
    os.rmdir(d)


def execs(trace):
    """{program: how many times it was executed} in a strace file"""
    out = {}
    with open(trace) as f:
        for m in re.finditer(r'execve\("([^"]*)"', f.read()):
            p = os.path.basename(m.group(1))
            out[p] = out.get(p, 0) + 1
    return out


def files_order():
    """what qmail-smtpd makes of /etc/nsswitch.conf (pwfiles.c): "only"
    (files is the passwd source), "first" (files, then others) or None"""
    try:
        with open("/etc/nsswitch.conf") as f:
            lines = [l.split("#")[0] for l in f]
    except FileNotFoundError:
        return None
    pw = [l for l in lines if re.match(r"\s*passwd\s*:", l)]
    if len(pw) != 1:
        return None
    words = pw[0].split(":", 1)[1].split()
    if not words or words[0] != "files" or any(w.startswith("[") for w in words):
        return None
    return "only" if len(words) == 1 else "first"


def helper_runs(rows_found):
    """how many of the rows qmail-smtpd leaves to qmail-rcptcheck, given
    for each whether its whole local part is an account in /etc/passwd"""
    order = files_order()
    if order == "only":
        return 0
    if order == "first":
        return sum(1 for found in rows_found if not found)
    return len(rows_found)


def rcpt_verdicts(port, addrs):
    """{address: (code, text)} of one RCPT each in one SMTP session."""
    out = {}
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=60) as m:
        assert m.ehlo()[0] == 250
        assert m.docmd("MAIL", "FROM:<a@example.org>")[0] == 250
        for a in addrs:
            code, text = m.docmd("RCPT", "TO:<%s>" % a)
            out[a] = (code, text.decode())
        m.rset()
    return out


class Deliveries:
    """Queue one message per address and read qmail-send's verdict on it.
    A message number is an inode and comes back once a message is gone,
    but never while one (a deferred one, retried later) is still queued."""

    def __init__(self, sched):
        self.s = sched

    def verdict(self, addr):
        mark = self.s.size()
        assert qq(b"Subject: rcptcheck\n\nto " + addr.encode() + b"\n", SENDER, [addr]) == 0
        msg = self.s.wait_log(r"^new msg (\d+)$", start=mark).group(1)
        d = self.s.wait_log(r"^starting delivery (\d+): msg %s to local " % msg, start=mark).group(1)
        r = self.s.wait_log(r"^delivery %s: (success|failure|deferral): (.*)$" % d, start=mark)
        return DELIVERY[r.group(1)], r.group(2)


def both_paths(site, smtpd, table, trace=None):
    srv = smtpd(trace=trace)
    rcpt = rcpt_verdicts(srv.port, [row[0] for row in table])
    d = Deliveries(site["start"]())
    rows = []
    for smtp_form, queued, want in table:
        code, text = rcpt[smtp_form]
        got, why = d.verdict(queued or smtp_form)
        rows.append((smtp_form, VERDICT.get(code, str(code)), got, want, text, why))
    bad = [r for r in rows if not (r[1] == r[2] == r[3])]
    assert not bad, "\n".join("%s: rcpt %s, delivery %s, want %s (%s | %s)" % r for r in bad)
    return rows


def test_table_rcpt_and_delivery_agree(site, smtpd, tracefile):
    """users/cdb (with its catch-all) answers every address: qmail-smtpd
    decides them all itself and never runs qmail-rcptcheck"""
    rows = both_paths(site, smtpd, TABLE_ASSIGN, trace=tracefile)
    assert len(rows) == len(TABLE_ASSIGN)
    got = execs(tracefile)
    assert got.get("qmail-smtpd", 0) >= 2, got    # tcpserver's probe and our session
    assert "qmail-rcptcheck" not in got, got
    for r in rows:
        if r[1] == "bounce":
            assert r[4] == "5.1.1 sorry, no mailbox here by that name", r   # after EHLO: RFC 2034 code first
            assert r[5].startswith("Sorry,_no_mailbox_here_by_that_name"), r


def test_table_without_users_cdb_follows_qmail_getpw(site, smtpd, tracefile):
    """no users/cdb: every local address needs the password database;
    qmail-smtpd reads /etc/passwd itself where that is NSS's answer (an
    account found there, with files first in nsswitch.conf; any name,
    with files alone) and runs qmail-rcptcheck once for each other RCPT"""
    for n in ("cdb", "assign"):
        os.unlink(os.path.join(HOME, "users", n))
    table = list(TABLE_GETPW)
    # an unknown name belongs to the alias account; its passwd home is
    # the installed /var/qmail/alias, which a test machine may not have
    al = pwd.getpwnam("alias").pw_dir
    table.append(("nosuchuser@" + ME, None, "bounce" if os.path.isdir(al) else "defer"))
    both_paths(site, smtpd, table, trace=tracefile)
    # hrcb@ and HRCB@ are found as they are; the others are not accounts
    found = [r[0].split("@")[0].lower() == "hrcb" for r in table]
    assert execs(tracefile).get("qmail-rcptcheck", 0) == helper_runs(found)


def test_users_cdb_without_an_entry_asks_the_helper(site, smtpd, tracefile):
    """users/cdb without a catch-all: its addresses are decided in
    qmail-smtpd, the others by qmail-rcptcheck; both agree with delivery"""
    a = site["users"]["hrca"]
    with open(os.path.join(HOME, "users", "assign"), "w") as f:
        f.write("=hrca:hrca:%d:%d:%s:::\n+hrca-:hrca:%d:%d:%s:-::\n.\n"
                % (a.pw_uid, a.pw_gid, a.pw_dir, a.pw_uid, a.pw_gid, a.pw_dir))
    r = subprocess.run([bin_path("qmail-newu")], capture_output=True)
    assert r.returncode == 0, r.stderr
    table = [("hrca@" + ME, None, "accept"), ("hrca-list@" + ME, None, "accept"),
             ("hrca-nope@" + ME, None, "bounce"),
             ("hrcb@" + ME, None, "accept"), ("hrcb-nope@" + ME, None, "bounce"),
             ("hrcb-tag-x@" + ME, None, "accept")]
    both_paths(site, smtpd, table, trace=tracefile)
    # the three hrcb rows are not in users/cdb: hrcb@ is an account as it is
    assert execs(tracefile).get("qmail-rcptcheck", 0) == helper_runs([True, False, False])


def test_dotqmail_that_bounces_when_run_is_accepted(site, smtpd):
    """A .qmail that exists cannot be judged before it runs: accepted at
    RCPT, and it bounces at delivery (documented in qmail-rcptcheck(8))."""
    write_file(os.path.join(ALIASDIR, ".qmail-gone"), "|%s 'gone away'\n" % bin_path("bouncesaying"), "alias")
    srv = smtpd()
    assert rcpt_verdicts(srv.port, ["gone@" + ME])["gone@" + ME][0] == 250
    got, why = Deliveries(site["start"]()).verdict("gone@" + ME)
    assert (got, why) == ("bounce", "gone_away/")


def test_unreadable_home_is_451_like_the_deferral(site, smtpd, tracefile):
    """A home qmaild cannot enter: an extension cannot be looked up, so
    451 (never 550); delivery defers it too. The bare user name needs
    nothing from inside the home and is accepted. qmail-smtpd decides it
    (users/cdb answers) and logs the line qmail-rcptcheck would."""
    os.chmod(site["home"]["hrca"], 0)
    log = tracefile + ".log"
    srv = smtpd(log=log)
    got = rcpt_verdicts(srv.port, ["hrca-list@" + ME, "hrca-nope@" + ME, "hrca@" + ME])
    assert got["hrca-list@" + ME] == (451, "4.3.0 unable to verify that recipient now, try again later")
    uid, gid = ids()
    helper = subprocess.run([bin_path("qmail-rcptcheck"), "--", "hrca-list@" + ME], capture_output=True,
                            user=uid, group=gid, extra_groups=[], cwd="/")
    assert helper.returncode == 111
    assert helper.stderr.startswith(b"qmail-rcptcheck: cannot tell now: hrca-list@" + ME.encode()
                                    + b": unable to switch to "), helper.stderr
    with open(log, "rb") as f:
        assert helper.stderr in f.read().splitlines(keepends=True)
    assert got["hrca-nope@" + ME][0] == 451
    assert got["hrca@" + ME][0] == 250
    d = Deliveries(site["start"]())
    assert d.verdict("hrca-list@" + ME)[0] == "defer"
    assert d.verdict("hrca-nope@" + ME)[0] == "defer"


def test_unreadable_users_cdb_is_451(site, smtpd):
    cdb = os.path.join(HOME, "users", "cdb")
    os.chmod(cdb, 0)
    try:
        srv = smtpd(env={"RELAYCLIENT": ""})
        got = rcpt_verdicts(srv.port, ["hrca@" + ME, "nosuchuser@" + ME, "far@evil.example"])
    finally:
        os.chmod(cdb, 0o644)
    assert got["hrca@" + ME][0] == 451
    assert got["nosuchuser@" + ME][0] == 451
    assert got["far@evil.example"][0] == 250           # not local: not checked


def test_failing_helper_is_451(site, smtpd):
    """without users/cdb the helper decides what /etc/passwd cannot:
    when it cannot run, 451; an account found in /etc/passwd (files
    first in nsswitch.conf) needs no helper"""
    for n in ("cdb", "assign"):
        os.unlink(os.path.join(HOME, "users", n))
    helper = bin_path("qmail-rcptcheck")
    mode = os.stat(helper).st_mode & 0o7777
    os.chmod(helper, 0)
    try:
        srv = smtpd()
        got = rcpt_verdicts(srv.port, ["hrca@" + ME, "nosuchuser@" + ME])
    finally:
        os.chmod(helper, mode)
    codes = [got[a][0] for a in ("hrca@" + ME, "nosuchuser@" + ME)]
    order = files_order()
    if order == "only":     # nothing needs the helper
        assert codes[0] == 250
    else:
        assert codes == [250 if order == "first" else 451, 451]


def test_relay_tricks_refused_at_rcpt_not_bounced(site, smtpd, queue):
    """The four local forms of the relay tricks are refused at RCPT with
    550 #5.1.1: nothing is queued, so nothing bounces."""
    srv = smtpd()
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example", timeout=60) as m:
        m.ehlo()
        assert m.docmd("MAIL", "FROM:<a@example.org>")[0] == 250
        for a in TRICKS:
            assert m.docmd("RCPT", "TO:<%s>" % a) == (550, b"5.1.1 sorry, no mailbox here by that name"), a
        assert m.docmd("DATA")[0] == 503
    assert queue.all_files() == []


def test_relayclient_checks_local_recipients_only(site, smtpd):
    srv = smtpd(env={"RELAYCLIENT": ""})
    got = rcpt_verdicts(srv.port, ["nosuchuser@" + ME, "hrca@" + ME, "far@evil.example"])
    assert [got[a][0] for a in ("nosuchuser@" + ME, "hrca@" + ME, "far@evil.example")] == [550, 250, 250]


def test_control_rcptcheck_turns_it_off(site, smtpd, control):
    ghost = "nosuchuser@" + ME
    control["rcptcheck"] = "0\n"
    assert rcpt_verdicts(smtpd().port, [ghost])[ghost][0] == 250
    assert rcpt_verdicts(smtpd(env={"RCPTCHECK": "1"}).port, [ghost])[ghost][0] == 550
    control["rcptcheck"] = "1\n"
    assert rcpt_verdicts(smtpd().port, [ghost])[ghost][0] == 550
    assert rcpt_verdicts(smtpd(env={"RCPTCHECK": "0"}).port, [ghost])[ghost][0] == 250
