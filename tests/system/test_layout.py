"""The rule of doc/ARCHITECTURE.md, checked on the source tree: a module of
src/mail is included from two stages or more (src/mail itself counts as
one: a module the shared code needs is shared), and every module a stage
holds is included from that stage alone (else it belongs in src/mail)."""
import os
import re

from conftest import SRC

INCLUDE = re.compile(r'^#include "([^"/]+)\.h"', re.M)


def includers():
    """{module: set of src directories whose files include module.h}"""
    out = {}
    top = os.path.join(SRC, "src")
    for d in sorted(os.listdir(top)):
        for f in sorted(os.listdir(os.path.join(top, d))):
            if f.endswith((".c", ".h")):
                with open(os.path.join(top, d, f), encoding="latin-1") as fh:
                    for m in INCLUDE.findall(fh.read()):
                        if f not in (m + ".c", m + ".h"):
                            out.setdefault(m, set()).add(d)
    return out


def modules(d):
    """the modules of src/d: a .c file with a header of the same name"""
    path = os.path.join(SRC, "src", d)
    return sorted(f[:-2] for f in os.listdir(path)
                  if f.endswith(".c") and os.path.exists(os.path.join(path, f[:-2] + ".h")))


def test_every_mail_module_is_shared_by_two_stages():
    users = includers()
    single = {m: sorted(users.get(m, ())) for m in modules("mail") if len(users.get(m, ())) < 2}
    assert single == {}


def test_a_stage_module_serves_its_own_stage_only():
    users = includers()
    stages = [d for d in os.listdir(os.path.join(SRC, "src")) if d not in ("lib", "mail")]
    wrong = {}
    for d in stages:
        for m in modules(d):
            others = users.get(m, set()) - {d}
            if others:
                wrong[d + "/" + m] = sorted(others)
    assert wrong == {}
