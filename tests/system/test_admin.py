"""Running it for real: config-fast and config, the daemontools run
directories of scripts/services.sh, qmailctl, the boot/ scripts, and the
log analysis pair qmail-matchup / qmail-zreport.

The log tests build qmail-send logs in qmail-log(5) format with known
answers, stamped three ways (splogger's SEC.USEC, multilog's @TAI64N and
none), and check every number the tools print.
"""
import os
import pwd
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import HOME, SRC, bin_path, run, wait_for


# ---------------------------------------------------------------- config

CONFIG_FILES = ("me", "defaultdomain", "plusdomain", "locals", "rcpthosts")


@pytest.fixture
def fresh_control(control):
    """The control files config-fast writes, removed for the test and put
    back after it."""
    for name in CONFIG_FILES:
        control[name] = None
    return control


def read_control(name):
    with open(os.path.join(HOME, "control", name)) as f:
        return f.read()


def test_config_fast_three_labels(fresh_control):
    r = run([bin_path("config-fast"), "Mail.Dept.Example.COM"])
    assert r.returncode == 0, r.stderr
    assert read_control("me") == "mail.dept.example.com\n"
    assert read_control("defaultdomain") == "dept.example.com\n"
    assert read_control("plusdomain") == "example.com\n"
    assert read_control("locals") == "mail.dept.example.com\n"
    assert read_control("rcpthosts") == "mail.dept.example.com\n"
    for name in CONFIG_FILES:
        st = os.stat(os.path.join(HOME, "control", name))
        assert stat.S_IMODE(st.st_mode) == 0o644
    assert b"rcpthosts" in r.stdout


def test_config_fast_keeps_existing_lines_and_is_idempotent(fresh_control):
    fresh_control["locals"] = "other.example\n"
    for _ in range(2):
        r = run([bin_path("config-fast"), "host.example.org"])
        assert r.returncode == 0, r.stderr
    assert read_control("locals") == "other.example\nhost.example.org\n"
    assert read_control("rcpthosts") == "host.example.org\n"
    assert read_control("defaultdomain") == "example.org\n"
    assert read_control("plusdomain") == "example.org\n"


def test_config_fast_two_labels_and_trailing_dot(fresh_control):
    r = run([bin_path("config-fast"), "example.net."])
    assert r.returncode == 0, r.stderr
    assert read_control("me") == "example.net\n"
    assert read_control("defaultdomain") == "example.net\n"
    assert read_control("plusdomain") == "example.net\n"


@pytest.mark.parametrize("bad", ["", "-x", "a-.example", "a b.example", "a..b", "x/y.example", "ex;ample.com"])
def test_config_fast_refuses_bad_names(fresh_control, bad):
    r = run([bin_path("config-fast"), bad])
    assert r.returncode == 100
    for name in CONFIG_FILES:
        assert not os.path.exists(os.path.join(HOME, "control", name))


def test_config_fast_usage():
    assert run([bin_path("config-fast")]).returncode == 100
    assert run([bin_path("config-fast"), "a.b", "c.d"]).returncode == 100


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_guesses_from_hosts_file(fresh_control, tmp_path):
    hosts = write(tmp_path / "hosts", "127.0.0.1 localhost\n# 10.0.0.9 vm.wrong.example vm\n"
                  "127.0.1.1 VM.Lan.Example vm\n")
    resolv = write(tmp_path / "resolv", "search not.used.example\n")
    r = run([bin_path("config"), "-y", "-n", "vm", "-H", str(hosts), "-R", str(resolv)])
    assert r.returncode == 0, r.stderr
    assert read_control("me") == "vm.lan.example\n"
    assert read_control("defaultdomain") == "lan.example\n"
    assert read_control("locals") == "vm.lan.example\nlocalhost\n"
    assert read_control("rcpthosts") == "vm.lan.example\nlocalhost\n"


def test_config_guesses_from_resolv_conf(fresh_control, tmp_path):
    hosts = write(tmp_path / "hosts", "127.0.0.1 localhost\n")
    resolv = write(tmp_path / "resolv", "nameserver 192.0.2.1\nsearch Corp.Example other.example\n")
    r = run([bin_path("config"), "-y", "-n", "box", "-H", str(hosts), "-R", str(resolv)])
    assert r.returncode == 0, r.stderr
    assert read_control("me") == "box.corp.example\n"
    # a dotted host name is used as it is
    r = run([bin_path("config"), "-y", "-n", "Full.Name.Example", "-H", str(hosts), "-R", str(resolv)])
    assert r.returncode == 0, r.stderr
    assert read_control("me") == "full.name.example\n"


