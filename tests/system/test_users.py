"""users/assign, users/cdb and the password-file fallback: qmail-newu,
qmail-getpw, qmail-pw2u and qmail-newmrh, run from the installed home.

users/cdb is read back with a small cdb reader written here from the format
description (2048-byte header of 256 position/length pairs, hash
h = ((h << 5) + h) ^ c from 5381), so the layout is checked independently of
our C code, against the key/data layout netqmail's qmail-newu writes."""
import os
import pwd
import select
import shutil
import socket
import struct
import subprocess
import tempfile

import pytest

from conftest import HOME, SRC, make_user, run

USERS = os.path.join(HOME, "users")
CONTROL = os.path.join(HOME, "control")
with open(os.path.join(SRC, "conf-users")) as _f:
    ALIAS = _f.readline().strip()


# ---- a cdb reader, independent of src/lib/cdb.c ----

def cdb_hash(key):
    h = 5381
    for c in key:
        h = (((h << 5) + h) & 0xffffffff) ^ c
    return h


def cdb_records(data):
    """Every (key, data) record in file order."""
    tables = [struct.unpack_from("<II", data, i * 8) for i in range(256)]
    end = min(pos for pos, _n in tables)
    out = []
    pos = 2048
    while pos < end:
        klen, dlen = struct.unpack_from("<II", data, pos)
        out.append((data[pos + 8:pos + 8 + klen], data[pos + 8 + klen:pos + 8 + klen + dlen]))
        pos += 8 + klen + dlen
    assert pos == end
    return out


def cdb_get(data, key):
    """All values for key, through the hash tables, in insertion order."""
    h = cdb_hash(key)
    tpos, slots = struct.unpack_from("<II", data, (h & 255) * 8)
    vals = []
    if not slots:
        return vals
    slot = (h >> 8) % slots
    for _ in range(slots):
        sh, rpos = struct.unpack_from("<II", data, tpos + slot * 8)
        if rpos == 0:
            break
        if sh == h:
            klen, dlen = struct.unpack_from("<II", data, rpos)
            if data[rpos + 8:rpos + 8 + klen] == key:
                vals.append(data[rpos + 8 + klen:rpos + 8 + klen + dlen])
        slot = (slot + 1) % slots
    return vals


def users_lookup(data, local):
    """qmail-lspawn's search of users/cdb, in Python: exact, then the
    longest wildcard whose last character is listed under the empty key."""
    low = local.lower()
    v = cdb_get(data, b"!" + low + b"\0")
    if v:
        return v[0].split(b"\0")
    wild = cdb_get(data, b"")[0].lower()
    for n in range(len(low), -1, -1):
        if n and low[n - 1:n] not in wild:
            continue
        v = cdb_get(data, b"!" + low[:n])
        if v:
            return (v[0] + local[n:]).split(b"\0")
    return None


# ---- fixtures ----

USERFILES = ("assign", "cdb", "cdb.tmp", "include", "exclude", "mailnames", "subusers", "append")


@pytest.fixture
def users():
    """Save users/* and put it back afterwards."""
    saved = {}
    for n in USERFILES:
        p = os.path.join(USERS, n)
        saved[n] = open(p, "rb").read() if os.path.exists(p) else None
    yield USERS
    for n, old in saved.items():
        p = os.path.join(USERS, n)
        if old is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            with open(p, "wb") as f:
                f.write(old)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


ASSIGN = (
    "=joe.shmoe:joe:503:78:/home/joe:::\n"
    "=Joe.Shmoe:second:1:1:/nowhere:::\n"
    "+:alias:7790:2108:/var/qmail/alias:-::\n"
    "+Joe-:joe:507:100:/home/joe:-::\n"
    "=joe:joe:507:100:/home/joe:::ignored after the seventh colon\n"
    "+list-:lists:600:60:/home/lists:-:pre-:\n"
    ".\n"
)


# ---- qmail-newu ----

