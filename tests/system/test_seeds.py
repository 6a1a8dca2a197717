"""The user's reference documents (in Japanese; doc/seeds.md maps them), step by
step, with this suite in place of qmail: every concrete thing an
administrator or user does there is done here the same way, against the
installed home with the real programs running (qmail-start and its
daemons, tcpserver with qmail-smtpd and qmail-popup, tcp-env started the
way inetd starts it, splogger writing to a /dev/log of our own, Dovecot's
LDA and Cyrus's deliver behind .qmail lines). doc/seeds.md maps each seed
document onto these tests.

Steps already covered elsewhere, so not repeated here:
  000 (Cyrus)   deliver's sysexits codes, one by one, through the
                qmail-sysexits wrapper -> test_dovecot.py::test_sysexits_table,
                test_cyrus_style_deliver_through_qmail_local; real Cyrus
                deliver from .qmail run by qmail-local ->
                test_dovecot.py::test_cyrus_deliver_through_dot_qmail;
                qmail-command's hard codes (64 65 70 76 77 78 112) ->
                test_local.py::test_program_exit_codes
  001 (install) config-fast DOMAIN writes me, locals, rcpthosts,
                defaultdomain, plusdomain -> test_admin.py::test_config_fast_*;
                maildirmake PATH -> test_tools.py::test_maildirmake_*;
                user-ext -> ~user/.qmail-ext ->
                test_local.py::test_extension_lookup_order;
                RELAYCLIENT value appended -> test_smtpd.py::
                test_relayclient_value_appended; checkpassword and every
                POP3 command -> test_pop3.py
  003 (Dovecot) dovecot-lda from .qmail by qmail-local, IMAP read-back, LDA
                down -> 111, unknown user -> 100 through qmail-sysexits ->
                test_dovecot.py; Delivered-To loop detection ->
                test_local.py::test_delivered_to_loop_bounces
  004 (migrate) control/defaultdomain, plusdomain qualification ->
                test_inject.py::test_qualification_with_control_files;
                concurrencylocal/remote defaults in the status line ->
                test_send.py::test_local_delivery_and_exact_log; the exact
                bounce text -> test_send.py::test_missing_user_bounces_in_qsbmf;
                qmail-qread's listing format -> test_tools.py::test_qread_*;
                sendmail options one by one -> test_inject.py::test_sendmail_*;
                every z-report section -> test_admin.py::test_zreport_*;
                tcp-env's variables -> test_smtpd.py::test_tcp_env_*
"""
import grp
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import poplib

import pytest

from conftest import BUILD, HOME, SRC, bin_path, make_user, run, wait_for
from send_util import ALIASDIR, Send, children, maildir, messages, remove_users, setup_users, write_file
from smtpd_util import Client, Server, free_port
from pop3_util import LDA, Cyrus, Dovecot, PopServer, imap_messages, set_password
from remote_util import SmtpPeer

ME = "testhost.example"
SCRATCH = os.path.join(BUILD, "seeds")
have_dovecot = os.path.exists(LDA) and os.path.exists("/usr/sbin/dovecot")
have_cyrus = os.path.exists("/usr/lib/cyrus/bin/deliver")


def have_mount_ns():
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


# ---------------------------------------------------------------- the site

class Site:
    """One qmail site in the installed home: test accounts in users/assign,
    alias files, qmail-send started and stopped by pid."""

    def __init__(self, name, control):
        self.name = name
        self.control = control
        self.sends = []
        self.servers = []
        shutil.rmtree(SCRATCH, ignore_errors=True)
        os.makedirs(SCRATCH)
        os.chmod(SCRATCH, 0o755)

    def users(self, names, extra=()):
        return setup_users(names, extra)

    def start(self, defaultdelivery="./Maildir/", env=None, send=Send, **kw):
        s = send("%s-%d" % (self.name, len(self.sends)), defaultdelivery=defaultdelivery, env=env, **kw)
        self.sends.append(s)
        return s.start()

    def server(self, srv):
        self.servers.append(srv)
        return srv

    def close(self):
        for s in self.servers:
            s.stop()
        for s in self.sends:
            if s.proc is not None:
                s.stop()
        remove_users()


@pytest.fixture
def site(request, queue, control):
    control["me"] = ME + "\n"
    control["locals"] = ME + "\nlocalhost\n"
    control["rcpthosts"] = ME + "\nlocalhost\n"
    for n in ("virtualdomains", "smtproutes", "doublebounceto", "queuelifetime", "defaultdomain",
              "plusdomain", "concurrencylocal", "concurrencyremote", "databytes"):
        control[n] = None
    s = Site(request.node.name, control)
    yield s
    s.close()


def home_of(user):
    return pwd.getpwnam(user).pw_dir


def inject(text, args=(), user=None, env=None):
    """qmail-inject as a user types it at a shell (USER and LOGNAME set)."""
    e = {}
    if user:
        e = {"USER": user, "LOGNAME": user, "HOME": home_of(user)}
    e.update(env or {})
    r = run([bin_path("qmail-inject")] + list(args), input=text.encode(), env=e, user=user)
    assert r.returncode == 0, r.stderr
    return r


def mbox_messages(path):
    """The messages of an mbox file, each without its From_ line."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return re.split(rb"(?m)^From [^\n]*\n", data)[1:]


def wait_count(get, n, what, timeout=20):
    return wait_for(lambda: len(get()) >= n and get(), timeout=timeout, what=what)


def queue_empty(queue, timeout=20):
    wait_for(lambda: queue.all_files() == [], timeout=timeout, what="an empty queue")


def script(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def tcprules(path, rules):
    """Compile rules with ucspi-tcp's tcprules, readable by qmaild."""
    subprocess.run(["tcprules", path, path + ".tmp"], input=rules.encode(), check=True)
    os.chmod(path, 0o644)
    return path


# ================================================================ 000: Cyrus

# The seed's /usr/cyrus/bin/qmail-error, as the document gives it
QMAIL_ERROR = """#!/bin/sh
# qmail-error
#
#  This script derives the error code for Cyrus' deliver from $1,
#  and change the code into the qmail's.
#  See also /usr/include/sysexits.h and qmail-command(8).
#
case $1 in
  67)
    echo "Sorry, no mailbox here by that name. (#5.1.1)" >&2
    exit 100
    ;;
  *)
    exit "$1"
    ;;
esac
# end of script
"""