def test_config_without_a_guess_fails_cleanly(fresh_control, tmp_path):
    hosts = write(tmp_path / "hosts", "127.0.0.1 localhost box\n")
    resolv = write(tmp_path / "resolv", "nameserver 192.0.2.1\n")
    r = run([bin_path("config"), "-y", "-n", "box", "-H", str(hosts), "-R", str(resolv)])
    assert r.returncode == 100
    assert b"config-fast" in r.stderr
    assert not os.path.exists(os.path.join(HOME, "control", "me"))


# ---------------------------------------------------------------- services

def conf_user(n):
    with open(os.path.join(SRC, "conf-users")) as f:
        return f.read().split("\n")[n - 1]


@pytest.fixture
def svcroot():
    d = tempfile.mkdtemp(prefix="qmail-svc-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def services(root, *extra):
    args = ["sh", os.path.join(SRC, "scripts", "services.sh"), "-H", HOME,
            "-L", os.path.join(root, "log"), "-R", os.path.join(root, "rules")] + list(extra) + \
           [os.path.join(root, "service")]
    os.makedirs(os.path.join(root, "rules"), exist_ok=True)
    return run(args)


def read(path):
    with open(path) as f:
        return f.read()


def test_services_install_stopped_run_directories(svcroot):
    r = services(svcroot)
    assert r.returncode == 0, r.stderr
    sdir = os.path.join(svcroot, "service")
    assert sorted(n for n in os.listdir(sdir)) == ["qmail-pop3d", "qmail-send", "qmail-smtpd"]
    qmaill = pwd.getpwnam(conf_user(3))
    for name, logname in (("qmail-send", "send"), ("qmail-smtpd", "smtpd"), ("qmail-pop3d", "pop3d")):
        d = os.path.join(sdir, name)
        for run_file in (os.path.join(d, "run"), os.path.join(d, "log", "run")):
            assert os.access(run_file, os.X_OK)
            p = subprocess.run(["sh", "-n", run_file], capture_output=True)
            assert p.returncode == 0, p.stderr
        # nothing starts until asked
        assert os.path.exists(os.path.join(d, "down"))
        assert os.path.exists(os.path.join(d, "log", "down"))
        logrun = read(os.path.join(d, "log", "run"))
        logdir = os.path.join(svcroot, "log", logname)
        assert "setuidgid %s multilog t" % qmaill.pw_name in logrun
        assert logrun.rstrip().endswith(logdir)
        assert os.stat(logdir).st_uid == qmaill.pw_uid
    send = read(os.path.join(sdir, "qmail-send", "run"))
    assert "cd %s " % HOME in send and "qmail-start" in send and "./Maildir/" in send
    smtpd = read(os.path.join(sdir, "qmail-smtpd", "run"))
    assert "id -u %s" % conf_user(2) in smtpd
    assert "-x %s/rules/tcp.smtp.cdb" % svcroot in smtpd
    assert "%s/bin/qmail-smtpd" % HOME in smtpd
    assert re.search(r"\b0 25 ", smtpd)
    pop3 = read(os.path.join(sdir, "qmail-pop3d", "run"))
    assert "%s/bin/qmail-popup" % HOME in pop3 and "%s/bin/qmail-pop3d Maildir" % HOME in pop3
    rules = read(os.path.join(svcroot, "rules", "tcp.smtp"))
    assert '127.:allow,RELAYCLIENT=""' in rules
    if shutil.which("tcprules"):
        assert os.path.getsize(os.path.join(svcroot, "rules", "tcp.smtp.cdb")) > 2048
    # no half-built dot directories are left for svscan to trip on
    assert not [n for n in os.listdir(sdir) if n.startswith(".")]


def test_services_options_and_rerun_keeps_state(svcroot):
    r = services(svcroot, "-o", "send,smtpd", "-a", "127.0.0.1", "-p", "2525", "-D", "./Mailbox")
    assert r.returncode == 0, r.stderr
    sdir = os.path.join(svcroot, "service")
    assert sorted(os.listdir(sdir)) == ["qmail-send", "qmail-smtpd"]
    assert "127.0.0.1 2525 " in read(os.path.join(sdir, "qmail-smtpd", "run"))
    assert "dd='./Mailbox'" in read(os.path.join(sdir, "qmail-send", "run"))
    # the administrator's rules and a supervise/ directory survive a rerun
    write(os.path.join(svcroot, "rules", "tcp.smtp"), "10.:allow,RELAYCLIENT=\"\"\n:deny\n")
    os.makedirs(os.path.join(sdir, "qmail-send", "supervise"))
    r = services(svcroot, "-o", "send,smtpd")
    assert r.returncode == 0, r.stderr
    assert read(os.path.join(svcroot, "rules", "tcp.smtp")).startswith("10.:allow")
    assert os.path.isdir(os.path.join(sdir, "qmail-send", "supervise"))
    assert os.path.exists(os.path.join(sdir, "qmail-send", "down"))
    assert "0 25 " in read(os.path.join(sdir, "qmail-smtpd", "run"))


def test_services_start_flag_leaves_no_down_files(svcroot):
    r = services(svcroot, "-s", "-o", "send")
    assert r.returncode == 0, r.stderr
    d = os.path.join(svcroot, "service", "qmail-send")
    assert not os.path.exists(os.path.join(d, "down"))
    assert not os.path.exists(os.path.join(d, "log", "down"))


def test_services_refuses_bad_arguments(svcroot):
    assert services(svcroot, "-p", "25x").returncode == 100
    assert services(svcroot, "-L", "relative/log").returncode == 100
    assert services(svcroot, "-D", "./it's").returncode == 100
    assert not os.path.exists(os.path.join(svcroot, "service"))


# ---------------------------------------------------------------- qmailctl

def test_qmailctl_help_and_usage():
    r = run([bin_path("qmailctl"), "help"])
    assert r.returncode == 0
    for word in (b"start", b"stop", b"stat", b"doqueue", b"queue", b"reload", b"cdb", b"restart"):
        assert word in r.stdout
    r = run([bin_path("qmailctl"), "frobnicate"])
    assert r.returncode == 100 and b"usage" in r.stderr
    assert run([bin_path("qmailctl")]).returncode == 100


def test_qmailctl_on_a_service_dir_nobody_supervises(svcroot):
    assert services(svcroot).returncode == 0
    sdir = os.path.join(svcroot, "service")
    r = run([bin_path("qmailctl"), "-d", sdir, "stat"])
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    for name in (b"qmail-send", b"qmail-smtpd", b"qmail-pop3d", b"qmail-send/log"):
        assert name in out
    assert b"messages in queue: " in r.stdout
    for cmd in ("doqueue", "reload", "start", "stop"):
        r = run([bin_path("qmailctl"), "-d", sdir, cmd])
        assert r.returncode == 111
        assert b"supervise is not running" in r.stderr
    r = run([bin_path("qmailctl"), "-d", os.path.join(svcroot, "nowhere"), "stat"])
    assert r.returncode == 111


def test_qmailctl_cdb_rebuilds_rules(svcroot):
    if not shutil.which("tcprules"):
        pytest.skip("tcprules (ucspi-tcp) not installed")
    rules = os.path.join(svcroot, "rules")
    os.makedirs(rules)
    write(os.path.join(rules, "tcp.smtp"), '192.0.2.:allow,RELAYCLIENT=""\n:allow\n')
    r = run([bin_path("qmailctl"), "-r", rules, "cdb"])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(rules, "tcp.smtp.cdb"), "rb") as f:
        cdb = f.read()
    assert b"192.0.2." in cdb and b"RELAYCLIENT" in cdb
    # a broken rules file leaves the old cdb in place
    write(os.path.join(rules, "tcp.smtp"), "192.0.2.:frobnicate\n")
    r = run([bin_path("qmailctl"), "-r", rules, "cdb"])
    assert r.returncode == 111
    with open(os.path.join(rules, "tcp.smtp.cdb"), "rb") as f:
        assert f.read() == cdb
    assert run([bin_path("qmailctl"), "-r", os.path.join(svcroot, "none"), "cdb"]).returncode == 111


