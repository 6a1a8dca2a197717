"""What an administrator trips over when following the seeds as written:
network servers started as root by `tcpserver -u qmaild` (a name that
Debian's tcpserver reads as 0), `qmail-start splogger qmail` with the
arguments the wrong way round, splogger on a machine with no syslog
daemon. Each must stop with a message that says what to do."""
import os
import socket
import subprocess
import time

from conftest import BUILD, HOME, bin_path, run, wait_for
from proc_util import free_port, listening, stop_process

SCRATCH = os.path.join(BUILD, "ops")


def root_tcpserver(prog, port, errpath):
    """tcpserver as the seed writes it for Debian: no numeric -u, so root."""
    err = open(errpath, "wb")
    p = subprocess.Popen(["tcpserver", "-q", "-R", "-H", "-l", "testlocal", "127.0.0.1", str(port), bin_path(prog)],
                         env={"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin"},
                         stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    wait_for(lambda: listening(port), timeout=10, what="tcpserver")
    return p


def test_network_servers_refuse_root():
    os.makedirs(SCRATCH, exist_ok=True)
    for prog in ("qmail-smtpd", "qmail-qmtpd", "qmail-qmqpd"):
        port = free_port()
        errpath = os.path.join(SCRATCH, prog + ".err")
        p = root_tcpserver(prog, port, errpath)
        try:
            wait_for(lambda: b"refusing" in open(errpath, "rb").read(), timeout=10, what="the probe's complaint")
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            got = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                got += b
            s.close()
            if prog == "qmail-smtpd":
                assert got == b"421 this server is misconfigured to run as root (#4.3.0)\r\n", got
            else:
                assert got == b""
            err = open(errpath, "rb").read().decode()
            assert "%s: fatal: refusing to serve the network as root" % prog in err
            assert "tcpserver -u $(id -u qmaild) -g $(id -g qmaild)" in err
        finally:
            stop_process(p)


def test_sendmail_bs_as_root_still_works():
    """sendmail -bs runs qmail-smtpd on the terminal, not for the network."""
    r = run([bin_path("sendmail"), "-bs"], input=b"QUIT\r\n")
    assert r.stdout.startswith(b"220 "), r
    assert b"221 " in r.stdout


def test_qmail_start_with_the_logger_in_the_wrong_place():
    """Seed 004 types `qmail-start splogger qmail`: splogger becomes the
    default delivery and `qmail` the logger, which cannot run."""
    r = run([bin_path("qmail-start"), "splogger", "qmail"], timeout=30)
    assert r.returncode == 111
    err = r.stderr.decode()
    assert "qmail-start: fatal: unable to run the logger qmail: No such file or directory" in err, err
    assert "the first argument is the default delivery (splogger)" in err
    assert "qmail-start ./Mailbox splogger qmail" in err


def test_qmail_start_names_a_missing_logger_without_the_hint():
    r = run([bin_path("qmail-start"), "./Maildir/", "/nonexistent/logger"], timeout=30)
    assert r.returncode == 111
    err = r.stderr.decode()
    assert "unable to run the logger /nonexistent/logger" in err
    assert "default delivery" not in err


def test_splogger_without_a_syslog_daemon():
    """A minimal Debian has no syslog daemon: splogger says so and exits,
    so supervise shows it, instead of dropping every line."""
    # a /dev of our own with no log socket in it
    r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs none /dev && echo hello | exec "$0" qmail',
                        bin_path("splogger")], capture_output=True, timeout=30)
    assert r.returncode == 111, r
    assert b"splogger: fatal: no syslog daemon listens on /dev/log" in r.stderr
    assert b"multilog" in r.stderr
