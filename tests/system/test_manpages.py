"""The manual: every installed program has a page installed under man/,
every page in the source tree formats without a single groff warning, the
page of every program (sections 1 and 8) says how it exits, and the
references between the suite's own pages lead somewhere.

Pages are read from the source tree (QMAIL_SRC/man) and from the installed
home (QMAIL_HOME/man/manN), so a page that setup forgot, or a program that
landed without its page, shows up here.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import HOME, SRC

MANSRC = os.path.join(SRC, "man")
PAGE_RE = re.compile(r"^(?P<name>.+)\.(?P<sec>[1-8])$")


def source_pages():
    out = []
    for f in sorted(os.listdir(MANSRC)):
        if PAGE_RE.match(f) and os.path.isfile(os.path.join(MANSRC, f)):
            out.append(f)
    return out


def installed_pages():
    """{page file name: path} for every page under HOME/man/man?/"""
    out = {}
    top = os.path.join(HOME, "man")
    for d in sorted(os.listdir(top)):
        m = re.match(r"^man([1-8])$", d)
        if not m:
            continue
        for f in os.listdir(os.path.join(top, d)):
            p = PAGE_RE.match(f)
            if p and p.group("sec") == m.group(1):
                out[f] = os.path.join(top, d, f)
    return out


def programs():
    b = os.path.join(HOME, "bin")
    return sorted(f for f in os.listdir(b) if os.path.isfile(os.path.join(b, f)))


def text(page):
    with open(os.path.join(MANSRC, page), encoding="utf-8") as f:
        return f.read()


def section(src, title):
    """The body of section .SH title (quoted or not), or None."""
    m = re.search(r'^\.SH\s+"?%s"?\s*\n(.*?)(?=^\.SH\s|\Z)' % re.escape(title),
                  src, re.M | re.S)
    return m.group(1) if m else None


PAGES = source_pages()
PROGRAM_PAGES = [p for p in PAGES if PAGE_RE.match(p).group("sec") in ("1", "8")]


def test_source_tree_has_pages():
    # the parametrised tests below would pass vacuously on an empty list
    assert len(PAGES) > 40, PAGES
    assert "qmail.7" in PAGES


def test_every_installed_program_has_an_installed_page():
    inst = installed_pages()
    names = {}
    for f in inst:
        m = PAGE_RE.match(f)
        names.setdefault(m.group("name"), []).append(m.group("sec"))
    progs = programs()
    assert progs, "no programs installed in %s/bin" % HOME
    missing = [p for p in progs if p not in names]
    assert not missing, "installed programs without a page under %s/man: %s" % (HOME, missing)
    # a program is documented as a command (1) or an administrative program (8)
    wrong = [p for p in progs if not set(names[p]) & {"1", "8"}]
    assert not wrong, "programs whose page is not in section 1 or 8: %s" % wrong


def test_config_is_documented_as_config_8():
    # the one program whose name says nothing about mail
    assert "config" in programs()
    assert "config.8" in installed_pages()


def test_every_source_page_is_installed_unchanged():
    inst = installed_pages()
    missing = [p for p in PAGES if p not in inst]
    assert not missing, "pages not installed: %s" % missing
    stale = []
    for p in PAGES:
        with open(inst[p], "rb") as a, open(os.path.join(MANSRC, p), "rb") as b:
            if a.read() != b.read():
                stale.append(p)
    assert not stale, "installed pages differ from the source (run make setup): %s" % stale


@pytest.mark.parametrize("page", PAGES)
def test_page_formats_without_warnings(page):
    if not shutil.which("groff"):
        pytest.skip("groff is not installed (apt-get install groff-base)")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(MANSRC, page)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stderr == b"", r.stderr.decode(errors="replace")


def test_groff_reports_a_bad_page(tmp_path):
    # the check above is only worth something if groff complains at all
    if not shutil.which("groff"):
        pytest.skip("groff is not installed (apt-get install groff-base)")
    bad = tmp_path / "bad.8"
    bad.write_text(".TH bad 8\n.SH NAME\nbad \\- a page with an unknown macro\n.XYZZY\n")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(bad)],
                       capture_output=True, timeout=60)
    assert b"XYZZY" in r.stderr


@pytest.mark.parametrize("page", PAGES)
def test_page_header_and_name_match_the_file(page):
    m = PAGE_RE.match(page)
    src = text(page)
    th = re.search(r"^\.TH\s+(\S+)\s+(\S+)", src, re.M)
    assert th, "%s has no .TH line" % page
    assert (th.group(1), th.group(2)) == (m.group("name"), m.group("sec")), th.group(0)
    name = section(src, "NAME")
    assert name is not None, "%s has no NAME section" % page
    # "name \- what it is" on one line, as whatis and apropos want it
    first = name.strip().splitlines()[0]
    assert re.match(r"^%s(, \S+)* \\- \S" % re.escape(m.group("name")), first), first


@pytest.mark.parametrize("page", PROGRAM_PAGES)
def test_program_page_has_exit_codes(page):
    body = section(text(page), "EXIT CODES")
    assert body is not None, "%s has no EXIT CODES section" % page
    assert re.search(r"\d", body), "%s: EXIT CODES names no code" % page


def see_also(page):
    body = section(text(page), "SEE ALSO") or ""
    return set(re.findall(r"([A-Za-z0-9_.+-]+)\(([1-8])\)", body))


def test_references_to_the_suites_own_pages_resolve():
    have = set(PAGES)
    ours = {PAGE_RE.match(p).group("name") for p in PAGES} | set(programs())
    bad = []
    for p in PAGES:
        src = text(p)
        refs = set(re.findall(r"^\.[BI]R\s+\"?([A-Za-z0-9_.+-]+)\"?\s+\"?\(([1-8])\)", src, re.M))
        refs |= set(re.findall(r"([A-Za-z0-9_.+-]+)\(([1-8])\)", src))
        for n, s in refs:
            if (n in ours or n.startswith("qmail")) and "%s.%s" % (n, s) not in have:
                bad.append("%s -> %s(%s)" % (p, n, s))
    assert not bad, bad


def test_overview_lists_every_page():
    listed = see_also("qmail.7")
    missing = [p for p in PAGES if p != "qmail.7" and tuple(p.rsplit(".", 1)) not in listed]
    assert not missing, "qmail(7) SEE ALSO does not list: %s" % missing
