# SPDX-License-Identifier: GPL-2.0
"""Host tests of the console judge in qemu.py and of the guest half of the verdict: what
counts as a result or a failure, and that every way a run can go wrong (qemu.py dying
early, a missing phase or suite, a short plan, a kernel report, a dead tsm-dsm, a module
that does not unload) ends in a FAIL."""
import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import qemu

HERE = os.path.dirname(os.path.abspath(__file__))

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


def fails(results, suite=None):
    return [r for r in results if r[0] == "FAIL" and (suite is None or r[1] == suite)]


def good_console(expect, arch="arm64"):
    """A console in which everything @expect names ran and passed."""
    out = ["### tsm-phase: kunit-boot", "### tsm-ok: insmod m.ko",
           "### tsm-phase: kunit-modules"]
    for i, s in enumerate(expect["kunit"], 1):
        out += ["[ 3.0]     KTAP version 1", f"[ 3.0]     # Subtest: {s}",
                "[ 3.0]     1..1", "[ 3.0]     ok 1 case", f"[ 3.0] ok {i} {s}"]
    out.append("### tsm-exit: kunit-modules 0")
    for ph in expect["phases"]:
        prog = ph.split()[-1]
        out += [f"### tsm-phase: {ph}", "TAP version 13", "1..1", f"ok 1 {prog}.a",
                f"### tsm-exit: {prog} 0"]
    out += ["### tsm-phase: kernel-log", "### tsm-done"]
    return out


@contextlib.contextmanager
def cache_in(d):
    """qemu.py's cache (CACHE, PREFIX, OUT) in directory @d for the block."""
    old = qemu.CACHE, qemu.PREFIX, qemu.OUT
    qemu.CACHE, qemu.PREFIX, qemu.OUT = d, os.path.join(d, "prefix"), os.path.join(d, "out")
    try:
        yield
    finally:
        qemu.CACHE, qemu.PREFIX, qemu.OUT = old