class CyrusStub:
    """/usr/cyrus/bin/{deliver,qmail-error} under the scratch directory. The
    deliver stand-in keeps its arguments and input in out/ and answers like
    Cyrus's deliver: 67 (EX_NOUSER) for a mailbox named nobox..., 75
    (EX_TEMPFAIL) for tempfail..., else 0. Both are o+x, as the seed says
    deliver must be for users to run it."""

    def __init__(self):
        self.bin = os.path.join(SCRATCH, "usr", "cyrus", "bin")
        os.makedirs(self.bin)
        for d in (os.path.join(SCRATCH, "usr"), os.path.join(SCRATCH, "usr", "cyrus"), self.bin):
            os.chmod(d, 0o755)
        self.out = os.path.join(SCRATCH, "cyrus-out")
        os.makedirs(self.out)
        os.chmod(self.out, 0o1777)
        self.deliver = script(os.path.join(self.bin, "deliver"),
                              '#!/bin/sh\nn=%s/$$\ncat > "$n.msg"\nprintf "%%s\\n" "$@" > "$n.args"\n'
                              'case "$*" in\n  *nobox*) exit 67 ;;\n  *tempfail*) exit 75 ;;\nesac\n'
                              'exit 0\n' % self.out)
        self.error = script(os.path.join(self.bin, "qmail-error"), QMAIL_ERROR)

    def calls(self):
        """[(args, message)] of every finished deliver run."""
        out = []
        for n in sorted(os.listdir(self.out)):
            if n.endswith(".args"):
                with open(os.path.join(self.out, n)) as f:
                    args = f.read().splitlines()
                with open(os.path.join(self.out, n[:-5] + ".msg"), "rb") as f:
                    out.append((args, f.read()))
        return out


def dot_qmail(user, name, text):
    write_file(os.path.join(home_of(user), name), text, user)


def test_s000_per_user_deliver_and_qmail_error(site, queue):
    """Way 1: ~/.qmail runs deliver "$USER" then qmail-error "$?";
    ~/.qmail-default runs deliver -u "$EXT" -a "$USER" "$USER", so
    user-mailbox reaches user.user.mailbox. 67 bounces (exit 100 with
    qmail-local's own text), 75 defers; without qmail-error, 67 is soft
    under qmail-command(8) and only defers."""
    site.users(["hwcy", "hwsnd"])
    cy = CyrusStub()
    dot_qmail("hwcy", ".qmail", '|preline -f %s "$USER" ;%s "$?"\n' % (cy.deliver, cy.error))
    dot_qmail("hwcy", ".qmail-default",
              '|preline -f %s -u "$EXT" -a "$USER" "$USER" ; %s "$?"\n' % (cy.deliver, cy.error))
    dot_qmail("hwcy", ".qmail-raw-default", '|preline -f %s -u "$EXT2" "$USER"\n' % cy.deliver)
    s = site.start()
    inject("Subject: to cyrus\n\nfor the inbox\n", ["-f", "hwsnd@" + ME, "hwcy@" + ME])
    inject("Subject: to a folder\n\nfor a folder\n", ["-f", "hwsnd@" + ME, "hwcy-lists@" + ME])
    got = wait_count(cy.calls, 2, "two deliver runs")
    args = sorted(a for a, _ in got)
    assert args == [["-u", "lists", "-a", "hwcy", "hwcy"], ["hwcy"]]
    for a, m in got:
        # preline -f: Return-Path and Delivered-To, no From_ line
        assert m.startswith(b"Return-Path: <hwsnd@testhost.example>\nDelivered-To: hwcy"), m[:200]
    # 67 from deliver: qmail-error makes it a bounce with its text
    inject("Subject: lost\n\nno such folder\n", ["-f", "hwsnd@" + ME, "hwcy-nobox@" + ME])
    s.wait_log(r"^delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/$")
    b = wait_count(lambda: messages(os.path.join(home_of("hwsnd"), "Maildir")), 1, "the bounce")[0]
    assert b"<hwcy-nobox@testhost.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n" in b
    # 75 passes through qmail-error unchanged: a deferral
    mark = s.size()
    inject("Subject: later\n\ntry again\n", ["-f", "hwsnd@" + ME, "hwcy-tempfail@" + ME])
    s.wait_log(r"^delivery \d+: deferral: ", start=mark)
    # 67 without qmail-error: soft, so it waits in the queue
    mark = s.size()
    inject("Subject: raw\n\nno wrapper\n", ["-f", "hwsnd@" + ME, "hwcy-raw-nobox@" + ME])
    s.wait_log(r"^delivery \d+: deferral: ", start=mark)
    assert "bounce msg" not in s.text(mark)
    assert ["-u", "nobox", "hwcy"] in [a for a, _ in cy.calls()]
    assert len(messages(os.path.join(home_of("hwsnd"), "Maildir"))) == 1


def test_s000_forward_to_cyrus_account_and_alias_default(site, queue):
    """Way 2 and the no-accounts way: ~user/.qmail and ~alias/.qmail-default
    both say |qmail-inject -f "$SENDER" "cyrus-$RECIPIENT"; the cyrus
    account's .qmail-default says |preline -f deliver "$EXT" ;qmail-error
    "$?". users/assign gives cyrus-* to the account (here hwcyrus). The
    mailbox name is only the user part, the sender survives the forward,
    and a 67 from deliver bounces to that original sender."""
    cyrus = make_user("hwcyrus")
    extra = ["+cyrus-:hwcyrus:%d:%d:%s:-::" % (cyrus.pw_uid, cyrus.pw_gid, cyrus.pw_dir)]
    site.users(["hwcy2", "hwsnd"], extra=extra)
    cy = CyrusStub()
    fwd = '|qmail-inject -f "$SENDER" "cyrus-$RECIPIENT"\n'
    dot_qmail("hwcy2", ".qmail", fwd)
    write_file(os.path.join(ALIASDIR, ".qmail-default"), fwd, "alias")
    dot_qmail("hwcyrus", ".qmail-default", '|preline -f %s "$EXT" ;%s "$?"\n' % (cy.deliver, cy.error))
    s = site.start()
    inject("Subject: one\n\nto a user with an account\n", ["-f", "hwsnd@" + ME, "hwcy2@" + ME])
    inject("Subject: two\n\nto a cyrus-only user\n", ["-f", "hwsnd@" + ME, "taro@" + ME])
    got = wait_count(cy.calls, 2, "two deliver runs")
    by = {tuple(a): m for a, m in got}
    assert set(by) == {("hwcy2",), ("taro",)}
    for name, m in by.items():
        head = m.split(b"\n\n", 1)[0]
        assert head.startswith(b"Return-Path: <hwsnd@testhost.example>\n"
                               b"Delivered-To: cyrus-%s@testhost.example\n" % name[0].encode()), head
        # qmail-command(8): the program reads the message without the lines
        # qmail-local added, so the forward carries only the new ones
        assert head.count(b"Delivered-To:") == 1
    # an unknown Cyrus mailbox: the bounce goes back to the first sender
    inject("Subject: three\n\nnobody here\n", ["-f", "hwsnd@" + ME, "nobox@" + ME])
    b = wait_count(lambda: messages(os.path.join(home_of("hwsnd"), "Maildir")), 1, "the bounce")[0]
    assert b"<cyrus-nobox@testhost.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n" in b
    queue_empty(queue)


