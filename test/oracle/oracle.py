#!/usr/bin/env python3
"""The hook's oracle: what `txguard check` reports as new must be exactly
what a from-scratch analysis of the new tree finds and a from-scratch
analysis of the old tree does not, whatever the owner index cache holds.

A case is a sequence of changes to a multi-module Python repository built
from the SQLAlchemy idioms txguard understands: owners (context managers
that commit after `yield`, `with X.begin()`), helpers that only close,
wrappers of owners in other modules, FastAPI dependencies and `Depends`,
`Annotated` aliases imported elsewhere, re-exports through `__init__.py`,
packages, identical files at several paths, renames and users that
commit inside owners.  A case is either random (a seed and a number of
steps: the same seed always gives the same sequence) or scripted (a
name, see SCRIPTS).

Every step is staged and checked (`txguard check`), committed and checked
again in branch mode (`txguard check --base HEAD~1`), each with no cache,
with the cache the previous runs left, and with a cache built on an older
tree.  The expected answer: `txguard scan --all` of the new tree and of
the old tree, both without a cache; a finding of the new tree is new
unless the old tree has one with the same fingerprint (for a renamed
file: the same rule, unit, call and message in the rename source, as
the rename keeps its debt).  Findings are compared as multisets of
(rule, path, line).

Usage:
  oracle.py --seed N [--steps K]     a random case
  oracle.py --seed N --decorators    one whose repository also has
                                     decorators that inject sessions
  oracle.py --script NAME            a scripted case
  oracle.py --list-scripts
Options: --txguard PATH (default $TXGUARD), --keep (keep the repository),
-v (print every step), --shrink (on a disagreement, reduce the case to
the fewest steps, modules and definitions that still disagree).  Exit 0 when every step agrees, 1 on the first
disagreement (printing the case, the step, its change and both answers),
2 on an error of the harness or of txguard itself.
"""

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

# ---- the repository model ------------------------------------------------

# Module paths a random case draws from.  app/Compat.py sorts before
# app/__init__.py (uppercase before underscore), app/compat.py after it.
PATHS = [
    "app/__init__.py", "app/db.py", "app/db_ro.py", "app/Compat.py",
    "app/compat.py", "app/deps.py", "app/routes.py", "app/jobs.py",
    "app/sub/__init__.py", "app/sub/wrap.py", "app/sub/users.py",
    "svc/__init__.py", "svc/tasks.py", "src/core/__init__.py",
    "src/core/session.py",
]
HELPER_NAMES = ["get_session", "get_db", "session_scope", "job_session"]
ALIAS_NAMES = ["SessionDep", "DbDep"]
USER_NAMES = ["create", "update_item", "mark_done", "sync_all", "handler",
              "save"]
MODES = ["commit", "close", "begin", "rollback"]
# With --decorators: decorators whose wrapper opens an owner and hands
# the session on (or not), and the functions they decorate.
DECO_NAMES = ["with_session", "transactional"]
INJECTS = ["kw", "pos", "none"]
# With --callees: functions that commit the session they are given
# (directly, under a `commit` switch, or not at all), functions that
# pass it on to one, and callers that pass an owned session to them.
CALLEE_NAMES = ["store", "persist", "forward", "relay"]
CALLEE_BODIES = ["commit", "flush", "switch_on", "switch_off", "rollback"]


def dotted(path):
    """The module name of a path: app/db.py is app.db, app/__init__.py is
    app, src/core/x.py is core.x (a src/ layout)."""
    p = path[:-3]
    if p.startswith("src/"):
        p = p[4:]
    parts = p.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(path):
    """The dotted package a module's relative imports start from."""
    d = dotted(path)
    if path.endswith("__init__.py"):
        return d
    return d.rpartition(".")[0]


class Ref:
    """A reference to a name: where it is imported from and how."""

    def __init__(self, src, name, style):
        self.src = src      # dotted module, or None for a local name
        self.name = name
        self.style = style  # local, from, rel, mod

    def copy(self):
        return Ref(self.src, self.name, self.style)

    def render(self, path):
        """(import line or None, expression) in the module at path."""
        if self.style == "local" or self.src is None:
            return None, self.name
        if self.style == "rel":
            pkg = package_of(path)
            if self.src == pkg:
                return "from . import %s" % self.name, self.name
            head, _, last = self.src.rpartition(".")
            if head == pkg and pkg:
                return "from .%s import %s" % (last, self.name), self.name
        if self.style == "mod":
            head, _, last = self.src.rpartition(".")
            if head:
                return ("from %s import %s" % (head, last),
                        "%s.%s" % (last, self.name))
            return "import %s" % self.src, "%s.%s" % (self.src, self.name)
        return "from %s import %s" % (self.src, self.name), self.name

    def __repr__(self):
        return "%s:%s.%s" % (self.style, self.src, self.name)


class Item:
    """One top-level definition or import of a module.

    kinds: helper (a context manager or a FastAPI generator dependency,
    by mode), wrapper (a context manager around ref), alias (name =
    Annotated[Session, Depends(ref)]), user (a function with `with ref()
    as s:`), route (a FastAPI route whose session comes from ref through
    Depends, Annotated or an alias), reexport (an import kept for others),
    loop (a owner block opened in a loop), leak (an unmanaged session),
    pad (a function that only moves lines)."""

    def __init__(self, kind, name, **kw):
        self.kind = kind
        self.name = name
        self.is_async = kw.get("is_async", False)
        self.mode = kw.get("mode", "commit")    # helper
        self.dep = kw.get("dep", False)         # helper: no decorator
        self.ref = kw.get("ref")
        self.body = kw.get("body", "commit")    # user, route
        self.how = kw.get("how", "depends")     # route: depends, annot, alias
        self.inject = kw.get("inject", "kw")    # decorator: kw, pos, none
        self.ref2 = kw.get("ref2")              # caller: the callee
        self.arg = kw.get("arg", "pos")         # caller: pos, kw, off

    def copy(self):
        c = Item(self.kind, self.name)
        c.__dict__.update(self.__dict__)
        if self.ref:
            c.ref = self.ref.copy()
        if self.ref2:
            c.ref2 = self.ref2.copy()
        return c

    def __repr__(self):
        bits = [self.kind, self.name]
        if self.kind == "helper":
            bits += [self.mode, "dep" if self.dep else "cm"]
        if self.ref:
            bits.append(repr(self.ref))
        if self.kind in ("user", "route", "decorated"):
            bits.append(self.body)
        if self.kind == "decorator":
            bits.append(self.inject)
        if self.kind == "committer":
            bits.append(self.body)
        if self.kind == "caller":
            bits += [repr(self.ref2), self.arg]
        if self.kind == "route":
            bits.append(self.how)
        if self.is_async:
            bits.append("async")
        return "<%s>" % " ".join(bits)


def render_decorator_item(it, ref):
    """The lines of a decorator (its wrapper opens `ref()` and hands the
    session on by keyword, as the first argument, or not at all) or of a
    function decorated with `@ref` that ends with its body call."""
    aw = "await " if it.is_async else ""
    aw_with = "async with" if it.is_async else "with"
    adef = "async def" if it.is_async else "def"
    if it.kind == "decorated":
        return ["@%s" % ref,
                "%s %s(session, x):" % (adef, it.name),
                "    session.add(x)",
                "    %ssession.%s()" % (aw, it.body)]
    args = {"kw": "*args, session=session, **kwargs",
            "pos": "session, *args, **kwargs",
            "none": "*args, **kwargs"}[it.inject]
    return ["def %s(func):" % it.name,
            "    @functools.wraps(func)",
            "    %s wrapper(*args, **kwargs):" % adef,
            "        %s %s() as session:" % (aw_with, ref),
            "            return %sfunc(%s)" % (aw, args),
            "",
            "    return wrapper"]