def test_newu_writes_netqmail_layout(users):
    write(os.path.join(users, "assign"), ASSIGN)
    r = run(["qmail-newu"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and r.stderr == b""
    assert not os.path.exists(os.path.join(users, "cdb.tmp"))
    st = os.stat(os.path.join(users, "cdb"))
    assert st.st_mode & 0o777 == 0o644
    data = read(os.path.join(users, "cdb"))
    assert cdb_records(data) == [
        (b"!joe.shmoe\0", b"joe\x00503\x0078\x00/home/joe\x00\x00"),
        (b"!joe.shmoe\0", b"second\x001\x001\x00/nowhere\x00\x00"),
        (b"!", b"alias\x007790\x002108\x00/var/qmail/alias\x00-\x00"),
        (b"!joe-", b"joe\x00507\x00100\x00/home/joe\x00-\x00"),
        (b"!joe\0", b"joe\x00507\x00100\x00/home/joe\x00\x00"),
        (b"!list-", b"lists\x00600\x0060\x00/home/lists\x00-\x00pre-"),
        (b"", b"-"),
    ]
    # the hash tables find every key; the first of two equal keys comes first
    assert cdb_get(data, b"!joe.shmoe\0")[0].startswith(b"joe\0")
    assert len(cdb_get(data, b"!joe.shmoe\0")) == 2
    assert cdb_get(data, b"!nobody\0") == []
    # qmail-lspawn's search rules give the qmail-users(5) answers
    assert users_lookup(data, b"JOE") == [b"joe", b"507", b"100", b"/home/joe", b"", b""]
    assert users_lookup(data, b"joe-Direct") == [b"joe", b"507", b"100", b"/home/joe", b"-", b"Direct"]
    assert users_lookup(data, b"bill")[0] == b"alias"
    assert users_lookup(data, b"bill")[5] == b"bill"
    assert users_lookup(data, b"list-x")[5] == b"pre-x"


def test_newu_replaces_by_rename(users):
    write(os.path.join(users, "assign"), "=a:a:1:1:/a:::\n.\n")
    assert run(["qmail-newu"]).returncode == 0
    before = os.stat(os.path.join(users, "cdb")).st_ino
    write(os.path.join(users, "assign"), "=b:b:2:2:/b:::\n.\n")
    assert run(["qmail-newu"]).returncode == 0
    data = read(os.path.join(users, "cdb"))
    assert os.stat(os.path.join(users, "cdb")).st_ino != before
    assert [k for k, _ in cdb_records(data)] == [b"!b\0", b""]
    assert cdb_get(data, b"") == [b""]


@pytest.mark.parametrize("bad,line", [
    ("=a:a:1:1:/a:::\n", b"line 2"),                        # no final dot
    ("=a:a:1:1:/a:::\n=b:b:2:2:/b:::", b"line 2"),          # no newline, no dot
    ("=a:a:1:1:/a:::\n=b:b\0:2:2:/b:::\n.\n", b"line 2"),   # NUL
    ("=a:a:1:1:/a::\n.\n", b"line 1"),                      # short line
    ("=a:a\n.\n", b"line 1"),
    ("\n.\n", b"line 1"),                                   # blank line
    ("joe:joe:1:1:/a:::\n.\n", b"line 1"),                 # neither = nor +
    ("=a:a:one:1:/a:::\n.\n", b"line 1"),                   # uid
    ("+a:a:1:-1:/a:::\n.\n", b"line 1"),                    # gid
    ("=a:a:1:1:/a:::\n.oops\n", b"line 2"),
])
def test_newu_bad_assign_leaves_cdb(users, bad, line):
    write(os.path.join(users, "assign"), "=old:old:9:9:/old:::\n.\n")
    assert run(["qmail-newu"]).returncode == 0
    old = read(os.path.join(users, "cdb"))
    write(os.path.join(users, "assign"), bad)
    r = run(["qmail-newu"])
    assert r.returncode == 111
    assert r.stderr.startswith(b"qmail-newu: fatal: bad format in users/assign " + line + b":")
    assert read(os.path.join(users, "cdb")) == old
    assert not os.path.exists(os.path.join(users, "cdb.tmp"))


def test_newu_missing_assign(users):
    p = os.path.join(users, "assign")
    if os.path.exists(p):
        os.unlink(p)
    r = run(["qmail-newu"])
    assert r.returncode == 111
    assert b"unable to open users/assign" in r.stderr
    assert not os.path.exists(os.path.join(users, "cdb.tmp"))


def test_newu_many_entries(users):
    lines = "".join("=user%d:u%d:%d:%d:/home/u%d:::\n" % (i, i, 1000 + i, 100, i) for i in range(5000))
    lines += "".join("+pre%d-:p%d:%d:100:/p%d:-:x:\n" % (i, i, 2000 + i, i) for i in range(200))
    write(os.path.join(users, "assign"), lines + ".\n")
    assert run(["qmail-newu"]).returncode == 0
    data = read(os.path.join(users, "cdb"))
    for i in (0, 1, 2499, 4999):
        assert users_lookup(data, b"USER%d" % i)[:3] == [b"u%d" % i, b"%d" % (1000 + i), b"100"]
    assert users_lookup(data, b"pre17-abc") == [b"p17", b"2017", b"100", b"/p17", b"-", b"xabc"]
    assert users_lookup(data, b"nobody") is None


# ---- qmail-getpw ----

def getpw(local, user=None):
    r = run(["qmail-getpw", local], user=user)
    return r.returncode, r.stdout, r.stderr


def fields(pw, dash, ext):
    return b"\0".join([pw.pw_name.encode(), str(pw.pw_uid).encode(), str(pw.pw_gid).encode(),
                       pw.pw_dir.encode(), dash, ext]) + b"\0"


@pytest.fixture(scope="module")
def pwuser():
    return make_user("hutest1")


def test_getpw_user_and_extensions(pwuser):
    assert getpw("hutest1") == (0, fields(pwuser, b"", b""), b"")
    assert getpw("hutest1-foo-Bar") == (0, fields(pwuser, b"-", b"foo-Bar"), b"")
    assert getpw("HuTest1-X") == (0, fields(pwuser, b"-", b"X"), b"")
    assert getpw("hutest1-") == (0, fields(pwuser, b"-", b""), b"")


def test_getpw_as_qmailp(pwuser):
    # qmail-lspawn runs it as qmailp
    assert getpw("hutest1-x", user="qmailp") == (0, fields(pwuser, b"-", b"x"), b"")


def test_getpw_longest_account_wins(pwuser):
    longer = make_user("hutest1-list")
    assert getpw("hutest1-list-x")[1] == fields(longer, b"-", b"x")
    assert getpw("hutest1-lis")[1] == fields(pwuser, b"-", b"lis")


def test_getpw_alias_fallbacks(pwuser):
    alias = pwd.getpwnam(ALIAS)
    for local in ("nosuchuserxyz", "nosuchuserxyz-ext", "root", "root-x", "-hutest1", "hutest1x"):
        assert getpw(local) == (0, fields(alias, b"-", local.encode()), b""), local


def test_getpw_uppercase_account_is_not_a_user():
    make_user("HuUpTest")
    alias = pwd.getpwnam(ALIAS)
    assert getpw("HuUpTest")[1] == fields(alias, b"-", b"HuUpTest")
    assert getpw("huuptest-x")[1] == fields(alias, b"-", b"huuptest-x")


def test_getpw_home_owned_by_another():
    pw = make_user("hutest2")
    alias = pwd.getpwnam(ALIAS)
    assert getpw("hutest2")[1] == fields(pw, b"", b"")
    os.chown(pw.pw_dir, 0, 0)
    assert getpw("hutest2-a")[1] == fields(alias, b"-", b"hutest2-a")
    os.rmdir(pw.pw_dir)
    assert getpw("hutest2")[1] == fields(alias, b"-", b"hutest2")


def test_getpw_usage():
    r = run(["qmail-getpw"])
    assert r.returncode == 100 and r.stdout == b""
    r = run(["qmail-getpw", "--"])
    assert r.returncode == 100 and r.stdout == b""


def test_getpw_dashdash_allows_leading_dash(pwuser):
    """-- ends the options: a local part may then be -s, or start with -."""
    alias = pwd.getpwnam(ALIAS)
    assert getpw_args(["--", "-s"]) == (0, fields(alias, b"-", b"-s"), b"")
    assert getpw_args(["--", "hutest1-x"]) == (0, fields(pwuser, b"-", b"x"), b"")


def getpw_args(args):
    r = run(["qmail-getpw"] + args)
    return r.returncode, r.stdout, r.stderr


# ---- qmail-getpw -s, the lookup server qmail-lspawn keeps running ----

class GetpwServer:
    """qmail-getpw -s on one end of a SOCK_SEQPACKET socketpair."""

    def __init__(self, user=None):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        args = [os.path.join(HOME, "bin", "qmail-getpw"), "-s"]
        if user:
            args = ["runuser", "-u", user, "--"] + args
        self.proc = subprocess.Popen(args, stdin=theirs, stdout=subprocess.DEVNULL)
        theirs.close()

    def ask(self, local, fds=1):
        """Send local with fds pipe write ends; what comes back on the first
        (None: it was closed with nothing written)."""
        pipes = [os.pipe() for _ in range(fds)]
        socket.send_fds(self.sock, [local], [w for _r, w in pipes]) if fds else self.sock.send(local)
        for _r, w in pipes:
            os.close(w)
        out = []
        for r, _w in pipes:
            got = b""
            poller = select.poll()
            poller.register(r, select.POLLIN)
            while True:
                assert poller.poll(10000), "no answer from qmail-getpw -s within 10 s"
                x = os.read(r, 4096)
                if not x:
                    break
                got += x
            os.close(r)
            out.append(got)
        return out[0] if out else None

    def close(self):
        self.sock.close()
        return self.proc.wait(timeout=30)


def test_getpw_server_answers_as_one_shot(pwuser):
    """Every answer of the server is byte for byte the one-shot answer,
    for users, extensions, the longest account, and the alias fallback."""
    make_user("hutest1-list")
    srv = GetpwServer(user="qmailp")
    try:
        for local in ("hutest1", "hutest1-foo-Bar", "HuTest1-X", "hutest1-", "hutest1-list-x",
                      "hutest1-lis", "nosuchuserxyz-ext", "root", "-s", "x" * 3000):
            want = getpw_args(["--", local])
            assert want[0] == 0
            assert srv.ask(local.encode()) == want[1], local
        # a final NUL is allowed; the answer is the same
        assert srv.ask(b"hutest1-x\0") == fields(pwuser, b"-", b"x")
    finally:
        assert srv.close() == 0      # every asker gone: it exits 0


def test_getpw_server_refuses_bad_requests(pwuser):
    """A NUL inside, a request too long for it, or extra descriptors:
    nothing comes back (the asker then runs the one-shot mode), and the
    server keeps serving. A request with no descriptor is skipped."""
    srv = GetpwServer()
    try:
        assert srv.ask(b"hutest1\0x") == b""
        assert srv.ask(b"h" * 5000) == b""
        assert srv.ask(b"hutest1", fds=0) is None
        assert srv.ask(b"hutest1-a") == fields(pwuser, b"-", b"a")
        # two descriptors: the first gets the answer, the second is closed
        pipes = [os.pipe(), os.pipe()]
        socket.send_fds(srv.sock, [b"hutest1-b"], [pipes[0][1], pipes[1][1]])
        for _r, w in pipes:
            os.close(w)
        got = b""
        while True:
            x = os.read(pipes[0][0], 4096)
            if not x:
                break
            got += x
        assert got == fields(pwuser, b"-", b"b")
        assert os.read(pipes[1][0], 10) == b""
        for r, _w in pipes:
            os.close(r)
        assert srv.ask(b"hutest1") == fields(pwuser, b"", b"")
    finally:
        assert srv.close() == 0


def test_getpw_server_survives_asker_gone(pwuser):
    """An asker that closed its read end before the answer (SIGPIPE for
    the server) does not stop it."""
    srv = GetpwServer()
    try:
        r, w = os.pipe()
        os.close(r)
        socket.send_fds(srv.sock, [b"hutest1-gone"], [w])
        os.close(w)
        assert srv.ask(b"hutest1-here") == fields(pwuser, b"-", b"here")
    finally:
        assert srv.close() == 0


# ---- qmail-pw2u ----

@pytest.fixture
def homes():
    top = tempfile.mkdtemp(prefix="pw2u", dir=os.path.dirname(HOME))
    os.chmod(top, 0o755)
    made = {}

    def home(name, uid):
        d = os.path.join(top, name)
        os.mkdir(d)
        os.chown(d, uid, 100)
        made[name] = d
        return d
    yield home
    shutil.rmtree(top)


def passwd(homes):
    ha = homes("alias", 60100)
    hp = homes("pat", 60101)
    hu = homes("Upper", 60102)
    hw = homes("wrong", 60101)
    text = (
        "root:x:0:0:root:/root:/bin/sh\n"
        "alias:*:60100:60000::%s:\n"
        "pat:x:60101:100:Pat:%s:/bin/sh\n"
        "Upper:x:60102:100::%s:/bin/sh\n"
        "wrong:x:60103:100::%s:/bin/sh\n"
        "gone:x:60104:100::/nonexistent/gone:/bin/sh\n"
        "short:x:60105\n"
        "nouid:x::100::%s:/bin/sh\n"
        "nohome:x:60106:100::%s" % (ha, hp, hu, hw, hp, hp)
    )
    return text, ha, hp, hu, hw


def test_pw2u_default_rules(users, homes):
    text, ha, hp, hu, hw = passwd(homes)
    r = run(["qmail-pw2u"], input=text.encode())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (
        "+:alias:60100:60000:%s:-::\n"
        "=alias:alias:60100:60000:%s:::\n"
        "+alias-:alias:60100:60000:%s:-::\n"
        "=pat:pat:60101:100:%s:::\n"
        "+pat-:pat:60101:100:%s:-::\n"
        ".\n" % (ha, ha, ha, hp, hp))


def test_pw2u_options(users, homes):
    text, ha, hp, hu, hw = passwd(homes)
    out = run(["qmail-pw2u", "-u", "-H", "-c", "+", "-/"], input=text.encode()).stdout.decode()
    assert "=Upper:Upper:60102:100:%s:::\n" % hu in out
    assert "+Upper+:Upper:60102:100:%s:-/::\n" % hu in out
    assert "=wrong:wrong:60103:100:%s:::\n" % hw in out
    assert "=gone:gone:60104:100:/nonexistent/gone:::\n" in out
    assert "+:alias:60100:60000:%s:-/::\n" % ha in out
    assert "root" not in out and "short" not in out and "nouid" not in out
    out = run(["qmail-pw2u", "-C"], input=text.encode()).stdout.decode()
    assert out == ("+:alias:60100:60000:%s:-::\n=alias:alias:60100:60000:%s:::\n"
                   "=pat:pat:60101:100:%s:::\n.\n" % (ha, ha, hp))
    r = run(["qmail-pw2u", "-h"], input=text.encode())
    assert r.returncode == 111 and b"/nonexistent/gone" in r.stderr
    assert run(["qmail-pw2u", "-x"], input=text.encode()).returncode == 100


def test_pw2u_needs_alias(users, homes):
    hp = homes("pat", 60101)
    r = run(["qmail-pw2u"], input=("pat:x:60101:100::%s:/bin/sh\n" % hp).encode())
    assert r.returncode == 111
    assert b"unable to find alias user" in r.stderr


def test_pw2u_extra_files_and_newu(users, homes):
    text, ha, hp, hu, hw = passwd(homes)
    hq = homes("quinn", 60107)
    text += "\nquinn:x:60107:100::%s:/bin/sh\n" % hq
    write(os.path.join(users, "exclude"), "# nobody likes quinn\nQuinn\n")
    write(os.path.join(users, "mailnames"), "pat:patricia:p.smith:\n")
    write(os.path.join(users, "subusers"), "# comment\nsales:pat:sales:\nbroken line\n")
    write(os.path.join(users, "append"), "=extra:pat:60101:100:/x:::")
    r = run(["qmail-pw2u"], input=text.encode())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (
        "+:alias:60100:60000:%(a)s:-::\n"
        "=alias:alias:60100:60000:%(a)s:::\n"
        "+alias-:alias:60100:60000:%(a)s:-::\n"
        "=patricia:pat:60101:100:%(p)s:::\n"
        "+patricia-:pat:60101:100:%(p)s:-::\n"
        "=p.smith:pat:60101:100:%(p)s:::\n"
        "+p.smith-:pat:60101:100:%(p)s:-::\n"
        "=sales:pat:60101:100:%(p)s:-:sales:\n"
        "+sales-:pat:60101:100:%(p)s:-:sales-:\n"
        "=extra:pat:60101:100:/x:::\n"
        ".\n" % {"a": ha, "p": hp})

    # the output is a valid users/assign
    write(os.path.join(users, "assign"), r.stdout)
    assert run(["qmail-newu"]).returncode == 0
    data = read(os.path.join(users, "cdb"))
    assert users_lookup(data, b"Sales-Q1") == [b"pat", b"60101", b"100", hp.encode(), b"-", b"sales-Q1"]
    assert users_lookup(data, b"pat")[0] == b"alias"
    assert users_lookup(data, b"patricia-x")[5] == b"x"

    # include: only the listed accounts
    write(os.path.join(users, "include"), "alias\n")
    os.unlink(os.path.join(users, "subusers"))
    out = run(["qmail-pw2u"], input=text.encode()).stdout.decode()
    written = [l.split(":")[1] for l in out.splitlines() if l != "." and not l.startswith("=extra:")]
    assert written and set(written) == {"alias"}
    # subusers naming an account that was not written
    write(os.path.join(users, "subusers"), "sales:pat:sales:\n")
    r = run(["qmail-pw2u"], input=text.encode())
    assert r.returncode == 111 and b"unable to find pat user for subuser" in r.stderr


# ---- qmail-newmrh ----

def test_newmrh(control):
    control["morercpthosts.cdb"] = None
    control["morercpthosts"] = "Example.COM  \n# a comment\n\nfoo.example\r\n\tbar.example\t\nlast.example"
    r = run(["qmail-newmrh"])
    assert r.returncode == 0, r.stderr
    data = read(os.path.join(CONTROL, "morercpthosts.cdb"))
    assert cdb_records(data) == [(b"example.com", b""), (b"foo.example", b""),
                                 (b"\tbar.example", b""), (b"last.example", b"")]
    assert cdb_get(data, b"foo.example") == [b""]
    assert cdb_get(data, b"Example.COM") == []
    assert os.stat(os.path.join(CONTROL, "morercpthosts.cdb")).st_mode & 0o777 == 0o644
    assert not os.path.exists(os.path.join(CONTROL, "morercpthosts.tmp"))

    # a missing source is an error and the old cdb stays
    control["morercpthosts"] = None
    r = run(["qmail-newmrh"])
    assert r.returncode == 111 and b"unable to read control/morercpthosts" in r.stderr
    assert read(os.path.join(CONTROL, "morercpthosts.cdb")) == data

    control["morercpthosts"] = ""
    assert run(["qmail-newmrh"]).returncode == 0
    assert cdb_records(read(os.path.join(CONTROL, "morercpthosts.cdb"))) == []
