"""qlist(1): seed 004's simple mailing list (section 1.7), set up as the
document writes it (`touch .qmail-ifweb .qmail-ifweb-owner`, then
`| qlist ifweb HOST` in .qmail-ifweb-request), with qmail-send, qmail-local
and qmail-inject doing the delivery: subscribe, confirm by reply, post,
unsubscribe; forged and stale cookies; hostile addresses; two qlists at
once; and a 500-member list delivered, its time reported."""
import hashlib
import hmac
import os
import re
import subprocess
import threading
import time

from conftest import bin_path, run, wait_for
from send_util import messages
from test_seeds import ME, count_new, dot_qmail, home_of, inject, site  # noqa: F401 (site is a fixture)

LIST = "hwql-ifweb@" + ME
REQUEST = "hwql-ifweb-request@" + ME
OWNER = "hwql-ifweb-owner@" + ME


def make_list(site, members=()):
    users = site.users(["hwql", "hwsub", "hwpost"] + list(members))
    # section 1.7 as written, with our host name and program name
    dot_qmail("hwql", ".qmail-ifweb", "")
    dot_qmail("hwql", ".qmail-ifweb-owner", "")
    dot_qmail("hwql", ".qmail-ifweb-request", "| qlist ifweb %s\n" % ME)
    return users


def maildir_of(user):
    return os.path.join(home_of(user), "Maildir")


def list_file():
    with open(os.path.join(home_of("hwql"), ".qmail-ifweb")) as f:
        return f.read()


def members():
    return sorted(l[1:] for l in list_file().splitlines() if l.startswith("&"))


def wait_message(user, subject, n=1, timeout=30):
    """The n-th message in user's Maildir whose Subject starts with subject."""
    def got():
        m = [x for x in messages(maildir_of(user)) if re.search(rb"\nSubject: " + re.escape(subject.encode()), x)]
        return len(m) >= n and m[n - 1]
    return wait_for(got, timeout=timeout, what="%r for %s" % (subject, user))


def ask(user, command, to=REQUEST):
    inject("From: %s@%s\nTo: %s\nSubject: %s\n\nplease\n" % (user, ME, to, command), user=user)


def confirm_address(msg):
    m = re.search(rb"\nReply-To: <([^>]+)>\n", msg)
    assert m, msg
    return m.group(1).decode()


def test_subscribe_confirm_post_unsubscribe(site, queue):
    make_list(site)
    site.start()
    ask("hwsub", "subscribe")
    conf = wait_message("hwsub", "confirm subscribe to " + LIST)
    assert conf.startswith(b"Return-Path: <>\n")
    assert b"\nFrom: <%s>\n" % REQUEST.encode() in conf and b"\nAuto-Submitted: auto-replied\n" in conf
    addr = confirm_address(conf)
    assert re.fullmatch(r"hwql-ifweb-request-confirm-s\.\d+\.[0-9a-f]{24}-hwsub=%s@%s" % (re.escape(ME), re.escape(ME)),
                        addr), addr
    # qlist made the -default file the confirmation reply needs
    assert os.path.exists(os.path.join(home_of("hwql"), ".qmail-ifweb-request-default"))
    assert members() == []
    inject("From: hwsub@%s\nTo: %s\nSubject: Re: confirm\n\nyes\n" % (ME, addr), user="hwsub")
    done = wait_message("hwsub", "subscribed to " + LIST)
    assert b"hwsub@%s is now subscribed to %s" % (ME.encode(), LIST.encode()) in done
    assert members() == ["hwsub@" + ME]
    st = os.stat(os.path.join(home_of("hwql"), ".qmail-ifweb"))
    assert st.st_mode & 0o022 == 0

    # a post reaches the member with the owner as envelope sender
    inject("From: hwpost@%s\nTo: %s\nSubject: first post\n\nhello, list\n" % (ME, LIST), user="hwpost")
    post = wait_message("hwsub", "first post")
    assert post.startswith(b"Return-Path: <%s>\n" % OWNER.encode()), post[:200]
    assert b"\nDelivered-To: hwsub@%s\n" % ME.encode() in post and b"\n\nhello, list\n" in post

    ask("hwsub", "unsubscribe")
    conf = wait_message("hwsub", "confirm unsubscribe from " + LIST)
    inject("From: hwsub@%s\nTo: %s\nSubject: Re\n\nok\n" % (ME, confirm_address(conf)), user="hwsub")
    wait_message("hwsub", "unsubscribed from " + LIST)
    assert members() == []
    assert list_file().startswith("#")   # never empty: that would be the default delivery
    inject("From: hwpost@%s\nTo: %s\nSubject: second post\n\nanyone?\n" % (ME, LIST), user="hwpost")
    wait_for(lambda: queue.all_files() == [], timeout=20, what="an empty queue")
    assert not [m for m in messages(maildir_of("hwsub")) if b"second post" in m]
    # the list owner's mailbox got nothing of all this
    assert messages(maildir_of("hwql")) == []