def render_module(path, items):
    """The text of a module: imports first, then the definitions."""
    imports = []
    body = []
    need = set()

    def imp(line):
        if line and line not in imports:
            imports.append(line)

    def call(ref):
        line, expr = ref.render(path)
        imp(line)
        return expr

    for it in items:
        aw = "await " if it.is_async else ""
        aw_with = "async with" if it.is_async else "with"
        adef = "async def" if it.is_async else "def"
        fac = "AsyncSessionLocal" if it.is_async else "SessionLocal"
        if it.kind == "helper":
            need.add(fac)
            lines = []
            if not it.dep:
                deco = "asynccontextmanager" if it.is_async else \
                    "contextmanager"
                need.add(deco)
                lines.append("@%s" % deco)
            lines.append("%s %s():" % (adef, it.name))
            if it.mode == "commit":
                lines += ["    %s %s() as s:" % (aw_with, fac),
                          "        yield s",
                          "        %ss.commit()" % aw]
            elif it.mode == "close":
                lines += ["    s = %s()" % fac,
                          "    try:",
                          "        yield s",
                          "    finally:",
                          "        %ss.close()" % aw]
            elif it.mode == "begin":
                lines += ["    %s %s.begin() as s:" % (aw_with, fac),
                          "        yield s"]
            else:
                lines += ["    %s %s() as s:" % (aw_with, fac),
                          "        try:",
                          "            yield s",
                          "        except Exception:",
                          "            %ss.rollback()" % aw,
                          "            raise"]
            body.append(lines)
        elif it.kind == "wrapper":
            deco = "asynccontextmanager" if it.is_async else "contextmanager"
            need.add(deco)
            body.append(["@%s" % deco,
                         "%s %s():" % (adef, it.name),
                         "    %s %s() as s:" % (aw_with, call(it.ref)),
                         "        yield s"])
        elif it.kind == "alias":
            need.update(["Annotated", "Depends", "Session"])
            body.append(["%s = Annotated[Session, Depends(%s)]"
                         % (it.name, call(it.ref))])
        elif it.kind == "user":
            body.append(["%s %s(x):" % (adef, it.name),
                         "    %s %s() as s:" % (aw_with, call(it.ref)),
                         "        s.add(x)",
                         "        %ss.%s()" % (aw, it.body)])
        elif it.kind == "route":
            if it.how == "alias":
                ann = call(it.ref)
            elif it.how == "annot":
                need.update(["Annotated", "Depends", "Session"])
                ann = "Annotated[Session, Depends(%s)]" % call(it.ref)
            else:
                need.update(["Depends", "Session"])
                ann = "Session = Depends(%s)" % call(it.ref)
            body.append(["%s %s(item, db: %s):" % (adef, it.name, ann),
                         "    db.add(item)",
                         "    %sdb.%s()" % (aw, it.body)])
        elif it.kind == "reexport":
            call(it.ref)
        elif it.kind == "loop":
            body.append(["%s %s(items):" % (adef, it.name),
                         "    for x in items:",
                         "        %s %s() as s:" % (aw_with, call(it.ref)),
                         "            s.add(x)"])
        elif it.kind == "leak":
            need.add(fac)
            body.append(["%s %s(x):" % (adef, it.name),
                         "    s = %s()" % fac,
                         "    s.add(x)",
                         "    %ss.commit()" % aw])
        elif it.kind == "pad":
            body.append(["def %s():" % it.name, "    return 0"])
        elif it.kind == "committer":
            b = {"commit": ["    %ssession.commit()" % aw],
                 "flush": ["    %ssession.flush()" % aw],
                 "rollback": ["    %ssession.rollback()" % aw],
                 "switch_on": ["    if commit:",
                               "        %ssession.commit()" % aw],
                 "switch_off": ["    if commit:",
                                "        %ssession.commit()" % aw]}
            dflt = "False" if it.body == "switch_off" else "True"
            body.append(["%s %s(session, x, commit=%s):"
                         % (adef, it.name, dflt),
                         "    session.add(x)"] + b[it.body])
        elif it.kind == "passer":
            body.append(["%s %s(session, x):" % (adef, it.name),
                         "    %s%s(session, x)" % (aw, call(it.ref))])
        elif it.kind == "caller":
            arg = {"pos": "s, x", "kw": "session=s, x=x",
                   "off": "s, x, commit=False"}[it.arg]
            body.append(["%s %s(x):" % (adef, it.name),
                         "    %s %s() as s:" % (aw_with, call(it.ref)),
                         "        %s%s(%s)" % (aw, call(it.ref2), arg)])
        elif it.kind in ("decorator", "decorated"):
            body.append(render_decorator_item(it, call(it.ref)))
            if it.kind == "decorator":
                need.add("functools")
    head = []
    if "functools" in need:
        head.append("import functools")
    if "contextmanager" in need or "asynccontextmanager" in need:
        names = sorted(n for n in ("asynccontextmanager", "contextmanager")
                       if n in need)
        head.append("from contextlib import %s" % ", ".join(names))
    if "Annotated" in need:
        head.append("from typing import Annotated")
    if "Depends" in need:
        head.append("from fastapi import Depends")
    orm = sorted(n for n in ("Session",) if n in need)
    if "SessionLocal" in need:
        orm.append("sessionmaker")
    if orm:
        head.append("from sqlalchemy.orm import %s" % ", ".join(orm))
    if "AsyncSessionLocal" in need:
        head.append("from sqlalchemy.ext.asyncio import async_sessionmaker")
    out = head + imports
    if "SessionLocal" in need:
        out += ["", "SessionLocal = sessionmaker()"]
    if "AsyncSessionLocal" in need:
        out += ["", "AsyncSessionLocal = async_sessionmaker()"]
    for block in body:
        out += ["", ""] + block
    text = "\n".join(out).lstrip("\n")
    return text + "\n" if text else ""


class Model:
    """The repository: module path -> list of items, or raw text."""

    def __init__(self):
        self.mods = {}
        self.raw = {}

    def copy(self):
        m = Model()
        m.mods = {p: [i.copy() for i in items]
                  for p, items in self.mods.items()}
        m.raw = dict(self.raw)
        return m

    def files(self):
        out = dict(self.raw)
        for p, items in self.mods.items():
            out[p] = render_module(p, items)
        return out

    def definers(self, kinds):
        """(path, name) for every definition of one of kinds, and every
        re-export of one (an import in a module of a name some module
        defines with one of kinds)."""
        out = []
        names = set()
        for p, items in sorted(self.mods.items()):
            for it in items:
                if it.kind in kinds:
                    out.append((p, it.name))
                    names.add(it.name)
        for p, items in sorted(self.mods.items()):
            for it in items:
                if it.kind == "reexport" and it.ref.name in names:
                    out.append((p, it.ref.name))
        return out


# ---- random changes ------------------------------------------------------

