# SPDX-License-Identifier: GPL-2.0
"""Host tests of the console judge in qemu.py: what counts as a result or a failure."""
import unittest

import qemu

KUNIT = """\
### tsm-phase: kunit-modules
[    3.100000] KTAP version 1
[    3.100001] 1..1
[    3.100002]     KTAP version 1
[    3.100003]     # Subtest: suite_a
[    3.100004]     1..2
[    3.100005]     ok 1 case_one
[    3.100006]         KTAP version 1
[    3.100007]         # Subtest: case_param
[    3.100008]         ok 1 param-0
[    3.100009]         not ok 2 param-1
[    3.100010]     not ok 2 case_param
[    3.100011] not ok 1 suite_a
### tsm-exit: kunit-modules 0
"""

SELFTEST = """\
### tsm-phase: selftest platform
TAP version 13
1..3
# Starting 3 tests from 2 test cases.
ok 1 platform.a
not ok 2 platform.b
ok 3 iort # SKIP arm64 only
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
### tsm-exit: platform 1
### tsm-done
"""


def verdicts(text):
    results, problems, done = qemu.judge(text.splitlines(), "arm64")
    return [(v, p, n) for v, p, n in results], problems, done


class JudgeTest(unittest.TestCase):
    def test_kunit_counts_leaves_only(self):
        r, _, _ = verdicts(KUNIT)
        self.assertEqual(r, [("PASS", "arm64/kunit-modules", "case_one"),
                             ("PASS", "arm64/kunit-modules", "param-0"),
                             ("FAIL", "arm64/kunit-modules", "param-1")])

    def test_selftest_tap_with_skip_and_done(self):
        r, p, done = verdicts(SELFTEST)
        self.assertTrue(done)
        self.assertEqual(p, [])
        self.assertEqual(r, [("PASS", "arm64/selftest:platform", "platform.a"),
                             ("FAIL", "arm64/selftest:platform", "platform.b"),
                             ("SKIP", "arm64/selftest:platform", "iort")])

    def test_bench_needs_only_its_exit_status(self):
        ok = "### tsm-phase: bench\nbench: x 1.0 tsm/plain\n### tsm-exit: bench 0\n"
        self.assertEqual(verdicts(ok)[0], [("PASS", "arm64/bench", "exit status 0")])
        bad = ok.replace("bench 0", "bench 1")
        self.assertEqual(verdicts(bad)[0], [("FAIL", "arm64/bench", "exit status 1")])

    def test_dsm_reply_reads_the_state_file(self):
        import os
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            old = qemu.OUT
            qemu.OUT = d
            try:
                os.makedirs(os.path.join(d, "arm64"))
                with open(qemu.dsm_files("arm64", 1)[1], "w") as f:
                    f.write("spdm=established\nide.stream0=active\n"
                            "tdi.0000:02:00.0=RUN\n")
                facts = {"devices": ["0000:01:00.0", "0000:02:00.0"]}
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:02:00.0"),
                                 "spdm=established ide.stream0=active tdi=RUN")
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:01:00.0"),
                                 "error=no-state-file")
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:09:00.0"),
                                 "error=no-such-device")
            finally:
                qemu.OUT = old

    def test_phase_without_results_fails(self):
        r, _, _ = verdicts("### tsm-phase: selftest x\nsegfault\n### tsm-exit: x 139\n")
        self.assertEqual(r, [("FAIL", "arm64/selftest:x", "no test results (exit 139)")])

    def test_nonzero_exit_with_only_passes_fails(self):
        r, _, _ = verdicts("### tsm-phase: selftest x\nok 1 a\n### tsm-exit: x 2\n")
        self.assertIn(("FAIL", "arm64/selftest:x", "exit status 2"), r)

    def test_kernel_reports_are_problems_once(self):
        text = ("[    1.0] WARNING: CPU: 0 PID: 1 at drivers/x.c:10 f+0x0/0x4\n"
                "[    1.0] WARNING: CPU: 0 PID: 1 at drivers/x.c:10 f+0x0/0x4\n"
                "[    2.0] Kernel panic - not syncing: Attempted to kill init!\n"
                "[    2.1] ======================================================\n"
                "[    2.2] WARNING: possible circular locking dependency detected\n")
        _, p, done = verdicts(text)
        self.assertFalse(done)
        self.assertEqual([k for k, _, _ in p], ["warn", "panic", "lockdep"])

    def test_kernel_log_counts_failures_only(self):
        r, _, _ = verdicts("### tsm-phase: kernel-log\n[ 9.0]     ok 1 a\n"
                           "[ 9.1]     not ok 2 b\n")
        self.assertEqual(r, [("FAIL", "arm64/kernel-log", "b")])

    def test_msix_layout_from_config_space(self):
        cfg = bytearray(256)
        cfg[6] = 0x10
        cfg[0x34] = 0x40
        cfg[0x40:0x42] = bytes([0x05, 0x50])             # MSI, next 0x50
        cfg[0x50:0x52] = bytes([0x11, 0x00])             # MSI-X, last
        cfg[0x52:0x54] = (64).to_bytes(2, "little")      # 65 entries
        cfg[0x54:0x58] = (0x2000).to_bytes(4, "little")  # table: BAR0 + 0x2000
        cfg[0x58:0x5c] = (0x3004).to_bytes(4, "little")  # PBA: BAR4 + 0x3000
        self.assertEqual(qemu.msix_layout(bytes(cfg)), [0, 0x2000, 65, 4, 0x3000])
        cfg[6] = 0
        self.assertIsNone(qemu.msix_layout(bytes(cfg)))

    def test_harness_markers(self):
        r, _, _ = verdicts("### tsm-ok: insmod m.ko\n### tsm-fail: rmmod m\n")
        self.assertEqual(r, [("PASS", "arm64/harness", "insmod m.ko"),
                             ("FAIL", "arm64/harness", "rmmod m")])


if __name__ == "__main__":
    unittest.main()
