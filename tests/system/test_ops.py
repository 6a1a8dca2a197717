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


# ------------------------------------------- seed 004's qmailanalog commands

def test_qmailanalog_names_as_seed_004_types_them(tmp_path):
    """`matchup < log > out`, then each z-program on out, by the names
    seed 004 types; for a multilog (tai64n) log and a splogger log inside
    syslog lines alike, with the same numbers."""
    from test_admin import SAMPLE, stamped
    T0 = SAMPLE[0][0]
    syslog = b"".join(b"Nov 14 22:13:%02d mail qmail: " % (i % 60) + l + b"\n"
                      for i, l in enumerate(stamped(SAMPLE, "plain").splitlines()))
    outs = {}
    for style, log in (("tai", stamped(SAMPLE, "tai")), ("syslog", syslog)):
        logf = tmp_path / ("log." + style)
        logf.write_bytes(log)
        out = tmp_path / ("out." + style)
        r = subprocess.run(["sh", "-c", 'matchup < "$0" > "$1" 5>/dev/null', str(logf), str(out)],
                           env={"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin"}, capture_output=True)
        assert r.returncode == 0, r.stderr
        rep = {}
        for z in ("zoverall", "zddist", "zfailures", "zdeferrals", "zrecipients", "zrxdelay", "zsenders",
                  "zsuccesses", "zrhosts", "zsuids"):
            r = subprocess.run([bin_path(z)], stdin=open(out, "rb"), capture_output=True, timeout=60)
            assert r.returncode == 0, (z, r.stderr)
            rep[z] = r.stdout.decode()
        outs[style] = rep
    assert outs["tai"] == outs["syslog"]
    rep = outs["tai"]
    assert rep["zoverall"].startswith("Overall statistics\nmessages completed: 2\n")
    assert "successes: 2\n" in rep["zoverall"] and "Delay to success" not in rep["zoverall"]
    # successes came 1.0001 s and 61.9998 s after their message's birth
    dd = rep["zddist"].splitlines()
    assert dd[0] == "Delay to success (deliveries)"
    assert dd[2].split() == ["1", "50.00%", "1", "s", "to", "10", "s"]
    assert dd[4].split()[:2] == ["1", "100.00%"]
    assert rep["zfailures"].splitlines()[1].split() == ["1", "Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/"]
    assert rep["zdeferrals"].splitlines()[1].split()[0] == "1"
    succ = sorted(l.split()[1] for l in rep["zsuccesses"].splitlines()[1:])
    assert succ == ["192.0.2.7_accepted_message./Remote_host_said:_250_ok_1_qp_9/", "did_0+0+1/"]
    assert rep["zsuids"].splitlines()[1:] == ["       1         1000        2  1000", "       1          300        1  71"]
    rx = rep["zrxdelay"].splitlines()[1:]
    assert rx[0].split() == ["61.999800", "1", "remote.carol@far.example"]
    assert rx[1].split() == ["1.000100", "1", "local.bob@testhost.example"]
    assert rep["zrhosts"].splitlines()[1].split() == ["2", "1", "0", "1", "far.example"]
    assert rep["zsenders"].splitlines()[0].startswith("Senders")
    assert rep["zrecipients"].splitlines()[0].startswith("Recipients")
    del T0