class Gen:
    def __init__(self, rng, decorators=False, callees=False):
        self.rng = rng
        self.pad = 0
        self.decorators = decorators
        self.callees = callees

    def pick_ref(self, model, path, kinds, names):
        r = self.rng
        cands = model.definers(kinds)
        if cands and r.random() < 0.95:
            src_path, name = r.choice(cands)
        else:
            src_path, name = r.choice(PATHS), r.choice(names)
        if src_path == path:
            return Ref(None, name, "local")
        styles = ["from", "from", "mod"]
        if package_of(path) and (package_of(src_path) == package_of(path)
                                 and not path.endswith("__init__.py")
                                 or dotted(src_path) == package_of(path)):
            styles += ["rel", "rel"]
        return Ref(dotted(src_path), name, r.choice(styles))

    def new_item(self, model, path):
        r = self.rng
        used = {i.name for i in model.mods.get(path, []) if i.kind != "reexport"}
        kinds = ["helper", "helper", "wrapper", "alias", "user", "user",
                 "user", "route", "route", "reexport", "loop", "leak"]
        if self.decorators:
            kinds += ["decorator"] * 4 + ["decorated"] * 6
        if self.callees:
            kinds += ["committer"] * 4 + ["passer"] * 3 + ["caller"] * 6
        kind = r.choice(kinds)
        if path.endswith("__init__.py") and r.random() < 0.6:
            kind = "reexport"
        pool = {"helper": HELPER_NAMES, "wrapper": HELPER_NAMES,
                "alias": ALIAS_NAMES, "decorator": DECO_NAMES,
                "committer": CALLEE_NAMES,
                "passer": CALLEE_NAMES}.get(kind, USER_NAMES)
        free = [n for n in pool if n not in used]
        if kind == "reexport":
            kinds, names = ("helper", "wrapper", "alias"), \
                HELPER_NAMES + ALIAS_NAMES
            if self.decorators:
                kinds, names = kinds + ("decorator",), names + DECO_NAMES
            if self.callees:
                kinds = kinds + ("committer", "passer")
                names = names + CALLEE_NAMES
            ref = self.pick_ref(model, path, kinds, names)
            if ref.style in ("local", "mod"):
                ref.style = "rel" if package_of(path) else "from"
            return Item("reexport", ref.name, ref=ref)
        if not free:
            return None
        name = r.choice(free)
        asy = r.random() < 0.3
        if kind == "helper":
            return Item("helper", name, is_async=asy,
                        mode=r.choice(MODES + ["commit", "close"]),
                        dep=r.random() < 0.4)
        if kind == "wrapper":
            return Item("wrapper", name, is_async=asy,
                        ref=self.pick_ref(model, path, ("helper", "wrapper"),
                                          HELPER_NAMES))
        if kind == "alias":
            return Item("alias", name,
                        ref=self.pick_ref(model, path, ("helper",),
                                          HELPER_NAMES))
        if kind == "route":
            how = r.choice(["depends", "annot", "alias", "alias"])
            if how == "alias":
                ref = self.pick_ref(model, path, ("alias",), ALIAS_NAMES)
            else:
                ref = self.pick_ref(model, path, ("helper",), HELPER_NAMES)
            return Item("route", name, is_async=asy, ref=ref, how=how,
                        body=r.choice(["commit", "commit", "flush"]))
        if kind == "decorator":
            return Item(kind, name, is_async=asy,
                        inject=r.choice(INJECTS + ["kw", "pos"]),
                        ref=self.pick_ref(model, path, ("helper", "wrapper"),
                                          HELPER_NAMES))
        if kind == "committer":
            return Item(kind, name, is_async=asy,
                        body=r.choice(CALLEE_BODIES + ["commit"]))
        if kind == "passer":
            return Item(kind, name, is_async=asy,
                        ref=self.pick_ref(model, path,
                                          ("committer", "passer"),
                                          CALLEE_NAMES))
        if kind == "caller":
            return Item(kind, name, is_async=asy,
                        ref=self.pick_ref(model, path, ("helper", "wrapper"),
                                          HELPER_NAMES),
                        ref2=self.pick_ref(model, path,
                                           ("committer", "passer"),
                                           CALLEE_NAMES),
                        arg=r.choice(["pos", "pos", "kw", "off"]))
        if kind == "decorated":
            return Item(kind, name, is_async=asy,
                        ref=self.pick_ref(model, path, ("decorator",),
                                          DECO_NAMES),
                        body=r.choice(["commit", "commit", "rollback",
                                       "flush"]))
        if kind in ("user", "loop"):
            return Item(kind, name, is_async=asy,
                        ref=self.pick_ref(model, path, ("helper", "wrapper"),
                                          HELPER_NAMES),
                        body=r.choice(["commit", "commit", "rollback",
                                       "flush"]))
        return Item("leak", name, is_async=asy)

    def step(self, model):
        """Change model in place; return a description of the change."""
        r = self.rng
        ops = ["add"] * 6 + ["flip"] * 4 + ["body"] * 2 + ["repoint"] * 4 + \
            ["remove", "remove", "copy", "copy", "rename", "touch", "delete"]
        if self.decorators:
            ops += ["inject"] * 3
        if self.callees:
            ops += ["callee_body"] * 4
        for _ in range(50):
            op = r.choice(ops)
            desc = getattr(self, "op_" + op)(model)
            if desc:
                return desc
        return self.op_touch(model)

    def op_add(self, model):
        path = self.rng.choice(PATHS)
        it = self.new_item(model, path)
        if it is None:
            return None
        items = model.mods.setdefault(path, [])
        items.insert(self.rng.randint(0, len(items)), it)
        return "add %r to %s" % (it, path)

    def _pick(self, model, pred):
        cands = [(p, i) for p, items in sorted(model.mods.items())
                 for i, it in enumerate(items) if pred(it)]
        return self.rng.choice(cands) if cands else None

    def op_remove(self, model):
        c = self._pick(model, lambda it: True)
        if not c:
            return None
        p, i = c
        it = model.mods[p].pop(i)
        return "remove %r from %s" % (it, p)

    def op_flip(self, model):
        c = self._pick(model, lambda it: it.kind == "helper")
        if not c:
            return None
        it = model.mods[c[0]][c[1]]
        old = it.mode
        it.mode = self.rng.choice([m for m in MODES if m != old])
        return "flip %s in %s from %s to %s" % (it.name, c[0], old, it.mode)

    def op_body(self, model):
        c = self._pick(model, lambda it: it.kind in ("user", "route",
                                                     "decorated"))
        if not c:
            return None
        it = model.mods[c[0]][c[1]]
        old = it.body
        it.body = self.rng.choice([b for b in ("commit", "rollback", "flush")
                                   if b != old])
        return "%s in %s: %s -> %s" % (it.name, c[0], old, it.body)

    def op_repoint(self, model):
        c = self._pick(model, lambda it: it.ref is not None)
        if not c:
            return None
        p = c[0]
        it = model.mods[p][c[1]]
        old = it.ref
        if it.kind == "route" and it.how == "alias":
            it.ref = self.pick_ref(model, p, ("alias",), ALIAS_NAMES)
        elif it.kind == "decorated":
            it.ref = self.pick_ref(model, p, ("decorator",), DECO_NAMES)
        elif it.kind == "passer":
            it.ref = self.pick_ref(model, p, ("committer", "passer"),
                                   CALLEE_NAMES)
        elif it.kind == "caller" and self.rng.random() < 0.5:
            it.ref2 = self.pick_ref(model, p, ("committer", "passer"),
                                    CALLEE_NAMES)
        else:
            it.ref = self.pick_ref(model, p, ("helper", "wrapper"),
                                   HELPER_NAMES)
        if it.kind == "reexport":
            if it.ref.style in ("local", "mod"):
                it.ref.style = "rel" if package_of(p) else "from"
            it.name = it.ref.name
        return "repoint %s in %s from %r to %r" % (it.name, p, old, it.ref)

    def op_inject(self, model):
        c = self._pick(model, lambda it: it.kind == "decorator")
        if not c:
            return None
        it = model.mods[c[0]][c[1]]
        old = it.inject
        it.inject = self.rng.choice([m for m in INJECTS if m != old])
        return "%s in %s hands the session on: %s -> %s" % (
            it.name, c[0], old, it.inject)

    def op_callee_body(self, model):
        c = self._pick(model, lambda it: it.kind == "committer")
        if not c:
            return None
        it = model.mods[c[0]][c[1]]
        old = it.body
        it.body = self.rng.choice([b for b in CALLEE_BODIES if b != old])
        return "%s in %s: %s -> %s" % (it.name, c[0], old, it.body)

    def op_copy(self, model):
        if not model.mods:
            return None
        src = self.rng.choice(sorted(model.mods))
        dst = self.rng.choice([p for p in PATHS if p != src])
        model.mods[dst] = [i.copy() for i in model.mods[src]]
        return "copy %s to %s" % (src, dst)

    def op_rename(self, model):
        if not model.mods:
            return None
        src = self.rng.choice(sorted(model.mods))
        free = [p for p in PATHS if p not in model.mods]
        if not free:
            return None
        dst = self.rng.choice(free)
        model.mods[dst] = model.mods.pop(src)
        return "rename %s to %s" % (src, dst)

    def op_delete(self, model):
        if not model.mods:
            return None
        p = self.rng.choice(sorted(model.mods))
        del model.mods[p]
        return "delete %s" % p

    def op_touch(self, model):
        path = self.rng.choice(sorted(model.mods) or PATHS)
        self.pad += 1
        model.mods.setdefault(path, []).insert(0, Item("pad",
                                                       "pad_%d" % self.pad))
        return "move the lines of %s down" % path


def random_case(seed, steps, decorators=False, callees=False):
    """A list of (description, model) for a seed, the first the initial
    repository. With `decorators` the repository has decorators that
    inject sessions too, with `callees` functions that commit the session
    they are given and callers passing them owned sessions (the same seed
    gives another sequence)."""
    rng = random.Random(seed)
    gen = Gen(rng, decorators, callees)
    model = Model()
    for _ in range(rng.randint(6, 14)):
        gen.op_add(model)
    out = [("initial repository", model.copy())]
    for _ in range(steps):
        descs = [gen.step(model)]
        if rng.random() < 0.3:
            descs.append(gen.step(model))
        out.append(("; ".join(descs), model.copy()))
    return out


# ---- scripted cases ------------------------------------------------------

def _raw(*pairs):
    m = Model()
    for i in range(0, len(pairs), 2):
        m.raw[pairs[i]] = pairs[i + 1]
    return m


COMMITS_AFTER_YIELD = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@contextmanager
def get_session():
    with SessionLocal() as s:
        yield s
        s.commit()