def test_help_for_other_words(site, queue):
    make_list(site)
    site.start()
    ask("hwsub", "what is this")
    h = wait_message("hwsub", "help for " + LIST)
    assert b'"subscribe"' in h and b"another address" not in h
    assert members() == []


def key():
    with open(os.path.join(home_of("hwql"), ".qlist-ifweb.key"), "rb") as f:
        return f.read()


def cookie(action, when, addr, k=None):
    text = ("%s %d %s %s" % (action, when, LIST, addr)).lower().encode()
    mac = hmac.new(k or key(), text, hashlib.sha256).hexdigest()[:24]
    return "%s.%d.%s" % (action, when, mac)


def confirm_local(c, addr):
    box, dom = addr.rsplit("@", 1)
    return "hwql-ifweb-request-confirm-%s-%s=%s" % (c, box, dom)


def qlist(local, sender, msg=b"Subject: x\n\n", args=("ifweb", ME), env=None):
    """qlist run as the list's owner in its home, as qmail-local runs it."""
    e = {"LOCAL": local, "SENDER": sender, "HOME": home_of("hwql")}
    e.update(env or {})
    return subprocess.run(["runuser", "-u", "hwql", "--", "env"] + ["%s=%s" % kv for kv in e.items()]
                          + [bin_path("qlist")] + list(args),
                          input=msg, capture_output=True, cwd=home_of("hwql"), timeout=60)


def test_forged_and_stale_cookies_do_nothing(site, queue):
    make_list(site)
    site.start()
    ask("hwsub", "subscribe")
    real = confirm_address(wait_message("hwsub", "confirm subscribe to " + LIST)).split("@")[0]
    target = "hwsub@" + ME
    now = int(time.time())
    forged = [
        real[:-len(ME) - 30] + ("0" if real[-len(ME) - 30] != "0" else "1") + real[-len(ME) - 29:],  # one MAC digit
        real.replace("confirm-s.", "confirm-u."),                                  # another action
        real.replace("-hwsub=", "-hwpost="),                                       # another address
        confirm_local(cookie("s", now, target, k=b"\0" * 32), target),            # another key
        confirm_local(cookie("s", now - 5 * 86400, target), target),              # valid MAC, five days old
        confirm_local(cookie("s", now + 2 * 86400, target), target),              # from the future
        "hwql-ifweb-request-confirm-garbage",
    ]
    for local in forged:
        r = qlist(local, target)
        assert r.returncode == 100, (local, r)
        assert b"not valid or has expired" in r.stderr
    assert members() == []
    # four days minus a minute is still good
    r = qlist(confirm_local(cookie("s", now - 4 * 86400 + 60, target), target), target)
    assert r.returncode == 0, r.stderr
    assert members() == [target]


def test_hostile_addresses_are_refused(site, queue):
    make_list(site)
    for sender in ("evil\n|sh@x.example", "|touch /tmp/x@x.example", "a|b@x.example", "/etc/passwd@x",
                   ".qmail@x.example", "no-at-sign", "two@at@x.example", "sp ace@x.example", "&x@x.example"):
        r = qlist("hwql-ifweb-request", sender, b"Subject: subscribe\n\n")
        assert r.returncode == 100, (sender, r)
        assert b"not a plain mail address" in r.stderr
    # with -a, the word after the command is the address: checked alike
    r = qlist("hwql-ifweb-request", "hwsub@" + ME, b"Subject: subscribe |cat>/tmp/x@x.example\n\n",
              args=("-a", "ifweb", ME))
    assert r.returncode == 100
    # and a confirmation naming such an address is refused before any key check
    r = qlist("hwql-ifweb-request-confirm-s.1.abc-a|b=x.example", "a@x.example")
    assert r.returncode == 100
    assert members() == []
    assert os.path.getsize(os.path.join(home_of("hwql"), ".qmail-ifweb")) == 0
    # bounces and robots get no answer
    assert qlist("hwql-ifweb-request", "", b"Subject: subscribe\n\n").returncode == 0
    r = qlist("hwql-ifweb-request", "x@x.example", b"Auto-Submitted: auto-replied\nSubject: subscribe\n\n")
    assert r.returncode == 0 and b"ignoring" in r.stdout