# stands in for qmail-send: records the signals qmailctl sends. Python,
# not sh: a handler runs within 0.1 s of its signal whatever the script
# is doing (CI once saw a HUP never recorded by an sh script of traps
# around `sleep 1 & wait`)
FAKE_SEND = """#!/usr/bin/python3
import signal, sys, time
def note(word):
    with open({rec!r}, "a") as f:
        f.write(word + "\\n")
def term(sig, frame):
    note("TERM")
    sys.exit(0)
signal.signal(signal.SIGHUP, lambda sig, frame: note("HUP"))
signal.signal(signal.SIGALRM, lambda sig, frame: note("ALRM"))
signal.signal(signal.SIGTERM, term)
note("up")
while True:
    time.sleep(0.1)
"""


def test_qmailctl_signals_a_supervised_service(svcroot):
    if not shutil.which("supervise"):
        pytest.skip("daemontools not installed")
    d = os.path.join(svcroot, "qmail-send")
    os.makedirs(d)
    rec = os.path.join(svcroot, "record")
    write(os.path.join(d, "run"), FAKE_SEND.format(rec=rec))
    os.chmod(os.path.join(d, "run"), 0o755)
    sup = subprocess.Popen(["supervise", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = lambda: read(rec).split() if os.path.exists(rec) else []
    ctl = lambda cmd: run([bin_path("qmailctl"), "-d", svcroot, cmd])
    try:
        wait_for(lambda: "up" in lines(), what="the fake qmail-send to start")
        r = ctl("stat")
        assert r.returncode == 0 and b": up (pid " in r.stdout
        assert ctl("doqueue").returncode == 0
        wait_for(lambda: "ALRM" in lines(), what="ALRM")
        assert ctl("reload").returncode == 0
        wait_for(lambda: "HUP" in lines(), what="HUP")
        assert ctl("stop").returncode == 0
        wait_for(lambda: "TERM" in lines(), what="TERM")
        wait_for(lambda: b": down " in ctl("stat").stdout, what="down state")
        assert ctl("start").returncode == 0
        wait_for(lambda: lines().count("up") == 2, what="the restart")
    finally:
        subprocess.run(["svc", "-dx", d])
        try:
            sup.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sup.kill()
            sup.wait()


# ---------------------------------------------------------------- boot/

@pytest.mark.parametrize("name,delivery", [("home", "./Mailbox"), ("maildir", "./Maildir/"),
                                           ("dot-qmail-maildir", "./Maildir/"),
                                           ("proc", "|preline maildrop")])
def test_boot_scripts_exec_qmail_start(tmp_path, name, delivery):
    """Each boot script, copied into a fake home whose bin/qmail-start
    records its arguments, execs qmail-start with its default delivery and
    splogger as the logger."""
    src = os.path.join(SRC, "boot", name)
    assert subprocess.run(["sh", "-n", src]).returncode == 0
    home = tmp_path / "home"
    (home / "boot").mkdir(parents=True)
    (home / "bin").mkdir()
    (home / "control").mkdir()
    shutil.copy(src, home / "boot" / name)
    rec = tmp_path / "args"
    write(home / "bin" / "qmail-start", '#!/bin/sh\nfor a; do printf "%%s\\n" "$a"; done > %s\n' % rec)
    os.chmod(home / "bin" / "qmail-start", 0o755)
    r = subprocess.run(["sh", str(home / "boot" / name)], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert read(rec).split("\n")[:-1] == [delivery, "splogger", "qmail"]
    if name == "dot-qmail-maildir":
        write(home / "control" / "defaultdelivery", "./Mail/\n")
        subprocess.run(["sh", str(home / "boot" / name)], check=True, timeout=20)
        assert read(rec).split("\n")[0] == "./Mail/"


def test_systemd_unit_names_qmail_start():
    unit = read(os.path.join(SRC, "scripts", "qmail.service"))
    assert re.search(r"^ExecStart=.*/bin/qmail-start ", unit, re.M)
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit, re.M)
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(SRC, "scripts", "qmail.service")],
                           capture_output=True, text=True)
        problems = [l for l in (r.stdout + r.stderr).splitlines() if "man " not in l and l.strip()]
        assert not problems, problems


