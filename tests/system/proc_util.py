"""Process and port helpers shared by the system tests: a free port on
127.0.0.1 and whether something listens on one, the children and
descendants of a pid read from /proc, whether a pid is gone (exited or a
zombie), and stopping a child process by pid with a bounded wait."""
import os
import signal
import socket
import subprocess


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port, host="127.0.0.1"):
    """True when a TCP connection to host:port succeeds (within 1 s)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _stat(pid):
    """The fields of /proc/pid/stat after the command name, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    return st[st.rindex(")") + 2:].split()


def state(pid):
    """The /proc state letter of pid, or None when it is gone."""
    st = _stat(pid)
    return st[0] if st else None


def gone(pid):
    return state(pid) in (None, "Z", "X")


def comm(pid):
    """pid's command name, "" when it is gone"""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def child_pids(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st and int(st[1]) == pid:
                out.append(int(d))
    return out


def descendants(pid):
    out = []
    todo = [pid]
    while todo:
        for c in child_pids(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    return not gone(pid)


def term_all(pids):
    """SIGTERM to each pid that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def stop_process(proc, timeout=10):
    """End the subprocess.Popen proc if it still runs: SIGTERM, wait up to
    timeout seconds, then SIGKILL and wait up to 10 s more."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