@pytest.mark.skipif(not have_cyrus, reason="cyrus-common is not installed")
def test_s000_real_cyrus_deliver_through_qmail_send(site, queue):
    """The recommended way 2 with Cyrus's own deliver (a private lmtpd):
    mail for a user goes through cyrus-$RECIPIENT to deliver "$EXT" and
    lands in Cyrus's INBOX of that user."""
    cyrus = make_user("hwcyrus")
    extra = ["+cyrus-:hwcyrus:%d:%d:%s:-::" % (cyrus.pw_uid, cyrus.pw_gid, cyrus.pw_dir)]
    site.users(["hwcy3"], extra=extra)
    stub = CyrusStub()
    dot_qmail("hwcy3", ".qmail", '|qmail-inject -f "$SENDER" "cyrus-$RECIPIENT"\n')
    cy = Cyrus("hw")
    # Cyrus 3's deliver writes its own Return-Path from -r (else from the
    # account running it), so today's line adds -r "$SENDER" to the seed's
    dot_qmail("hwcyrus", ".qmail-default",
              '|preline -f /usr/lib/cyrus/bin/deliver -C %s -r "$SENDER" "$EXT" ;%s "$?"\n'
              % (cy.conf, stub.error))
    cy.start()
    try:
        site.start()
        inject("Subject: imap\n\nstored by cyrus\n", ["-f", "someone@example.org", "hwcy3@" + ME])
        got = wait_count(lambda: cy.messages("hwcy3"), 1, "a message in Cyrus", timeout=30)
        m = got[0].replace(b"\r\n", b"\n")
        assert b"Delivered-To: cyrus-hwcy3@testhost.example\n" in m
        assert b"Return-Path: <someone@example.org>" in m
        assert m.endswith(b"\n\nstored by cyrus\n")
        queue_empty(queue)
    finally:
        cy.stop()


# ================================================================ 001: install

# the seed's table of accounts (INSTALL.ids): user -> (group, home below conf-home)
SEED_IDS = {"alias": ("nofiles", "/alias"), "qmaild": ("nofiles", ""), "qmaill": ("nofiles", ""),
            "qmailp": ("nofiles", ""), "qmailq": ("qmail", ""), "qmailr": ("qmail", ""),
            "qmails": ("qmail", "")}