def script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def run_main(argv):
    """qemu.main(@argv) in this process, quietly: (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = qemu.main(argv)
    return rc, err.getvalue()


def read_results(path):
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f]


class JudgeTest(unittest.TestCase):
    def test_kunit_counts_leaves_only(self):
        r, _, _ = verdicts(KUNIT)
        self.assertEqual(r, [("PASS", "arm64/kunit-modules", "case_one"),
                             ("PASS", "arm64/kunit-modules", "param-0"),
                             ("FAIL", "arm64/kunit-modules", "param-1")])

    def test_selftest_tap_with_skip_reason_and_done(self):
        r, p, done = verdicts(SELFTEST)
        self.assertTrue(done)
        self.assertEqual(p, [])
        self.assertEqual(r, [("PASS", "arm64/selftest:platform", "platform.a"),
                             ("FAIL", "arm64/selftest:platform", "platform.b"),
                             ("SKIP", "arm64/selftest:platform", "iort # arm64 only")])

    def test_bench_needs_only_its_exit_status(self):
        ok = "### tsm-phase: bench\nbench: x 1.0 tsm/plain\n### tsm-exit: bench 0\n"
        self.assertEqual(verdicts(ok)[0], [("PASS", "arm64/bench", "exit status 0")])
        bad = ok.replace("bench 0", "bench 1")
        self.assertEqual(verdicts(bad)[0], [("FAIL", "arm64/bench", "exit status 1")])

    def test_dsm_reply_reads_the_state_file(self):
        with tempfile.TemporaryDirectory() as d:
            with cache_in(d):
                os.makedirs(os.path.join(qemu.OUT, "arm64"))
                with open(qemu.dsm_files("arm64", 1)[1], "w") as f:
                    f.write("spdm=established\nide.stream0=active\n"
                            "tdi.0000:02:00.0=RUN\n")
                facts = {"devices": ["0000:01:00.0", "0000:02:00.0"]}
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:02:00.0"),
                                 "spdm=established ide.stream0=active tdi=RUN "
                                 "error=untraced")
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:01:00.0"),
                                 "error=no-state-file")
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:09:00.0"),
                                 "error=no-such-device")

    def test_dsm_reply_waits_for_the_dsm_to_catch_up_with_the_trace(self):
        with tempfile.TemporaryDirectory() as d:
            with cache_in(d):
                os.makedirs(os.path.join(qemu.OUT, "arm64"))
                trace = os.path.join(d, "trace.log")
                with open(trace, "w") as f:
                    f.write("pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n")  # 39 bytes
                state = qemu.dsm_files("arm64", 0)[1]
                facts = {"devices": ["0000:01:00.0"]}
                with open(state, "w") as f:
                    f.write("spdm=none\nhost.cfg_writes=0\ntrace.offset=0\n"
                            "tdi.0000:01:00.0=CONFIG_UNLOCKED\n")
                self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:01:00.0", trace, 0.05),
                                 "spdm=none host.cfg_writes=0 tdi=CONFIG_UNLOCKED "
                                 "error=trace-behind")
                # It asked the DSM for the offset it wanted, beside the state file.
                with open(os.path.splitext(state)[0] + ".query") as f:
                    self.assertEqual(f.read(), "39\n")

                def catch_up():
                    time.sleep(0.2)
                    with open(state + ".tmp", "w") as f:
                        f.write("spdm=none\nhost.cfg_writes=1\ntrace.offset=39\n"
                                "tdi.0000:01:00.0=CONFIG_UNLOCKED\n")
                    os.rename(state + ".tmp", state)
                t = threading.Thread(target=catch_up)
                t.start()
                try:
                    self.assertEqual(qemu.dsm_reply("arm64", facts, "0000:01:00.0", trace),
                                     "spdm=none host.cfg_writes=1 tdi=CONFIG_UNLOCKED")
                finally:
                    t.join()

    def test_config_caps_walks_both_lists(self):
        cfg = bytearray(4096)
        cfg[6] = 0x10
        cfg[0x34] = 0x40
        cfg[0x40:0x42] = bytes([0x11, 0x60])   # MSI-X, next 0x60
        cfg[0x60:0x62] = bytes([0x01, 0x80])   # PM, next 0x80
        cfg[0x80:0x82] = bytes([0x10, 0x00])   # PCIe, end
        cfg[0x100:0x104] = (0x0001 | 1 << 16 | 0x150 << 20).to_bytes(4, "little")  # AER
        cfg[0x150:0x154] = (0x002E | 1 << 16).to_bytes(4, "little")  # DOE, end
        self.assertEqual(qemu.config_caps(bytes(cfg)), {"pm": 0x60, "pcie": 0x80,
                                                        "doe": 0x150})
        self.assertEqual(qemu.config_caps(bytes(64)), {})

    def test_traced_boot_passes_the_trace_and_caps_to_every_dsm(self):
        facts = {"devices": ["0000:01:00.0"], "bars": [], "msix": None,
                 "caps": {"pcie": 0x80, "doe": 0x150}}
        args = qemu.dsm_args(facts, "/t/qemu-trace.log")[0]
        self.assertEqual(args[-6:], ["--trace", "/t/qemu-trace.log", "--doe-cap", "0x150",
                                     "--pcie-cap", "0x80"])
        self.assertNotIn("--trace", qemu.dsm_args(facts)[0])
        cmd = qemu.qemu_cmd("arm64", "i", "", list(range(len(qemu.TSM_DEVICES))),
                            "/t/qemu-trace.log")
        self.assertIn("-D", cmd)
        self.assertEqual(cmd[cmd.index("-trace") + 1], "pci_cfg_write")

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

    def test_harness_markers_are_checks(self):
        r, _, _ = verdicts("### tsm-ok: insmod m.ko\n### tsm-fail: rmmod m\n")
        self.assertEqual(r, [("PASS", "arm64/check:harness", "insmod m.ko"),
                             ("FAIL", "arm64/check:harness", "rmmod m")])
        self.assertTrue(qemu.is_check("arm64/check:harness"))
        self.assertFalse(qemu.is_check("arm64/selftest:platform"))

    def test_module_not_unloadable_at_the_end_fails(self):
        r, _, _ = verdicts("### tsm-phase: teardown\n"
                           "### tsm-fail: teardown: rmmod tsm_emu: Resource busy\n")
        self.assertEqual(fails(r), [("FAIL", "arm64/check:harness",
                                     "teardown: rmmod tsm_emu: Resource busy")])


class PlanTest(unittest.TestCase):
    def test_selftest_plan_with_fewer_results_fails(self):
        text = ("### tsm-phase: selftest tsm_vfio\nTAP version 13\n1..12\n" +
                "".join(f"ok {i} tsm_vfio.t{i}\n" for i in range(1, 10)) +
                "### tsm-exit: tsm_vfio 0\n")
        r, _, _ = verdicts(text)
        self.assertEqual(fails(r), [("FAIL", "arm64/selftest:tsm_vfio",
                                     "plan 1..12: 9 results")])

    def test_selftest_plan_with_more_results_fails(self):
        text = ("### tsm-phase: selftest x\nTAP version 13\n1..1\nok 1 a\nok 2 b\n"
                "### tsm-exit: x 0\n")
        self.assertEqual(fails(verdicts(text)[0]),
                         [("FAIL", "arm64/selftest:x", "plan 1..1: 2 results")])

    def test_kunit_suite_plan_is_checked_per_suite(self):
        short = KUNIT.replace("    1..2", "    1..3")
        self.assertIn(("FAIL", "arm64/kunit-modules", "plan 1..3 of suite_a: 2 results"),
                      verdicts(short)[0])
        # The parameterized case has no plan: nothing to compare there; the top-level
        # plan 1..1 matches its one suite.
        self.assertEqual([n for _, _, n in fails(verdicts(KUNIT)[0])], ["param-1"])

    def test_module_suites_without_top_level_plan(self):
        text = "### tsm-phase: kunit-modules\n"
        for i, s in enumerate(["a", "b"], 1):
            text += (f"[ 1.0]     KTAP version 1\n[ 1.0]     # Subtest: {s}\n"
                     f"[ 1.0]     1..2\n[ 1.0]     ok 1 x\n[ 1.0]     ok 2 y\n"
                     f"[ 1.0] ok {i} {s}\n")
        text += "### tsm-exit: kunit-modules 0\n"
        self.assertEqual(fails(verdicts(text)[0]), [])
        cut = text.replace("[ 1.0]     ok 2 y\n[ 1.0] ok 2 b", "[ 1.0] ok 2 b")
        self.assertEqual(fails(verdicts(cut)[0]),
                         [("FAIL", "arm64/kunit-modules", "plan 1..2 of b: 1 results")])


class ProblemTest(unittest.TestCase):
    # The report headers of kernel/locking/lockdep.c that print no "WARNING: CPU:".
    LOCKDEP = [
        "WARNING: bad unlock balance detected!",
        "WARNING: held lock freed!",
        "WARNING: possible irq lock inversion dependency detected",
        "WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
        "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
        "WARNING: Nested lock was not taken",
        "WARNING: bad contention detected!",
        "WARNING: chain_key collision",
        "WARNING: lock held when returning to user space!",
        "WARNING: tsm_connect/123 still has locks held!",
        "WARNING: possible recursive locking detected",
        "WARNING: inconsistent lock state",
        "WARNING: suspicious RCU usage",
        "BUG: Invalid wait context",
        "INFO: trying to register non-static key.",
    ]

    def kinds(self, line):
        return [k for k, _, _ in qemu.kernel_problems([f"[   12.345678] {line}"])]

    def test_every_lockdep_header_is_a_lockdep_problem(self):
        for line in self.LOCKDEP:
            with self.subTest(line=line):
                self.assertEqual(self.kinds(line), ["lockdep"])

    def test_any_warning_line_is_a_problem(self):
        self.assertEqual(self.kinds("WARNING: something new the kernel reports"), ["warn"])
        self.assertEqual(self.kinds("WARNING: CPU: 1 PID: 7 at mm/x.c:3 f+0x1/0x2"), ["warn"])
        self.assertEqual(self.kinds("# a test said WARNING: in passing"), [])

    def test_hung_task(self):
        self.assertEqual(self.kinds("INFO: task tsm_vfio:231 blocked for more than 60 "
                                    "seconds."), ["hung"])
        self.assertEqual(self.kinds("rcu: INFO: rcu_preempt self-detected stall on CPU"),
                         ["hung"])

    def test_soft_and_hard_lockup(self):
        self.assertEqual(self.kinds("watchdog: BUG: soft lockup - CPU#1 stuck for 26s! "
                                    "[tsm_connect:201]"), ["softlockup"])
        self.assertEqual(self.kinds("watchdog: Watchdog detected hard LOCKUP on cpu 1"),
                         ["hardlockup"])

    def test_a_problem_in_a_phase_dump_counts_once(self):
        text = ["[ 5.0] WARNING: held lock freed!", "### tsm-phase: kernel-log",
                "[ 5.0] WARNING: held lock freed!"]
        self.assertEqual(len(qemu.kernel_problems(text)), 1)


class InventoryTest(unittest.TestCase):
    EXPECT = {"phases": ["selftest platform", "selftest tsm_connect"],
              "kunit": ["suite_a", "suite_b"]}

    def test_everything_there_passes(self):
        r = qemu.check_inventory(good_console(self.EXPECT), "arm64", self.EXPECT)
        self.assertEqual(r, [("PASS", "arm64/check:inventory",
                              "2 phases and 2 KUnit suites ran")])

    def test_missing_selftest_phase_fails(self):
        lines = [ln for ln in good_console(self.EXPECT) if "tsm_connect" not in ln]
        self.assertEqual(qemu.check_inventory(lines, "arm64", self.EXPECT),
                         [("FAIL", "arm64/check:inventory", "selftest tsm_connect never ran")])

    def test_missing_kunit_suite_fails(self):
        lines = [ln for ln in good_console(self.EXPECT) if "suite_b" not in ln]
        self.assertEqual(qemu.check_inventory(lines, "arm64", self.EXPECT),
                         [("FAIL", "arm64/check:inventory", "KUnit suite suite_b never ran")])

    def test_a_suite_name_outside_the_kunit_phases_does_not_count(self):
        lines = [ln for ln in good_console(self.EXPECT) if "suite_b" not in ln]
        lines.insert(-1, "[ 9.0]     # Subtest: suite_b")   # kernel-log: a re-load
        self.assertIn(("FAIL", "arm64/check:inventory", "KUnit suite suite_b never ran"),
                      qemu.check_inventory(lines, "arm64", self.EXPECT))

    def test_phase_without_exit_status_fails(self):
        lines = [ln for ln in good_console(self.EXPECT) if ln != "### tsm-exit: platform 0"]
        self.assertIn(("FAIL", "arm64/selftest:platform", "never reported its exit status"),
                      qemu.check_inventory(lines, "arm64", self.EXPECT))

    def test_demo_expects_only_the_demo(self):
        self.assertEqual(qemu.expected("arm64", "demo"), {"phases": ["demo"], "kunit": []})
        r = qemu.check_inventory(["### tsm-phase: kunit-boot"], "arm64",
                                 qemu.expected("arm64", "demo"))
        self.assertEqual(r, [("FAIL", "arm64/check:inventory", "demo never ran")])

    def test_expected_from_the_repo(self):
        """TEST_GEN_PROGS without the _EXTENDED demo and benchmark; the KUnit suites of
        drivers/ and samples/ (all enabled in kernel/configs/tsm-vfio.config)."""
        e = qemu.expected("arm64", "test")
        self.assertEqual(e["phases"], ["selftest platform", "selftest tsm_connect",
                                       "selftest tsm_vfio", "selftest tsm_conduit",
                                       "selftest tsm_cca", "selftest tsm_sev"])
        self.assertEqual(sorted(e["kunit"]), ["tsm_conduit", "tsm_emu_fw_channel",
                                              "tsm_emu_msg", "tsm_emu_relay",
                                              "vfio_pci_tsm_config_filter"])

    def test_suites_of_what_is_not_built_are_not_expected(self):
        with tempfile.TemporaryDirectory() as d:
            for sub in ("drivers", "samples", "rust/kernel", "kernel/configs"):
                shutil.copytree(os.path.join(qemu.REPO, sub), os.path.join(d, sub))
            frag = os.path.join(d, "kernel/configs/tsm-vfio.config")
            with open(frag) as f:
                text = f.read()
            # relay_tests.rs is gated by the cfg on its `mod`, fw.rs/msg.rs by the cfg
            # on the attribute: all three go with the option.
            with open(frag, "w") as f:
                f.write(text.replace("CONFIG_SAMPLE_TSM_EMU_KUNIT_TEST=y", ""))
            self.assertEqual(qemu.kunit_suites("arm64", d),
                             ["vfio_pci_tsm_config_filter", "tsm_conduit"])
            # The driver's suite goes with the Makefile rule of its crate root.
            with open(frag, "w") as f:
                f.write(text.replace("CONFIG_VFIO_PCI_TSM=m", ""))
            self.assertNotIn("vfio_pci_tsm_config_filter", qemu.kunit_suites("arm64", d))

    def test_cfg_predicates(self):
        c = {"CONFIG_A": "y", "CONFIG_B": "m", "CONFIG_C": "n"}
        self.assertTrue(qemu.cfg_true("CONFIG_A", c))
        self.assertTrue(qemu.cfg_true("CONFIG_B", c))
        self.assertFalse(qemu.cfg_true("CONFIG_C", c))
        self.assertFalse(qemu.cfg_true("CONFIG_D", c))
        self.assertTrue(qemu.cfg_true('all(CONFIG_A, not(CONFIG_C), CONFIG_B="m")', c))
        self.assertFalse(qemu.cfg_true("any(test, CONFIG_D)", c))


class GuardTest(unittest.TestCase):
    """harness/guard.sh, the wrapper check.sh runs qemu.py in."""

    def guard(self, results, cmd):
        return subprocess.run(["bash", os.path.join(HERE, "guard.sh"), results,
                               "arm64/check:boot", "qemu.py", "sh", "-c", cmd],
                              capture_output=True, text=True).returncode

    def test_a_silent_non_zero_exit_is_recorded(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.txt")
            with open(res, "w") as f:
                f.write("FAIL x86_64/check:build earlier failure\n")   # not this command's
            self.assertEqual(self.guard(res, f"echo PASS arm64/x y >> {res}; exit 3"), 3)
            self.assertEqual(read_results(res)[-1],
                             "FAIL arm64/check:boot qemu.py exited 3 without a verdict")

    def test_a_verdict_or_success_is_left_alone(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.txt")
            self.assertEqual(self.guard(res, f"echo 'FAIL arm64/check:boot why' >> {res}; "
                                             "exit 1"), 1)
            self.assertEqual(self.guard(res, "exit 0"), 0)
            self.assertEqual(read_results(res), ["FAIL arm64/check:boot why"])

    def test_check_sh_runs_qemu_py_through_the_guard(self):
        with open(os.path.join(HERE, "check.sh")) as f:
            text = f.read()
        self.assertRegex(text, r'guard\.sh" "\$results" "\$s/check:boot" qemu\.py \\\n'
                               r'\s*python3 "\$TSM_ROOT/harness/qemu\.py" run')


# A fake tsm-dsm: behaves by the device's misbehaviour knob (TSM_DEVICES).
FAKE_DSM = """\
#!/bin/sh
case " $* " in
*" --bad-signature "*) echo "listening on 127.0.0.1:1"; exit 3 ;;
*" --wrong-transcript "*)
	echo "listening on 127.0.0.1:2"
	echo "thread 'main' panicked at engine/src/dsm.rs:1:1:" >&2
	exec sleep 30 ;;