def job(x):
    with get_session() as s:
        s.add(x)
        s.commit()
"""

USER_OF_PACKAGE = """\
from app import get_session


def save(x):
    with get_session() as s:
        s.add(x)
        s.commit()
"""

DEP_CLOSE = """\
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""

DEP_COMMIT = """\
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()
"""

DEPS_ALIAS = """\
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from app.db import get_db

SessionDep = Annotated[Session, Depends(get_db)]
"""

ROUTE = """\
from app.deps import SessionDep


def create(item, db: SessionDep):
    db.add(item)
    db.commit()
"""

CM_CLOSE = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@contextmanager
def get_session():
    s = SessionLocal()
    try:
        yield s
    finally:
        s.close()
"""

CM_COMMIT = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@contextmanager
def get_session():
    with SessionLocal() as s:
        yield s
        s.commit()
"""


ROLLBACK_ONLY_ASYNC = """\
from contextlib import asynccontextmanager
from sqlalchemy.ext.asyncio import async_sessionmaker

AsyncSessionLocal = async_sessionmaker()


@asynccontextmanager
async def get_session():
    async with AsyncSessionLocal() as s:
        try:
            yield s
        except Exception:
            await s.rollback()
            raise
"""

SCOPE_CLOSE = CM_CLOSE.replace("get_session", "session_scope")
SCOPE_COMMIT = CM_COMMIT.replace("get_session", "session_scope")
REEXPORT_SCOPE = "from svc.tasks import session_scope\n"
USER_OF_SCOPE = """\
from app import session_scope


def save(x):
    with session_scope() as s:
        s.add(x)
        s.commit()
"""


def script_compat_init():
    """The bytes of app/compat.py, a re-export of session_scope, are
    added as app/__init__.py too (the owner index has seen the blob at
    the first path); then session_scope starts committing, which turns
    the unchanged user of app.session_scope into a finding."""
    a = _raw("svc/tasks.py", SCOPE_CLOSE, "app/compat.py", REEXPORT_SCOPE,
             "app/users.py", USER_OF_SCOPE)
    b = _raw("svc/tasks.py", SCOPE_CLOSE, "app/compat.py", REEXPORT_SCOPE,
             "app/__init__.py", REEXPORT_SCOPE, "app/users.py", USER_OF_SCOPE)
    c = _raw("svc/tasks.py", SCOPE_COMMIT, "app/compat.py", REEXPORT_SCOPE,
             "app/__init__.py", REEXPORT_SCOPE, "app/users.py", USER_OF_SCOPE)
    return [("app/compat.py re-exports the closing session_scope", a),
            ("the same bytes added as app/__init__.py", b),
            ("session_scope commits after its yield", c)]


def script_compat_upper_init():
    """app/Compat.py, which sorts before app/__init__.py, has the same
    bytes, a re-export of session_scope; session_scope starts
    committing, which turns the unchanged user of app.session_scope into
    a finding (while the owner index makes one record per blob, at
    app/Compat.py, the package re-exports nothing in every mode)."""
    a = _raw("svc/tasks.py", SCOPE_CLOSE, "app/Compat.py", REEXPORT_SCOPE,
             "app/__init__.py", REEXPORT_SCOPE, "app/users.py", USER_OF_SCOPE)
    b = _raw("svc/tasks.py", SCOPE_COMMIT, "app/Compat.py", REEXPORT_SCOPE,
             "app/__init__.py", REEXPORT_SCOPE, "app/users.py", USER_OF_SCOPE)
    return [("app/Compat.py and app/__init__.py re-export session_scope",
             a),
            ("session_scope commits after its yield", b)]


def script_alias_dep_commits():
    """A route whose session comes from SessionDep, imported from another
    module; then get_db starts committing after its yield."""
    a = _raw("app/__init__.py", "", "app/db.py", DEP_CLOSE,
             "app/deps.py", DEPS_ALIAS, "app/routes.py", ROUTE)
    b = _raw("app/__init__.py", "", "app/db.py", DEP_COMMIT,
             "app/deps.py", DEPS_ALIAS, "app/routes.py", ROUTE)
    return [("get_db closes only; a route commits through SessionDep", a),
            ("get_db commits after its yield", b)]


def script_repoint_init():
    """app/__init__.py re-exports get_session from a module that only
    closes, then from one that commits; a user of the package commits
    inside `with get_session() as s:` and does not change."""
    a = _raw("app/__init__.py", "from .db_ro import get_session\n",
             "app/db_ro.py", CM_CLOSE, "app/db.py", CM_COMMIT,
             "app/users.py", USER_OF_PACKAGE)
    b = _raw("app/__init__.py", "from .db import get_session\n",
             "app/db_ro.py", CM_CLOSE, "app/db.py", CM_COMMIT,
             "app/users.py", USER_OF_PACKAGE)
    return [("app re-exports the closing get_session", a),
            ("app re-exports the committing get_session", b)]


def _user(imp, call):
    return ("%s\n\n\ndef save(x):\n    with %s() as s:\n"
            "        s.add(x)\n        s.commit()\n" % (imp, call))


def script_repoint_import():
    """A module imports get_session from a module where it only closes,
    then from one where it commits; the function committing inside `with
    get_session() as s:` does not change."""
    a = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/db_ro.py", CM_CLOSE,
             "app/jobs.py", _user("from app.db_ro import get_session",
                                  "get_session"))
    b = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/db_ro.py", CM_CLOSE,
             "app/jobs.py", _user("from app.db import get_session",
                                  "get_session"))
    return [("app/jobs.py imports the closing get_session", a),
            ("app/jobs.py imports the committing get_session", b)]


def script_unshadow_import():
    """A module imports the committing get_session but defines its own,
    closing one, which shadows the import; the local definition goes."""
    local = CM_CLOSE.replace("from contextlib import contextmanager\n",
                             "from contextlib import contextmanager\n"
                             "from app.db import get_session\n")
    user = ("\n\ndef save(x):\n    with get_session() as s:\n"
            "        s.add(x)\n        s.commit()\n")
    a = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/jobs.py", local + user)
    b = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/jobs.py", "from app.db import get_session\n" + user)
    return [("app/jobs.py's own closing get_session shadows the import", a),
            ("the local get_session goes", b)]


def script_init_reexport_added():
    """app/__init__.py starts re-exporting the committing get_session;
    an unchanged module imports it from the package and commits inside
    it."""
    a = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/users.py", USER_OF_PACKAGE)
    b = _raw("app/__init__.py", "from .db import get_session\n",
             "app/db.py", CM_COMMIT, "app/users.py", USER_OF_PACKAGE)
    return [("app/users.py imports get_session from app, which has none",
             a),
            ("app/__init__.py re-exports get_session", b)]


def script_module_reexport_added():
    """A new module app/Compat.py imports the committing session_scope
    (and wraps it); an unchanged module calls it as
    Compat.session_scope(), which a plain module's import does not
    bind for other modules: no finding, in check as in scan."""
    user = ("from app import Compat\n\n\ndef save(x):\n"
            "    with Compat.session_scope() as s:\n"
            "        s.add(x)\n        s.rollback()\n")
    owner = CM_COMMIT.replace("get_session", "session_scope")
    a = _raw("app/__init__.py", "", "app/users.py", owner,
             "app/compat.py", user)
    b = _raw("app/__init__.py", "", "app/users.py", owner,
             "app/compat.py", user,
             "app/Compat.py",
             "from contextlib import contextmanager\n"
             "from app.users import session_scope\n\n\n"
             "@contextmanager\ndef get_session():\n"
             "    with session_scope() as s:\n        yield s\n")
    return [("app/compat.py calls Compat.session_scope(); no app/Compat.py",
             a),
            ("app/Compat.py imports session_scope", b)]


def script_package_reexport_added():
    """A new package app/compat/__init__.py re-exports the committing
    session_scope; an unchanged module that imported the package before
    it existed calls compat.session_scope() and rolls back inside it."""
    user = ("from app import compat\n\n\ndef save(x):\n"
            "    with compat.session_scope() as s:\n"
            "        s.add(x)\n        s.rollback()\n")
    owner = CM_COMMIT.replace("get_session", "session_scope")
    a = _raw("app/__init__.py", "", "app/users.py", owner,
             "app/jobs.py", user)
    b = _raw("app/__init__.py", "", "app/users.py", owner,
             "app/jobs.py", user,
             "app/compat/__init__.py", "from app.users import session_scope\n")
    return [("app/jobs.py calls compat.session_scope(); no app.compat", a),
            ("app/compat/__init__.py re-exports session_scope", b)]