# ---------------------------------------------------------------- logs

def tai64n(sec, usec):
    return "@%016x%08x" % (2 ** 62 + 10 + sec, usec * 1000)


def stamped(events, style):
    """events: (seconds, microseconds, text); style plain | tai | none"""
    out = []
    for sec, usec, text in events:
        if style == "plain":
            out.append("%d.%06d %s\n" % (sec, usec, text))
        elif style == "tai":
            out.append("%s %s\n" % (tai64n(sec, usec), text))
        else:
            out.append(text + "\n")
    return "".join(out).encode()


T0 = 1700000000

# two messages finish; a third is still in flight at the end
SAMPLE = [
    (T0, 1, "status: local 0/10 remote 0/20"),
    (T0, 100, "new msg 100"),
    (T0, 200, "info msg 100: bytes 1000 from <Alice@Example.COM> qp 501 uid 1000"),
    (T0, 300, "starting delivery 1: msg 100 to local bob@testhost.example"),
    (T0, 400, "status: local 1/10 remote 0/20"),
    (T0 + 1, 300, "delivery 1: success: did_0+0+1/"),
    (T0 + 1, 400, "starting delivery 2: msg 100 to remote carol@far.example"),
    (T0 + 3, 400, "delivery 2: deferral: Connected_to_192.0.2.7_but_greeting_failed./Remote_host_said:_421_busy/"),
    (T0 + 4, 0, "new msg 200"),
    (T0 + 4, 100, "info msg 200: bytes 300 from <> qp 502 uid 71"),
    (T0 + 4, 200, "starting delivery 3: msg 200 to local nobody@testhost.example"),
    (T0 + 4, 700, "delivery 3: failure: Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/"),
    (T0 + 4, 800, "bounce msg 200 qp 503"),
    (T0 + 4, 900, "end msg 200"),
    (T0 + 60, 0, "starting delivery 4: msg 100 to remote carol@far.example"),
    (T0 + 62, 0, "delivery 4: success: 192.0.2.7_accepted_message./Remote_host_said:_250_ok_1_qp_9/"),
    (T0 + 62, 500, "end msg 100"),
    (T0 + 70, 0, "new msg 300"),
    (T0 + 70, 10, "info msg 300: bytes 42 from <dave@example.com> qp 504 uid 0"),
    (T0 + 70, 20, "starting delivery 5: msg 300 to remote erin@slow.example"),
]