*" --tdisp-error "*)
	trap 'exit 7' TERM
	echo "listening on 127.0.0.1:3"
	while :; do sleep 0.05; done ;;
*" --error-after "*) trap '' TERM; echo "listening on 127.0.0.1:4"; exec sleep 30 ;;
*) echo "listening on 127.0.0.1:5"; exec sleep 30 ;;
esac
"""

HEALTHY_DSM = '#!/bin/sh\necho "listening on 127.0.0.1:5"\nexec sleep 30\n'


class DsmQueryTest(unittest.TestCase):
    def test_query_bdf_is_exact(self):
        """Deferred printk output glued to a query line does not become part of the BDF."""
        m = qemu.DSM_QUERY.search("### tsm-dsm-query 211.4 0000:01:00.0arm_cca_host: x")
        self.assertEqual(m.groups(), ("211.4", "0000:01:00.0"))
        self.assertIsNone(qemu.DSM_QUERY.search("### tsm-dsm-query 1.1 nonsense"))


class DsmHealthTest(unittest.TestCase):
    def run_dsms(self, fake):
        with tempfile.TemporaryDirectory() as d, cache_in(d):
            os.makedirs(os.path.join(qemu.OUT, "arm64"))
            exe = script(os.path.join(d, "tsm-dsm"), fake)
            results = []
            old = qemu.Dsms.TERM_TIMEOUT
            qemu.Dsms.TERM_TIMEOUT = 0.5
            try:
                with qemu.Dsms("arm64", [[] for _ in qemu.TSM_DEVICES], results,
                               exe=exe) as ports:
                    time.sleep(0.3)     # long enough for the early one to be gone
            finally:
                qemu.Dsms.TERM_TIMEOUT = old
            return ports, [(v, s, re.sub(r" \(log: .*\)$", "", n)) for v, s, n in results]

    def test_healthy_dsms_pass(self):
        ports, r = self.run_dsms(HEALTHY_DSM)
        self.assertEqual(ports, [5] * len(qemu.TSM_DEVICES))
        self.assertEqual(r, [("PASS", "arm64/check:dsm", "8 tsm-dsm ran until stopped, "
                                                         "no panic")])

    def test_dead_panicked_and_misbehaving_dsms_fail(self):
        _, r = self.run_dsms(FAKE_DSM)
        self.assertEqual(sorted(r), sorted([
            ("FAIL", "arm64/check:dsm",
             "bad-signature: exited (status 3) before the harness stopped it"),
            ("FAIL", "arm64/check:dsm",
             "wrong-transcript: panicked: thread 'main' panicked at engine/src/dsm.rs:1:1:"),
            ("FAIL", "arm64/check:dsm",
             "tdisp-error-lock: exited (status 7) on SIGTERM, not killed by it"),
            ("FAIL", "arm64/check:dsm",
             "error-after-start: still running 0.5s after SIGTERM (killed)"),
        ]))

    def test_a_dsm_that_does_not_start_aborts(self):
        with tempfile.TemporaryDirectory() as d, cache_in(d):
            os.makedirs(os.path.join(qemu.OUT, "arm64"))
            exe = script(os.path.join(d, "tsm-dsm"), "#!/bin/sh\necho nope; exit 2\n")
            results = []
            with self.assertRaisesRegex(qemu.Abort, r"tsm-dsm \(tsm0\) did not start"):
                with qemu.Dsms("arm64", [[] for _ in qemu.TSM_DEVICES], results, exe=exe):
                    pass
            self.assertEqual(fails(results)[0][2].split(" (log")[0],
                             "tsm0: exited (status 2) before the harness stopped it")


# A fake QEMU: answers --version, and prints the console in $FAKE_PROBE or $FAKE_RUN
# depending on tsm.mode=, then exits with $FAKE_STATUS.
FAKE_QEMU = f"""\
#!{sys.executable}
import os, sys
if "--version" in sys.argv:
    print("QEMU emulator version 0.0.1 (fake)")
    sys.exit(0)
