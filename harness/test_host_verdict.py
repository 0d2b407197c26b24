# SPDX-License-Identifier: GPL-2.0
"""Host tests: a crashed or unfinished host run (cargo, unittest, fuzz.sh) never ends green.

The cargo and unittest samples are real output (cargo 1.95, Python 3.11) of a throwaway
crate and test module, except where a test says it cut a line out.
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(HERE, "summary.py")
FUZZ = os.path.join(HERE, "fuzz.sh")

# tests/segv.rs: a, b, then c_segv writes through a null pointer; zlast runs after it.
SEGV = """\
   Compiling p v0.1.0 (/tmp/cfmt/p)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.28s
     Running tests/segv.rs (target/debug/deps/segv-f0d22c41bb74e389)

running 3 tests
test a ... ok
test b ... ok
error: test failed, to rerun pass `--test segv`

Caused by:
  process didn't exit successfully: `/tmp/cfmt/p/target/debug/deps/segv-f0d22c41bb74e389` (signal: 11, SIGSEGV: invalid memory reference)
     Running tests/zlast.rs (target/debug/deps/zlast-e6610cafeef2fdf3)

running 1 test
test still_runs ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: 1 target failed:
    `--test segv`
"""

# tests/crash.rs calls std::process::abort(), tests/exit.rs std::process::exit(3).
ABORT_EXIT = """\
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s
     Running tests/crash.rs (target/debug/deps/crash-c2a6859797b6e824)

running 3 tests
test a ... ok
test b ... ok
error: test failed, to rerun pass `--test crash`

Caused by:
  process didn't exit successfully: `/tmp/cfmt/p/target/debug/deps/crash-c2a6859797b6e824` (signal: 6, SIGABRT: process abort signal)
     Running tests/exit.rs (target/debug/deps/exit-298d4d573e1cab69)

running 1 test
error: test failed, to rerun pass `--test exit`

Caused by:
  process didn't exit successfully: `/tmp/cfmt/p/target/debug/deps/exit-298d4d573e1cab69` (exit status: 3)
note: test exited abnormally; to see the full output pass --no-capture to the harness.
error: 2 targets failed:
    `--test crash`
    `--test exit`
"""

DOCTEST = """\
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.02s
   Doc-tests p

running 1 test
test src/lib.rs - add (line 3) ... FAILED

failures:

---- src/lib.rs - add (line 3) stdout ----
Test executable failed (exit status: 101).

stderr:

thread 'main' (6892) panicked at /tmp/rustdoctestZbgQRa/doctest_bundle_2024.rs:6:1:
assertion `left == right` failed
  left: 2
 right: 3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace



failures:
    src/lib.rs - add (line 3)

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

all doctests ran in 0.34s; merged doctests compilation took 0.33s
error: doctest failed, to rerun pass `--doc`
error: 1 target failed:
    `--doc`
"""

LIB = """\
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s
     Running unittests src/lib.rs (target/debug/deps/p-c93b59a92189d5d2)

running 4 tests
test tests::ok_one ... ok
test tests::plain_ignored ... ignored
test tests::reasoned ... ignored, not a test: writes the fuzz seed corpus
test tests::fails ... FAILED

failures:

---- tests::fails stdout ----

thread 'tests::fails' (6899) panicked at src/lib.rs:13:18:
assertion `left == right` failed
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::fails

test result: FAILED. 1 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
error: 1 target failed:
    `--lib`
"""

# A binary that passes: the control for the broken variants cut from it.
PASSING = """\
     Running tests/zlast.rs (target/debug/deps/zlast-e6610cafeef2fdf3)

running 3 tests
test one ... ok
test two ... ok
test three ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

"""

# test_truncated has a docstring: unittest -v puts its verdict on the next line.
UT_DOC = r"""test_header (test_doc.Parse.test_header) ... ok
test_truncated (test_doc.Parse.test_truncated)
A truncated header is refused. ... FAIL

======================================================================
FAIL: test_truncated (test_doc.Parse.test_truncated)
A truncated header is refused.
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/ut2/test_doc.py", line 10, in test_truncated
    self.assertEqual(len(b"\x01\x02"), 4)
AssertionError: 2 != 4

----------------------------------------------------------------------
Ran 2 tests in 0.001s

FAILED (failures=1)
"""

UT_FIVE = """\
test_a (test_five.Five.test_a) ... ok
test_b (test_five.Five.test_b) ... ok
test_c (test_five.Five.test_c) ... ok
test_d (test_five.Five.test_d) ... ok
test_e (test_five.Five.test_e) ... ok

