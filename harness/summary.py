#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Collect test results into one verdict.

  summary.py RESULTS          print the verdict; exit 1 if anything failed or no test ran
  summary.py cargo FILE [--status N] [--name WHAT] < log
                              append results parsed from `cargo test --no-fail-fast`
  summary.py unittest FILE [--status N] [--name WHAT] < log
                              append results parsed from `python3 -m unittest -v`

--status is the runner's exit status and --name what ran (shown in the FAIL lines). A
test binary that crashed or exited without a verdict, fewer results than the runner
announced ("running N tests", "Ran N tests"), or a non-zero status with no failure
parsed each add a FAIL.

RESULTS holds one result a line: "VERDICT SUITE NAME...", VERDICT is PASS, FAIL or SKIP.
A reason may follow " # " in NAME: "SKIP cargo:x dump_corpus # not a test". A result is a
check (build, lint, fuzz smoke, setup, boot, harness marker, kernel-problem scan) iff a
'/'-separated component of SUITE starts with "check:" (check:lint, arm64/check:build);
every other result is a test case.

RESULTS prints a "FAILED: <suite> <name>" line per failure, a "SKIPPED: <suite> <name> —
<reason>" line per skipped test case, "checks: X passed, Y failed", and last the line CI
reads: "N passed, M failed[, K skipped]". N and K count test cases only; M counts failed
test cases and failed checks, since a failed check stands for tests that did not run.
No test case passed or failed at all is "FAILED: no tests ran" and a failure. The exit
status is 1 if M > 0 (or no test ran), else 0; a line that is not a result is a failure.
"""
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# cargo test (libtest's pretty format, cargo 1.95).
CARGO_RUNNING = re.compile(r"^\s+Running (?:unittests )?(\S+)(?: \((.*)\))?$")
CARGO_DOC = re.compile(r"^\s+Doc-tests (\S+)$")
CARGO_PLAN = re.compile(r"^running (\d+) tests?$")
# A test's own output may precede the verdict on its line.
CARGO_TEST = re.compile(r"^test (.+?) \.\.\. .*?(ok|FAILED|ignored(?:, (.*))?)$")
CARGO_DONE = re.compile(r"^test result: ")
CARGO_ERROR = re.compile(r"^error: ((?:doc)?test failed, to rerun pass .*)$")
CARGO_CAUSE = re.compile(r"^\s*process didn't exit successfully: `([^`]*)` \((.*)\)$")
CARGO_TARGETS = re.compile(r"^error: (\d+) targets? failed:$")

# python3 -m unittest -v. A test with a docstring prints "name (id)" alone and the
# docstring's first line with the verdict on the next line.
UT_HEAD = re.compile(r"^(\w+) \(([\w.]+)\)")
UT_VERDICT = re.compile(
    r"(ok|FAIL|ERROR|skipped (['\"])(.*)\2|expected failure|unexpected success)$")
UT_BLOCK = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\w+) \(([\w.]+)\)")
UT_RAN = re.compile(r"^Ran (\d+) tests? in ")
UT_END = re.compile(r"^(OK|FAILED)\b")
UT_FIXTURES = {"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"}
SEP = "=" * 70


class Binary:
    """One cargo test binary: what it announced, reported and how it ended."""

    def __init__(self, suite):
        self.suite = suite
        self.planned = None     # "running N tests"
        self.reported = 0
        self.failed = 0
        self.done = False       # "test result: ..." seen
        self.error = None       # why it did not exit successfully

    def problem(self):
        why = []
        if self.error and not self.failed:
            why.append(f"test binary crashed or exited without a verdict: {self.error}")
        elif not self.done and not self.error:
            why.append("test binary printed no `test result:` line")
        if self.planned is not None and self.reported < self.planned:
            why.append(f"only {self.reported} of {self.planned} tests reported")
        return "; ".join(why)


def binary_suite(path):
    """cargo:NAME for a test binary path, as its `Running` line names it."""
    return "cargo:" + re.sub(r"-[0-9a-f]{16}$", "", path.split("/")[-1])


def parse_cargo(text, head):
    out = []
    bins = []
    targets = 0
    cur = None
    for line in text.splitlines():
        line = ANSI.sub("", line).rstrip()
        m = CARGO_RUNNING.match(line)
        if m:
            # "Running tests/x.rs (target/debug/deps/x-0123456789abcdef)"
            cur = Binary(binary_suite(m.group(2) or m.group(1)))
            bins.append(cur)
            continue
        m = CARGO_DOC.match(line)
        if m:
            cur = Binary(f"cargo:{m.group(1)}:doc")
            bins.append(cur)
            continue
        m = CARGO_TARGETS.match(line)
        if m:
            targets = int(m.group(1))
            continue
        m = CARGO_CAUSE.match(line)
        if m:
            # Normally the binary that just ran; else the last one of that name.
            suite = binary_suite(m.group(1))
            b = next((b for b in reversed(bins) if b.suite == suite), None)
            if b is None:
                b = Binary(suite)
                bins.append(b)
            b.error = m.group(2)
            continue
        if cur is None:
            if not CARGO_TEST.match(line):
                continue
            cur = Binary("cargo")
            bins.append(cur)
        m = CARGO_PLAN.match(line)
        if m:
            cur.planned = int(m.group(1))
        elif CARGO_DONE.match(line):
            cur.done = True
        elif m := CARGO_ERROR.match(line):
            cur.error = cur.error or m.group(1)
        elif m := CARGO_TEST.match(line):
            v = m.group(2).partition(",")[0]
            v = {"ok": "PASS", "FAILED": "FAIL", "ignored": "SKIP"}[v]
            reason = f" # {m.group(3)}" if m.group(3) else ""
            out.append(f"{v} {cur.suite} {m.group(1)}{reason}")
            cur.reported += 1
            cur.failed += v == "FAIL"
    broken = 0
    for b in bins:
        why = b.problem()
        if why:
            out.append(f"FAIL {b.suite} {why}")
        broken += bool(why or b.failed)
    if targets > broken:
        out.append(f"FAIL {head}cargo reported {targets} failed targets, "
                   f"its output shows {broken}")
    return out


def parse_unittest(text, head):
    results = {}                # (class, method) -> result line, in the order run

    def record(cls, method, verdict, reason=""):
        if cls.endswith("." + method):      # Python >= 3.11 prints the whole test id
            cls = cls[:-len(method) - 1]
        reason = f" # {reason}" if reason else ""
        results[(cls, method)] = f"{verdict} py:{cls} {method}{reason}"

    def verdict(m):
        s = m.group(1)
        if s.startswith("skipped"):
            return "SKIP", m.group(3)
        return {"ok": ("PASS", ""), "expected failure": ("PASS", "expected failure"),
                "FAIL": ("FAIL", ""), "ERROR": ("FAIL", "error"),
                "unexpected success": ("FAIL", "unexpected success")}[s]

    ran = None
    end = None
    pending = None              # a test whose verdict is still to come
    blocks = False              # past the first ====: failure reports, then totals
    prev = ""
    for line in text.splitlines():
        line = line.rstrip()
        if line == SEP:
            blocks = True
        elif blocks:
            m = UT_BLOCK.match(line)
            if prev == SEP and m:
                # Subtest failures and setUpClass errors show up only here.
                why = {"ERROR": "error", "UNEXPECTED SUCCESS": "unexpected success"}
                record(m.group(3), m.group(2), "FAIL", why.get(m.group(1), ""))
            elif m := UT_RAN.match(line):
                ran = int(m.group(1))
            elif ran is not None and (m := UT_END.match(line)):
                end = m.group(1)
        elif m := UT_HEAD.match(line):
            pending = None
            v = UT_VERDICT.search(line, m.end())
            if v and " ... " in line:
                record(m.group(2), m.group(1), *verdict(v))
            else:
                pending = (m.group(2), m.group(1))
        elif pending and (v := UT_VERDICT.search(line)):
            record(*pending, *verdict(v))
            pending = None
        elif line.startswith("Ran "):
            # No failure reports: the totals follow the tests directly.
            blocks = True
            if m := UT_RAN.match(line):
                ran = int(m.group(1))
        prev = line
    out = list(results.values())
    run = sum(1 for cls, method in results if method not in UT_FIXTURES)
    if ran is None:
        out.append(f"FAIL {head}unittest did not finish: no `Ran N tests` line")
    elif run < ran:
        out.append(f"FAIL {head}Ran {ran} tests, only {run} reported")
    if end == "FAILED" and not any(r.startswith("FAIL") for r in out):
        out.append(f"FAIL {head}unittest printed FAILED, no failure parsed")
    return out


PARSERS = {"cargo": parse_cargo, "unittest": parse_unittest}


def ingest(kind, path, status=None, name=""):
    head = f"{kind} {name}: " if name else f"{kind} "
    text = sys.stdin.buffer.read().decode(errors="replace")
    out = PARSERS[kind](text, head)
    exited = status not in (None, "0")
    if not out:
        why = f" ({kind} exited {status})" if exited else ""
        out.append(f"FAIL {head}no test results parsed{why}")
    elif exited and not any(r.startswith("FAIL") for r in out):
        out.append(f"FAIL {head}{kind} exited {status}, no failure parsed")
    with open(path, "a") as f:
        f.write("\n".join(out) + "\n")
    return 0


def is_check(suite):
    return any(c.startswith("check:") for c in suite.split("/"))


def total(path):
    tests = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    checks = dict(tests)
    failed, skipped = [], []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        verdict, _, rest = line.partition(" ")
        suite, _, name = rest.strip().partition(" ")
        if verdict not in tests or not suite:
            checks["FAIL"] += 1
            failed.append(f"malformed result line: {line}")
            continue
        name, _, reason = (" " + name).partition(" # ")
        text = f"{suite} {name.strip()}".rstrip()
        count = checks if is_check(suite) else tests
        count[verdict] += 1
        if verdict == "FAIL":
            failed.append(f"{text} — {reason}" if reason else text)
        elif verdict == "SKIP":
            skipped.append(f"{text} — {reason or 'no reason given'}")
    bad = tests["FAIL"] + checks["FAIL"]
    for f in failed:
        print(f"FAILED: {f}")
    if tests["PASS"] + tests["FAIL"] == 0:
        print("FAILED: no tests ran")
        bad = bad or 1
    for s in skipped:
        print(f"SKIPPED: {s}")
    line = f"checks: {checks['PASS']} passed, {checks['FAIL']} failed"
    if checks["SKIP"]:
        line += f", {checks['SKIP']} skipped"
    print(line)
    line = f"{tests['PASS']} passed, {bad} failed"
    if tests["SKIP"]:
        line += f", {tests['SKIP']} skipped"
    print(line)
    return 1 if bad else 0


def main():
    args = sys.argv[1:]
    if len(args) == 1:
        return total(args[0])
    if len(args) >= 2 and args[0] in PARSERS and len(args) % 2 == 0:
        opts = dict(zip(args[2::2], args[3::2]))
        if set(opts) <= {"--status", "--name"}:
            return ingest(args[0], args[1], opts.get("--status"), opts.get("--name", ""))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
