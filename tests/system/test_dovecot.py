"""Mail stores behind .qmail: Dovecot's LDA run from a user's .qmail by
qmail-local, the message read back over IMAP from a private Dovecot on
127.0.0.1 (Debian's dovecot-core and dovecot-imapd), its temporary and
permanent failures turned into qmail deferrals and bounces, virtual users
the way virtualdomains hands them over, and the qmail-sysexits wrapper
that maps sysexits codes (Cyrus deliver's among them) to qmail's.

Cyrus's deliver is run against a private Cyrus lmtpd (Debian's
cyrus-common), and a stand-in deliver checks every sysexits code through
the wrapper and qmail-local."""
import os
import pwd
import subprocess

import pytest

from conftest import bin_path, make_user, run
from pop3_util import LDA, Cyrus, Dovecot, imap_messages, qmail_local

have_dovecot = os.path.exists(LDA) and os.path.exists("/usr/sbin/dovecot")
need_dovecot = pytest.mark.skipif(not have_dovecot, reason="dovecot-core is not installed")

USER = "hpdove"
VUSER = "hpvmail"
MSG = (b"From: Sender <sender@example.org>\nTo: hpdove@testhost.example\n"
       b"Subject: to dovecot\n\nhello dovecot\n.a line with a dot\n\xc3\xa9t\xc3\xa9\n")


def vhome(vpw):
    return os.path.join(vpw.pw_dir, "virt.example", "bob")


@pytest.fixture(scope="module")
def dovecot():
    d = Dovecot("hp")
    d.add_login(USER, "imap pw")
    # Dovecot rereads a changed passwd-file at most once a second: write it first
    vpw = make_user(VUSER)
    d.add_virtual("bob@virt.example", "bob pw", vpw, vhome(vpw))
    d.start()
    yield d
    d.stop()


def write_qmail(pw, name, text):
    path = os.path.join(pw.pw_dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o644)


def lda_line(d, dest='"$USER"', wrap=True):
    line = "preline -f %s -c %s -e -d %s" % (LDA, d.conf, dest)
    return "|" + ("qmail-sysexits " if wrap else "") + line + "\n"


def maildir_files(pw):
    out = []
    for s in ("new", "cur"):
        d = os.path.join(pw.pw_dir, "Maildir", s)
        if os.path.isdir(d):
            out += os.listdir(d)
    return out


@need_dovecot
def test_dot_qmail_to_dovecot_lda_then_imap(dovecot):
    pw = make_user(USER)
    write_qmail(pw, ".qmail", lda_line(dovecot, wrap=False))
    r = qmail_local(pw, MSG, sender="sender@example.org")
    assert r.returncode == 0, r.stdout + r.stderr
    r = qmail_local(pw, b"Subject: second\n\nsecond one\n", sender="")
    assert r.returncode == 0, r.stdout + r.stderr
    got = imap_messages(dovecot.port, USER, "imap pw")
    assert len(got) == 2
    first = got[0].replace(b"\r\n", b"\n")
    # preline -f put qmail's Return-Path and Delivered-To lines on top
    assert b"Return-Path: <sender@example.org>\n" in first
    assert b"Delivered-To: hpdove@testhost.example\n" in first
    assert b"\n\nhello dovecot\n.a line with a dot\n\xc3\xa9t\xc3\xa9\n" in first
    assert b"Subject: second" in got[1] and b"Return-Path: <>" in got[1]


@need_dovecot
def test_dovecot_down_defers(dovecot):
    """No Dovecot behind the config: dovecot-lda exits EX_TEMPFAIL (75) and
    qmail-local says try again, with nothing delivered."""
    down = Dovecot("hp-down")          # configured, never started
    pw = make_user(USER)
    write_qmail(pw, ".qmail", lda_line(down))
    r = qmail_local(pw, MSG)
    assert r.returncode == 111, r.stdout + r.stderr
    assert b"EX_TEMPFAIL" in r.stdout + r.stderr
    assert maildir_files(pw) == []
    write_qmail(pw, ".qmail", lda_line(down, wrap=False))
    r = qmail_local(pw, MSG)
    assert r.returncode == 111, r.stdout + r.stderr


