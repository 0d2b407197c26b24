#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Collect test results into one verdict.

  summary.py RESULTS              print the totals; exit 1 if anything failed
  summary.py cargo FILE < log     append results parsed from `cargo test` output
  summary.py unittest FILE < log  append results parsed from `python -m unittest -v`

RESULTS holds one result a line: "PASS|FAIL|SKIP <suite> <name...>". The last line
printed is "N passed, N failed[, N skipped]", the line CI reads.
"""
import re
import sys

CARGO = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)")
CARGO_SUITE = re.compile(r"^\s*Running (?:unittests )?(\S+)(?: \((\S+)\))?")
UNITTEST = re.compile(r"^(test\w+) \(([^)]*)\) \.\.\. (ok|FAIL|ERROR|skipped.*)$")


def ingest(kind, path):
    out = []
    suite = kind
    text = sys.stdin.read()
    for line in text.splitlines():
        if kind == "cargo":
            m = CARGO_SUITE.match(line)
            if m:
                # "Running tests/x.rs (target/debug/deps/x-0123456789abcdef)"
                binary = (m.group(2) or m.group(1)).split("/")[-1]
                suite = "cargo:" + re.sub(r"-[0-9a-f]{16}$", "", binary)
                continue
            m = CARGO.match(line)
            if m:
                v = {"ok": "PASS", "FAILED": "FAIL", "ignored": "SKIP"}[m.group(2)]
                out.append(f"{v} {suite} {m.group(1)}")
        else:
            m = UNITTEST.match(line)
            if m:
                s = m.group(3)
                v = "PASS" if s == "ok" else ("SKIP" if s.startswith("skipped") else "FAIL")
                out.append(f"{v} py:{m.group(2)} {m.group(1)}")
    if not out:
        out.append(f"FAIL {kind} no test results parsed")
    with open(path, "a") as f:
        f.write("\n".join(out) + "\n")
    return 0


def total(path):
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    failed = []
    try:
        with open(path) as f:
            for line in f:
                v, _, rest = line.strip().partition(" ")
                if v in counts:
                    counts[v] += 1
                    if v == "FAIL":
                        failed.append(rest)
    except FileNotFoundError:
        pass
    for f in failed:
        print(f"FAILED: {f}")
    if counts["PASS"] + counts["FAIL"] == 0:
        counts["FAIL"] += 1
        print("FAILED: no tests ran")
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["SKIP"]:
        line += f", {counts['SKIP']} skipped"
    print(line)
    return 1 if counts["FAIL"] else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] in ("cargo", "unittest"):
        return ingest(sys.argv[1], sys.argv[2])
    if len(sys.argv) == 2:
        return total(sys.argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