def script_plain_module_import():
    """A plain module app/routes.py starts importing the committing
    get_session (it used a factory under that name); an unchanged
    module imports get_session from app.routes and commits inside it.
    A plain module's imports are its own: no finding, in check as in
    scan."""
    routes = ("from app.db import %s\n\n\ndef touch(x):\n"
              "    with get_session() as s:\n        s.add(x)\n")
    reader = _user("from app.routes import get_session", "get_session")
    a = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/routes.py", routes % "SessionLocal as get_session",
             "app/reader.py", reader)
    b = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/routes.py", routes % "get_session",
             "app/reader.py", reader)
    return [("app/routes.py imports a factory as get_session", a),
            ("app/routes.py imports the committing get_session", b)]


def script_rename_relative_import():
    """A module that commits inside the package's owner, imported
    relatively (`from . import job_session`), is renamed into a
    subpackage, its import written out (`from app import
    job_session`): the finding moves with it and is not new."""
    owner = CM_COMMIT.replace("get_session", "job_session")
    body = ("\n\ndef handler(x):\n    with job_session() as s:\n"
            "        s.add(x)\n        s.commit()\n\n\n"
            "def pad_a():\n    return 1\n\n\ndef pad_b():\n    return 2\n")
    a = _raw("app/__init__.py", owner, "app/db.py",
             "from . import job_session\n" + body)
    b = _raw("app/__init__.py", owner, "app/sub/__init__.py",
             "from app import job_session\n" + body)
    return [("app/db.py commits inside the package's job_session", a),
            ("app/db.py renamed to app/sub/__init__.py", b)]


def script_copy_unshared():
    """app/jobs.py and app/sub/__init__.py hold the same bytes, a
    re-export of the committing session_scope; a wrapper in
    app/Compat.py wraps app.sub's, and an unchanged module rolls back
    inside the wrapper. Then app/jobs.py gains an import, and the
    package's bytes are its alone."""
    reexport = "from svc.tasks import session_scope\n"
    compat = ("from contextlib import contextmanager\n"
              "from app.sub import session_scope\n\n\n"
              "@contextmanager\ndef get_db():\n"
              "    with session_scope() as s:\n        yield s\n")
    user = ("from .Compat import get_db\n\n\ndef save(x):\n"
            "    with get_db() as s:\n        s.add(x)\n"
            "        s.rollback()\n")
    a = _raw("svc/tasks.py", CM_COMMIT.replace("get_session",
                                               "session_scope"),
             "app/Compat.py", compat, "app/db_ro.py", user,
             "app/jobs.py", reexport, "app/sub/__init__.py", reexport)
    b = _raw("svc/tasks.py", CM_COMMIT.replace("get_session",
                                               "session_scope"),
             "app/Compat.py", compat, "app/db_ro.py", user,
             "app/jobs.py", "import os\n" + reexport,
             "app/sub/__init__.py", reexport)
    return [("app/jobs.py and app/sub/__init__.py re-export session_scope",
             a),
            ("app/jobs.py imports os too", b)]


def script_rename_to_imported():
    """An unchanged module imports get_session from app.db, which does
    not exist, and commits inside it; the module defining the
    committing get_session is renamed to app/db.py."""
    a = _raw("app/__init__.py", "", "app/db_old.py", CM_COMMIT,
             "app/users.py", _user("from app.db import get_session",
                                   "get_session"))
    b = _raw("app/__init__.py", "", "app/db.py", CM_COMMIT,
             "app/users.py", _user("from app.db import get_session",
                                   "get_session"))
    return [("app/users.py imports get_session from a missing app.db", a),
            ("app/db_old.py renamed to app/db.py", b)]


def script_copy_before_init():
    """A user of core.get_session, re-exported by src/core/__init__.py
    from svc, re-exported there from app.jobs; the bytes of the
    re-export are copied to app/sub/wrap.py, which sorts first; then
    app.jobs.get_session starts owning. The user is a new finding: a
    check with the cache says so, but a scan or check without one
    (which infers the blob at the first path) does not, so the expected
    answer here is wrong and the cached check right."""
    rollback_only = ROLLBACK_ONLY_ASYNC
    owner = rollback_only.replace(
        "    async with AsyncSessionLocal() as s:\n        try:\n"
        "            yield s\n        except Exception:\n"
        "            await s.rollback()\n            raise\n",
        "    async with AsyncSessionLocal.begin() as s:\n        yield s\n")
    user = ("from core import get_session\n\n\ndef handler(x):\n"
            "    with get_session() as s:\n        s.add(x)\n"
            "        s.commit()\n")
    base = ("app/sub/users.py", user,
            "src/core/__init__.py", "from svc import get_session\n",
            "svc/__init__.py", "from app.jobs import get_session\n")
    a = _raw("app/jobs.py", rollback_only, *base)
    b = _raw("app/jobs.py", rollback_only,
             "app/sub/wrap.py", "from svc import get_session\n", *base)
    c = _raw("app/jobs.py", owner,
             "app/sub/wrap.py", "from svc import get_session\n", *base)
    return [("get_session only rolls back on error; users reach it"
             " through two re-exports", a),
            ("the bytes of src/core/__init__.py copied to app/sub/wrap.py",
             b),
            ("get_session yields inside AsyncSessionLocal.begin()", c)]


CLASS_COMMIT = """\
from sqlalchemy.orm import Session


class AppSession(Session):
    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        self.close()
"""

CLASS_CLOSE = """\
from sqlalchemy.orm import Session


class AppSession(Session):
    def __exit__(self, exc_type, exc, tb):
        self.close()
"""

FACTORY_OF_CLASS = """\
from sqlalchemy.orm import sessionmaker

from app.db import AppSession

AppLocal = sessionmaker(class_=AppSession)
"""


def script_class_owner_flips():
    """app/db.py's AppSession commits in __exit__; an unchanged user of
    `with AppSession() as s:` in another module commits again. The class
    then only closes, then commits again."""
    user = _user("from app.db import AppSession", "AppSession")
    a = _raw("app/__init__.py", "", "app/db.py", CLASS_COMMIT,
             "app/jobs.py", user)
    b = _raw("app/__init__.py", "", "app/db.py", CLASS_CLOSE,
             "app/jobs.py", user)
    c = _raw("app/__init__.py", "", "app/db.py", CLASS_COMMIT,
             "app/jobs.py", user)
    return [("AppSession commits in __exit__", a),
            ("AppSession only closes", b),
            ("AppSession commits in __exit__ again", c)]


def script_class_owner_factory():
    """sessionmaker(class_=AppSession) in app/factories.py, used in
    app/jobs.py; AppSession, in a third module, starts committing in
    __exit__, then only closes."""
    user = _user("from app.factories import AppLocal", "AppLocal")
    a = _raw("app/__init__.py", "", "app/db.py", CLASS_CLOSE,
             "app/factories.py", FACTORY_OF_CLASS, "app/jobs.py", user)
    b = _raw("app/__init__.py", "", "app/db.py", CLASS_COMMIT,
             "app/factories.py", FACTORY_OF_CLASS, "app/jobs.py", user)
    c = _raw("app/__init__.py", "", "app/db.py", CLASS_CLOSE,
             "app/factories.py", FACTORY_OF_CLASS, "app/jobs.py", user)
    return [("AppLocal makes AppSession sessions, which only close", a),
            ("AppSession commits in __exit__", b),
            ("AppSession only closes again", c)]


DATABASE = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker


class Database:
    def __init__(self):
        self.factory = sessionmaker()

    @contextmanager
    def session(self):
        with self.factory() as s:
            yield s
            BODY


class ReadOnly:
    @contextmanager
    def session(self):
        yield None


db = CLASS()
"""


def _database(body, cls):
    return DATABASE.replace("BODY", body).replace("CLASS", cls)


def script_owner_method_flips():
    """app/db.py's module-level db = Database(); Database.session flips
    between closing and committing after its yield, and db comes to be
    an instance of another class; an unchanged user in another module
    commits inside `with db.session() as s:`."""
    user = _user("from app.db import db", "db.session")
    a = _raw("app/__init__.py", "", "app/db.py",
             _database("pass", "Database"), "app/jobs.py", user)
    b = _raw("app/__init__.py", "", "app/db.py",
             _database("s.commit()", "Database"), "app/jobs.py", user)
    c = _raw("app/__init__.py", "", "app/db.py",
             _database("s.commit()", "ReadOnly"), "app/jobs.py", user)
    d = _raw("app/__init__.py", "", "app/db.py",
             _database("s.commit()", "Database"), "app/jobs.py", user)
    return [("Database.session only closes", a),
            ("Database.session commits after its yield", b),
            ("db is a ReadOnly", c),
            ("db is a Database again", d)]


GEN_MADE_CM = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    with SessionLocal() as s:
        yield s
        BODY


get_db_ctx = contextmanager(get_db)
"""


