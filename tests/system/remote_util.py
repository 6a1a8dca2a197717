"""Peers for the qmail-remote tests.

As a library: SmtpPeer starts `python3 remote_util.py serve CONFIG` (inside a
network namespace when asked), waits for it to listen, and stops it by pid.
As a program (`serve`): an aiosmtpd server behind a small recording proxy.
The proxy writes every byte the client sent to conn-N.raw, so tests see the
exact wire data (line ends, dot-stuffing); the aiosmtpd handler writes each
accepted transaction to msg-N.json. Behaviour comes from the JSON config:

  listen        [[host, port], ...]  (port 0: any; the chosen ports go to "ready")
  mode          "smtp" (default), "silent" (accept, never answer) or
                "raw" (send `greeting` bytes, then only record)
  greeting      raw bytes (latin-1) for mode "raw"
  ehlo_reply    a reply that replaces the whole EHLO answer (e.g. "502 no")
  mail_reply    reply to MAIL FROM
  rcpt_replies  {address: reply}
  data_reply    reply after the message (default "250 2.0.0 queued as 4711")
  close_after   latin-1 marker: close the client's connection once its data
                holds the marker (nothing more is forwarded after it)
  tls           [certfile, keyfile]: offer STARTTLS with that certificate;
                each msg-N.json then says the session's "tls" cipher (or null)
  auth          [user, password]: offer AUTH PLAIN LOGIN (over TLS only, unless
                auth_cleartext is true); msg-N.json's "auth" is the login used
"""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from proc_util import stop_process

DEFAULT_DATA_REPLY = "250 2.0.0 queued as 4711"


# ---------------------------------------------------------------- library

class SmtpPeer:
    def __init__(self, workdir, config, netns=None):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        for n in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, n))
        self.config = dict(config)
        self.config.setdefault("listen", [["127.0.0.1", 0]])
        self.config["dir"] = self.dir
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump(self.config, f)
        args = ["/usr/bin/python3", os.path.abspath(__file__), "serve", cfg]
        if netns:
            args = ["ip", "netns", "exec", netns] + args
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        ready = os.path.join(self.dir, "ready")
        end = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("smtp peer did not start: " + open(os.path.join(self.dir, "server.log")).read())
            time.sleep(0.02)
        with open(ready) as f:
            self.ports = json.load(f)
        self.port = self.ports[0]

    def stop(self):
        stop_process(self.proc)
        self.log.close()

    def raw(self, timeout=10):
        """The client's bytes of every connection, in order, once each
        connection has ended (bounded wait)."""
        out = []
        names = sorted((n for n in os.listdir(self.dir) if n.startswith("conn-") and n.endswith(".raw")),
                       key=lambda n: int(n[5:-4]))
        end = time.monotonic() + timeout
        for n in names:
            while not os.path.exists(os.path.join(self.dir, n[:-4] + ".done")) and time.monotonic() < end:
                time.sleep(0.02)
        for n in names:
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append(f.read())
        return out

    def messages(self):
        out = []
        names = sorted((n for n in os.listdir(self.dir) if n.startswith("msg-")), key=lambda n: int(n[4:-5]))
        for n in names:
            with open(os.path.join(self.dir, n)) as f:
                m = json.load(f)
            m["content"] = m["content"].encode("latin-1")
            out.append(m)
        return out


def wire_data(raw):
    """The DATA part of one connection's client bytes, terminator included."""
    start = raw.index(b"DATA\r\n") + 6
    end = raw.index(b"\r\n.\r\n", start - 2) + 5
    return raw[start:end]


# ---------------------------------------------------------------- server