def capture_queue():
    """A QMAILQUEUE that throws the answers away (the owner may run it)."""
    path = os.path.join(home_of("hwql"), "drop-queue")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec 3<&1\ncat >/dev/null\ncat <&3 >/dev/null\nexit 0\n")
    os.chmod(path, 0o755)
    return path


def test_two_at_once_both_land(site, queue):
    make_list(site)
    drop = capture_queue()
    qlist("hwql-ifweb-request", "hwsub@" + ME, b"Subject: subscribe\n\n", env={"QMAILQUEUE": drop})
    assert os.path.exists(os.path.join(home_of("hwql"), ".qlist-ifweb.key"))
    now = int(time.time())
    addrs = ["m%02d@far.example" % i for i in range(12)]
    results = {}

    def one(a):
        results[a] = qlist(confirm_local(cookie("s", now, a), a), a, env={"QMAILQUEUE": drop})
    threads = [threading.Thread(target=one, args=(a,)) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.returncode == 0 for r in results.values()), [r for r in results.values() if r.returncode]
    assert members() == sorted(addrs)
    # no temporary or lock file is left in the home
    left = [n for n in os.listdir(home_of("hwql")) if n.endswith(".tmp")]
    assert left == []


def test_list_of_500_members(site, queue, request):
    """The seed's headline: a 500-member list goes out in minutes where
    sendmail took hours. 500 members confirmed through qlist, then one
    post delivered to all of them by qmail-send."""
    make_list(site, members=["hwmbr"])
    dot_qmail("hwmbr", ".qmail-default", "./Maildir/\n")
    drop = capture_queue()
    qlist("hwql-ifweb-request", "hwsub@" + ME, b"Subject: subscribe\n\n", env={"QMAILQUEUE": drop})
    now = int(time.time())
    addrs = ["hwmbr-m%03d@%s" % (i, ME) for i in range(500)]
    # one shell as the owner runs qlist once per confirmation
    lines = "".join("%s %s\n" % (confirm_local(cookie("s", now, a), a), a) for a in addrs)
    t0 = time.monotonic()
    r = subprocess.run(["runuser", "-u", "hwql", "--", "sh", "-c",
                        'while read l s; do LOCAL=$l SENDER=$s QMAILQUEUE=%s %s ifweb %s >/dev/null || exit 1; done'
                        % (drop, bin_path("qlist"), ME)],
                       input=lines.encode(), capture_output=True, cwd=home_of("hwql"), timeout=300)
    subscribe_s = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert members() == sorted(addrs)
    site.start()
    t0 = time.monotonic()
    inject("From: hwpost@%s\nTo: %s\nSubject: to all\n\nhello, 500\n" % (ME, LIST), user="hwpost")
    md = maildir_of("hwmbr")
    wait_for(lambda: count_new(md) >= 500 and queue.all_files() == [], timeout=120, interval=0.1,
             what="500 list deliveries")
    elapsed = time.monotonic() - t0
    request.node.user_properties.append(("qlist_500_seconds", round(elapsed, 2)))
    print("\n500 qlist confirmations in %.2f s; the post reached 500 members in %.2f s" % (subscribe_s, elapsed))
    assert elapsed < 60, elapsed
    got = messages(md)
    assert len(got) == 500
    assert all(m.startswith(b"Return-Path: <%s>\n" % OWNER.encode()) for m in got)
    tos = sorted(re.search(rb"\nDelivered-To: (\S+)\n", m).group(1).decode() for m in got)
    assert tos == addrs