def script_call_made_owner():
    """get_db_ctx = contextmanager(get_db) in app/deps.py; get_db starts
    committing after its yield, then only closes; an unchanged user in
    another module commits inside `with get_db_ctx() as s:`."""
    user = _user("from app.deps import get_db_ctx", "get_db_ctx")
    steps = []
    for body, what in (("pass", "get_db only closes"),
                       ("s.commit()", "get_db commits after its yield"),
                       ("pass", "get_db only closes again")):
        steps.append((what, _raw("app/__init__.py", "", "app/deps.py",
                                 GEN_MADE_CM.replace("BODY", body),
                                 "app/jobs.py", user)))
    return steps


LOCAL_HELPER = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

from app.db import unit

SessionLocal = sessionmaker()


def save(x):
    @contextmanager
    def unit():
        with SessionLocal() as s:
            yield s
            BODY

    with unit() as s:
        s.add(x)
        s.commit()
"""


def script_local_owner():
    """A function defines its own unit() helper, which shadows the
    committing one it imports; the local helper starts committing, then
    only closes again."""
    db = CM_COMMIT.replace("get_session", "unit")
    steps = []
    for body, what in (("pass", "the local unit() only closes"),
                       ("s.commit()", "the local unit() commits"),
                       ("pass", "the local unit() only closes again")):
        steps.append((what, _raw("app/__init__.py", "", "app/db.py", db,
                                 "app/jobs.py",
                                 LOCAL_HELPER.replace("BODY", body))))
    return steps


DEPENDS_DEFAULT = """\
from fastapi import Depends

from app.db import get_db

DbDefault = Depends(get_db)
"""

ROUTE_DEFAULT = """\
from app.deps import DbDefault


def create(item, db=DbDefault):
    db.add(item)
    db.commit()
"""


def script_depends_default():
    """DbDefault = Depends(get_db) in app/deps.py, used as a default in
    app/routes.py; get_db starts committing after its yield, then only
    closes again."""
    steps = []
    for db, what in ((DEP_CLOSE, "get_db only closes"),
                     (DEP_COMMIT, "get_db commits after its yield"),
                     (DEP_CLOSE, "get_db only closes again")):
        steps.append((what, _raw("app/__init__.py", "", "app/db.py", db,
                                 "app/deps.py", DEPENDS_DEFAULT,
                                 "app/routes.py", ROUTE_DEFAULT)))
    return steps


REPO_STORE = """\
class Repo:
    def store(self, session, x):
        session.add(x)
        BODY


repo = Repo()


def store(session, x, commit=DEFAULT):
    session.add(x)
    if commit:
        session.commit()
"""

SERVICE_SAVE = """\
from app.repo import repo


def save(session, x):
    repo.store(session, x)
"""

JOBS_CALLING = """\
from app.db import get_session
from app.repo import store
from app.services import save


def job(x):
    with get_session() as s:
        save(s, x)
        store(s, x)
        store(s, x, commit=False)
"""


def script_committing_callee():
    """An unchanged job calls save(s, x) inside an owner; save passes the
    session to a method of a module-level Repo instance in another module,
    which starts committing it, then only flushes again; the plain
    store() helper's `commit` default flips too."""
    steps = []
    for body, dflt, what in (
            ("session.flush()", "False", "nothing commits"),
            ("session.commit()", "False", "Repo.store commits its parameter"),
            ("session.commit()", "True", "store() commits by default"),
            ("session.flush()", "True", "Repo.store only flushes again"),
            ("session.flush()", "False", "store() does not commit by default")):
        steps.append((what, _raw(
            "app/__init__.py", "", "app/db.py", CM_COMMIT,
            "app/repo.py", REPO_STORE.replace("BODY", body)
                                     .replace("DEFAULT", dflt),
            "app/services.py", SERVICE_SAVE,
            "app/jobs.py", JOBS_CALLING)))
    return steps


CONDITIONAL_OWNER = """\
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


@contextmanager
def session_context(begin_transaction=DEFAULT):
    with SessionLocal() as s:
        if begin_transaction:
            with s.begin():
                yield s
        else:
            yield s
"""

CONDITIONAL_USER = """\
from app.db import session_context


def save(x):
    with session_context() as s:
        s.add(x)
        s.commit()
    with session_context(begin_transaction=True) as s:
        s.commit()
    with session_context(False) as s:
        s.commit()
"""


def script_conditional_owner():
    """session_context() owns only when begin_transaction is true; its
    default flips while an unchanged user calls it with no argument, with
    True and with False."""
    steps = []
    for dflt, what in (("False", "owns only when asked"),
                       ("True", "owns by default"),
                       ("False", "owns only when asked again")):
        steps.append((what, _raw(
            "app/__init__.py", "", "app/db.py",
            CONDITIONAL_OWNER.replace("DEFAULT", dflt),
            "app/jobs.py", CONDITIONAL_USER)))
    return steps


# ---- sessions injected by decorators -----------------------------------

DECORATOR = """\
import functools

from sqlalchemy.orm import sessionmaker

from app.db import get_session

SessionLocal = sessionmaker()


def with_session(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if "session" in kwargs:
            return func(*args, **kwargs)
        with OPENER() as session:
            return func(CALL)

    return wrapper
"""

DECORATED_USER = """\
IMPORT


@DECO
def save(x, session):
    session.add(x)
    session.commit()


def pad_a():
    return 1


def pad_b():
    return 2
"""


def _decorator(opener="get_session",
               call="*args, session=session, **kwargs"):
    return DECORATOR.replace("OPENER", opener).replace("CALL", call)


def _decorated(imp="from app.deco import with_session", deco="with_session"):
    return DECORATED_USER.replace("IMPORT", imp).replace("DECO", deco)


def script_decorator_owner_flips():
    """app/deco.py's with_session opens get_session and passes the
    session on by keyword; get_session starts committing after its
    yield, then only closes again; an unchanged decorated function in
    another module commits."""
    steps = []
    for db, what in ((CM_CLOSE, "get_session only closes"),
                     (CM_COMMIT, "get_session commits after its yield"),
                     (CM_CLOSE, "get_session only closes again")):
        steps.append((what, _raw("app/__init__.py", "", "app/db.py", db,
                                 "app/deco.py", _decorator(),
                                 "app/jobs.py", _decorated())))
    return steps


def script_decorator_passing():
    """The committing get_session; with_session passes the session by
    keyword, then not at all, then as the first argument (the decorated
    function's is x), then under another keyword, then opens a closing
    session, then passes it by keyword from get_session again."""
    steps = []
    for opener, call, what in (
            ("get_session", "*args, session=session, **kwargs",
             "with_session passes session= on"),
            ("get_session", "*args, **kwargs",
             "with_session does not pass it on"),
            ("get_session", "session, *args, **kwargs",
             "with_session passes it first"),
            ("get_session", "*args, db=session, **kwargs",
             "with_session passes db="),
            ("SessionLocal", "*args, session=session, **kwargs",
             "with_session opens a closing session"),
            ("get_session", "*args, session=session, **kwargs",
             "with_session opens get_session again")):
        steps.append((what, _raw("app/__init__.py", "", "app/db.py",
                                 CM_COMMIT, "app/deco.py",
                                 _decorator(opener, call),
                                 "app/jobs.py", _decorated())))
    return steps


