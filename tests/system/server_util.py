"""A tcpserver on 127.0.0.1 (or another local address) for the POP3 and
SMTP tests: started on a free port with the home's bin first in PATH,
waited for until it listens and its probe connection is over, and stopped
by pid."""
import os
import socket
import subprocess

from conftest import HOME, wait_for
from proc_util import child_pids, free_port, stop_process


class TcpServer:
    """tcpserver -q -R -H -l testlocal [opts] host port argv."""

    def __init__(self, argv, opts=(), env=None, port=None, host="127.0.0.1", log=None):
        self.port = port or free_port()
        self.host = host
        full = {"PATH": os.path.join(HOME, "bin") + ":/usr/bin:/bin"}
        full.update(env or {})
        cmd = ["tcpserver", "-q", "-R", "-H", "-l", "testlocal"] + list(opts)
        cmd += [host, str(self.port)] + list(argv)
        # log: a file for the server's stderr (its programs' log lines)
        err = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL, stderr=err)
        if log:
            err.close()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("tcpserver exited with %s" % self.proc.returncode)
            try:
                return socket.create_connection((host, self.port), timeout=1)
            except OSError:
                return None
        probe = wait_for(up, timeout=10, what="tcpserver to listen")

        # the probe's own child must have come and gone before tests look
        # for theirs: a connection accepted is not yet a child forked, so
        # hold it open until the child is there (or has answered or closed)
        def forked():
            if self.children():
                return True
            try:
                probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                return True
            except BlockingIOError:
                return False
            except OSError:
                return True
        try:
            wait_for(forked, timeout=10, what="the probe connection's child")
        finally:
            probe.close()
        wait_for(lambda: not self.children(), timeout=10, what="the probe connection to end")

    def children(self):
        return child_pids(self.proc.pid)

    def stop(self):
        stop_process(self.proc)