MATCHED = [
    "d k 1700000000.000200 1700000000.000300 1700000001.000300 1000 <alice@example.com> "
    "local.bob@testhost.example 501 1000 did_0+0+1/",
    "d z 1700000000.000200 1700000001.000400 1700000003.000400 1000 <alice@example.com> "
    "remote.carol@far.example 501 1000 Connected_to_192.0.2.7_but_greeting_failed./Remote_host_said:_421_busy/",
    "d d 1700000004.000100 1700000004.000200 1700000004.000700 300 <> local.nobody@testhost.example "
    "502 71 Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/",
    "m 1700000004.000100 1700000004.000900 300 0 0 1 <> 502 71",
    "d k 1700000000.000200 1700000060.000000 1700000062.000000 1000 <alice@example.com> "
    "remote.carol@far.example 501 1000 192.0.2.7_accepted_message./Remote_host_said:_250_ok_1_qp_9/",
    "m 1700000000.000200 1700000062.000500 1000 2 1 0 <alice@example.com> 501 1000",
]


def matchup(data, pending=False, timeout=60):
    """Run qmail-matchup; with pending, fd 5 goes to a file whose text is
    returned as well."""
    if not pending:
        p = subprocess.run([bin_path("qmail-matchup")], input=data, capture_output=True, timeout=timeout)
        return p, None
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "pending")
        p = subprocess.run(["sh", "-c", 'exec "$0" 5>"$1"', bin_path("qmail-matchup"), f],
                           input=data, capture_output=True, timeout=timeout)
        return p, read(f)