def script_decorator_reexport():
    """app/__init__.py re-exports with_session from a module whose
    decorator opens a closing session, then from one whose decorator
    opens the committing get_session; the decorated function, using it
    as `app.with_session` through `import app`, does not change. Then
    the decorator's module is renamed, and so is the decorated one."""
    closing = _decorator("SessionLocal")
    user = _decorated("import app", "app.with_session")
    a = _raw("app/__init__.py", "from .deco_ro import with_session\n",
             "app/db.py", CM_COMMIT, "app/deco_ro.py", closing,
             "app/deco.py", _decorator(), "app/jobs.py", user)
    b = _raw("app/__init__.py", "from .deco import with_session\n",
             "app/db.py", CM_COMMIT, "app/deco_ro.py", closing,
             "app/deco.py", _decorator(), "app/jobs.py", user)
    c = _raw("app/__init__.py", "from .decorators import with_session\n",
             "app/db.py", CM_COMMIT, "app/deco_ro.py", closing,
             "app/decorators.py", _decorator(), "app/jobs.py", user)
    d = _raw("app/__init__.py", "from .decorators import with_session\n",
             "app/db.py", CM_COMMIT, "app/deco_ro.py", closing,
             "app/decorators.py", _decorator(), "app/tasks.py", user)
    return [("app re-exports the closing with_session", a),
            ("app re-exports the owning with_session", b),
            ("app/deco.py renamed to app/decorators.py", c),
            ("app/jobs.py renamed to app/tasks.py", d)]


def script_decorator_import_repoint():
    """The decorated function imports with_session from a module whose
    decorator opens a closing session, then from one whose decorator
    opens the committing get_session, then under another name."""
    closing = _decorator("SessionLocal")
    steps = []
    for imp, deco, what in (
            ("from app.deco_ro import with_session", "with_session",
             "app/jobs.py imports the closing with_session"),
            ("from app.deco import with_session", "with_session",
             "app/jobs.py imports the owning with_session"),
            ("from app.deco import with_session as injected", "injected",
             "app/jobs.py imports it as injected")):
        steps.append((what, _raw("app/__init__.py", "", "app/db.py",
                                 CM_COMMIT, "app/deco_ro.py", closing,
                                 "app/deco.py", _decorator(),
                                 "app/jobs.py", _decorated(imp, deco))))
    return steps


def _random_decorators(seed, steps=30):
    return lambda: random_case(seed, steps, decorators=True)


def _random_callees(seed, steps=30):
    return lambda: random_case(seed, steps, callees=True)


SCRIPTS = {
    "compat-init": script_compat_init,
    "compat-upper-init": script_compat_upper_init,
    "alias-dep-commits": script_alias_dep_commits,
    "repoint-init": script_repoint_init,
    "repoint-import": script_repoint_import,
    "unshadow-import": script_unshadow_import,
    "init-reexport-added": script_init_reexport_added,
    "module-reexport-added": script_module_reexport_added,
    "package-reexport-added": script_package_reexport_added,
    "plain-module-import": script_plain_module_import,
    "rename-relative-import": script_rename_relative_import,
    "rename-to-imported": script_rename_to_imported,
    "copy-before-init": script_copy_before_init,
    "copy-unshared": script_copy_unshared,
    "class-owner-flips": script_class_owner_flips,
    "class-owner-factory": script_class_owner_factory,
    "owner-method-flips": script_owner_method_flips,
    "call-made-owner": script_call_made_owner,
    "local-owner": script_local_owner,
    "depends-default": script_depends_default,
    "committing-callee": script_committing_callee,
    "conditional-owner": script_conditional_owner,
    "decorator-owner-flips": script_decorator_owner_flips,
    "decorator-passing": script_decorator_passing,
    "decorator-reexport": script_decorator_reexport,
    "decorator-import-repoint": script_decorator_import_repoint,
    "decorator-seed-1": _random_decorators(1),
    "decorator-seed-107": _random_decorators(107, 25),
    "decorator-seed-122": _random_decorators(122, 25),
}


# ---- running txguard -----------------------------------------------------

class HarnessError(Exception):
    pass


