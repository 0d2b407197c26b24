# SPDX-License-Identifier: GPL-2.0
"""Host tests of summary.py: parsing runners' output and the final verdict line."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(HERE, "summary.py")

CARGO = """\
     Running unittests src/lib.rs (target/debug/deps/tsm_proto-0123456789abcdef)
test codec::tests::a ... ok
test codec::tests::b ... ignored
     Running tests/x.rs (target/debug/deps/x-0123456789abcdef)
test c ... FAILED
"""


def run(args, stdin=""):
    return subprocess.run([sys.executable, SUMMARY, *args], input=stdin, text=True,
                          capture_output=True)


class SummaryTest(unittest.TestCase):
    def test_cargo_results_are_named_by_test_binary(self):
        with tempfile.NamedTemporaryFile("r") as f:
            self.assertEqual(run(["cargo", f.name], CARGO).returncode, 0)
            self.assertEqual(f.read().splitlines(), [
                "PASS cargo:tsm_proto codec::tests::a",
                "SKIP cargo:tsm_proto codec::tests::b",
                "FAIL cargo:x c"])

    def test_output_without_results_is_a_failure(self):
        with tempfile.NamedTemporaryFile("r") as f:
            run(["cargo", f.name], "error: could not compile\n")
            self.assertTrue(f.read().startswith("FAIL"))

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
            self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed")


if __name__ == "__main__":
    unittest.main()
