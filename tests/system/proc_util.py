"""Process and port helpers shared by the system tests: a free port on
127.0.0.1, the children and descendants of a pid read from /proc, and
whether a pid is gone (exited or a zombie)."""
import os
import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
