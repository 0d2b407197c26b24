# SPDX-License-Identifier: GPL-2.0
"""Host tests of summary.py: parsing runners' output and the final verdict line."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(HERE, "summary.py")
sys.path.insert(0, HERE)
import summary  # noqa: E402

CARGO = """\
     Running unittests src/lib.rs (target/debug/deps/tsm_proto-0123456789abcdef)

running 2 tests
test codec::tests::a ... ok
test codec::tests::b ... ignored

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/x.rs (target/debug/deps/x-0123456789abcdef)

running 1 test
test c ... FAILED

failures:

---- c stdout ----

thread 'c' (4055) panicked at tests/x.rs:3:5:
explicit panic

failures:
    c

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--test x`
error: 1 target failed:
    `--test x`
"""


def run(args, stdin=""):
    return subprocess.run([sys.executable, SUMMARY, *args], input=stdin, text=True,
                          capture_output=True)


def verdict(results):
    """summary.py RESULTS on the given lines: (exit status, printed lines)."""
    with tempfile.NamedTemporaryFile("w") as f:
        f.write(results)
        f.flush()
        r = run([f.name])
    return r.returncode, r.stdout.splitlines()


class SummaryTest(unittest.TestCase):
    def test_cargo_results_are_named_by_test_binary(self):
        with tempfile.NamedTemporaryFile("r") as f:
            self.assertEqual(run(["cargo", f.name, "--status", "101"], CARGO).returncode, 0)
            self.assertEqual(f.read().splitlines(), [
                "PASS cargo:tsm_proto codec::tests::a",
                "SKIP cargo:tsm_proto codec::tests::b",
                "FAIL cargo:x c"])

    def test_output_without_results_is_a_failure(self):
        with tempfile.NamedTemporaryFile("r") as f:
            run(["cargo", f.name], "error: could not compile\n")
            self.assertTrue(f.read().startswith("FAIL"))

    def test_bad_arguments_are_refused(self):
        self.assertEqual(run(["cargo", "/dev/null", "--stat", "0"]).returncode, 2)
        self.assertEqual(run(["cargo", "/dev/null", "--status"]).returncode, 2)

    def test_last_line_and_exit_status(self):
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("PASS a x\nPASS a y\nSKIP a z\n")
            f.flush()
            r = run([f.name])
            self.assertEqual(r.returncode, 0)
            self.assertEqual(r.stdout.splitlines()[-1], "2 passed, 0 failed, 1 skipped")
            f.write("FAIL b w\n")
            f.flush()
            r = run([f.name])
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout.splitlines()[-1], "2 passed, 1 failed, 1 skipped")

    def test_no_results_at_all_fails(self):
        with tempfile.NamedTemporaryFile("w") as f:
            r = run([f.name])
            self.assertEqual(r.returncode, 1)
            self.assertIn("FAILED: no tests ran", r.stdout.splitlines())
            self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed")

    def test_a_missing_results_file_fails(self):
        r = run([os.path.join(HERE, "no-such-results.txt")])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed")

    def test_checks_are_not_test_cases(self):
        st, out = verdict("PASS check:setup harness/setup.sh\n"
                          "PASS arm64/check:build kernel, modules and guest userspace\n"
                          "PASS check:lint tsm_proto cargo clippy -D warnings\n"
                          "PASS check:fuzz doe 10s 81234 execs\n"
                          "PASS cargo:x a\n"
                          "PASS arm64/kunit:tsm_emu probe\n")
        self.assertEqual(st, 0)
        self.assertEqual(out, ["checks: 4 passed, 0 failed", "2 passed, 0 failed"])

    def test_a_failed_check_fails_the_run_when_every_test_passed(self):
        st, out = verdict("PASS cargo:x a\nPASS cargo:x b\nPASS py:test_iort.T t\n"
                          "FAIL arm64/check:boot qemu.py exited 1 # probe boot timed out\n"
                          "PASS check:lint tsm_proto cargo fmt --check\n")
        self.assertEqual(st, 1)
        self.assertEqual(out, [
            "FAILED: arm64/check:boot qemu.py exited 1 — probe boot timed out",
            "checks: 1 passed, 1 failed",
            "3 passed, 1 failed"])

    def test_only_checks_means_no_tests_ran(self):
        st, out = verdict("PASS check:setup harness/setup.sh\n"
                          "PASS arm64/check:build kernel\n")
        self.assertEqual(st, 1)
        self.assertEqual(out, ["FAILED: no tests ran", "checks: 2 passed, 0 failed",
                               "0 passed, 1 failed"])

    def test_a_failed_check_without_tests_is_one_failure(self):
        st, out = verdict("FAIL check:setup harness/setup.sh failed\n")
        self.assertEqual(st, 1)
        self.assertEqual(out[-1], "0 passed, 1 failed")

    def test_skips_are_listed_with_their_reasons(self):
        st, out = verdict(
            "PASS cargo:a_spdm_vectors digest\n"
            "SKIP cargo:a_spdm_vectors dump_fuzz_seed_corpus"
            " # not a test: writes the fuzz seed corpus\n"
            "SKIP x86_64/tsm_vfio bar_mmap_blocks_bind\n"
            "FAIL cargo:x c\n")
        self.assertEqual(st, 1)
        self.assertEqual(out, [
            "FAILED: cargo:x c",
            "SKIPPED: cargo:a_spdm_vectors dump_fuzz_seed_corpus"
            " — not a test: writes the fuzz seed corpus",
            "SKIPPED: x86_64/tsm_vfio bar_mmap_blocks_bind — no reason given",
            "checks: 0 passed, 0 failed",
            "1 passed, 1 failed, 2 skipped"])

    def test_a_malformed_result_line_fails(self):
        st, out = verdict("PASS cargo:x a\nOK cargo:x b\n")
        self.assertEqual(st, 1)
        self.assertIn("FAILED: malformed result line: OK cargo:x b", out)
        self.assertEqual(out[-1], "1 passed, 1 failed")

    def test_a_check_is_a_suite_component_starting_with_check(self):
        for suite in ("check:lint", "check:fuzz", "arm64/check:build",
                      "x86_64/check:kernel", "arm64/check:harness"):
            self.assertTrue(summary.is_check(suite), suite)
        for suite in ("cargo:x", "py:test_summary.SummaryTest", "arm64/kunit:tsm",
                      "arm64/tsm_vfio", "cargo:check:x", "checks", "lint:tsm_proto"):
            self.assertFalse(summary.is_check(suite), suite)


if __name__ == "__main__":
    unittest.main()