def test_matchup_plain_stamps():
    p, pend = matchup(stamped(SAMPLE, "plain"), pending=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == MATCHED
    assert pend.splitlines() == [
        "1700000070.000010 info msg 300: bytes 42 from <dave@example.com> qp 504 uid 0",
        "1700000070.000020 starting delivery 5: msg 300 to remote erin@slow.example",
    ]


def test_matchup_tai64n_stamps_give_the_same_answer():
    p, _ = matchup(stamped(SAMPLE, "tai"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == MATCHED


def test_matchup_without_stamps():
    p, _ = matchup(stamped(SAMPLE, "none"))
    assert p.returncode == 0, p.stderr
    zeroed = [re.sub(r"\d+\.\d{6}", "0.000000", l) for l in MATCHED]
    assert p.stdout.decode().splitlines() == zeroed


def test_matchup_pending_output_feeds_the_next_run():
    first = stamped(SAMPLE[:8], "plain")     # ends with msg 100 in flight
    rest = stamped(SAMPLE[8:], "plain")
    p1, pend = matchup(first, pending=True)
    assert p1.returncode == 0
    assert "info msg 100:" in pend
    p2, _ = matchup(pend.encode() + rest)
    out = (p1.stdout + p2.stdout).decode().splitlines()
    # the counts of msg 100 restart in the second run: its deferral was
    # reported by the first
    assert out[:3] == MATCHED[:3] and out[4] == MATCHED[4]
    assert out[5] == "m 1700000000.000200 1700000062.000500 1000 1 0 0 <alice@example.com> 501 1000"


def test_matchup_skips_splogger_continuations_and_syslog_noise():
    data = (b"1700000000.000001 info msg 9: bytes 5 from <a@b> qp 1 uid 2\n"
            b"1700000000.000001+continuation of an overlong line\n"
            b"Nov 21 10:00:00 host qmail: junk\n"
            b"1700000000.000002 starting delivery 7: msg 9 to local x@y\n"
            b"1700000000.000003 delivery 7: report mangled, will defer\n"
            b"1700000000.000004 delivery 8: success: never_started/\n"
            b"1700000000.000005 end msg 9\n")
    p, _ = matchup(data)
    assert p.returncode == 0
    assert p.stdout.decode().splitlines() == [
        "d z 1700000000.000001 1700000000.000002 1700000000.000003 5 <a@b> local.x@y 1 2 report_mangled",
        "m 1700000000.000001 1700000000.000005 5 0 1 0 <a@b> 1 2",
    ]


def test_matchup_survives_hostile_lines():
    rnd = random.Random(7)
    junk = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 300))) for _ in range(2000)]
    huge = b"1700000000.000001 info msg 5: bytes 1 from <" + b"A" * 3000000 + b"> qp 1 uid 1\n"
    evil = (b"1700000000.000001 info msg 6: bytes 9 from <a b\x01\xff@x> qp 3 uid 4\n"
            b"1700000000.000002 starting delivery 1: msg 6 to remote r\x00\tz@y\n"
            b"1700000000.000003 delivery 1: failure: bad\x1b[31m text\n"
            b"1700000000.000004 end msg 6\n"
            b"@zzzzzzzzzzzzzzzzzzzzzzzz info msg 1: bytes 1 from <x> qp 1 uid 1\n"
            b"99999999999999999999999999.5 info msg 99999999999999999999999: bytes 1 from <x> qp 1 uid 1\n"
            b"1.1 end msg\n1.1 delivery : success: \n1.1 starting delivery 3: msg 1 to elsewhere x\n")
    p, _ = matchup(b"\n".join(junk) + b"\n" + huge + evil + b"no newline at the end", timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode("ascii").splitlines()
    assert lines == [
        "d d 1700000000.000001 1700000000.000002 1700000000.000003 9 <a_b__@x> remote.r__z@y 3 4 bad_[31m_text",
        "m 1700000000.000001 1700000000.000004 9 0 0 1 <a_b__@x> 3 4",
    ]


def matchup_limited(data_path, data_mb):
    """qmail-matchup on a file with its heap (RLIMIT_DATA) capped."""
    def limit():
        resource.setrlimit(resource.RLIMIT_DATA, (data_mb << 20, data_mb << 20))
    with open(data_path, "rb") as f:
        return subprocess.run([bin_path("qmail-matchup")], stdin=f, capture_output=True,
                              timeout=120, preexec_fn=limit)


def big_log(path, messages, inflight=0):
    """A log with messages finished messages (5 lines each) plus inflight
    messages that never end; returns the line count."""
    n = 0
    with open(path, "w") as f:
        for i in range(messages + inflight):
            t = T0 + i
            f.write("%d.000001 new msg %d\n" % (t, i))
            f.write("%d.000002 info msg %d: bytes %d from <s%d@example.com> qp %d uid 1\n" % (t, i, i, i % 50, i))
            f.write("%d.000003 starting delivery %d: msg %d to local u%d@testhost.example\n" % (t, i + 1, i, i % 7))
            n += 3
            if i < messages:
                f.write("%d.000004 delivery %d: success: did_0+0+1/\n" % (t, i + 1))
                f.write("%d.000005 end msg %d\n" % (t, i))
                n += 2
    return n


def test_matchup_memory_does_not_grow_with_the_log(tmp_path):
    """200000 lines (15 MB) of finished messages go through in 2 MB of heap."""
    large = str(tmp_path / "large")
    assert big_log(large, 40000) == 200000
    assert os.path.getsize(large) > 10 << 20
    p = matchup_limited(large, 2)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().splitlines()
    assert len(out) == 80000
    assert sum(1 for l in out if l.startswith("m ")) == 40000
    assert all(l.split()[4:7] == ["1", "0", "0"] for l in out if l.startswith("m "))


def test_matchup_memory_follows_messages_in_flight(tmp_path):
    """The other side of the bound: what is held is what is in flight, so
    40000 messages that never end do not fit in the same 2 MB, and the
    program says so instead of crashing."""
    many = str(tmp_path / "many")
    big_log(many, 10, inflight=40000)
    p = matchup_limited(many, 2)
    assert p.returncode == 111 and p.stderr == b"qmail-matchup: fatal: out of memory\n"
    p = matchup_limited(many, 256)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 20


# ---------------------------------------------------------------- zreport

def zreport(data, *args):
    r = run([bin_path("qmail-zreport")] + list(args), input=data, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def section(report, title):
    """The lines under the header that starts with title."""
    lines = report.split("\n")
    i = next(k for k, l in enumerate(lines) if l.startswith(title))
    out = []
    for l in lines[i + 1:]:
        if not l.strip():
            break
        out.append(l.split())
    return out


def overall(report):
    vals = {}
    for l in report.split("\n\n")[0].splitlines()[1:]:
        k, _, v = l.partition(": ")
        vals[k] = v
    return vals


@pytest.mark.parametrize("style", ["plain", "tai"])
def test_zreport_known_answers(style):
    rep = zreport(stamped(SAMPLE, style))
    o = overall(rep)
    assert o["messages completed"] == "2"
    assert o["bytes in completed messages"] == "1300"
    assert o["delivery attempts"] == "4"
    assert (o["successes"], o["failures"], o["deferrals"]) == ("2", "1", "1")
    assert (o["local attempts"], o["remote attempts"]) == ("2", "2")
    assert o["recipients (success or failure)"] == "3"
    assert o["average message size"] == "650 bytes"
    # queue times 62.0003 and 0.0008 seconds
    assert o["average time in queue"] == "31.000550 s"
    # attempts 1.0, 2.0, 0.0005, 2.0 seconds
    assert o["average attempt time"] == "1.250125 s"
    # successes at 1.0001 and 61.9998 seconds after birth
    assert o["average delay to success"] == "31.499950 s"
    hist = section(rep, "Time in queue")
    assert hist[0][0] == "1" and hist[3][0] == "1"
    assert section(rep, "Failures by reason") == [["1", "Sorry,_no_mailbox_here_by_that_name._(#5.1.1)/"]]
    assert section(rep, "Deferrals by reason") == [
        ["1", "Connected_to_192.0.2.7_but_greeting_failed./Remote_host_said:_421_busy/"]]
    assert section(rep, "Senders") == [["1", "1000", "2", "<alice@example.com>"], ["1", "300", "1", "<>"]]
    assert section(rep, "Recipients") == [
        ["2", "1", "0", "1", "remote.carol@far.example"],
        ["1", "1", "0", "0", "local.bob@testhost.example"],
        ["1", "0", "1", "0", "local.nobody@testhost.example"]]
    assert section(rep, "Remote recipient hosts") == [["2", "1", "0", "1", "far.example"]]
    assert section(rep, "Remote servers") == [["2", "1", "0", "1", "192.0.2.7"]]
    pend = section(rep, "Still in flight")
    assert pend == [["messages:", "1"], ["deliveries:", "1"]]


def test_zreport_reads_matchup_output_and_files(tmp_path):
    m = tmp_path / "matched"
    m.write_text("\n".join(MATCHED) + "\n")
    rep = zreport(b"", "-m", "-n", "1", str(m))
    assert overall(rep)["delivery attempts"] == "4"
    assert section(rep, "Recipients") == [["2", "1", "0", "1", "remote.carol@far.example"]]
    assert "Still in flight" not in rep
    r = run([bin_path("qmail-zreport"), "-n", "x"])
    assert r.returncode == 100
    r = run([bin_path("qmail-zreport"), str(tmp_path / "missing")])
    assert r.returncode == 111


def test_zreport_on_a_large_log(tmp_path):
    path = str(tmp_path / "large")
    big_log(path, 40000)
    r = run(["sh", "-c", 'exec "$0" "$1"', bin_path("qmail-zreport"), path], timeout=300)
    assert r.returncode == 0, r.stderr
    rep = r.stdout.decode()
    o = overall(rep)
    assert o["messages completed"] == "40000"
    assert o["successes"] == "40000"
    assert o["bytes in completed messages"] == str(sum(range(40000)))
    senders = section(rep, "Senders")
    assert len(senders) == 20 and all(s[0] == "800" for s in senders)
    recips = section(rep, "Recipients")
    assert recips[0][0] == str(len(range(0, 40000, 7)))


# ---------------------------------------------------------------- a real log

def test_reports_on_a_log_written_by_qmail_send(queue, control):
    """qmail-send's own log (no stamps, as qmail-start writes it without a
    logger) through qmail-matchup and qmail-zreport: one success, one
    failure, and the bounce of that failure delivered."""
    if not os.path.exists(bin_path("qmail-send")):
        pytest.skip("qmail-send is not built")
    from send_util import Send, clear_alias, setup_users, queue as qq
    me = "testhost.example"
    control["me"] = me + "\n"
    control["locals"] = me + "\nlocalhost\n"
    control["virtualdomains"] = None
    setup_users(["zadm"])
    s = Send("test_admin_real_log")
    try:
        s.start()
        msg = b"From: zadm@testhost.example\nSubject: report\n\nbody\n"
        assert qq(msg, "zadm@testhost.example", ["zadm@testhost.example", "zadm-nobox@testhost.example"]) == 0
        wait_for(lambda: s.text(s.mark).count("end msg ") >= 2, timeout=30, what="two messages to end")
    finally:
        s.stop()
        clear_alias()
        for n in ("cdb", "assign"):
            if os.path.exists(os.path.join(HOME, "users", n)):
                os.unlink(os.path.join(HOME, "users", n))
    log = s.text(s.mark).encode("latin-1")
    p, _ = matchup(log)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().splitlines()
    ms = [l.split() for l in out if l.startswith("m ")]
    ds = [l.split() for l in out if l.startswith("d ")]
    assert len(ms) == 2 and len(ds) == 3
    first = next(m for m in ms if m[7] == "<zadm@testhost.example>")
    bounce = next(m for m in ms if m[7] == "<>")
    assert first[4:7] == ["1", "0", "1"] and bounce[4:7] == ["1", "0", "0"]
    assert int(first[3]) > len(msg)   # with the Received line qmail-queue adds
    assert sorted((d[1], d[7]) for d in ds) == [
        ("d", "local.zadm-nobox@testhost.example"), ("k", "local.zadm@testhost.example"),
        ("k", "local.zadm@testhost.example")]
    rep = zreport(log)
    o = overall(rep)
    assert (o["messages completed"], o["successes"], o["failures"], o["deferrals"]) == ("2", "2", "1", "0")
    assert len(section(rep, "Failures by reason")) == 1


def test_matchup_delivery_of_an_unknown_message():
    """A delivery whose message was preprocessed before the log began is
    still reported, with the placeholders qmail-matchup(8) documents."""
    data = (b"1700000000.000001 starting delivery 4: msg 77 to remote x@Far.Example\n"
            b"1700000002.000001 delivery 4: success: 192.0.2.1_accepted_message./\n"
            b"1700000003.000001 end msg 77\n")
    p, _ = matchup(data)
    assert p.returncode == 0
    assert p.stdout.decode().splitlines() == [
        "d k 1700000000.000001 1700000000.000001 1700000002.000001 0 <?> remote.x@far.example 0 0 "
        "192.0.2.1_accepted_message./"]
