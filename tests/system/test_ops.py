"""What an administrator trips over when following the seeds as written:
network servers started as root by `tcpserver -u qmaild` (a name that
Debian's tcpserver reads as 0), `qmail-start splogger qmail` with the
arguments the wrong way round, splogger on a machine with no syslog
daemon. Each must stop with a message that says what to do."""
import os
import socket
import subprocess
import time

from conftest import BUILD, HOME, SRC, bin_path, run, wait_for
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


# ------------------------------------------------- a picture of delivery

CHROMIUM = "/usr/bin/chromium"


def chromium(args, tmp_path):
    """Headless Chromium as the machine allows it: as root (no sandbox),
    no network chatter, a fresh profile."""
    prof = tmp_path / "profile"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--user-data-dir=%s" % prof] + args,
                          capture_output=True, timeout=120)


def test_zreport_html_page_in_chromium(tmp_path):
    """qmail-zreport -H writes one self-contained page (no script, nothing
    fetched) with deliveries per hour, the delay histogram, failures by
    reason and the top destinations; Chromium renders it and the page
    shows the numbers of the text report."""
    import html.parser
    from test_admin import SAMPLE, stamped, zreport, overall, section
    log = stamped(SAMPLE, "tai")
    text = zreport(log)
    page = tmp_path / "report.html"
    r = run([bin_path("qmail-zreport"), "-H"], input=log)
    assert r.returncode == 0, r.stderr
    page.write_bytes(r.stdout)
    assert b"<script" not in r.stdout and b"http://" not in r.stdout.replace(b"http://www.w3.org/2000/svg", b"")
    dom = chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]

    class Cells(html.parser.HTMLParser):
        """the rows of each section's tables, as Chromium laid out the DOM"""
        def __init__(self):
            super().__init__()
            self.sec, self.rows, self.row, self.cell, self.svg = None, {}, None, None, {}

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "section":
                self.sec = a["id"]
            elif tag == "tr":
                self.row = []
            elif tag in ("td", "th"):
                self.cell = ""
            elif tag == "rect":
                self.svg.setdefault(self.sec, []).append(int(a["width"]))

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.row is not None:
                self.row.append(self.cell.strip())
                self.cell = None
            elif tag == "tr":
                self.rows.setdefault(self.sec, []).append(self.row)
                self.row = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data
    c = Cells()
    c.feed(dom.stdout.decode())
    o = overall(text)
    assert dict(c.rows["overall"]) == o
    # deliveries per hour: one hour, 2 successes, 1 failure, 1 deferral
    assert c.rows["hourly"][1:] == [["2023-11-14 22:00", o["successes"], o["failures"], o["deferrals"]]]
    assert [r[1] for r in c.rows["delays"][1:]] == \
        [l.split()[0] for l in run([bin_path("qmail-zreport"), "-r", "ddist"], input=log).stdout.decode().splitlines()[1:]]
    fails = section(text, "Failures by reason")
    assert [[r[0], r[1]] for r in c.rows["failures"][1:]] == fails
    hosts = section(text, "Remote recipient hosts")
    assert [r[1:] + [r[0]] for r in c.rows["destinations"][1:2]] == hosts
    assert max(c.svg["delays"]) == 400 and len(c.svg["failures"]) == 1
    # and it draws: a screenshot that is a real PNG
    shot = tmp_path / "report.png"
    r = chromium(["--screenshot=%s" % shot, "--window-size=900,1400", page.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000


# ------------------------------------------------------------- make deb

DEB_CHECK = r'''
set -e
top=$1 src=$2 deb=$3 debbuild=$4
mount -t tmpfs tmpfs "$top"
mkdir "$top/u" "$top/w" "$top/m"
# a throwaway copy of this machine: writes go to the tmpfs, the host is untouched
mount -t overlay overlay -o lowerdir=/,upperdir="$top/u",workdir="$top/w" "$top/m"
mount -t proc proc "$top/m/proc"
mount --bind /dev "$top/m/dev"
cp "$deb" "$top/m/tmp/pkg.deb"
exec chroot "$top/m" sh -s "$src" "$debbuild" <<'INNER'
set -e
src=$1 debbuild=$2
# a machine without the qmail users: the package must make them
for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do userdel "$u" >/dev/null 2>&1 || true; done
groupdel qmail >/dev/null 2>&1 || true; groupdel nofiles >/dev/null 2>&1 || true
getent passwd qmaild >/dev/null && { echo "qmaild still there"; exit 1; }
# this test machine has Postfix (a test peer): it provides mail-transport-agent and /usr/sbin/sendmail
force=; dpkg -s postfix >/dev/null 2>&1 && force="--force-conflicts --force-overwrite"
dpkg -i $force /tmp/pkg.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
echo "INSTALLED"
for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do getent passwd "$u" >/dev/null || { echo "no user $u"; exit 1; }; done
sh "$src/scripts/check.sh" /var/qmail "$debbuild"
ls /usr/share/man/man8/qmail-send.8.gz /usr/share/man/man1/qlist.1.gz /lib/systemd/system/qmail.service
ls /var/qmail/supervise/qmail-send/run /var/qmail/supervise/qmail-smtpd/down
readlink /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases
/usr/bin/newaliases | head -n 1
stat -c '%U %a' /var/qmail/bin/qmail-queue
dpkg --purge qmail-compat >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
echo "PURGED"
test ! -e /var/qmail && test ! -e /usr/share/man/man8/qmail-send.8.gz && test ! -e /lib/systemd/system/qmail.service
test ! -e /var/log/qmail && test ! -e /etc/tcp.smtp.cdb
dpkg -s qmail-compat >/dev/null 2>&1 && { echo "still known to dpkg"; exit 1; }
echo "CLEAN"
INNER
'''


def test_make_deb_installs_checks_and_purges(tmp_path):
    """make deb builds a package offline; installed into a throwaway copy
    of this machine (an overlay of / in a private mount namespace, no
    qmail users), it creates the users, and its tree passes the same check
    as make setup check; purge leaves nothing of it."""
    debout = os.path.join(BUILD, "debpkg")
    r = subprocess.run(["make", "-s", "-C", SRC, "deb", "O=" + debout], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    deb = r.stdout.decode().strip().splitlines()[-1]
    assert deb.endswith("_amd64.deb") or deb.endswith(".deb")
    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Provides", "Depends"], capture_output=True)
    assert b"Package: qmail-compat" in info.stdout and b"mail-transport-agent" in info.stdout
    files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True).stdout.decode()
    assert "./var/qmail/bin/qmail-send" in files and "./usr/share/man/man8/qmail-smtpd.8.gz" in files
    # nothing in the archive is setuid before the postinst gives it its owner
    assert not [l for l in files.splitlines() if l[3] in "sS" or l[6] in "sS"]
    top = tmp_path / "ovl"
    top.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c", DEB_CHECK, "sh", str(top), SRC, deb,
                        os.path.join(debout, "deb", "build")], capture_output=True, timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    assert "INSTALLED" in out and "check: /var/qmail is in order" in out, out
    assert "qmailq 4711" in out
    assert "/var/qmail/bin/sendmail" in out and "nothing to rebuild" in out
    assert "PURGED" in out and "CLEAN" in out
    # the host never saw any of it
    assert not os.path.exists("/var/qmail/bin/qmail-send") or os.path.realpath(HOME) == "/var/qmail"