def users_sh_in_own_etc(tmp, keep=""):
    """Runs scripts/users.sh (no argument, as make test and make setup's
    instructions do) in a mount namespace whose /etc is a copy of this
    machine's with the seed's accounts and groups taken out, then the
    passwd line `keep` added; returns {user: (group, home)} as getent
    reads it there afterwards, twice over (the second run must change
    nothing)."""
    etc = os.path.join(tmp, "etc")
    os.makedirs(tmp)
    subprocess.run(["cp", "-a", "/etc", etc], check=True)
    gone = set(SEED_IDS) | {"qmail", "nofiles"}
    for name in ("passwd", "shadow", "group", "gshadow"):
        path = os.path.join(etc, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            lines = [line for line in f if line.split(":", 1)[0] not in gone]
        if name == "passwd" and keep:
            lines.append(keep + "\n")
        with open(path, "w") as f:
            f.writelines(lines)
    show = ('for u in %s; do getent passwd "$u" | cut -d: -f1,4,6 | while IFS=: read -r n g h; do '
            'echo "$n:$(getent group "$g" | cut -d: -f1):$h"; done; done' % " ".join(SEED_IDS))
    inner = ('mount --bind "$0" /etc || exit 111; sh "$1" || exit 1; a=$(%s); '
             'sh "$1" || exit 1; b=$(%s); [ "$a" = "$b" ] || { echo second run changed; exit 2; }; '
             'echo "$a"' % (show, show))
    r = subprocess.run(["unshare", "-m", "--", "sh", "-c", inner, etc, os.path.join(SRC, "scripts", "users.sh")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = {}
    for line in r.stdout.split():
        user, group, home = line.split(":")
        got[user] = (group, home)
    return got


@pytest.mark.skipif(os.geteuid() != 0 or not have_mount_ns(), reason="needs root and a mount namespace")
def test_s001_users_sh_makes_the_seed_table(tmp_path):
    """scripts/users.sh on a machine without the qmail accounts makes the
    seed's table (INSTALL.ids): its users in its groups, homes under
    conf-home (make try and make bench run it so too, and the accounts
    never point into their directories). An account that exists already
    is left as the site made it."""
    with open(os.path.join(SRC, "conf-home")) as f:
        conf_home = f.readline().strip()
    got = users_sh_in_own_etc(str(tmp_path / "fresh"))
    assert got == {user: (group, conf_home + sub) for user, (group, sub) in SEED_IDS.items()}
    got = users_sh_in_own_etc(str(tmp_path / "kept"), keep="qmaild:x:64011:0:site's own:/srv/qmaild:/bin/false")
    assert got["qmaild"] == ("root", "/srv/qmaild")
    assert got["alias"] == ("nofiles", conf_home + "/alias")


def test_s001_users_groups_and_make_setup_check():
    """The qmail users in the seed's groups, and what `make setup check`
    leaves: alias, control, bin, man, doc under the home, owned and moded
    as check verifies, with manual pages for the programs the seeds use."""
    for user, (group, sub) in SEED_IDS.items():
        pw = pwd.getpwnam(user)
        assert grp.getgrgid(pw.pw_gid).gr_name == group, user
    r = subprocess.run(["sh", os.path.join(SRC, "scripts", "check.sh"), HOME, BUILD], capture_output=True,
                       cwd=SRC, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for d in ("alias", "control", "bin", "man", "doc"):
        assert os.path.isdir(os.path.join(HOME, d)), d
    st = os.stat(os.path.join(HOME, "alias"))
    assert (pwd.getpwuid(st.st_uid).pw_name, st.st_mode & 0o7777) == ("alias", 0o2755)
    for page in ("man1/maildirmake.1", "man1/preline.1", "man1/tcp-env.1", "man5/dot-qmail.5",
                 "man8/qmail-command.8", "man8/qmail-inject.8", "man8/qmail-start.8", "man8/splogger.8",
                 "man8/qmail-smtpd.8", "man8/qmail-popup.8", "man8/qmail-pop3d.8", "man8/qmail-qread.8",
                 "man8/sendmail.8", "man8/qmail-matchup.8"):
        assert os.path.isfile(os.path.join(HOME, "man", page)), page


def test_s001_alias_files_and_maildirmake_as_alias(site, queue):
    """`sudo -u alias maildirmake ~/Maildir`, then ~alias/.qmail-root,
    -postmaster and -mailer-daemon pointing at it; an alias file with each
    kind of line the seed lists (an mbox path, ./Maildir/, &user,
    |program); and user-test handled by ~user/.qmail-test."""
    users = site.users(["hwu1"])
    r = run([bin_path("maildirmake"), os.path.join(ALIASDIR, "Maildir")], user="alias")
    assert r.returncode == 0, r.stderr
    st = os.stat(os.path.join(ALIASDIR, "Maildir", "new"))
    assert (pwd.getpwuid(st.st_uid).pw_name, st.st_mode & 0o777) == ("alias", 0o700)
    for n in ("root", "postmaster", "mailer-daemon"):
        write_file(os.path.join(ALIASDIR, ".qmail-" + n), "./Maildir/\n", "alias")
    mbox = os.path.join(ALIASDIR, "hoge.mbox")
    write_file(os.path.join(ALIASDIR, ".qmail-hoge"),
               "%s\n./Maildir/\n&hwu1\n|cat > prog.out\n" % mbox, "alias")
    dot_qmail("hwu1", ".qmail-test", "./test/\n")
    maildir(os.path.join(users["hwu1"].pw_dir, "test"), "hwu1")
    s = site.start()
    for rcpt in ("root", "postmaster", "mailer-daemon"):
        inject("Subject: for %s\n\nhello %s\n" % (rcpt, rcpt), ["-f", "hwu1@" + ME, rcpt + "@" + ME])
    al = os.path.join(ALIASDIR, "Maildir")
    got = wait_count(lambda: messages(al), 3, "three alias deliveries")
    assert sorted(re.search(rb"\nDelivered-To: (\S+)\n", b"\n" + m).group(1) for m in got) == \
        [b"mailer-daemon@testhost.example", b"postmaster@testhost.example", b"root@testhost.example"]
    inject("Subject: hoge\n\nevery kind of line\n", ["-f", "hwu1@" + ME, "hoge@" + ME])
    inject("Subject: ext\n\nfor user-test\n", ["-f", "hwu1@" + ME, "hwu1-test@" + ME])
    wait_count(lambda: messages(al), 4, "the hoge maildir line")
    wait_for(lambda: os.path.exists(os.path.join(ALIASDIR, "prog.out")), what="the program line")
    fwd = wait_count(lambda: messages(os.path.join(users["hwu1"].pw_dir, "Maildir")), 1, "the &hwu1 forward")
    assert b"every kind of line" in fwd[0]
    assert b"Delivered-To: hoge@testhost.example" in fwd[0]
    boxes = mbox_messages(mbox)
    assert len(boxes) == 1 and boxes[0].endswith(b"\n\nevery kind of line\n\n")
    ext = wait_count(lambda: messages(os.path.join(users["hwu1"].pw_dir, "test")), 1, "user-test")
    assert b"Delivered-To: hwu1-test@testhost.example\n" in ext[0]
    queue_empty(queue)
    with open(os.path.join(ALIASDIR, "prog.out"), "rb") as f:
        assert f.read().endswith(b"\n\nevery kind of line\n")
    st = os.stat(mbox)
    assert pwd.getpwuid(st.st_uid).pw_name == "alias"


def test_s001_config_fast_then_mail_for_the_domain(site, queue, control):
    """`./config-fast pied-piper.example`, then the domain is this host's:
    a bare `To: user` typed into qmail-inject is qualified with it and
    delivered here, and qmail-smtpd takes mail for the domain but refuses
    to relay elsewhere."""
    for n in ("me", "defaultdomain", "plusdomain", "locals", "rcpthosts"):
        control[n] = None
    r = run([bin_path("config-fast"), "pied-piper.example"])
    assert r.returncode == 0, r.stderr
    for n in ("me", "locals", "rcpthosts"):
        assert control[n] == "pied-piper.example\n", n
    users = site.users(["hwcf"])
    site.start()
    inject("To: hwcf\nSubject: hello\n\nHello, User\n", user="hwcf")
    (m,) = wait_count(lambda: messages(os.path.join(users["hwcf"].pw_dir, "Maildir")), 1, "the local mail")
    assert m.startswith(b"Return-Path: <hwcf@pied-piper.example>\nDelivered-To: hwcf@pied-piper.example\n")
    assert b"\nTo: hwcf@pied-piper.example\n" in m
    srv = site.server(Server([bin_path("qmail-smtpd")]))
    c = Client(srv.port)
    assert c.reply() == (220, ["pied-piper.example ESMTP"])
    assert c.cmd("HELO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<hwcf@pied-piper.example>")[0] == 250
    assert c.cmd("RCPT TO:<x@elsewhere.example>")[0] == 553
    assert c.cmd("QUIT")[0] == 221
    c.close()
    queue_empty(queue)


SMTP_RULES = '192.168.:allow,RELAYCLIENT=""\n127.:allow,RELAYCLIENT=""\n:allow\n'


def test_s001_tcprules_relayclient_then_qmail_qread(site, queue, control):
    """tcpserver -x tcp.smtp.cdb -u qmaild -g nofiles ... qmail-smtpd with
    the seed's first rules file: 127. gets RELAYCLIENT="", so a foreign
    recipient is taken (rcpthosts skipped). Its remote delivery cannot
    connect, so the message waits, and qmail-qread (and sendmail -bp, as
    mailq) show it with the remote recipient pending. The second rules file
    sets nothing for 127.0.0.1: the foreign recipient is refused by
    rcpthosts; a deny rule closes the connection before the greeting."""
    site.users(["hwrl"])
    control["smtproutes"] = "far.example:127.0.0.1:%d\n" % free_port()   # nobody listens
    s = site.start()
    rules = tcprules(os.path.join(SCRATCH, "tcp.smtp.cdb"), SMTP_RULES)
    srv = site.server(Server([bin_path("qmail-smtpd")], rules=rules))
    sm = smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example")
    refused = sm.sendmail("hwrl@" + ME, ["friend@far.example", "hwrl@" + ME],
                          b"Subject: relayed\r\n\r\nthrough the relay\r\n")
    sm.quit()
    assert refused == {}
    s.wait_log(r"^delivery \d+: deferral: .*\n", timeout=30)
    got = wait_count(lambda: messages(os.path.join(home_of("hwrl"), "Maildir")), 1, "the local copy")
    assert re.search(rb"\nReceived: from \S+ \(HELO client.example\) \(127\.0\.0\.1\)\n", got[0]), got[0][:400]
    # the copy is in the Maildir a moment before qmail-send has read
    # qmail-local's report and closed the local list: wait for that
    s.wait_log(r"^delivery \d+: success: .*\n", timeout=30)

    def qread():
        r = run([bin_path("qmail-qread")])
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        return None if "\tlocal\t" in out else out
    out = wait_for(qread, timeout=10, what="the local list to be closed")
    # the local part is done, and (as in qmail) its list is gone with it
    assert re.fullmatch(r"\d+ \w{3} \d{4} \d\d:\d\d:\d\d GMT  #\d+  \d+  <hwrl@testhost.example> \n"
                        r"\tremote\tfriend@far.example\n", out), out
    r = run([bin_path("sendmail"), "-bp"])
    assert (r.returncode, r.stdout.decode()) == (0, out)

    rules2 = tcprules(os.path.join(SCRATCH, "tcp.smtp2.cdb"), '192.168.:allow,RELAYCLIENT=""\n192.169.:deny\n')
    srv2 = site.server(Server([bin_path("qmail-smtpd")], rules=rules2))
    c = Client(srv2.port)
    assert c.reply() == (220, ["testhost.example ESMTP"])
    assert c.cmd("HELO client.example")[0] == 250
    assert c.cmd("MAIL FROM:<someone@example.org>")[0] == 250
    code, text = c.cmd("RCPT TO:<friend@far.example>")
    assert code == 553 and "rcpthosts" in text[0], text
    assert c.cmd("RCPT TO:<hwrl@testhost.example>")[0] == 250
    assert c.cmd("QUIT")[0] == 221
    c.close()
    rules3 = tcprules(os.path.join(SCRATCH, "tcp.smtp3.cdb"), "127.0.0.1:deny\n:allow\n")
    srv3 = site.server(Server([bin_path("qmail-smtpd")], rules=rules3))
    c = Client(srv3.port)
    assert c.closed()
    c.close()


def test_s001_relay_reject_patch_addresses_never_leave(site, queue):
    """The seed applies qmail-smtpd-relay-reject.patch to refuse local parts
    with routing characters. Unpatched qmail takes them at RCPT and, with
    no control/percenthack, bounces them later as unknown local addresses;
    this suite's RCPT check (qmail-rcptcheck) asks delivery's lookup and
    refuses them at once with 550: nothing is queued, nothing bounces and
    nothing goes to the remote side."""
    site.users(["hwrr"])
    s = site.start()
    srv = site.server(Server([bin_path("qmail-smtpd")], rcptcheck=True))
    tricks = ["victim%far.example@testhost.example", "far.example!victim@testhost.example",
              '"victim@far.example"@testhost.example']
    sm = smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        sm.sendmail("hwrr@" + ME, tricks, b"Subject: relay me\r\n\r\nplease\r\n")
    sm.quit()
    assert sorted(e.value.recipients) == sorted(tricks)
    for code, text in e.value.recipients.values():
        assert (code, text) == (550, b"5.1.1 sorry, no mailbox here by that name")
    queue_empty(queue)
    text = s.text(s.mark)
    assert " to remote " not in text and "starting delivery" not in text
    assert messages(os.path.join(home_of("hwrr"), "Maildir")) == []


def test_s001_date_localtime_patch():
    """qmail-date-localtime.patch: the Date field qmail-inject adds shows
    the local time zone (here TZ=Asia/Tokyo, +0900)."""
    r = run([bin_path("qmail-inject"), "-n"], input=b"To: x@example.org\n\nhi\n", env={"TZ": "Asia/Tokyo"})
    assert r.returncode == 0, r.stderr
    assert re.search(rb"^Date: .* \+0900$", r.stdout, re.M), r.stdout


def test_s001_smtp_in_qmail_inject_by_hand_pop3_out(site, queue):
    """The seed's three servers together: mail comes in over SMTP
    (tcpserver -x with RELAYCLIENT for 127.) and from qmail-inject typed by
    hand (To: user, Subject, blank line, body), qmail-start ./Maildir/
    delivers both, and qmail-popup HOST checkpassword qmail-pop3d Maildir
    under tcpserver hands them to a POP3 client, which deletes them."""
    users = site.users(["hwpop"])
    set_password("hwpop", "pop secret")
    site.start()
    rules = tcprules(os.path.join(SCRATCH, "tcp.smtp.cdb"), SMTP_RULES)
    srv = site.server(Server([bin_path("qmail-smtpd")], rules=rules))
    sm = smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example")
    sm.sendmail("friend@example.org", ["hwpop@" + ME], b"Subject: over smtp\r\n\r\nfrom afar\r\n")
    sm.quit()
    inject("To: hwpop\nSubject: hello\n\nHello, User\n", user="hwpop")
    md = os.path.join(users["hwpop"].pw_dir, "Maildir")
    wait_count(lambda: messages(md), 2, "two deliveries")
    pop = site.server(PopServer())
    p = poplib.POP3("127.0.0.1", pop.port, timeout=30)
    p.user("hwpop")
    p.pass_("pop secret")
    assert p.stat()[0] == 2
    bodies = [b"\n".join(p.retr(i)[1]) for i in (1, 2)]
    p.dele(1)
    p.dele(2)
    p.quit()
    smtp_msg = next(b for b in bodies if b"Subject: over smtp" in b)
    hand = next(b for b in bodies if b"Subject: hello" in b)
    assert b"Return-Path: <friend@example.org>" in smtp_msg and b"\n\nfrom afar" in smtp_msg
    assert b"Return-Path: <hwpop@testhost.example>" in hand
    assert b"\nTo: hwpop@testhost.example\n" in hand and b"\n\nHello, User" in hand
    assert os.listdir(os.path.join(md, "new")) == [] and os.listdir(os.path.join(md, "cur")) == []


# ---------------------------------------------------------------- splogger

class DevLog:
    """A /dev of our own for a private mount namespace: null, zero, urandom
    and random bound from the real /dev, and log, a datagram socket this
    object reads. Each record splogger sends is kept as a syslog file line
    (with the host name syslogd would add) and its text after the stamp is
    appended to the Send log, so wait_log works as usual."""

    def __init__(self, logpath):
        self.dir = tempfile.mkdtemp(prefix="hw-dev.", dir=SCRATCH)
        os.chmod(self.dir, 0o755)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.dir, "log"))
        os.chmod(os.path.join(self.dir, "log"), 0o666)
        self.sock.settimeout(0.2)
        self.logpath = logpath
        self.syslog = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_flag:
            try:
                data = self.sock.recv(65536).decode("latin-1")
            except socket.timeout:
                continue
            except OSError:
                return
            m = re.fullmatch(r"<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) ([^:]*): (\d+\.\d{6}) (.*)", data, re.S)
            if not m:
                continue
            self.syslog.append("%s %s %s: %s %s" % (m.group(2), "testhost", m.group(3), m.group(4), m.group(5)))
            with open(self.logpath, "a", encoding="latin-1") as f:
                f.write(m.group(5) + "\n")

    def prefix(self):
        """argv that runs the rest in a new mount namespace with this /dev."""
        setup = ('d=$0; for n in null zero urandom random; do : > "$d/$n" && mount --bind "/dev/$n" "$d/$n" '
                 '|| exit 111; done; mount --rbind "$d" /dev || exit 111; exec "$@"')
        return ["unshare", "-m", "--", "sh", "-c", setup, self.dir]

    def close(self):
        self.stop_flag = True
        self.thread.join(timeout=5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SploggerSend(Send):
    """qmail-start ./Maildir/ splogger qmail, started as the seed's script
    does (env - PATH=...), with its /dev/log in a private namespace."""

    def __init__(self, name, defaultdelivery="./Maildir/", env=None):
        super().__init__(name, defaultdelivery, env=env)
        self.devlog = DevLog(self.logpath)

    def start(self):
        self.mark = self.size()
        self.proc = subprocess.Popen(self.devlog.prefix() + ["qmail-start", self.defaultdelivery, "splogger", "qmail"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, cwd="/", env=self.env)
        self.wait_log(r"^status: local 0/10 remote 0/20$", timeout=20)
        self.helpers = children(self.proc.pid)
        return self

    def stop(self, timeout=30):
        try:
            super().stop(timeout)
        finally:
            self.devlog.close()


def proc_owner(pid):
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    name = re.search(r"Name:\s+(\S+)", st).group(1)
    return name, pwd.getpwuid(int(re.search(r"Uid:\s+(\d+)", st).group(1))).pw_name


@pytest.mark.skipif(not have_mount_ns(), reason="no mount namespaces here")
def test_s001_s004_splogger_start_then_qmailanalog(site, queue):
    """The seed's start script, `env - PATH=... qmail-start ./Maildir/
    splogger qmail &`: qmail-send logs to syslog through splogger (004's
    first check: the startup line, and ps showing qmail-send as qmails,
    qmail-lspawn as root, qmail-rspawn as qmailr, qmail-clean as qmailq and
    splogger as qmaill). Then 004's local and bounce tests, and its
    qmailanalog step on the syslog file: awk blanks the five syslog fields,
    matchup pairs the lines, the z-reports sum them up."""
    users = site.users(["hwme"])
    s = site.start(send=SploggerSend)
    owners = sorted(proc_owner(p) for p in [s.pid] + s.helpers)
    assert owners == [("qmail-clean", "qmailq"), ("qmail-lspawn", "root"), ("qmail-rspawn", "qmailr"),
                      ("qmail-send", "qmails"), ("splogger", "qmaill")], owners
    # `echo to: me | qmail-inject`, and `echo to: nonexistent | qmail-inject`
    inject("to: hwme\n", user="hwme")
    inject("to: nonexistent\n", user="hwme")
    md = os.path.join(users["hwme"].pw_dir, "Maildir")
    got = wait_count(lambda: messages(md), 2, "the message and the bounce")
    s.wait_log(r"^bounce msg \d+ qp \d+$")
    wait_for(lambda: s.text(s.mark).count("end msg ") >= 3, what="three messages to end")
    uid = users["hwme"].pw_uid
    text = s.text(s.mark)
    assert re.search(r"^info msg \d+: bytes \d+ from <hwme@testhost.example> qp \d+ uid %d$" % uid, text, re.M)
    assert re.search(r"^starting delivery \d+: msg \d+ to local hwme@testhost.example$", text, re.M)
    assert re.search(r"^delivery \d+: success: did_1\+0\+0/$", text, re.M)
    assert re.search(r"^delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/$", text, re.M)
    assert re.search(r"^info msg \d+: bytes \d+ from <> qp \d+ uid \d+$", text, re.M)
    assert any(b"Subject: failure notice" in m for m in got)
    s.stop()
    syslog = "\n".join(s.devlog.syslog) + "\n"
    assert re.search(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d testhost qmail: \d+\.\d{6} status: exiting$", syslog, re.M)
    path = os.path.join(SCRATCH, "maillog")
    with open(path, "w") as f:
        f.write(syslog)
    out = os.path.join(SCRATCH, "out")
    r = subprocess.run("awk '{$1=\"\";$2=\"\";$3=\"\";$4=\"\";$5=\"\";print}' < %s | %s > %s"
                       % (path, bin_path("qmail-matchup"), out), shell=True, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        matched = f.read().splitlines()
    ms = [l.split() for l in matched if l.startswith("m ")]
    ds = [l.split() for l in matched if l.startswith("d ")]
    assert len(ms) == 3 and len(ds) == 3, matched
    assert sorted(d[1] for d in ds) == ["d", "k", "k"]
    assert all(int(m[1].split(".")[0]) > 1000000000 for m in ms)   # the splogger stamps came through
    r = subprocess.run([bin_path("qmail-zreport"), "-m", out], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rep = r.stdout.decode()
    for line in ("messages completed: 3", "delivery attempts: 3", "successes: 2", "failures: 1",
                 "deferrals: 0"):
        assert "\n" + line + "\n" in "\n" + rep, rep
    assert re.search(r"^\s*1\s+Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/\s*$", rep, re.M), rep


# ================================================================ 004: migrating from sendmail

def alias_touch():
    """(cd ~alias; touch .qmail-postmaster .qmail-mailer-daemon .qmail-root);
    chmod 644 ~alias/.qmail*"""
    for n in ("postmaster", "mailer-daemon", "root"):
        write_file(os.path.join(ALIASDIR, ".qmail-" + n), "", "alias", mode=0o644)


def test_s004_administrators_tests_with_mailbox(site, queue, control):
    """Section 1.2 with qmail-start ./Mailbox (mail in ~user/Mailbox): the
    empty ~alias files; mail to me arrives at once and is logged with my
    uid; mail to nonexistent bounces back to me; mail to a remote address
    goes out by SMTP (here through smtproutes to a local peer); POSTmaster
    reaches ~alias/Mailbox; a message from a nonexistent sender to an
    unknown user double-bounces to the postmaster; and ~me/.qmail-groups
    with `|groups >> MYGROUPS; exit 0` runs as me."""
    users = site.users(["hwme"])
    alias_touch()
    dot_qmail("hwme", ".qmail-groups", "|groups >> MYGROUPS; exit 0\n")
    peer = SmtpPeer(os.path.join(SCRATCH, "peer"), {})
    try:
        control["smtproutes"] = "remote.example:127.0.0.1:%d\n" % peer.port
        s = site.start("./Mailbox")
        box = os.path.join(users["hwme"].pw_dir, "Mailbox")
        abox = os.path.join(ALIASDIR, "Mailbox")
        # (2) echo to: me | qmail-inject
        inject("to: hwme\n", user="hwme")
        got = wait_count(lambda: mbox_messages(box), 1, "mail in ~hwme/Mailbox")
        assert got[0].startswith(b"Return-Path: <hwme@testhost.example>\nDelivered-To: hwme@testhost.example\n")
        s.wait_log(r"^new msg (\d+)\ninfo msg \1: bytes \d+ from <hwme@testhost.example> qp \d+ uid %d\n"
                       r"starting delivery (\d+): msg \1 to local hwme@testhost.example\n"
                       r"(?:status: .*\n)*delivery \2: success: did_1\+0\+0/\n(?:status: .*\n)*end msg \1$"
                       % users["hwme"].pw_uid)
        # (3) echo to: nonexistent | qmail-inject
        inject("to: nonexistent\n", user="hwme")
        got = wait_count(lambda: mbox_messages(box), 2, "the bounce in ~hwme/Mailbox")
        assert got[1].startswith(b"Return-Path: <>\n") and b"<nonexistent@testhost.example>:\n" in got[1]
        s.wait_log(r"^starting delivery \d+: msg \d+ to local nonexistent@testhost.example\n"
                   r"(?:status: .*\n)*delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._\(#5.1.1\)/$")
        # (4) echo to: koyama@remote.example | qmail-inject
        inject("to: koyama@remote.example\n", user="hwme")
        s.wait_log(r"^starting delivery \d+: msg \d+ to remote koyama@remote.example\n")
        s.wait_log(r"^delivery \d+: success: 127.0.0.1_accepted_message./Remote_host_said:_250_")
        (pm,) = peer.messages()
        assert (pm["mail_from"], pm["rcpt_tos"]) == ("hwme@testhost.example", ["koyama@remote.example"])
        # (5) echo to: POSTmaster | qmail-inject; mailer-daemon and root too
        for rcpt in ("POSTmaster", "mailer-daemon", "root"):
            inject("to: %s\n" % rcpt, user="hwme")
        got = wait_count(lambda: mbox_messages(abox), 3, "mail in ~alias/Mailbox")
        assert sorted(re.search(rb"Delivered-To: (\S+)\n", g).group(1) for g in got) == [
            b"POSTmaster@testhost.example", b"mailer-daemon@testhost.example", b"root@testhost.example"]
        # (7) qmail-inject -f nonexistent: the bounce bounces to the postmaster
        inject("To: unknownuser\nSubject: testing\n\nThis is a test. This is only a test.\n",
               ["-f", "nonexistent"], user="hwme")
        got = wait_count(lambda: mbox_messages(abox), 4, "the double bounce in ~alias/Mailbox")
        assert got[3].startswith(b"Return-Path: <#@[]>\n"), got[3][:200]
        assert b"<nonexistent@testhost.example>:\n" in got[3]
        assert b"<unknownuser@testhost.example>:\n" in got[3]
        assert b"This is a test. This is only a test." in got[3]
        # (8) qmail-inject me-groups < /dev/null
        inject("", ["hwme-groups"], user="hwme")
        mg = os.path.join(users["hwme"].pw_dir, "MYGROUPS")
        wait_for(lambda: os.path.exists(mg) and os.path.getsize(mg), what="~hwme/MYGROUPS")
        with open(mg) as f:
            assert f.read().split() == [grp.getgrgid(users["hwme"].pw_gid).gr_name]
        queue_empty(queue)
        assert len(mbox_messages(box)) == 2
    finally:
        peer.stop()


def inetd_accept(lsock):
    """What inetd does for `smtp stream tcp nowait qmaild
    /var/qmail/bin/tcp-env tcp-env /var/qmail/bin/qmail-smtpd`: accept, and
    run the program as qmaild (primary group, no others) on the socket."""
    conn, _ = lsock.accept()
    pw = pwd.getpwnam("qmaild")
    proc = subprocess.Popen(["tcp-env", bin_path("qmail-smtpd")], executable=bin_path("tcp-env"),
                            stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL,
                            user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                            env={"PATH": "/usr/bin:/bin"}, cwd="/")
    conn.close()
    return proc


def test_s004_inetd_tcp_env_and_an_smtp_session_by_hand(site, queue):
    """1.3 (4) and 1.4 (1), (5): qmail-smtpd under tcp-env, run the way
    inetd runs it, and the seed's session typed by hand (lowercase
    commands, `mail <addr>` without FROM:); the message reaches
    ~me/Mailbox, and PoStMaStEr@host over SMTP reaches ~alias/Mailbox."""
    users = site.users(["hwme"])
    alias_touch()
    site.start("./Mailbox")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    c = Client(lsock.getsockname()[1])
    proc = inetd_accept(lsock)
    lsock.close()
    try:
        assert c.reply() == (220, ["testhost.example ESMTP"])
        assert c.cmd("helo dude") == (250, ["testhost.example"])
        assert c.cmd("mail <hwme@testhost.example>") == (250, ["ok"])
        assert c.cmd("rcpt <hwme@testhost.example>") == (250, ["ok"])
        assert c.cmd("data") == (354, ["go ahead"])
        c.send(b"Subject: testing\r\n\r\nThis is a test.\r\n.\r\n")
        code, text = c.reply()
        assert code == 250 and re.fullmatch(r"ok \d+ qp \d+", text[0]), text
        assert c.cmd("mail <someone@far.example>")[0] == 250
        assert c.cmd("rcpt <PoStMaStEr@testhost.example>")[0] == 250
        assert c.cmd("data")[0] == 354
        c.send(b"Subject: to the postmaster\r\n\r\nHello postmaster.\r\n.\r\n")
        assert c.reply()[0] == 250
        assert c.cmd("quit") == (221, ["testhost.example"])
        assert c.closed()
    finally:
        c.close()
        proc.wait(timeout=30)
    got = wait_count(lambda: mbox_messages(os.path.join(users["hwme"].pw_dir, "Mailbox")), 1, "~hwme/Mailbox")
    assert b"\n\nThis is a test.\n" in got[0]
    # tcp-env gave qmail-smtpd the peer's address for the Received line
    assert re.search(rb"\nReceived: from \S+ \(HELO dude\) \(127\.0\.0\.1\)\n  by \S+ with SMTP; ",
                     got[0]), got[0][:400]
    got = wait_count(lambda: mbox_messages(os.path.join(ALIASDIR, "Mailbox")), 1, "~alias/Mailbox")
    assert b"Delivered-To: PoStMaStEr@testhost.example\n" in got[0] and b"Hello postmaster." in got[0]
    queue_empty(queue)


@pytest.mark.skipif(not have_mount_ns() or not os.path.exists("/usr/sbin/sendmail")
                    or not os.path.islink("/usr/lib/sendmail"), reason="needs a sendmail to replace")
def test_s004_sendmail_wrapper_in_place_of_usr_lib_sendmail(site, queue):
    """1.3 (3): our sendmail takes the place of the system's (bound over
    /usr/sbin/sendmail, which /usr/lib/sendmail points to, in a private
    mount namespace) and a user calls /usr/lib/sendmail the ways MUAs do:
    -oi -t with the recipients in the header, and -f with an address on
    the command line. Both are delivered; Bcc is not shown."""
    users = site.users(["hwme", "hwyou"])
    site.start()

    def sendmail(args, text):
        inner = 'mount --bind "$0" /usr/sbin/sendmail && exec runuser -u hwme -- /usr/lib/sendmail "$@"'
        r = run(["unshare", "-m", "--", "sh", "-c", inner, bin_path("sendmail")] + args, input=text.encode(),
                env={"USER": "hwme", "LOGNAME": "hwme", "HOME": users["hwme"].pw_dir})
        assert r.returncode == 0, r.stderr
    sendmail(["-oi", "-t"], "To: hwyou\nBcc: hwme\nSubject: mua\n\n.\nsent like mutt does\n")
    sendmail(["-oem", "-f", "list-owner@example.org", "hwyou@" + ME], "Subject: batch\n\nfrom a script\n")
    got = wait_count(lambda: messages(os.path.join(users["hwyou"].pw_dir, "Maildir")), 2, "two for hwyou")
    mua = next(m for m in got if b"Subject: mua" in m)
    batch = next(m for m in got if b"Subject: batch" in m)
    assert mua.startswith(b"Return-Path: <hwme@testhost.example>\n")
    assert b"\nBcc:" not in mua and b"\n\n.\nsent like mutt does\n" in mua
    assert batch.startswith(b"Return-Path: <list-owner@example.org>\n")
    bcc = wait_count(lambda: messages(os.path.join(users["hwme"].pw_dir, "Maildir")), 1, "the Bcc copy")
    assert b"Subject: mua" in bcc[0]
    queue_empty(queue)


def count_new(md):
    d = os.path.join(md, "new")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


def test_s004_mailing_list_of_500(site, queue, control, request):
    """1.7 and the document's headline (a 500-member list that takes
    sendmail hours goes out in minutes): `touch .qmail-ifweb
    .qmail-ifweb-owner`, the list file holding 500 members, one per line
    (399 local addresses, 100 remote ones behind smtproutes, one that does
    not exist). One post reaches every member; the copies carry the owner
    as envelope sender, so the one bounce lands in the owner's mailbox
    (the empty .qmail-ifweb-owner means the default delivery)."""
    users = site.users(["hwlist", "hwmbr", "hwpost"])
    local = ["hwmbr-m%03d@%s" % (i, ME) for i in range(399)]
    remote = ["r%03d@far.example" % i for i in range(100)]
    members = local + remote + ["hwgone@" + ME]
    assert len(members) == 500
    for n in (".qmail-ifweb", ".qmail-ifweb-owner"):
        dot_qmail("hwlist", n, "")
    # plain addresses and &addresses are both forwards (dot-qmail(5))
    dot_qmail("hwlist", ".qmail-ifweb", "".join(("&" if i % 2 else "") + m + "\n" for i, m in enumerate(members)))
    dot_qmail("hwmbr", ".qmail-default", "./Maildir/\n")
    peer = SmtpPeer(os.path.join(SCRATCH, "peer"), {})
    try:
        control["smtproutes"] = "far.example:127.0.0.1:%d\n" % peer.port
        s = site.start()
        mbr = os.path.join(users["hwmbr"].pw_dir, "Maildir")
        owner = os.path.join(users["hwlist"].pw_dir, "Maildir")
        t0 = time.monotonic()
        inject("From: hwpost@testhost.example\nTo: hwlist-ifweb@testhost.example\nSubject: list post\n\n"
               "hello, list\n", user="hwpost")

        def done():
            return (count_new(mbr) >= 399 and count_new(owner) >= 1
                    and sum(len(m["rcpt_tos"]) for m in peer.messages()) >= 100
                    and queue.all_files() == [])
        wait_for(done, timeout=90, interval=0.1, what="500 deliveries and the bounce")
        elapsed = time.monotonic() - t0
        request.node.user_properties.append(("list_500_seconds", round(elapsed, 2)))
        print("\n500-member list delivered in %.2f s" % elapsed)
        assert elapsed < 30, "500-member list took %.1f s" % elapsed
        got = messages(mbr)
        assert len(got) == 399
        tos = sorted(re.search(rb"\nDelivered-To: (hwmbr-\S+)\n", m).group(1).decode() for m in got)
        assert tos == local
        for m in got[:5]:
            assert m.startswith(b"Return-Path: <hwlist-ifweb-owner@testhost.example>\n"), m[:200]
            assert b"\nDelivered-To: hwlist-ifweb@testhost.example\n" in m and b"\n\nhello, list\n" in m
        rc = sorted(r for m in peer.messages() for r in m["rcpt_tos"])
        assert rc == sorted(remote)
        assert {m["mail_from"] for m in peer.messages()} == {"hwlist-ifweb-owner@testhost.example"}
        (b,) = messages(owner)
        assert b.startswith(b"Return-Path: <>\nDelivered-To: hwlist-ifweb-owner@testhost.example\n")
        assert b"<hwgone@testhost.example>:\n" in b
        assert messages(os.path.join(users["hwpost"].pw_dir, "Maildir")) == []
    finally:
        peer.stop()


# ================================================================ 003: Dovecot LDA

@pytest.mark.skipif(not have_dovecot, reason="dovecot-core is not installed")
def test_s003_virtual_domain_through_dovecot_lda(site, queue, control):
    """What Postfix's `dovecot unix - n n - - pipe flags=DRhu user=vmail
    argv=dovecot-lda -f ${sender} -d ${recipient}` with
    dovecot_destination_recipient_limit=1 does, done by virtualdomains
    (virt.example:hwvmail) and hwvmail's .qmail-default running
    dovecot-lda -f "$SENDER" -d "$EXT@$HOST" under preline: each of three
    recipients of one SMTP transaction is its own delivery, run as the
    vmail account, with Return-Path and its own Delivered-To on top; the
    user Dovecot does not know bounces (67 through qmail-sysexits); with
    Dovecot down the LDA's temporary failure defers, and the message is
    delivered once Dovecot is back. The mail is read over IMAP."""
    users = site.users(["hwsnd", "hwvmail"])
    vpw = users["hwvmail"]
    d = Dovecot("hw")
    for name in ("bob", "alice"):
        d.add_virtual("%s@virt.example" % name, name + " pw", vpw, os.path.join(vpw.pw_dir, "virt.example", name))
    control["virtualdomains"] = "virt.example:hwvmail\n"
    control["rcpthosts"] = ME + "\nlocalhost\nvirt.example\n"
    dot_qmail("hwvmail", ".qmail-default",
              '|qmail-sysexits preline -f %s -c %s -e -f "$SENDER" -d "$EXT@$HOST"\n' % (LDA, d.conf))
    d.start()
    try:
        s = site.start()
        srv = site.server(Server([bin_path("qmail-smtpd")]))
        sm = smtplib.SMTP("127.0.0.1", srv.port, local_hostname="fetchmail.example")
        sm.sendmail("hwsnd@" + ME, ["bob@virt.example", "alice@virt.example", "carol@virt.example"],
                    b"From: hwsnd@testhost.example\r\nSubject: to the virtual users\r\n\r\nvia dovecot-lda\r\n")
        sm.quit()
        bounce = wait_count(lambda: messages(os.path.join(users["hwsnd"].pw_dir, "Maildir")), 1, "the bounce")[0]
        # the bounce names the address as the sender wrote it
        assert b"\n<carol@virt.example>:\nqmail-sysexits: EX_NOUSER" in bounce, bounce[:900]
        s.wait_log(r"^end msg \d+\n(?:.*\n)*?end msg \d+$")
        starts = re.findall(r"starting delivery \d+: msg \d+ to local (\S+)", s.text(s.mark))
        # one delivery per recipient, each to the vmail account's address
        assert sorted(a for a in starts if a.endswith("@virt.example")) == [
            "hwvmail-alice@virt.example", "hwvmail-bob@virt.example", "hwvmail-carol@virt.example"]
        for name in ("bob", "alice"):
            (m,) = imap_messages(d.port, "%s@virt.example" % name, name + " pw")
            m = m.replace(b"\r\n", b"\n")
            assert m.startswith(b"Return-Path: <hwsnd@testhost.example>\n"
                                b"Delivered-To: hwvmail-%s@virt.example\n" % name.encode()), m[:300]
            assert m.count(b"Delivered-To:") == 1 and m.endswith(b"\n\nvia dovecot-lda\n")
            md = os.path.join(vpw.pw_dir, "virt.example", name, "Maildir")
            assert os.stat(md).st_uid == vpw.pw_uid
        queue_empty(queue)
        # Dovecot down: a deferral, the message stays; back up: delivered
        d.stop()
        mark = s.size()
        inject("Subject: while down\n\nlater\n", ["-f", "hwsnd@" + ME, "bob@virt.example"])
        s.wait_log(r"^delivery \d+: deferral: .*EX_TEMPFAIL", start=mark)
        assert queue.all_files() != []
        d.start()
        s.signal(signal.SIGALRM)
        wait_for(lambda: len(imap_messages(d.port, "bob@virt.example", "bob pw")) == 2, timeout=20,
                 what="the deferred message after Dovecot came back")
        queue_empty(queue)
    finally:
        d.stop()