----------------------------------------------------------------------
Ran 5 tests in 0.000s

OK
"""

# Every other verdict unittest -v prints: a real run with some tests and the tracebacks
# cut out.
UT_MIXED = """\
test_broken (unittest.loader._FailedTest.test_broken) ... ERROR
test_doc_ok (test_s.A.test_doc_ok)
Short doc. ... ok
test_print (test_s.A.test_print) ... noiseok
test_skip (test_s.A.test_skip) ... skipped 'no qemu here'
test_sub (test_s.A.test_sub) ... \n\
test_sub_ok (test_s.A.test_sub_ok) ... ok
test_xfail (test_s.A.test_xfail) ... expected failure
test_xpass (test_s.A.test_xpass) ... unexpected success
ERROR
test_c (test_s.C.test_c) ... skipped 'whole class'

======================================================================
ERROR: test_broken (unittest.loader._FailedTest.test_broken)
----------------------------------------------------------------------
ModuleNotFoundError: No module named 'nonexistent_mod_xyz'


======================================================================
ERROR: setUpClass (test_s.B)
----------------------------------------------------------------------
RuntimeError: setup

======================================================================
FAIL: test_sub (test_s.A.test_sub) (i=1)
----------------------------------------------------------------------
AssertionError: 1 not less than 1

======================================================================
UNEXPECTED SUCCESS: test_xpass (test_s.A.test_xpass)
----------------------------------------------------------------------
Ran 9 tests in 0.004s