append = sys.argv[sys.argv.index("-append") + 1]
with open(os.environ["FAKE_PROBE" if "tsm.mode=probe" in append else "FAKE_RUN"]) as f:
    sys.stdout.write(f.read())
sys.exit(int(os.environ.get("FAKE_STATUS", "0")))
"""


def probe_console(devices=8, extra=()):
    out = ["[ 0.5] Linux version 7.2.0 (fake)", *extra]
    for i in range(devices):
        out.append(f"### tsm-fact: bar 0000:{i + 1:02x}:00.0 0 0xfe000000 0xfe003fff "
                   "0x140204")
    out += ["### tsm-config-begin 0000:01:00.0", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "### tsm-config-end", "### tsm-done"]
    return out


class EarlyExitTest(unittest.TestCase):
    """qemu.py never ends without a verdict: every early exit is a FAIL check:boot."""

    def test_missing_qemu_binary_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.txt")
            p = subprocess.run([sys.executable, os.path.join(HERE, "qemu.py"), "run",
                                "--arch", "arm64", "--results", res],
                               env={**os.environ, "TSM_CACHE": d},
                               capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(f"FAIL arm64/check:boot no {d}/prefix/qemu/usr/bin/"
                          "qemu-system-aarch64: run harness/setup.sh", read_results(res))

    def setup_fake(self, d, probe=None, run=None, dsm=HEALTHY_DSM):
        """A cache in @d with a fake QEMU (and tsm-dsm unless @dsm is None) whose boots
        print @probe and @run."""
        bindir = os.path.join(d, "prefix", "qemu", "usr", "bin")
        os.makedirs(bindir)
        os.makedirs(os.path.join(d, "out", "x86_64"))
        script(os.path.join(bindir, "qemu-system-x86_64"), FAKE_QEMU)
        if dsm:
            os.makedirs(os.path.join(d, "tools-target", "release"))
            script(os.path.join(d, "tools-target", "release", "tsm-dsm"), dsm)
        for name, lines in (("FAKE_PROBE", probe), ("FAKE_RUN", run)):
            path = os.path.join(d, name.lower())
            with open(path, "w") as f:
                f.write("\n".join(lines or []) + "\n")
            os.environ[name] = path
        self.addCleanup(os.environ.pop, "FAKE_PROBE", None)
        self.addCleanup(os.environ.pop, "FAKE_RUN", None)
        return os.path.join(d, "results.txt")

    def main(self, d, res, *extra):
        with cache_in(d):
            return run_main(["run", "--arch", "x86_64", "--timeout", "30", "--results", res,
                             *extra])

    def test_missing_tsm_dsm_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            res = self.setup_fake(d, dsm=None)
            rc, _ = self.main(d, res)
            self.assertEqual(rc, 1)
            self.assertEqual(read_results(res), [
                f"FAIL x86_64/check:boot no {d}/tools-target/release/tsm-dsm: "
                "run harness/build-tools.sh"])

    def test_a_python_exception_fails_the_run(self):
        def boom(*_):
            raise RuntimeError("boom\nsecond line")
        old = qemu.probe
        qemu.probe = boom
        try:
            with tempfile.TemporaryDirectory() as d:
                res = os.path.join(d, "results.txt")
                rc, err = self.main(d, res)
                self.assertEqual(rc, 1)
                self.assertEqual(read_results(res), [
                    "FAIL x86_64/check:boot qemu.py failed: RuntimeError: boom second line"])
                self.assertIn("Traceback", err)
        finally:
            qemu.probe = old

    def test_probe_boot_that_does_not_finish_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            res = self.setup_fake(d, probe=["[ 1.0] Kernel panic - not syncing: VFS"])
            rc, _ = self.main(d, res)
            self.assertEqual(rc, 1)
            r = read_results(res)
            self.assertIn("FAIL x86_64/check:probe panic: Kernel panic - not syncing: VFS", r)
            self.assertIn("FAIL x86_64/check:boot the probe boot ended before reporting "
                          "done", r)

    def test_wrong_device_count_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            res = self.setup_fake(d, probe=probe_console(devices=7))
            self.assertEqual(self.main(d, res)[0], 1)
            self.assertIn("FAIL x86_64/check:boot the probe boot found 7 test devices, "
                          "not 8", read_results(res))

    def test_clean_run_passes(self):
        with tempfile.TemporaryDirectory() as d:
            res = self.setup_fake(d, probe=probe_console(),
                                  run=good_console(qemu.expected("x86_64", "test")))
            rc, err = self.main(d, res)
            self.assertEqual([ln for ln in read_results(res) if ln.startswith("FAIL")], [])
            self.assertEqual(rc, 0)
            self.assertIn("PASS x86_64/check:probe probe boot clean", read_results(res))
            self.assertTrue(os.path.exists(os.path.join(d, "out", "x86_64", "facts.json")))
            self.assertRegex(err, r"x86_64 test: 11 passed, 0 failed, 0 skipped \(checks: "
                                  r"\d+ passed, 0 failed\)")

    def test_problem_in_the_probe_console_fails_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            warn = "[ 0.9] WARNING: bad unlock balance detected!"
            res = self.setup_fake(d, probe=probe_console(extra=[warn]),
                                  run=good_console(qemu.expected("x86_64", "test")))
            rc, _ = self.main(d, res)
            self.assertEqual(rc, 1)
            self.assertEqual([ln for ln in read_results(res) if ln.startswith("FAIL")], [
                "FAIL x86_64/check:probe lockdep: WARNING: bad unlock balance detected!"])
            # Not cached: the next run probes (and fails) again.
            self.assertFalse(os.path.exists(os.path.join(d, "out", "x86_64", "facts.json")))

    def test_qemu_exit_status_and_missing_phase_fail_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            expect = qemu.expected("x86_64", "test")
            run = good_console({"phases": expect["phases"][:-1], "kunit": expect["kunit"]})
            self.assertEqual(expect["phases"][-1], "selftest tsm_sev")
            res = self.setup_fake(d, probe=probe_console(), run=run)
            with cache_in(d):
                # Cache the facts with a clean probe first.
                run_main(["run", "--arch", "x86_64", "--results", os.devnull])
            os.environ["FAKE_STATUS"] = "1"
            self.addCleanup(os.environ.pop, "FAKE_STATUS", None)
            rc, err = self.main(d, res)
            self.assertEqual(rc, 1)
            self.assertEqual([ln for ln in read_results(res) if ln.startswith("FAIL")], [
                "FAIL x86_64/check:inventory selftest tsm_sev never ran",
                "FAIL x86_64/check:boot QEMU exited with status 1"])
            self.assertRegex(err, r"x86_64 test: 10 passed, 2 failed, 0 skipped \(checks: "
                                  r"\d+ passed, 2 failed\)")


class GuestInitTest(unittest.TestCase):
    """harness/guest/init run on the host, its absolute paths moved below a temporary
    root and the busybox applets it needs from the kernel faked; its console goes
    through the judge and the inventory like a real one."""

    MODULE_SUITES = {"vfio_pci_tsm": ["vfio_pci_tsm_config_filter"],
                     "tsm_emu": ["tsm_emu_fw_channel", "tsm_emu_msg", "tsm_emu_relay"],
                     "tsm_conduit_test": ["tsm_conduit"]}

    def boot(self, mode="test", rmmod_fails="", connected=None, not_executable=(),
             insmod_fails=""):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(HERE, "guest", "init")) as f:
            init = re.sub(r'(?<=[\s"=:>(])/(bin|sbin|proc|sys|tsm|lib|tmp)\b',
                          d + r"/\1", f.read())
        for sub in ("bin", "sbin", "proc", "tmp", "tsm/selftests", "tsm/bin",
                    "lib/modules/7.2.0"):
            os.makedirs(os.path.join(d, sub))
        for tool in ("cat", "grep", "sed", "basename", "head", "tr", "mv"):
            os.symlink(shutil.which(tool), os.path.join(d, "bin", tool))
        for tool in ("busybox", "mount", "sync", "poweroff", "sleep"):
            script(os.path.join(d, "bin", tool), "#!/bin/sh\nexit 0\n")
        script(os.path.join(d, "bin", "uname"),
               "#!/bin/sh\ncase $1 in -r) echo 7.2.0 ;; *) echo x86_64 ;; esac\n")
        script(os.path.join(d, "bin", "dmesg"),
               f"#!/bin/sh\ncat {d}/dmesg 2>/dev/null\n: > {d}/dmesg\n")
        suites = " ".join(f"{m}={','.join(s)}" for m, s in self.MODULE_SUITES.items())
        script(os.path.join(d, "bin", "insmod"), f"""#!/bin/sh
