"""A test DNS server for the sender-authentication tests (SPF, DKIM, DMARC).

As a library: DnsNamespace makes a network namespace whose resolv.conf
points at 127.0.0.1 and runs `python3 dns_util.py serve ZONE.json` there;
set_zone() replaces the zone data (the server rereads the file on each
query, so one server serves every scenario); run() runs a program inside
the namespace. Stopped by pid, namespace deleted.
As a program (`serve`): answers UDP queries on 127.0.0.1:53 from a zone in
{name: [[TYPE, data], ..., "TIMEOUT"]}, where TXT data is a list of
strings, MX is [pref, host], as the RFC 7208 test suite's driver reads its
zonedata: "TIMEOUT" before any record of the asked type, or a record whose
data is "TIMEOUT", gets no answer at all; a name not in the zone is
NXDOMAIN (no answer when it starts with "error."); CNAMEs are followed
inside the zone.
"""
import json
import os
import shutil
import subprocess
import sys
import time

NS_PREFIX = "qdns"


class DnsNamespace:
    def __init__(self, workdir):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.ns = "%s-%d" % (NS_PREFIX, os.getpid())
        self.zonefile = os.path.join(self.dir, "zone.json")
        self.set_zone({})
        r = subprocess.run(["ip", "netns", "add", self.ns], capture_output=True)
        if r.returncode != 0:
            raise PermissionError("network namespaces are not permitted here: " + r.stderr.decode().strip())
        self.etc = "/etc/netns/" + self.ns
        self.proc = None
        try:
            subprocess.run(["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"], check=True)
            os.makedirs(self.etc, exist_ok=True)
            with open(self.etc + "/resolv.conf", "w") as f:
                f.write("nameserver 127.0.0.1\n")
            self.log = open(os.path.join(self.dir, "dns.log"), "wb")
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3",
                                          os.path.abspath(__file__), "serve", self.zonefile],
                                         stdout=subprocess.PIPE, stderr=self.log)
            line = self.proc.stdout.readline()
            if line != b"ready\n":
                raise RuntimeError("dns server did not start: " + open(os.path.join(self.dir, "dns.log")).read())
        except BaseException:
            self.stop()
            raise

    def set_zone(self, zone):
        tmp = self.zonefile + ".tmp"
        with open(tmp, "w") as f:
            json.dump(zone, f)
        os.rename(tmp, self.zonefile)

    def run(self, args, **kw):
        # tests send to made-up users: qmail-smtpd's recipient check off
        kw["env"] = dict(kw.get("env") or os.environ)
        kw["env"].setdefault("RCPTCHECK", "0")
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(args), capture_output=True, **kw)

    def popen(self, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns] + list(args), **kw)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree("/etc/netns/" + self.ns, ignore_errors=True)


def txt_strings(data):
    if isinstance(data, str):
        data = [data]
    out = []
    for s in data:
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        if not b:
            out.append(b)
        while b:
            out.append(b[:255])
            b = b[255:]
    return out or [b""]


def serve(zonefile):
    import socket
    from dnslib import DNSRecord, RR, QTYPE, A, AAAA, MX, TXT, PTR, CNAME, RCODE

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", 53))
    t.listen(8)
    print("ready", flush=True)

    CODES = {"A": QTYPE.A, "AAAA": QTYPE.AAAA, "MX": QTYPE.MX, "TXT": QTYPE.TXT, "SPF": 99,
             "PTR": QTYPE.PTR, "CNAME": QTYPE.CNAME}

    def load():
        with open(zonefile) as f:
            z = json.load(f)
        return {k.lower().rstrip("."): v for k, v in z.items()}

    def rdata(typ, data):
        if typ == "A":
            return QTYPE.A, A(data)
        if typ == "AAAA":
            return QTYPE.AAAA, AAAA(data)
        if typ == "MX":
            return QTYPE.MX, MX(data[1], data[0])
        if typ in ("TXT", "SPF"):
            return (QTYPE.TXT if typ == "TXT" else 99), TXT(txt_strings(data))
        if typ == "PTR":
            return QTYPE.PTR, PTR(data)
        if typ == "CNAME":
            return QTYPE.CNAME, CNAME(data)
        return None, None

    def answer(q):
        zone = load()
        reply = q.reply()
        name = str(q.q.qname).lower().rstrip(".")
        qtype = q.q.qtype
        for hop in range(9):
            entries = zone.get(name)
            if entries is None:
                if name.startswith("error."):
                    return None
                if not hop:
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply
            got = False
            cname = None
            for e in entries:
                if e == "TIMEOUT":
                    if not got:
                        return None
                    break
                typ, data = e
                code = CODES.get(typ)
                rd = None if data == "TIMEOUT" or code is None else rdata(typ, data)[1]
                if code is None:
                    continue
                if code == QTYPE.CNAME and qtype != QTYPE.CNAME:
                    cname = data
                    reply.add_answer(RR(name, QTYPE.CNAME, rdata=rd, ttl=60))
                elif code == qtype:
                    if rd is None:
                        return None
                    got = True
                    reply.add_answer(RR(name, code, rdata=rd, ttl=60))
            if cname is None:
                return reply
            name = cname.lower().rstrip(".")
        return reply

    import select
    while True:
        r, _, _ = select.select([s, t], [], [])
        if s in r:
            pkt, peer = s.recvfrom(4096)
            try:
                q = DNSRecord.parse(pkt)
                rep = answer(q)
            except Exception as e:  # a query we cannot parse: no answer
                print("error %r" % e, file=sys.stderr, flush=True)
                continue
            if rep is not None:
                s.sendto(rep.pack(), peer)
        if t in r:
            c, _ = t.accept()
            c.settimeout(5)
            try:
                n = int.from_bytes(c.recv(2), "big")
                pkt = b""
                while len(pkt) < n:
                    more = c.recv(n - len(pkt))
                    if not more:
                        break
                    pkt += more
                rep = answer(DNSRecord.parse(pkt))
                if rep is not None:
                    out = rep.pack()
                    c.sendall(len(out).to_bytes(2, "big") + out)
            except Exception as e:
                print("tcp error %r" % e, file=sys.stderr, flush=True)
            c.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