@need_dovecot
def test_dovecot_unknown_user_bounces(dovecot):
    """dovecot-lda exits EX_NOUSER (67) for an unknown user: qmail-command(8)
    counts 67 as soft, so without the wrapper the mail would sit in the queue
    for a week; through qmail-sysexits it bounces at once."""
    pw = make_user(USER)
    write_qmail(pw, ".qmail-default", lda_line(dovecot, dest='"$EXT@$HOST"'))
    r = qmail_local(pw, MSG, local=USER + "-nobody", dash="-", ext="nobody", domain="virt.example")
    assert r.returncode == 100, r.stdout + r.stderr
    assert b"EX_NOUSER" in r.stdout + r.stderr
    write_qmail(pw, ".qmail-default", lda_line(dovecot, dest='"$EXT@$HOST"', wrap=False))
    r = qmail_local(pw, MSG, local=USER + "-nobody", dash="-", ext="nobody", domain="virt.example")
    assert r.returncode == 111, r.stdout + r.stderr


@need_dovecot
def test_virtual_users_through_virtualdomains(dovecot):
    """control/virtualdomains `virt.example:hpvmail` makes bob@virt.example
    the local address hpvmail-bob; qmail-getpw gives account hpvmail with
    ext bob, and hpvmail's .qmail-default hands "$EXT@$HOST" to Dovecot,
    whose passwd-file owns the mailbox mapping."""
    vpw = pwd.getpwnam(VUSER)
    home = vhome(vpw)
    write_qmail(vpw, ".qmail-default", lda_line(dovecot, dest='"$EXT@$HOST"'))
    r = run([bin_path("qmail-getpw"), VUSER + "-bob"])
    assert r.returncode == 0
    user, _uid, _gid, homedir, dash, ext = r.stdout.split(b"\0")[:6]
    assert (user, homedir, dash, ext) == (VUSER.encode(), vpw.pw_dir.encode(), b"-", b"bob")
    r = qmail_local(vpw, MSG, local=VUSER + "-bob", dash="-", ext="bob", domain="virt.example")
    assert r.returncode == 0, r.stdout + r.stderr
    got = imap_messages(dovecot.port, "bob@virt.example", "bob pw")
    assert len(got) == 1
    assert b"hello dovecot" in got[0]
    assert b"Delivered-To: hpvmail-bob@virt.example" in got[0]
    assert os.path.isdir(os.path.join(home, "Maildir"))
    st = os.stat(os.path.join(home, "Maildir"))
    assert st.st_uid == vpw.pw_uid
    # an address Dovecot does not know bounces
    r = qmail_local(vpw, MSG, local=VUSER + "-carol", dash="-", ext="carol", domain="virt.example")
    assert r.returncode == 100, r.stdout + r.stderr


# ---- qmail-sysexits with a stand-in for Cyrus deliver ----

def fake_deliver(pw, code):
    """A deliver that saves its stdin and arguments, then exits with code."""
    path = os.path.join(pw.pw_dir, "deliver")
    with open(path, "w") as f:
        f.write('#!/bin/sh\ncat > "$HOME/delivered"\necho "$@" > "$HOME/args"\nexit %d\n' % code)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("code,want", [
    (0, 0), (64, 100), (65, 100), (66, 100), (67, 100), (68, 100), (69, 100), (70, 100),
    (71, 111), (72, 100), (73, 100), (74, 111), (75, 111), (76, 100), (77, 100), (78, 111),
    (99, 99), (100, 100), (111, 111), (1, 111), (2, 111), (127, 111), (200, 111)])
def test_sysexits_table(tmp_path, code, want):
    r = subprocess.run([bin_path("qmail-sysexits"), "sh", "-c", "cat >/dev/null; exit %d" % code],
                       input=b"x\n", capture_output=True, timeout=30)
    assert r.returncode == want, r.stderr