n=$(basename "$1" .ko)
case " {insmod_fails} " in *" $n "*) echo "insmod: $n: Invalid argument" >&2; exit 1 ;; esac
echo "$n 16384 0 - Live 0x0" >> {d}/proc/modules
for w in {suites}; do
	[ "${{w%%=*}}" = "$n" ] || continue
	i=0
	for s in $(echo "${{w#*=}}" | tr , ' '); do
		i=$((i + 1))
		printf '[ 3.0]     KTAP version 1\\n[ 3.0]     # Subtest: %s\\n[ 3.0]     1..1\\n' "$s"
		printf '[ 3.0]     ok 1 case\\n[ 3.0] ok %d %s\\n' $i "$s"
	done >> {d}/dmesg
done
""")
        script(os.path.join(d, "bin", "rmmod"), f"""#!/bin/sh
case " {rmmod_fails} " in *" $1 "*)
	echo "rmmod: $1: Resource temporarily unavailable" >&2
	exit 1 ;;
esac
grep -v "^$1 " {d}/proc/modules > {d}/proc/modules.new
mv {d}/proc/modules.new {d}/proc/modules
""")
        with open(os.path.join(d, "proc", "cmdline"), "w") as f:
            f.write(f"console=ttyS0 tsm.mode={mode}\n")
        open(os.path.join(d, "proc", "modules"), "w").close()
        with open(os.path.join(d, "tsm", "modules"), "w") as f:
            f.write("# comment\nkernel/drivers/vfio/pci/tsm/vfio_pci_tsm.ko\n"
                    "kernel/samples/tsm/tsm_emu.ko\nkernel/samples/tsm/tsm_conduit_test.ko\n")
        for prog in qemu.selftest_programs():
            # Like the real tests, a selftest loads the modules and leaves them loaded.
            script(os.path.join(d, "tsm", "selftests", prog),
                   f"#!/bin/sh\nfor n in vfio_pci_tsm tsm_emu; do grep -q \"^$n \" "
                   f"{d}/proc/modules || echo \"$n 1 0 - Live 0x0\" >> {d}/proc/modules; "
                   f"done\nprintf 'TAP version 13\\n1..1\\nok 1 {prog}.a\\n'\n")
            if prog in not_executable:
                os.chmod(os.path.join(d, "tsm", "selftests", prog), 0o644)
        script(os.path.join(d, "tsm", "demo.sh"), "#!/bin/sh\nprintf '1..1\\nok 1 step\\n'\n")
        for bdf, tsm in (connected or {"0000:01:00.0": "", "0000:02:00.0": ""}).items():
            os.makedirs(os.path.join(d, "sys", "bus", "pci", "devices", bdf, "tsm"))
            with open(os.path.join(d, "sys", "bus", "pci", "devices", bdf, "tsm",
                                   "connect"), "w") as f:
                f.write(tsm + "\n")
        p = subprocess.run(["sh", "-c", init], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        results, problems, done = qemu.judge(lines, "x86_64")
        results += qemu.check_inventory(lines, "x86_64", qemu.expected("x86_64", mode))
        with open(os.path.join(d, "proc", "modules")) as f:
            self.left_loaded = f.read()
        return results, done

    def test_clean_test_boot(self):
        r, done = self.boot()
        self.assertTrue(done)
        self.assertEqual(fails(r), [])
        self.assertIn(("PASS", "x86_64/check:harness", "teardown: rmmod tsm_emu"), r)
        self.assertIn(("PASS", "x86_64/check:harness", "teardown: rmmod vfio_pci_tsm"), r)
        self.assertIn(("PASS", "x86_64/check:harness",
                       "teardown: no test device left connected"), r)
        self.assertEqual(self.left_loaded, "")
        self.assertEqual(len([x for x in r if x[1] == "x86_64/kunit-modules"]), 5)

    def test_module_not_unloadable_at_the_end_fails(self):
        r, _ = self.boot(rmmod_fails="tsm_emu")
        # In the KUnit cycle too (it is the same rmmod): that fails kunit-modules' exit.
        self.assertIn(("FAIL", "x86_64/check:harness", "teardown: rmmod tsm_emu: rmmod: "
                       "tsm_emu: Resource temporarily unavailable"), r)
        self.assertIn(("FAIL", "x86_64/kunit-modules", "exit status 1"), r)

    def test_device_left_connected_fails(self):
        r, _ = self.boot(connected={"0000:01:00.0": "tsm0", "0000:02:00.0": ""})
        self.assertEqual(fails(r), [("FAIL", "x86_64/check:harness",
                                     "teardown: 0000:01:00.0 left connected to tsm0")])

    def test_failed_insmod_makes_kunit_modules_exit_non_zero(self):
        r, _ = self.boot(insmod_fails="vfio_pci_tsm")
        self.assertIn(("FAIL", "x86_64/check:harness", "insmod vfio_pci_tsm.ko"), r)
        self.assertIn(("FAIL", "x86_64/kunit-modules", "exit status 1"), r)
        self.assertIn(("FAIL", "x86_64/check:inventory",
                       "KUnit suite vfio_pci_tsm_config_filter never ran"), r)

    def test_non_executable_selftest_fails(self):
        r, _ = self.boot(not_executable=("tsm_vfio",))
        self.assertEqual(fails(r), [
            ("FAIL", "x86_64/check:harness", "selftest tsm_vfio is not executable"),
            ("FAIL", "x86_64/check:inventory", "selftest tsm_vfio never ran")])

    def test_demo_boot_tears_down_too(self):
        r, done = self.boot(mode="demo", rmmod_fails="vfio_pci_tsm")
        self.assertTrue(done)
        self.assertIn(("PASS", "x86_64/demo", "step"), r)
        self.assertIn(("PASS", "x86_64/check:inventory", "1 phases and 0 KUnit suites ran"), r)
        # It stays loaded after the KUnit cycle's rmmod failed; the teardown finds it.
        self.assertIn(("FAIL", "x86_64/check:harness",
                       "teardown: rmmod vfio_pci_tsm: rmmod: vfio_pci_tsm: Resource "
                       "temporarily unavailable"), r)


if __name__ == "__main__":
    unittest.main()