class Repo:
    def __init__(self, txguard, root):
        self.txguard = txguard
        self.root = root
        self.work = os.path.join(root, "repo")
        self.snap = os.path.join(root, "snap")
        os.makedirs(self.snap)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GIT_") and k not in ("TXGUARD_CONFIG",
                                                         "NO_COLOR")}
        env.update(HOME=root, LC_ALL="C", LANG="C", TZ="UTC",
                   GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL=os.path.join(root, "gitconfig"),
                   GIT_CEILING_DIRECTORIES=os.path.dirname(root),
                   GIT_AUTHOR_NAME="Oracle", GIT_AUTHOR_EMAIL="o@example.com",
                   GIT_COMMITTER_NAME="Oracle",
                   GIT_COMMITTER_EMAIL="o@example.com")
        self.env = env
        self.tick = 1700000000
        with open(env["GIT_CONFIG_GLOBAL"], "w") as f:
            f.write("[init]\n\tdefaultBranch = main\n"
                    "[core]\n\tautocrlf = false\n")
        self.git("init", "-q", self.work)
        self.cache = os.path.join(self.work, ".git", "txguard")
        self.files = {}

    def git(self, *args):
        p = subprocess.run(["git"] + list(args), cwd=self.root
                           if args[0] == "init" else self.work, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise HarnessError("git %s: %s" % (" ".join(args),
                                               p.stderr.decode()))
        return p.stdout.decode()

    def write(self, files):
        for path in sorted(set(self.files) - set(files)):
            os.unlink(os.path.join(self.work, path))
        for path, text in files.items():
            if self.files.get(path) == text:
                continue
            full = os.path.join(self.work, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        self.files = dict(files)
        self.git("add", "-A")

    def commit(self, msg):
        self.tick += 60
        self.env["GIT_AUTHOR_DATE"] = self.env["GIT_COMMITTER_DATE"] = \
            "%d +0000" % self.tick
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-m", msg)

    def renames(self, *revs):
        """Rename source by destination, as git finds them (txguard finds
        renames, not copies, with git's default similarity)."""
        out = self.git("diff", "-M", "--name-status", "-z", *revs)
        f = out.split("\0")
        res = {}
        i = 0
        while i < len(f) and f[i]:
            st = f[i]
            if st.startswith("R"):
                res[f[i + 2]] = f[i + 1]
                i += 3
            elif st.startswith("C"):
                i += 3
            else:
                i += 2
        return res

    def run(self, args):
        """Run txguard; the parsed JSON report."""
        p = subprocess.run([self.txguard] + args + ["--format", "json"],
                           cwd=self.work, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode not in (0, 1):
            raise HarnessError("txguard %s exited with %d:\n%s"
                               % (" ".join(args), p.returncode,
                                  p.stderr.decode()))
        try:
            return json.loads(p.stdout.decode())
        except ValueError as e:
            raise HarnessError("txguard %s: not JSON (%s): %s"
                               % (" ".join(args), e, p.stdout[:500]))

    # The cache: none, or a saved copy put in place.
    def cache_set(self, name):
        shutil.rmtree(self.cache, ignore_errors=True)
        if name:
            src = os.path.join(self.snap, name)
            if os.path.isdir(src):
                shutil.copytree(src, self.cache)

    def cache_save(self, name):
        dst = os.path.join(self.snap, name)
        shutil.rmtree(dst, ignore_errors=True)
        if os.path.isdir(self.cache):
            shutil.copytree(self.cache, dst)

    def cache_copy(self, src, dst):
        d = os.path.join(self.snap, dst)
        shutil.rmtree(d, ignore_errors=True)
        s = os.path.join(self.snap, src)
        if os.path.isdir(s):
            shutil.copytree(s, d)


def finding_key(f):
    return (f["rule"], f["path"], f["line"])


def scratch(repo, rev):
    """Every finding of rev's tree, from a state with no cache."""
    repo.cache_set(None)
    rep = repo.run(["scan", "--all", "--no-baseline", "--rev", rev])
    repo.cache_set(None)
    return rep["findings"]


def expected_new(old, new, renames):
    """Findings of new that old does not have: by fingerprint, or for a
    renamed file by rule, unit, call and occurrence in its rename source
    (what a fingerprint covers but the path; not the message, whose
    description of the owner a fingerprint leaves out on purpose)."""
    by_fp = collections.Counter(f["fingerprint"] for f in old)
    seen = collections.Counter()

    def rkey(f, path):
        k = (path, f["rule"], f["unit"], f["call"])
        seen[k] += 1
        return k + (seen[k],)

    old_r = collections.Counter()
    srcs = set(renames.values())
    for f in old:
        if f["path"] in srcs:
            old_r[rkey(f, f["path"])] += 1
    seen.clear()
    out = collections.Counter()
    for f in new:
        if f["path"] in renames:
            k = rkey(f, renames[f["path"]])
            if old_r[k] > 0:
                old_r[k] -= 1
                continue
        elif by_fp[f["fingerprint"]] > 0:
            by_fp[f["fingerprint"]] -= 1
            continue
        out[finding_key(f)] += 1
    return out


def got_new(report):
    return collections.Counter(finding_key(f) for f in report["findings"]
                               if f["status"] == "new")


def fmt(counter):
    if not counter:
        return "    (none)\n"
    return "".join("    %s %s:%d%s\n" % (k[0], k[1], k[2],
                                         " x%d" % n if n > 1 else "")
                   for k, n in sorted(counter.items()))


class Disagreement(Exception):
    def __init__(self, msg, step):
        Exception.__init__(self, msg)
        self.step = step


def run_case(name, case, txguard, keep, verbose, older_rng, quiet=False):
    root = tempfile.mkdtemp(prefix="txguard-oracle.")
    repo = Repo(txguard, root)
    ok = False
    try:
        prev_scratch = []
        for n, (desc, model) in enumerate(case):
            files = model.files()
            repo.write(files)
            if verbose:
                print("# step %d: %s" % (n, desc))
            if n == 0:
                repo.commit("step 0")
                prev_scratch = scratch(repo, "HEAD")
                repo.cache_set(None)
                repo.run(["scan", "--no-baseline"])
                repo.cache_save("warm")
                repo.cache_save("older")
                continue
            tree = repo.git("write-tree").strip()
            renames = repo.renames("--cached", "HEAD")
            new_scratch = scratch(repo, tree)
            want = expected_new(prev_scratch, new_scratch, renames)
            if verbose:
                print("#   %d findings, %d new: %s" % (
                    len(new_scratch), sum(want.values()),
                    " ".join("%s:%s:%d" % k for k in sorted(want))))
            runs = []
            for mode in ("staged", "branch"):
                if mode == "branch":
                    repo.commit("step %d" % n)
                for cache in ("none", "warm", "older"):
                    repo.cache_set(None if cache == "none" else cache)
                    args = ["check"] if mode == "staged" else \
                        ["check", "--base", "HEAD~1"]
                    got = got_new(repo.run(args))
                    if cache == "warm":
                        repo.cache_save("warm")
                    runs.append((mode, cache, got))
            bad = [(m, c, g) for m, c, g in runs if g != want]
            if bad:
                msg = ["%s: step %d of %d disagrees with the from-scratch"
                       " answer" % (name, n, len(case) - 1),
                       "change: %s" % desc]
                if renames:
                    msg.append("renames: %s" % ", ".join(
                        "%s -> %s" % (s, d) for d, s in sorted(
                            renames.items())))
                msg.append("expected new (rule path:line):")
                msg.append(fmt(want).rstrip("\n"))
                for m, c, g in bad:
                    msg.append("got from check (%s, %s cache):" % (m, c))
                    msg.append(fmt(g).rstrip("\n"))
                agree = [("%s/%s" % (m, c)) for m, c, g in runs if g == want]
                msg.append("agreeing: %s" % (", ".join(agree) or "none"))
                msg.append("files before the step:")
                for p, t in sorted(case[n - 1][1].files().items()):
                    msg.append("  --- %s" % p)
                    msg += ["  | " + l for l in t.splitlines()]
                msg.append("files after the step:")
                for p, t in sorted(files.items()):
                    if case[n - 1][1].files().get(p) == t:
                        msg.append("  --- %s (unchanged)" % p)
                        continue
                    msg.append("  --- %s" % p)
                    msg += ["  | " + l for l in t.splitlines()]
                raise Disagreement("\n".join(msg), n)
            prev_scratch = new_scratch
            # Now and then the older cache catches up with the warm one.
            if older_rng.random() < 0.25:
                repo.cache_copy("warm", "older")
        ok = True
    finally:
        if keep or (not ok and not quiet):
            sys.stderr.write("# repository kept: %s\n" % repo.work)
        else:
            shutil.rmtree(root, ignore_errors=True)


def fails(case, txguard):
    """Whether the last step of case disagrees."""
    try:
        run_case("shrink", case, txguard, False, False, random.Random(0),
                 quiet=True)
    except Disagreement as e:
        return e.step == len(case) - 1
    return False


def _without(case, path, name=None):
    """case with module path (or only its definitions named name) gone
    from every step."""
    out = []
    for desc, m in case:
        m = m.copy()
        if name is None:
            m.mods.pop(path, None)
        elif path in m.mods:
            m.mods[path] = [it for it in m.mods[path] if it.name != name]
        out.append((desc, m))
    return out


def shrink(case, step, txguard):
    """The failing case cut to the fewest steps before the failing one
    (the repository before it, then after it, if the step fails on its
    own: the caches' history may matter), then to the fewest modules
    and definitions, each removed from every step, that still make the
    last step disagree."""
    cur = case[:step + 1]
    for k in range(step - 1, -1, -1):
        cand = [("before", case[k][1].copy())] + \
            [(d, m.copy()) for d, m in case[k + 1:step + 1]]
        if fails(cand, txguard):
            cur = cand
            break
    else:
        if not fails(cur, txguard):
            return None
    changed = True
    while changed:
        changed = False
        paths = sorted(set(p for _, m in cur for p in m.mods))
        for p in paths:
            cand = _without(cur, p)
            if fails(cand, txguard):
                cur, changed = cand, True
        defs = sorted(set((p, it.name) for _, m in cur
                          for p, items in m.mods.items() for it in items))
        for p, name in defs:
            cand = _without(cur, p, name)
            if fails(cand, txguard):
                cur, changed = cand, True
    return cur


def print_case(case):
    """Every step's change and the files it changed."""
    prev = {}
    for n, (desc, m) in enumerate(case):
        files = m.files()
        print("step %d: %s" % (n, desc))
        for p in sorted(set(prev) | set(files)):
            if p not in files:
                print("  --- %s deleted" % p)
            elif prev.get(p) != files[p]:
                print("  --- %s" % p)
                for l in files[p].splitlines():
                    print("  | " + l)
        prev = files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, help="run the random case of SEED")
    ap.add_argument("--steps", type=int, default=30,
                    help="changes after the initial repository (30)")
    ap.add_argument("--script", help="run the scripted case SCRIPT")
    ap.add_argument("--decorators", action="store_true",
                    help="random cases with decorators that inject sessions")
    ap.add_argument("--callees", action="store_true",
                    help="random cases with functions that commit the"
                    " session they are given")
    ap.add_argument("--list-scripts", action="store_true",
                    help="list the scripted cases")
    ap.add_argument("--txguard", default=os.environ.get("TXGUARD"),
                    help="the binary under test (default: $TXGUARD)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch repository")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every step and its expected new findings")
    ap.add_argument("--shrink", action="store_true",
                    help="on a disagreement, also print the case reduced"
                    " to the fewest steps, modules and definitions")
    a = ap.parse_args()
    if a.list_scripts:
        for k in sorted(SCRIPTS):
            print(k)
        return 0
    if not a.txguard:
        ap.error("no txguard: set TXGUARD or pass --txguard")
    txguard = os.path.abspath(a.txguard)
    if a.script:
        if a.script not in SCRIPTS:
            ap.error("no scripted case %r" % a.script)
        name = "script %s" % a.script
        case = SCRIPTS[a.script]()
        older = random.Random(0)
    elif a.seed is not None:
        name = "seed %d (%d steps)%s%s" % (
            a.seed, a.steps, " with decorators" if a.decorators else "",
            " with committing callees" if a.callees else "")
        case = random_case(a.seed, a.steps, a.decorators, a.callees)
        older = random.Random(a.seed ^ 0x5eed)
    else:
        ap.error("give --seed N or --script NAME")
    try:
        run_case(name, case, txguard, a.keep, a.verbose, older)
    except Disagreement as e:
        print(str(e))
        small = shrink(case, e.step, txguard) if a.shrink else None
        if small:
            print("\nreduced to %d steps:" % (len(small) - 1))
            print_case(small)
            try:
                run_case("reduced", small, txguard, False, False,
                         random.Random(0), quiet=True)
            except Disagreement as e2:
                print("\n".join(l for l in str(e2).splitlines()
                                if l.startswith(("reduced", "expected",
                                                 "got", "    ", "agreeing"))))
        elif a.shrink:
            print("\ncould not reduce it: the disagreement did not recur")
        print("reproduce: %s" % " ".join(
            ["test/oracle/oracle.py"] +
            (["--script", a.script] if a.script else
             ["--seed", str(a.seed), "--steps", str(a.steps)])))
        return 1
    except HarnessError as e:
        print("%s: error: %s" % (name, e))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