def serve(cfgfile):
    from aiosmtpd.smtp import SMTP

    with open(cfgfile) as f:
        cfg = json.load(f)
    outdir = cfg["dir"]
    counter = {"conn": 0, "msg": 0}

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            if cfg.get("ehlo_reply"):
                return [cfg["ehlo_reply"]]
            return responses

        async def handle_MAIL(self, server, session, envelope, address, options):
            if cfg.get("mail_reply"):
                return cfg["mail_reply"]
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 2.1.0 sender ok"

        async def handle_RCPT(self, server, session, envelope, address, options):
            reply = cfg.get("rcpt_replies", {}).get(address)
            if reply:
                return reply
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 recipient ok"

        async def handle_DATA(self, server, session, envelope):
            reply = cfg.get("data_reply", DEFAULT_DATA_REPLY)
            if reply.startswith("250"):
                counter["msg"] += 1
                with open(os.path.join(outdir, "msg-%d.json" % counter["msg"]), "w") as f:
                    json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                               "mail_options": envelope.mail_options,
                               "helo": session.host_name,
                               "tls": session.ssl.get("cipher") if session.ssl else None,
                               "auth": session.auth_data.login.decode() if session.authenticated else None,
                               "content": envelope.original_content.decode("latin-1")}, f)
            return reply

    async def pipe(reader, writer, record=None, marker=None):
        seen = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if record is not None:
                    record.write(data)
                    record.flush()
                if marker is not None:
                    seen = (seen + data)[-(len(marker) + 65536):]
                    if marker in seen:
                        return "cut"
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        return "eof"

    async def main():
        loop = asyncio.get_running_loop()
        mode = cfg.get("mode", "smtp")
        inner = None
        if mode == "smtp":
            tls = None
            if cfg.get("tls"):
                import ssl
                tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                tls.load_cert_chain(*cfg["tls"])
            auth = {}
            if cfg.get("auth"):
                from aiosmtpd.smtp import AuthResult

                def check(server, session, envelope, mechanism, data):
                    ok = [data.login.decode(), data.password.decode()] == cfg["auth"]
                    return AuthResult(success=ok, handled=False, auth_data=data)
                auth = {"authenticator": check, "auth_require_tls": not cfg.get("auth_cleartext")}
            inner = await loop.create_server(
                lambda: SMTP(Handler(), hostname="peer.test", ident="test peer", decode_data=False,
                             tls_context=tls, **auth),
                "127.0.0.1", 0)
            inner_port = inner.sockets[0].getsockname()[1]

        async def client(reader, writer):
            counter["conn"] += 1
            n = counter["conn"]
            record = open(os.path.join(outdir, "conn-%d.raw" % n), "wb")
            try:
                if mode == "silent":
                    await _drain(reader, record)           # never answers
                    return
                if mode == "raw":
                    writer.write(cfg.get("greeting", "").encode("latin-1"))
                    await writer.drain()
                    await _drain(reader, record)
                    return
                ir, iw = await asyncio.open_connection("127.0.0.1", inner_port)
                marker = cfg.get("close_after")
                marker = marker.encode("latin-1") if marker else None
                up = asyncio.ensure_future(pipe(reader, iw, record, marker))
                down = asyncio.ensure_future(pipe(ir, writer))
                done, pending = await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
                if up in done and up.result() == "eof":
                    # the client closed: let the server's last words through
                    try:
                        await asyncio.wait_for(down, 2)
                    except asyncio.TimeoutError:
                        pass
                for t in (up, down):
                    t.cancel()
                iw.close()
            finally:
                record.close()
                open(os.path.join(outdir, "conn-%d.done" % n), "w").close()
                try:
                    writer.close()
                except Exception:
                    pass

        async def _drain(reader, record):
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                record.write(data)
                record.flush()

        servers = []
        ports = []
        for host, port in cfg["listen"]:
            s = await asyncio.start_server(client, host, port)
            servers.append(s)
            ports.append(s.sockets[0].getsockname()[1])
        with open(os.path.join(outdir, "ready.tmp"), "w") as f:
            json.dump(ports, f)
        os.rename(os.path.join(outdir, "ready.tmp"), os.path.join(outdir, "ready"))
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for s in servers:
            s.close()
        if inner:
            inner.close()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit("usage: remote_util.py serve CONFIG")
