"""Small helpers shared by the benchmark modules: bounded waits, process
state by pid, free ports, test accounts and maildir counting."""
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import time


def wait_until(pred, timeout, interval=0.005):
    """Poll pred until it is true or timeout seconds pass; returns its
    last value (falsy on timeout)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def appended(path, offset):
    """(the complete lines appended to path since offset, the offset
    after them); (b"", offset) when path cannot be read"""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return b"", offset
    cut = data.rfind(b"\n") + 1
    return data[:cut], offset + cut


def stop_proc(proc, timeout=10):
    """TERM a Popen, KILL it when it does not go within timeout."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] not in ("Z", "X")


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


DISK_KINDS = ("reads", "writes", "discards", "flushes")


def disk_requests(path):
    """The requests the disk holding path has completed so far, by kind
    (DISK_KINDS, from /sys/dev/block/MAJ:MIN/stat as the kernel's
    Documentation/block/stat.rst lays it out: fields 1, 5, 12 and 16), or
    None where path's file system has no block device of its own (tmpfs,
    overlay). A cache flush that a file system asks for (fsync) is sent
    as an empty write and counts among the writes; flushes counts the
    flushes the disk then ran (several waiting writes may share one; a
    partition does not count them)."""
    dev = os.stat(path).st_dev
    try:
        with open("/sys/dev/block/%d:%d/stat" % (os.major(dev), os.minor(dev))) as f:
            v = [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return None
    return {k: v[i] if i < len(v) else 0 for k, i in zip(DISK_KINDS, (0, 4, 11, 15))}


def disk_total(io):
    """every request of disk_requests' counts once: the reads, writes
    (each flush as the empty write it was sent as) and discards"""
    return io["reads"] + io["writes"] + io["discards"]


def tree_cpu(roots):
    """CPU seconds (user and system) of the processes under roots, the
    roots included: each one's own time and that of the children it has
    waited for. Read before and after a measurement, the difference is
    what the tree spent in between, also on processes that came and went
    meanwhile (a process that ends takes its whole time into its
    parent's children's time, and its time before the start was in the
    first reading)."""
    tick = os.sysconf("SC_CLK_TCK")
    kids, own = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        # after the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        kids.setdefault(int(fields[1]), []).append(int(d))
        own[int(d)] = sum(int(x) for x in fields[11:15])
    total, seen, todo = 0, set(), [r for r in roots if r]
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in own:
            continue
        seen.add(pid)
        total += own[pid]
        todo.extend(kids.get(pid, ()))
    return total / tick


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def make_user(name, home):
    """A real account name with an empty home at home (made or moved)."""
    os.makedirs(os.path.dirname(home), exist_ok=True)
    try:
        pw = pwd.getpwnam(name)
        if pw.pw_dir != home:
            subprocess.run(["usermod", "-d", home, name], check=True)
    except KeyError:
        subprocess.run(["useradd", "-d", home, "-M", "-s", "/bin/sh", "-U", name], check=True)
    pw = pwd.getpwnam(name)
    if os.path.exists(home):
        shutil.rmtree(home)
    os.makedirs(home, mode=0o755)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return pw


def make_maildir(path, pw):
    for sub in ("", "tmp", "new", "cur"):
        p = os.path.join(path, sub)
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, pw.pw_uid, pw.pw_gid)


_moved = itertools.count()


def clear_maildir(path, attic=None):
    """Empty the Maildir at path: its files are removed, or with attic
    (a directory on the same file system) moved there. ext4 without a
    journal does not reuse an inode freed in the last 60 seconds (360
    while its inode table block is dirty) and walks past every such
    inode of the block group on each allocation,
    so files removed just before a job would make every delivery of the
    job pay for the harness's own cleanup; moved, they free nothing."""
    for sub in ("tmp", "new", "cur"):
        d = os.path.join(path, sub)
        for n in os.listdir(d):
            if attic is None:
                os.unlink(os.path.join(d, n))
            else:
                os.rename(os.path.join(d, n), os.path.join(attic, str(next(_moved))))


def empty_dir(d):
    """Remove the files in d, and make d if it is not there."""
    os.makedirs(d, exist_ok=True)
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))


def count_new(path):
    try:
        return len(os.listdir(os.path.join(path, "new")))
    except OSError:
        return 0


def write_owned(path, text, pw, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


# Pids of the long-running servers a run starts (qmail-send, tcpserver,
# smtp-sink), so that a run killed outright leaves nothing behind: the next
# run stops what is still alive under the same pid and name.
PIDFILE = None


def record(pid, name):
    if PIDFILE:
        with open(PIDFILE, "a") as f:
            f.write("%d %s\n" % (pid, name))


def stop_stale():
    if not PIDFILE or not os.path.exists(PIDFILE):
        return
    with open(PIDFILE) as f:
        entries = [line.split() for line in f if len(line.split()) == 2]
    for pid, name in entries:
        pid = int(pid)
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != name[:15]:
                    continue
        except OSError:
            continue
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            continue
        if not wait_until(lambda: not pid_alive(pid), 10, 0.02):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    os.unlink(PIDFILE)
