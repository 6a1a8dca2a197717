"""Load through the whole front door: Postfix's smtp-source opens 50
concurrent SMTP sessions to qmail-smtpd under tcpserver and sends 1000
messages; every one is accepted, queued, and delivered into the user's
Maildir, and the queue ends up empty (issue 4)."""
import os
import subprocess

import pytest

from conftest import HOME, bin_path, wait_for
from send_util import Send, clear_alias, setup_users
from smtpd_util import Server

ME = "testhost.example"
SMTP_SOURCE = "/usr/sbin/smtp-source"


@pytest.fixture
def site(request, queue, control):
    if not os.access(SMTP_SOURCE, os.X_OK):
        pytest.skip("smtp-source (Debian package postfix) is not installed")
    control["me"] = ME + "\n"
    control["locals"] = ME + "\n"
    control["rcpthosts"] = ME + "\n"
    control["concurrencylocal"] = "20\n"
    users = setup_users(["hload"])
    send = Send(request.node.name).start()
    srv = Server([bin_path("qmail-smtpd")])
    yield users["hload"], srv
    srv.stop()
    send.stop()
    clear_alias()
    for f in ("cdb", "assign"):
        os.unlink(os.path.join(HOME, "users", f))


def count(maildir):
    return len(os.listdir(os.path.join(maildir, "new")))


def test_smtp_source_50_sessions_1000_messages_all_delivered(site, queue):
    pw, srv = site
    md = os.path.join(pw.pw_dir, "Maildir")
    r = subprocess.run([SMTP_SOURCE, "-s", "50", "-m", "1000", "-l", "2000", "-f", "load@example.org",
                        "-t", "hload@" + ME, "-M", "client.example", "127.0.0.1:%d" % srv.port],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    wait_for(lambda: count(md) >= 1000, timeout=120, interval=0.2, what="1000 messages in the Maildir")
    wait_for(lambda: queue.all_files() == [], timeout=60, what="an empty queue")
    assert count(md) == 1000
    names = os.listdir(os.path.join(md, "new"))
    with open(os.path.join(md, "new", names[0]), "rb") as f:
        msg = f.read()
    assert msg.startswith(b"Return-Path: <load@example.org>\nDelivered-To: hload@" + ME.encode() + b"\n")
    assert b"(HELO client.example)" in msg
