"""qmail-remote, qmail-tcpto and qmail-tcpok against real peers.

Local tests route by control/smtproutes to an aiosmtpd peer on 127.0.0.1
(remote_util.SmtpPeer) and check the reports byte for byte and the exact
bytes the peer received. DNS tests build two network namespaces joined by
a veth pair: the client side runs dnsmasq on 127.0.0.1 and qmail-remote,
the server side runs the SMTP peer on port 25.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import HOME, BUILD, run, bin_path, wait_for
from remote_util import SmtpPeer, wire_data

WORK = os.path.join(BUILD or os.path.dirname(HOME), "remote-test")
TCPTO = os.path.join(HOME, "queue", "lock", "tcpto")
MSG = b"From: a@example.org\nTo: u@peer.test\nSubject: test\n\nhello\n"


def qr(host, sender, *recips, input=MSG, env=None, user=None, timeout=60):
    return run([bin_path("qmail-remote"), host, sender] + list(recips), input=input, env=env,
               user=user, timeout=timeout)


def reports(p):
    assert p.stdout.endswith(b"\0"), p.stdout
    return p.stdout[:-1].split(b"\0")


@pytest.fixture
def peer(request, control):
    """Start a peer with the config given by indirect parametrization and route
    peer.test to it; yield it; stop it by pid."""
    cfg = getattr(request, "param", {})
    p = SmtpPeer(os.path.join(WORK, request.node.originalname), cfg)
    control["smtproutes"] = "peer.test:127.0.0.1:%d\n" % p.port
    control["helohost"] = None
    control["timeoutremote"] = None
    control["timeoutconnect"] = None
    clear_tcpto()
    yield p
    p.stop()


def clear_tcpto():
    with open(TCPTO, "r+b") as f:
        f.write(b"\0" * 1024)


def ok_report(ip="127.0.0.1", said=b"250 2.0.0 queued as 4711"):
    return b"K" + ip.encode() + b" accepted message.\nRemote host said: " + said + b"\n"


# ------------------------------------------------------------ delivery

def test_delivers_all_recipients_in_one_transaction(peer):
    p = qr("peer.test", "a@example.org", "u1@peer.test", "u2@peer.test")
    assert p.returncode == 0
    assert reports(p) == [b"r", b"r", ok_report()]
    msgs = peer.messages()
    assert len(msgs) == 1
    assert msgs[0]["mail_from"] == "a@example.org"
    assert msgs[0]["rcpt_tos"] == ["u1@peer.test", "u2@peer.test"]
    assert msgs[0]["helo"] == "testhost.example"           # helohost defaults to me
    assert msgs[0]["content"] == MSG.replace(b"\n", b"\r\n")
    raw = peer.raw()[0]
    assert raw.startswith(b"EHLO testhost.example\r\n")
    assert b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\n" in raw   # the peer offers 8BITMIME
    assert raw.endswith(b"\r\n.\r\nQUIT\r\n")


def test_helohost_and_bounce_sender(peer, control):
    control["helohost"] = "out.example.net\n"
    p = qr("peer.test", "", "u@peer.test")
    assert reports(p) == [b"r", ok_report()]
    raw = peer.raw()[0]
    assert raw.startswith(b"EHLO out.example.net\r\n")
    assert b"MAIL FROM:<> BODY=8BITMIME\r\n" in raw


def test_crlf_input_is_not_doubled(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test", input=b"Subject: x\r\n\r\nline one\r\nline two\r\n")
    assert reports(p) == [b"r", ok_report()]
    data = wire_data(peer.raw()[0])
    assert data == b"Subject: x\r\n\r\nline one\r\nline two\r\n.\r\n"
    assert b"\r\r" not in peer.raw()[0]


def test_dot_stuffing(peer):
    body = b"Subject: dots\n\n.x\n..y\n.\nz\n."
    p = qr("peer.test", "a@example.org", "u@peer.test", input=body)
    assert reports(p) == [b"r", ok_report()]
    data = wire_data(peer.raw()[0])
    # every leading dot doubled; the missing final line end added
    assert data == b"Subject: dots\r\n\r\n..x\r\n...y\r\n..\r\nz\r\n..\r\n.\r\n"
    assert peer.messages()[0]["content"] == b"Subject: dots\r\n\r\n.x\r\n..y\r\n.\r\nz\r\n.\r\n"


def test_bare_cr_cannot_smuggle_a_second_message(peer):
    evil = (b"Subject: smuggle\n\nhello\r.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@peer.test>\r\n"
            b"DATA\r\nSubject: forged\r\n\r\nhi\r\n\r.\nmore\n.\r\rend\n")
    p = qr("peer.test", "a@example.org", "u@peer.test", input=evil)
    assert reports(p) == [b"r", ok_report()]
    raw = peer.raw()[0]
    data = wire_data(raw)
    lines = data.split(b"\r\n")
    assert lines[-2:] == [b".", b""]
    assert b"." not in lines[:-2]                      # no early end of data
    assert b"\r" not in data.replace(b"\r\n", b"")     # every CR is part of CRLF
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert raw.count(b"MAIL FROM:") == 2               # ours, and the one inside the body
    assert raw.index(b"MAIL FROM:<evil@x>") > raw.index(b"DATA\r\n")
    msgs = peer.messages()
    assert len(msgs) == 1 and msgs[0]["rcpt_tos"] == ["u@peer.test"]
    assert b"\r\n..\r\nMAIL FROM:<evil@x>" in raw


def test_mixed_recipient_replies(peer_mixed):
    p = qr("peer.test", "a@example.org", "bad@peer.test", "later@peer.test", "good@peer.test")
    assert reports(p) == [
        b"h127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user\n",
        b"s127.0.0.1 does not like recipient.\nRemote host said: 451 4.2.1 try later\n",
        b"r",
        ok_report()]
    assert peer_mixed.messages()[0]["rcpt_tos"] == ["good@peer.test"]


@pytest.fixture
def peer_mixed(request, control):
    p = SmtpPeer(os.path.join(WORK, request.node.name), {"rcpt_replies": {
        "bad@peer.test": "550 5.1.1 no such user", "later@peer.test": "451 4.2.1 try later"}})
    control["smtproutes"] = "peer.test:127.0.0.1:%d\n" % p.port
    clear_tcpto()
    yield p
    p.stop()


@pytest.mark.parametrize("peer", [{"rcpt_replies": {"bad@peer.test": "550-5.1.1 no such user\r\n550 5.1.1 really"}}], indirect=True, ids=["cfg"])
def test_every_recipient_rejected_gives_up(peer):
    p = qr("peer.test", "a@example.org", "bad@peer.test")
    assert reports(p) == [
        b"h127.0.0.1 does not like recipient.\nRemote host said: 550-5.1.1 no such user\n550 5.1.1 really\n",
        b"DGiving up on 127.0.0.1.\n"]                     # as qmail: the text went with the h report
    raw = peer.raw()[0]
    assert b"DATA" not in raw and raw.endswith(b"QUIT\r\n")


@pytest.mark.parametrize("peer", [{"mail_reply": "553 5.7.1 sender refused"}], indirect=True, ids=["cfg"])
def test_sender_rejected_permanently(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"DConnected to 127.0.0.1 but sender was rejected.\nRemote host said: 553 5.7.1 sender refused\n"]


@pytest.mark.parametrize("peer", [{"mail_reply": "451 4.3.0 greylisted"}], indirect=True, ids=["cfg"])
def test_sender_rejected_temporarily(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"ZConnected to 127.0.0.1 but sender was rejected.\nRemote host said: 451 4.3.0 greylisted\n"]


@pytest.mark.parametrize("peer", [{"data_reply": "554 5.6.0 content refused"}], indirect=True, ids=["cfg"])
def test_message_rejected_after_data(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", b"D127.0.0.1 failed after I sent the message.\nRemote host said: 554 5.6.0 content refused\n"]


@pytest.mark.parametrize("peer", [{"data_reply": "452 4.3.1 disk full"}], indirect=True, ids=["cfg"])
def test_message_deferred_after_data(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", b"Z127.0.0.1 failed after I sent the message.\nRemote host said: 452 4.3.1 disk full\n"]


@pytest.mark.parametrize("peer", [{"ehlo_reply": "502 5.5.1 what is EHLO"}], indirect=True, ids=["cfg"])
def test_helo_when_ehlo_is_refused(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", ok_report()]
    raw = peer.raw()[0]
    assert raw.startswith(b"EHLO testhost.example\r\nHELO testhost.example\r\n")
    assert b"MAIL FROM:<a@example.org>\r\n" in raw     # no 8BITMIME after HELO


@pytest.mark.parametrize("peer", [{"mode": "raw", "greeting": "554 5.7.1 go away\r\n"}], indirect=True, ids=["cfg"])
def test_greeting_refused(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"DConnected to 127.0.0.1 but greeting failed.\nRemote host said: 554 5.7.1 go away\n"]


@pytest.mark.parametrize("peer", [{"mode": "raw", "greeting": "421-" + "x" * 900 + "\r\n" + ("421-" + "y" * 2000 + "\r\n") * 20
                   + "421 " + "z" * 5000 + "\r\n"}], indirect=True, ids=["cfg"])
def test_huge_reply_is_bounded(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    r = reports(p)
    assert len(r) == 1 and r[0].startswith(b"ZConnected to 127.0.0.1 but greeting failed.\nRemote host said: 421-xxx")
    assert len(r[0]) < 5200


@pytest.mark.parametrize("peer", [{"mode": "raw", "greeting": ("220-" + "y" * 2000 + "\r\n") * 100 + "220 ok\r\n"}],
                         indirect=True, ids=["cfg"])
def test_endless_reply_is_cut_off(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n"]


@pytest.mark.parametrize("peer", [{"close_after": "DATA\r\n"}], indirect=True, ids=["cfg"])
def test_connection_closed_mid_transaction(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", b"ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n"]
    assert peer.messages() == []


@pytest.mark.parametrize("peer", [{"close_after": "\r\n.\r\n"}], indirect=True, ids=["cfg"])
def test_connection_closed_after_the_dot_may_duplicate(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", b"ZConnected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n"]


@pytest.mark.parametrize("peer", [{"mode": "silent"}], indirect=True, ids=["cfg"])
def test_silent_peer_times_out(peer, control):
    control["timeoutremote"] = "2\n"
    t = time.monotonic()
    p = qr("peer.test", "a@example.org", "u@peer.test")
    took = time.monotonic() - t
    assert reports(p) == [b"ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n"]
    assert 1.5 < took < 15


def test_connection_refused(control):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                        # nothing listens there now
    control["smtproutes"] = "peer.test:127.0.0.1:%d\n" % port
    clear_tcpto()
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"]


def test_smtproutes_forms(peer, control):
    # exact domain beats a wildcard; .suffix matches subdomains only; an empty
    # domain is the default route; a line without a colon is ignored
    control["smtproutes"] = ("# comment\n.peer.test:[127.0.0.1]:%d\nexact.peer.test:127.0.0.1:%d\n"
                             "nomx.peer.test:\n:[127.0.0.1]:%d\na.b.peer.test\n" % (peer.port, peer.port, peer.port))
    for host in ("a.b.peer.test", "exact.peer.test", "elsewhere.example"):
        p = qr(host, "a@example.org", "u@" + host)
        assert reports(p) == [b"r", ok_report()], host
    assert [m["rcpt_tos"] for m in peer.messages()] == [["u@a.b.peer.test"], ["u@exact.peer.test"],
                                                        ["u@elsewhere.example"]]


def test_smtproutes_bad_port_is_temporary(control):
    control["smtproutes"] = "peer.test:127.0.0.1:99999\n"
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"ZUnable to read control files. (#4.3.0)\n"]


def test_address_literal_that_is_me(control):
    control["smtproutes"] = None
    p = qr("[127.0.0.1]", "a@example.org", "u@[127.0.0.1]")
    assert reports(p) == [b"DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
                          b"it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n"]


def test_addresses_quoted_and_control_characters_refused(peer):
    p = qr("peer.test", "a@example.org", "first last@peer.test", "x\r\nRSET@peer.test", "ok@peer.test")
    assert reports(p) == [b"r", b"hSorry, the recipient address contains control characters. (#5.1.3)\n",
                          b"r", ok_report()]
    raw = peer.raw()[0]
    assert b'RCPT TO:<"first last"@peer.test>\r\n' in raw
    assert b"RSET" not in raw
    p = qr("peer.test", "a\n@example.org", "ok@peer.test")
    assert reports(p) == [b"DSorry, the envelope sender contains control characters. (#5.1.7)\n"]


def test_domain_that_would_add_esmtp_parameters_refused(peer):
    """A local part is quoted on the wire, a domain cannot be: text after
    the last @ with a '>' or a space would end the address early and hand
    the peer parameters of the sender's choosing. qmail-smtpd lets such a
    domain in when it is quoted (u@"x> NOTIFY=NEVER")."""
    p = qr("peer.test", "a@example.org", "u@peer.test> NOTIFY=NEVER", "v@peer.test")
    assert reports(p) == [b"hSorry, the domain of the recipient address is not valid. (#5.1.2)\n",
                          b"r", ok_report()]
    raw = peer.raw()[0]
    assert b"RCPT TO:<v@peer.test>\r\n" in raw
    assert b"NOTIFY" not in raw
    p = qr("peer.test", "a@example.org> BODY=8BITMIME SIZE=1", "v@peer.test")
    assert reports(p) == [b"DSorry, the domain of the envelope sender is not valid. (#5.1.7)\n"]
    assert len(peer.raw()) == 1
    p = qr("peer.test", "@[IPv6:::1]", "v@[127.0.0.1]")   # literals pass
    assert reports(p) == [b"r", ok_report()]


def test_usage():
    p = run([bin_path("qmail-remote"), "host", "sender"])
    assert p.returncode == 100
    assert p.stdout == b"DI (qmail-remote) was invoked improperly. (#5.3.5)\n\0"


def test_runs_as_qmailr(peer):
    p = qr("peer.test", "a@example.org", "u@peer.test", user="qmailr")
    assert reports(p) == [b"r", ok_report()]


# ------------------------------------------------------------ tcpto

def tcpto_record(ip, count, when):
    return socket.inet_aton(ip) + bytes([count, 0, 0, 0]) + struct.pack("<I", when) + b"\0" * 4


def test_tcpto_skips_a_host_that_timed_out(peer):
    now = int(time.time())
    with open(TCPTO, "r+b") as f:
        f.write(tcpto_record("127.0.0.1", 2, now - 30))   # qmail's own record layout
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"]
    assert peer.raw() == []                               # not even tried
    t = run([bin_path("qmail-tcpto")])
    assert t.returncode == 0
    out = t.stdout.decode()
    assert out.startswith("127.0.0.1 timed out ") and out.endswith(" seconds ago; # recent timeouts: 2\n")
    secs = int(out.split()[3])
    assert 29 <= secs <= 40
    k = run([bin_path("qmail-tcpok")])
    assert k.returncode == 0 and k.stdout == b""
    st = os.stat(TCPTO)
    assert st.st_size == 1024 and open(TCPTO, "rb").read() == b"\0" * 1024
    import pwd
    assert pwd.getpwuid(st.st_uid).pw_name == "qmailr"
    assert run([bin_path("qmail-tcpto")]).stdout == b""
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", ok_report()]


def test_tcpto_one_timeout_is_not_enough(peer):
    now = int(time.time())
    with open(TCPTO, "r+b") as f:
        f.write(tcpto_record("127.0.0.1", 1, now - 30))
    p = qr("peer.test", "a@example.org", "u@peer.test")
    assert reports(p) == [b"r", ok_report()]
    # the good connection cleared the record
    assert open(TCPTO, "rb").read(5)[4] == 0


def test_connect_timeout_is_recorded(control):
    # a listener with a full backlog drops further SYNs: connect times out
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(c)
        time.sleep(0.2)
        control["smtproutes"] = "peer.test:127.0.0.1:%d\n" % port
        control["timeoutconnect"] = "1\n"
        clear_tcpto()
        t = time.monotonic()
        p = qr("peer.test", "a@example.org", "u@peer.test", user="qmailr")
        assert time.monotonic() - t < 10
        assert reports(p) == [b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"]
        out = run([bin_path("qmail-tcpto")]).stdout.decode()
        assert out.startswith("127.0.0.1 timed out ") and out.endswith("# recent timeouts: 1\n")
    finally:
        for c in fillers:
            c.close()
        s.close()
        clear_tcpto()


# ------------------------------------------------------------ DNS, in network namespaces

NS_SETUP_OK = None


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, check=check, timeout=30)


@pytest.fixture(scope="module")
def dnsnet():
    """Namespaces C (client: dnsmasq, qmail-remote) and S (SMTP peer),
    joined by veth: C 10.250.0.1 fd55::1, S 10.250.0.2 10.250.0.3 fd55::2."""
    if not shutil.which("dnsmasq"):
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq-base)")
    tag = "%d" % os.getpid()
    nc, ns = "qtest-%s-c" % tag, "qtest-%s-s" % tag
    r = subprocess.run(["ip", "netns", "add", nc], capture_output=True)
    if r.returncode != 0:
        pytest.skip("network namespaces are not permitted here: " + r.stderr.decode().strip())
    procs = []
    etc = "/etc/netns/" + nc
    try:
        sh("ip", "netns", "add", ns)
        for n in (nc, ns):
            sh("ip", "netns", "exec", n, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "qv%sc" % tag[-6:], "netns", nc, "type", "veth", "peer", "name", "qv%ss" % tag[-6:], "netns", ns)
        vc, vs = "qv%sc" % tag[-6:], "qv%ss" % tag[-6:]
        sh("ip", "netns", "exec", nc, "ip", "addr", "add", "10.250.0.1/24", "dev", vc)
        sh("ip", "netns", "exec", nc, "ip", "addr", "add", "fd55::1/64", "dev", vc, "nodad")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.250.0.2/24", "dev", vs)
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.250.0.3/24", "dev", vs)
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", "fd55::2/64", "dev", vs, "nodad")
        for n, v in ((nc, vc), (ns, vs)):
            sh("ip", "netns", "exec", n, "ip", "link", "set", v, "up")
        os.makedirs(etc, exist_ok=True)
        with open(etc + "/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\n")
        work = os.path.join(WORK, "dns")
        os.makedirs(work, exist_ok=True)
        conf = os.path.join(work, "dnsmasq.conf")
        lines = ["no-resolv", "no-hosts", "listen-address=127.0.0.1", "bind-interfaces", "local=/test/",
                 "edns-packet-max=4096", "port=53",
                 "host-record=mx-up.test,10.250.0.2", "host-record=mx-down.test,10.250.0.3",
                 "host-record=me.test,10.250.0.1", "host-record=nomx.test,10.250.0.2",
                 "host-record=v6only.test,fd55::2",
                 "host-record=mx6.test,fd55::2", "mx-host=v6mx.test,mx6.test,10",
                 "mx-host=v6mx.test,mx-down.test,5",
                 "mx-host=two.test,mx-down.test,10", "mx-host=two.test,mx-up.test,20",
                 "mx-host=self.test,me.test,10", "mx-host=self.test,mx-up.test,20",
                 "mx-host=selfsecond.test,mx-up.test,5", "mx-host=selfsecond.test,me.test,10",
                 "cname=alias.test,two.test",
                 "mx-host=dangling.test,nowhere.test,10"]
        for i in range(40):
            name = "a-rather-long-name-for-mail-exchanger-number-%02d.test" % i
            lines.append("host-record=%s,%s" % (name, "10.250.0.2" if i == 0 else "10.250.0.3"))
            lines.append("mx-host=big.test,%s,%d" % (name, i))
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        pidfile = os.path.join(work, "dnsmasq.pid")
        d = subprocess.Popen(["ip", "netns", "exec", nc, "dnsmasq", "--keep-in-foreground", "--conf-file=" + conf,
                              "--pid-file=" + pidfile, "--user=root", "--log-facility=" + os.path.join(work, "dnsmasq.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(d)
        wait_for(lambda: d.poll() is not None or sh("ip", "netns", "exec", nc, "ss", "-uln", check=False).stdout.find(b"127.0.0.1:53") >= 0,
                 what="dnsmasq to listen")
        assert d.poll() is None, open(os.path.join(work, "dnsmasq.log")).read()
        peer = SmtpPeer(os.path.join(work, "peer"), {"listen": [["10.250.0.2", 25], ["fd55::2", 25]]}, netns=ns)
        yield {"client": nc, "server": ns, "peer": peer}
        peer.stop()
    finally:
        for d in procs:
            if d.poll() is None:
                os.kill(d.pid, signal.SIGTERM)
                try:
                    d.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(d.pid, signal.SIGKILL)
                    d.wait()
        subprocess.run(["ip", "netns", "del", nc], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


@pytest.fixture
def dns(dnsnet, control):
    control["smtproutes"] = None
    control["timeoutconnect"] = "5\n"
    clear_tcpto()
    yield dnsnet


def qr_ns(net, host, *recips):
    return run(["ip", "netns", "exec", net["client"], bin_path("qmail-remote"), host, "a@example.org"] + list(recips),
               input=MSG)


def last_message(net):
    return net["peer"].messages()[-1]


def test_dns_best_mx_down_uses_the_next(dns):
    p = qr_ns(dns, "two.test", "u@two.test")
    assert reports(p) == [b"r", ok_report("10.250.0.2")]
    assert last_message(dns)["rcpt_tos"] == ["u@two.test"]


def test_dns_cname_followed_but_recipient_kept(dns):
    p = qr_ns(dns, "alias.test", "u@alias.test")
    assert reports(p) == [b"r", ok_report("10.250.0.2")]
    assert last_message(dns)["rcpt_tos"] == ["u@alias.test"]


def test_dns_a_record_when_no_mx(dns):
    p = qr_ns(dns, "nomx.test", "u@nomx.test")
    assert reports(p) == [b"r", ok_report("10.250.0.2")]


def test_dns_aaaa_only(dns):
    p = qr_ns(dns, "v6only.test", "u@v6only.test")
    assert reports(p) == [b"r", ok_report("fd55::2")]


def test_dns_ipv6_mx_target(dns):
    """the best MX (IPv4 only) is down; the next one has only an AAAA record"""
    p = qr_ns(dns, "v6mx.test", "u@v6mx.test")
    assert reports(p) == [b"r", ok_report("fd55::2")]
    assert last_message(dns)["rcpt_tos"] == ["u@v6mx.test"]


def test_dns_ipv6_literal(dns):
    p = qr_ns(dns, "[IPv6:fd55::2]", "u@[IPv6:fd55::2]")
    assert reports(p) == [b"r", ok_report("fd55::2")]


def test_dns_oversized_mx_answer(dns):
    # 40 MX records with long names: far past 512 bytes, so EDNS (or TCP)
    # is needed; only the best one (preference 0) is up
    p = qr_ns(dns, "big.test", "u@big.test")
    r = reports(p)
    assert r == [b"r", ok_report("10.250.0.2")]


def test_dns_best_mx_is_me(dns):
    p = qr_ns(dns, "self.test", "u@self.test")
    assert reports(p) == [b"DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
                          b"it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n"]


def test_dns_better_mx_than_me_is_used(dns):
    p = qr_ns(dns, "selfsecond.test", "u@selfsecond.test")
    assert reports(p) == [b"r", ok_report("10.250.0.2")]


def test_dns_no_such_domain(dns):
    p = qr_ns(dns, "nothere.test", "u@nothere.test")
    assert reports(p) == [b"DSorry, I couldn't find any host named nothere.test. (#5.1.2)\n"]


def test_dns_mx_without_address(dns):
    p = qr_ns(dns, "dangling.test", "u@dangling.test")
    assert reports(p) == [b"DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n"]


def test_dns_empty_relay_means_mx(dns, control):
    control["smtproutes"] = "two.test:\n:127.0.0.1:1\n"     # the default route is dead
    p = qr_ns(dns, "two.test", "u@two.test")
    assert reports(p) == [b"r", ok_report("10.250.0.2")]
    p = qr_ns(dns, "nomx.test", "u@nomx.test")
    assert reports(p) == [b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n"]