FAILED (failures=1, errors=2, skipped=2, expected failures=1, unexpected successes=1)
"""


def ingest(kind, log, *args):
    """summary.py KIND on LOG: the result lines it appended."""
    with tempfile.NamedTemporaryFile("r") as f:
        r = subprocess.run([sys.executable, SUMMARY, kind, f.name, *args], input=log,
                           text=True, capture_output=True)
        assert r.returncode == 0, r.stderr
        return f.read().splitlines()


def verdict(lines):
    """summary.py RESULTS on the given result lines: (exit status, printed lines)."""
    with tempfile.NamedTemporaryFile("w") as f:
        f.write("".join(f"{line}\n" for line in lines))
        f.flush()
        r = subprocess.run([sys.executable, SUMMARY, f.name], text=True,
                           capture_output=True)
    return r.returncode, r.stdout.splitlines()


class Failing(unittest.TestCase):
    def assertFails(self, lines, *names, failed=1):
        """A failing summary: exit 1, a FAILED: line naming each of NAMES, M >= FAILED."""
        st, out = verdict(lines)
        self.assertEqual(st, 1, out)
        for name in names:
            self.assertTrue(any(o.startswith("FAILED: ") and name in o for o in out),
                            f"no FAILED: line with {name!r} in {out}")
        _, _, rest = out[-1].partition(" passed, ")
        self.assertGreaterEqual(int(rest.split(" failed")[0]), failed, out[-1])
        return out


class CargoTest(Failing):
    def test_segfault_after_two_ok_lines_fails_and_later_binaries_still_count(self):
        for status in (["--status", "101"], []):
            lines = ingest("cargo", SEGV, *status)
            self.assertEqual(lines, [
                "PASS cargo:segv a",
                "PASS cargo:segv b",
                "PASS cargo:zlast still_runs",
                "FAIL cargo:segv test binary crashed or exited without a verdict: "
                "signal: 11, SIGSEGV: invalid memory reference; "
                "only 2 of 3 tests reported"])
            out = self.assertFails(lines, "cargo:segv test binary crashed")
            self.assertEqual(out[-1], "3 passed, 1 failed")

    def test_abort_and_exit_without_a_verdict_fail(self):
        lines = ingest("cargo", ABORT_EXIT, "--status", "101")
        self.assertIn("FAIL cargo:crash test binary crashed or exited without a verdict: "
                      "signal: 6, SIGABRT: process abort signal; only 2 of 3 tests reported",
                      lines)
        self.assertIn("FAIL cargo:exit test binary crashed or exited without a verdict: "
                      "exit status: 3; only 0 of 1 tests reported", lines)
        out = self.assertFails(lines, "cargo:crash", "cargo:exit", failed=2)
        self.assertEqual(out[-1], "2 passed, 2 failed")

    def test_a_failing_doc_test_is_parsed(self):
        lines = ingest("cargo", DOCTEST, "--status", "101")
        self.assertEqual(lines, ["FAIL cargo:p:doc src/lib.rs - add (line 3)"])
        self.assertFails(lines, "cargo:p:doc src/lib.rs - add (line 3)")

    def test_fewer_results_than_announced_fail(self):
        # The third verdict lost (cut out here; in real life: a line the parser missed).
        log = PASSING.replace("running 3 tests", "running 4 tests")
        self.assertEqual(ingest("cargo", PASSING, "--status", "0"), [
            "PASS cargo:zlast one", "PASS cargo:zlast two", "PASS cargo:zlast three"])
        lines = ingest("cargo", log, "--status", "0")
        self.assertIn("FAIL cargo:zlast only 3 of 4 tests reported", lines)
        self.assertFails(lines, "cargo:zlast only 3 of 4")
        lines = ingest("cargo", PASSING.replace("test three ... ok\n", ""))
        self.assertFails(lines, "cargo:zlast only 2 of 3")

    def test_a_binary_cut_short_fails(self):
        log = PASSING.split("\ntest result")[0]
        self.assertFails(ingest("cargo", log), "cargo:zlast test binary printed no")

    def test_a_non_zero_exit_without_a_failed_line_fails(self):
        lines = ingest("cargo", PASSING, "--status", "101", "--name", "rust/tsm_proto")
        self.assertEqual(lines[-1],
                         "FAIL cargo rust/tsm_proto: cargo exited 101, no failure parsed")
        out = self.assertFails(lines, "cargo exited 101")
        self.assertEqual(out[-1], "3 passed, 1 failed")

    def test_failed_targets_not_seen_in_the_output_fail(self):
        lines = ingest("cargo", PASSING + "error: 1 target failed:\n    `--test x`\n")
        self.assertFails(lines, "cargo reported 1 failed targets, its output shows 0")

    def test_no_output_fails_with_the_status(self):
        lines = ingest("cargo", "error: could not compile `tsm_proto`\n",
                       "--status", "101", "--name", "tools/tsm")
        self.assertEqual(lines, [
            "FAIL cargo tools/tsm: no test results parsed (cargo exited 101)"])

    def test_ignore_reasons_become_skip_reasons(self):
        lines = ingest("cargo", LIB, "--status", "101")
        self.assertEqual(lines, [
            "PASS cargo:p tests::ok_one",
            "SKIP cargo:p tests::plain_ignored",
            "SKIP cargo:p tests::reasoned # not a test: writes the fuzz seed corpus",
            "FAIL cargo:p tests::fails"])
        out = self.assertFails(lines, "cargo:p tests::fails")
        self.assertIn("SKIPPED: cargo:p tests::plain_ignored — no reason given", out)
        self.assertIn("SKIPPED: cargo:p tests::reasoned — "
                      "not a test: writes the fuzz seed corpus", out)
        self.assertEqual(out[-1], "1 passed, 1 failed, 2 skipped")


class UnittestTest(Failing):
    def test_a_failing_test_with_a_docstring_is_parsed(self):
        for status in (["--status", "1"], []):
            lines = ingest("unittest", UT_DOC, *status)
            self.assertEqual(lines, ["PASS py:test_doc.Parse test_header",
                                     "FAIL py:test_doc.Parse test_truncated"])
            self.assertFails(lines, "py:test_doc.Parse test_truncated")

    def test_fewer_results_than_ran_fail(self):
        self.assertEqual(len(ingest("unittest", UT_FIVE, "--status", "0")), 5)
        log = UT_FIVE.replace("test_c (test_five.Five.test_c) ... ok\n", "")
        lines = ingest("unittest", log, "--status", "0", "--name", "harness")
        self.assertEqual(lines[-1], "FAIL unittest harness: Ran 5 tests, only 4 reported")
        self.assertFails(lines, "Ran 5 tests, only 4 reported")

    def test_a_non_zero_exit_without_a_failure_fails(self):
        lines = ingest("unittest", UT_FIVE, "--status", "1", "--name", "harness")
        self.assertFails(lines, "unittest harness: unittest exited 1")

    def test_an_unfinished_run_fails(self):
        lines = ingest("unittest", UT_FIVE.split("\n\n")[0], "--status", "-11")
        self.assertFails(lines, "no `Ran N tests` line")

    def test_every_verdict(self):
        lines = ingest("unittest", UT_MIXED, "--status", "1")
        self.assertEqual(lines, [
            "FAIL py:unittest.loader._FailedTest test_broken # error",
            "PASS py:test_s.A test_doc_ok",
            "PASS py:test_s.A test_print",
            "SKIP py:test_s.A test_skip # no qemu here",
            "PASS py:test_s.A test_sub_ok",
            "PASS py:test_s.A test_xfail # expected failure",
            "FAIL py:test_s.A test_xpass # unexpected success",
            "SKIP py:test_s.C test_c # whole class",
            # Known only from the failure reports at the end.
            "FAIL py:test_s.B setUpClass # error",
            "FAIL py:test_s.A test_sub"])
        out = self.assertFails(lines, "test_broken", "test_sub", "test_xpass", "setUpClass",
                               failed=4)
        self.assertIn("SKIPPED: py:test_s.A test_skip — no qemu here", out)
        self.assertEqual(out[-1], "4 passed, 4 failed, 2 skipped")


STUB_CARGO = r"""#!/bin/sh
# cargo as fuzz.sh calls it: fuzz build | list | run -O TARGET ..., install.
case "$1 $2" in
"fuzz build") exit "${STUB_BUILD:-0}" ;;
"fuzz list") [ -z "$STUB_TARGETS" ] || printf '%s\n' $STUB_TARGETS; exit 0 ;;
"fuzz run")
	case " $STUB_CRASH " in
	*" $4 "*) echo "==1== ERROR: libFuzzer: deadly signal"
		echo "stat::number_of_executed_units: 7"; exit 77 ;;
	esac
	echo "stat::number_of_executed_units: 1234"; exit 0 ;;