def test_sysexits_edges(tmp_path):
    r = subprocess.run([bin_path("qmail-sysexits")], capture_output=True, timeout=30)
    assert r.returncode == 100
    r = subprocess.run([bin_path("qmail-sysexits"), str(tmp_path / "missing")], capture_output=True,
                       timeout=30)
    assert r.returncode == 111
    r = subprocess.run([bin_path("qmail-sysexits"), "sh", "-c", "kill -9 $$"], capture_output=True,
                       timeout=30)
    assert r.returncode == 111
    # stdin, stdout and the arguments reach the program untouched
    r = subprocess.run([bin_path("qmail-sysexits"), "sh", "-c", 'cat; echo "[$1]"', "sh", "a b"],
                       input=b"body\n", capture_output=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"body\n[a b]\n")
    r = subprocess.run([bin_path("qmail-sysexits"), "sh", "-c", "exit 67"], capture_output=True,
                       timeout=30)
    assert b"EX_NOUSER" in r.stderr and b"#5.1.1" in r.stderr


@pytest.mark.parametrize("code,want", [(0, 0), (67, 100), (75, 111), (77, 100)])
def test_cyrus_style_deliver_through_qmail_local(code, want):
    pw = make_user(USER)
    prog = fake_deliver(pw, code)
    write_qmail(pw, ".qmail", '|qmail-sysexits preline -f %s -r "$SENDER" "$USER"\n' % prog)
    r = qmail_local(pw, MSG)
    assert r.returncode == want, r.stdout + r.stderr
    with open(os.path.join(pw.pw_dir, "delivered"), "rb") as f:
        got = f.read()
    assert got.endswith(MSG)
    assert b"Delivered-To: hpdove@testhost.example\n" in got
    with open(os.path.join(pw.pw_dir, "args")) as f:
        assert f.read() == "-r sender@example.org hpdove\n"


# ---- Cyrus itself ----

# deliver, lmtpd and master come in Debian's cyrus-common, which installs
# beside dovecot-imapd (cyrus-imapd, the IMAP server, conflicts with it)
have_cyrus = os.path.exists("/usr/lib/cyrus/bin/deliver")


@pytest.mark.skipif(not have_cyrus, reason="cyrus-imapd is not installed")
def test_cyrus_deliver_through_dot_qmail():
    """A .qmail line runs Cyrus deliver, which hands the message to lmtpd;
    with Cyrus down deliver exits EX_CONFIG (78), which qmail alone would
    bounce and qmail-sysexits turns into a deferral."""
    cy = Cyrus("hp")
    pw = make_user(USER)
    # Cyrus writes its own Return-Path from deliver -r, so preline leaves it out
    line = 'preline -f -r /usr/lib/cyrus/bin/deliver -C %s -r "$SENDER" "$USER"\n' % cy.conf
    write_qmail(pw, ".qmail", "|qmail-sysexits " + line)
    cy.start()
    try:
        r = qmail_local(pw, MSG, sender="sender@example.org")
        assert r.returncode == 0, r.stdout + r.stderr
        got = cy.messages(USER)
        assert len(got) == 1
        m = got[0].replace(b"\r\n", b"\n")
        assert b"Delivered-To: hpdove@testhost.example\n" in m
        assert b"Return-Path: <sender@example.org>" in m
        assert m.endswith(b"\n\nhello dovecot\n.a line with a dot\n\xc3\xa9t\xc3\xa9\n")
    finally:
        cy.stop()
    r = qmail_local(pw, MSG)
    assert r.returncode == 111, r.stdout + r.stderr
    assert b"EX_CONFIG" in r.stdout + r.stderr
    write_qmail(pw, ".qmail", "|" + line)
    r = qmail_local(pw, MSG)
    assert r.returncode == 100, r.stdout + r.stderr
    assert len(cy.messages(USER)) == 1
