"""Compare `txguard scan --format json` before and after `txguard fix`.

usage: findings_after.py BEFORE.json AFTER.json FIXLOG

FIXLOG is what `txguard fix` printed. The findings after the fix must be
those before it less the ones fix says it removed, counted as a
multiset: nothing new, and nothing left where a call was removed.
Findings are keyed by what does not depend on line numbers (rule, path,
unit, call, and the message with its digits dropped). Prints every
difference; exits 1 if there is one.
"""
import collections
import json
import re
import sys


def key(f):
    return (f["rule"], f["path"], f.get("unit", ""), f.get("call", ""),
            re.sub(r"[0-9]+", "N", f.get("message", "")), f["status"])


def main():
    before = json.load(open(sys.argv[1]))["findings"]
    after = json.load(open(sys.argv[2]))["findings"]
    removed = set()
    for line in open(sys.argv[3]):
        m = re.match(r"^(.*):([0-9]+): removed .* \((TX[0-9]+), (safe|unsafe)\)$",
                     line.rstrip("\n"))
        if m:
            removed.add((m.group(1), int(m.group(2)), m.group(3)))
    left = collections.Counter()
    hit = set()
    for f in before:
        site = (f["path"], f["line"], f["rule"])
        if site in removed:
            hit.add(site)
            continue
        left[key(f)] += 1
    bad = 0
    for site in sorted(removed - hit):
        print("fix reports a removal where scan found nothing: %s:%d %s" % site)
        bad = 1
    for f in after:
        k = key(f)
        if left[k] > 0:
            left[k] -= 1
        else:
            print("new or left after the fix: %s:%d %s %s" %
                  (f["path"], f["line"], f["rule"], f.get("message", "")))
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