install*) exit "${STUB_INSTALL:-0}" ;;
esac
exit 99
"""


class FuzzTest(Failing):
    """fuzz.sh against a stub cargo (cargo-fuzz is neither installed nor run)."""

    def fuzz(self, cargo_fuzz=True, **stub):
        with tempfile.TemporaryDirectory() as tmp:
            bin_dir = os.path.join(tmp, "bin")
            os.mkdir(bin_dir)
            for name in ["cargo"] + (["cargo-fuzz"] if cargo_fuzz else []):
                path = os.path.join(bin_dir, name)
                with open(path, "w") as f:
                    f.write(STUB_CARGO)
                os.chmod(path, 0o755)
            results = os.path.join(tmp, "results.txt")
            # HOME keeps lib.sh's $HOME/.cargo/bin (the real cargo) out of PATH.
            env = {"PATH": bin_dir + ":/usr/bin:/bin", "HOME": tmp,
                   "TSM_CACHE": os.path.join(tmp, "cache"),
                   **{f"STUB_{k.upper()}": v for k, v in stub.items()}}
            r = subprocess.run(["bash", FUZZ, "1", results], env=env, text=True,
                               capture_output=True)
            with open(results) as f:
                return r.returncode, f.read().splitlines()

    def test_an_empty_target_list_fails(self):
        st, lines = self.fuzz(targets="")
        self.assertEqual((st, lines), (1, ["FAIL check:fuzz no fuzz targets listed"]))
        out = self.assertFails(["PASS cargo:x a"] + lines, "no fuzz targets listed")
        self.assertEqual(out[-1], "1 passed, 1 failed")

    def test_results_are_checks_and_a_crash_fails(self):
        st, lines = self.fuzz(targets="doe spdm", crash="spdm")
        self.assertEqual(st, 1)
        self.assertEqual(lines[0], "PASS check:fuzz doe 1s 1234 execs")
        self.assertTrue(lines[1].startswith("FAIL check:fuzz spdm crashed after 7 execs"))
        out = self.assertFails(["PASS cargo:x a"] + lines, "check:fuzz spdm crashed")
        self.assertEqual(out[-2:], ["checks: 1 passed, 1 failed", "1 passed, 1 failed"])
        self.assertEqual(self.fuzz(targets="doe spdm"), (0, [
            "PASS check:fuzz doe 1s 1234 execs", "PASS check:fuzz spdm 1s 1234 execs"]))

    def test_a_failed_build_fails(self):
        st, lines = self.fuzz(targets="doe", build="1")
        self.assertEqual(st, 1)
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("FAIL check:fuzz build # see "), lines)

    def test_a_failed_cargo_fuzz_install_fails(self):
        st, lines = self.fuzz(cargo_fuzz=False, targets="doe", install="101")
        self.assertEqual((st, lines), (1, ["FAIL check:fuzz cargo install cargo-fuzz failed"]))
        self.assertEqual(self.fuzz(cargo_fuzz=False, targets="doe")[0], 0)


if __name__ == "__main__":
    unittest.main()
