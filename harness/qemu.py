#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the tsm-vfio test kernel in QEMU and judge the run.

  qemu.py run --arch arm64 --mode test  [--timeout S] [--results FILE] [--log FILE]
  qemu.py run --arch arm64 --mode demo
  qemu.py run --arch arm64 --mode bench  (the vfio-pci vs vfio-pci-tsm benchmark)
  qemu.py probe --arch arm64            (platform facts; on arm64 the patched IORT)

Every boot has one tsm-dsm (the emulated device security manager) per test device
(TSM_DEVICES), each listening on a loopback port that its nvme reaches through
spdm_port; the guest asks for a DSM's TDISP state over the console (boot()). Test,
demo and bench boots also log every config write and MMIO access (TRACE_EVENTS) to
qemu-trace.log, which each DSM follows to see what the host does to its device.

Results are written one per line as "PASS|FAIL|SKIP <suite> <name>[ # reason]" for
harness/summary.py. A suite with a "check:" component is a check of the run, not a test
case. What fails a run:
  - check:boot       qemu.py could not boot or run at all (probe failure, missing QEMU or
                     tsm-dsm, a Python exception, QEMU exiting non-zero): every early exit
                     writes this line and exits non-zero;
  - check:probe      a kernel problem (below) or a "### tsm-fail" in the probe boot;
  - check:kernel     a console line matching PROBLEMS: panic, oops, BUG, WARNING (every
                     lockdep report header), soft/hard lockup, hung task, RCU stall,
                     KASAN/UBSAN (no `make check` kernel has them; TSM_KASAN=1 builds
                     a KASAN one);
  - check:harness    a "### tsm-fail" marker of the guest init, a timeout, or a guest that
                     ended before "### tsm-done";
  - check:dsm        a tsm-dsm that exited before it was stopped, did not die of the
                     SIGTERM it was sent, or logged a Rust panic;
  - check:inventory  an expected selftest phase or KUnit suite that never appeared
                     (expected(): TEST_GEN_PROGS and the KUnit suites of the sources);
  - in a phase: any "not ok", a TAP/KTAP plan 1..N with another number of results at its
    level, no results, a non-zero exit status, or no exit status at all.
The console tail is printed when anything failed.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import iort  # noqa: E402

CACHE = os.environ.get("TSM_CACHE", os.path.expanduser("~/.cache/tsm-vfio"))
PREFIX = os.path.join(CACHE, "prefix")
OUT = os.path.join(CACHE, "out")

ARCH = {
    "arm64": {
        "qemu": "qemu-system-aarch64",
        "image": "arch/arm64/boot/Image",
        "machine": [
            "-M", "virt,iommu=smmuv3,virtualization=on,gic-version=3",
            "-global", "arm-smmuv3.stage=nested",
            "-cpu", "max",
            "-bios", "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
        ],
        "append": "console=ttyAMA0 acpi=force",
    },
    "x86_64": {
        "qemu": "qemu-system-x86_64",
        "image": "arch/x86/boot/bzImage",
        "machine": [
            "-M", "q35,kernel-irqchip=split",
            "-cpu", "max",
            # One TCG thread for both vCPUs: with a thread each (MTTCG), QEMU 10.0.2
            # aborted in iotlb_to_section() ("section_index < d->map.sections_nb") in
            # 2 of about 11 x86 test boots (2026-12-02), both in the platform selftests
            # while they open, bind and reset the VFIO device (memory mappings change
            # under a running vCPU). A test boot takes as long either way (218 s).
            "-accel", "tcg,thread=single",
            "-device", "intel-iommu,intremap=on,caching-mode=on",
        ],
        "append": "console=ttyS0 intel_iommu=on",
    },
}

# The test devices, in bus order, each a QEMU nvme behind its own PCIe root port with
# its own tsm-dsm: the test device, a second well-behaved one (tests that need another
# function), then one per device misbehaviour knob of tsm-dsm. The guest learns the
# roles from "tsm.devices=BDF=ROLE,..." on its command line (tools/testing/selftests/
# tsm/tsm_utils.h); every one is marked TEE-capable (pci_tsm_emulate_tee=).
TSM_DEVICES = [
    ("tsm0", []),
    ("tsm1", []),
    ("bad-signature", ["--bad-signature"]),
    ("wrong-transcript", ["--wrong-transcript"]),
    ("truncate-key-exchange", ["--truncate", "key_exchange"]),
    ("oversize-certificate", ["--oversize", "certificate"]),
    ("tdisp-error-lock", ["--tdisp-error", "lock"]),
    ("error-after-start", ["--error-after", "start"]),
]



def device_args(ports=None):
    """QEMU -device arguments of TSM_DEVICES; with @ports, each nvme's tsm-dsm port."""
    args = []
    for i, (role, _) in enumerate(TSM_DEVICES):
        nvme = f"nvme,serial={role},bus=rp{i}"
        if ports:
            nvme += f",spdm_port={ports[i]}"
        args += ["-device", f"pcie-root-port,id=rp{i},chassis={i + 1},slot=0,addr={0x10 + i:#x}",
                 "-device", nvme]
    return args


# Bumped whenever probe() learns something new, so cached facts are re-probed.
FACTS_VERSION = "4"

COMMON_APPEND = "panic=-1 oops=panic rdinit=/init loglevel=5"

# The QEMU trace events each tsm-dsm follows (tools/tsm/engine/src/qemu_trace.rs): every
# config write as it reaches the emulated device, the BAR mappings, and every MMIO and
# port-I/O access of every device (which each DSM attributes by address to its mapped
# BARs), each before the device handles it, so the DSM sees what the host did to its
# device (Documentation/driver-api/pci/tsm-emu.rst). QEMU flushes the -D log after
# every line. TSM_TRACE=0 leaves it off (only to measure its cost: the tests that
# assert what the device saw then fail).
TRACE_EVENTS = ["pci_cfg_write", "pci_update_mappings_add", "pci_update_mappings_del",
                "memory_region_ops_read", "memory_region_ops_write"]


def trace_file(arch):
    """The -D log of the current boot, or None when TSM_TRACE=0."""
    if os.environ.get("TSM_TRACE", "1") == "0":
        return None
    return os.path.join(OUT, arch, "qemu-trace.log")


class Abort(Exception):
    """A run that cannot go on; main() records it as "FAIL <arch>/check:boot <reason>"."""


# Console patterns that fail a run whatever the tests said, matched after the timestamp
# is stripped. A line counts once, as the first kind that matches, so the specific kinds
# come before the generic "bug" and "warn".
PROBLEMS = [
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("oops", re.compile(r"\bOops\b|Unable to handle kernel|general protection fault")),
    # The report headers of kernel/locking/lockdep.c; most of them start "WARNING: ", which
    # "warn" would catch anyway, but naming them keeps the kind right.
    ("lockdep", re.compile(r"possible circular locking|possible recursive locking|"
                           r"inconsistent lock state|-safe -> \S+-unsafe lock order|"
                           r"possible irq lock inversion|bad unlock balance|"
                           r"held lock freed|Nested lock was not taken|"
                           r"bad contention detected|chain_key collision|"
                           r"still has locks held|lock held when returning|"
                           r"suspicious RCU usage|DEBUG_LOCKS_WARN_ON|"
                           r"trying to register non-static key|Invalid wait context")),
    ("rust-panic", re.compile(r"rust_kernel: panicked|panicked at ")),
    ("kasan", re.compile(r"KASAN: |UBSAN: ")),
    # CONFIG_SOFTLOCKUP_DETECTOR, CONFIG_DETECT_HUNG_TASK (kernel/configs/
    # tsm-vfio-debug.config: 60 s), the hard-lockup detector where the arch has one.
    ("softlockup", re.compile(r"BUG: soft lockup")),
    ("hardlockup", re.compile(r"hard LOCKUP")),
    ("hung", re.compile(r"INFO: task .+:\d+ blocked for more than \d+ seconds|"
                        r"rcu: INFO: rcu_\w+ (self-)?detected stall")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at")),
    ("warn", re.compile(r"^\s*WARNING: |------------\[ cut here \]------------")),
]

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?")
ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")
RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ?(.*?)\s*$")
PLAN = re.compile(r"^(\s*)1\.\.(\d+)\s*(?:#.*)?$")
HEADER = re.compile(r"^(\s*)K?TAP version \d+\s*$")
SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")
MARK = re.compile(r"^### tsm-(\w[\w-]*):? ?(.*)$")


def qemu_bin(arch):
    return os.path.join(PREFIX, "qemu", "usr", "bin", ARCH[arch]["qemu"])


def qemu_env():
    env = dict(os.environ)
    # The unpacked QEMU must not load the system QEMU's modules (another version).
    empty = os.path.join(CACHE, "qemu-modules-empty")
    os.makedirs(empty, exist_ok=True)
    env["QEMU_MODULE_DIR"] = empty
    return env


def extra_cmdline():
    """Words from harness/guest/cmdline (comments dropped)."""
    with open(os.path.join(HERE, "guest", "cmdline")) as f:
        return " ".join(ln.split("#", 1)[0].strip() for ln in f if ln.split("#", 1)[0].strip())


def qemu_cmd(arch, initrd, append, ports, trace=None):
    """The QEMU command line; @ports: each TSM_DEVICES entry's tsm-dsm port; @trace: the
    file QEMU logs every config write and MMIO access to (TRACE_EVENTS), which the DSMs
    follow."""
    a = ARCH[arch]
    # One -trace per event: QEMU takes "-trace A,B" as event A with option B.
    traced = [*(w for e in TRACE_EVENTS for w in ("-trace", e)), "-D", trace] if trace else []
    build = "build-kasan" if os.environ.get("TSM_KASAN") == "1" else "build"
    kernel = os.path.join(OUT, arch, build, a["image"])
    return [qemu_bin(arch), "-L", os.path.join(PREFIX, "qemu", "usr", "share", "qemu"),
            *a["machine"], "-smp", "2", "-m", "2G",
            "-display", "none", "-audio", "none", "-nic", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot",
            *device_args(ports), *traced,
            "-kernel", kernel, "-initrd", initrd,
            "-append", f"{a['append']} {COMMON_APPEND} {extra_cmdline()} {append}"]


def device_cmdline(facts):
    """Kernel command-line words naming the test devices (from the probe) and roles."""
    bdfs = facts["devices"]
    roles = ",".join(f"{b}={r}" for b, (r, _) in zip(bdfs, TSM_DEVICES))
    return f"pci_tsm_emulate_tee={','.join(bdfs)} tsm.devices={roles}"


# The BDF is matched exactly: the console is shared with the kernel, whose deferred
# printk output may land right after it on the same line.
DSM_QUERY = re.compile(r"### tsm-dsm-query (\S+) ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])")


def boot(cmd, timeout, log_path, echo=None, answer=None):
    """Runs QEMU, returns (console lines, timed_out, QEMU's exit status or None if it
    was killed at the timeout). echo(line) sees lines live.

    A guest line "### tsm-dsm-query TAG BDF" is answered on the guest's console input
    with "tsm-dsm-reply TAG " + answer(BDF) (tools/testing/selftests/tsm/tsm_utils.h).
    """
    lines = []
    start = time.monotonic()
    with open(log_path, "w", errors="replace") as log:
        log.write("# " + " ".join(cmd) + "\n")
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=qemu_env())
        os.set_blocking(proc.stdout.fileno(), False)
        buf = b""
        timed_out = False
        while True:
            chunk = None
            try:
                chunk = proc.stdout.read()
            except BlockingIOError:
                pass
            if chunk:
                buf += chunk
                *done, buf = buf.split(b"\n")
                for raw in done:
                    # UEFI paints the screen with escape sequences and no newline.
                    line = ANSI.sub("", raw.decode("utf-8", "replace").rstrip("\r"))
                    lines.append(line)
                    log.write(line + "\n")
                    if echo:
                        echo(line)
                    q = DSM_QUERY.search(line)
                    if q and answer:
                        reply = f"tsm-dsm-reply {q.group(1)} {answer(q.group(2))}\n"
                        try:
                            proc.stdin.write(reply.encode())
                            proc.stdin.flush()
                        except OSError:
                            pass
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
            if time.monotonic() - start > timeout:
                timed_out = True
                proc.kill()
                proc.wait()
                break
        if buf:
            lines.append(ANSI.sub("", buf.decode("utf-8", "replace")))
            log.write(lines[-1] + "\n")
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.stdout.close()
    return lines, timed_out, None if timed_out else proc.returncode


def kernel_problems(lines):
    """[(kind, console line number, line)] of the PROBLEMS in @lines, each line once.

    The console shows a report once live and once in the phase's dmesg dump; both are
    the same line once the timestamp is stripped.
    """
    problems = []
    seen = set()
    for n, raw in enumerate(lines):
        line = TIMESTAMP.sub("", raw)
        for kind, pat in PROBLEMS:
            if pat.search(line):
                if line.strip() not in seen:
                    seen.add(line.strip())
                    problems.append((kind, n, line))
                break
    return problems


class Plans:
    """Compares every TAP/KTAP plan "1..N" with the results at its nesting level.

    A block is opened at an indentation by a "TAP/KTAP version" header, a "# Subtest:"
    line or a plan, and closed by a less indented result (its parent's), a new header at
    its indentation, or the end of the phase. A block with a plan must hold exactly N
    results; one without (KUnit parameterized tests, module suites' top level) has
    nothing to compare. close() returns the messages of the blocks that did not match.
    """

    def __init__(self):
        self.blocks = {}  # indent -> [plan or None, results, subtest name or None]
        self.bad = []

    def _close(self, indent):
        """Closes the blocks at @indent and deeper."""
        for d in sorted((d for d in self.blocks if d >= indent), reverse=True):
            plan, count, name = self.blocks.pop(d)
            if plan is not None and plan != count:
                of = f" of {name}" if name else ""
                self.bad.append(f"plan 1..{plan}{of}: {count} results")

    def line(self, line):
        m = HEADER.match(line)
        if m:
            self._close(len(m.group(1)))
            self.blocks[len(m.group(1))] = [None, 0, None]
            return
        m = SUBTEST.match(line)
        if m:
            d, b = len(m.group(1)), self.blocks.get(len(m.group(1)))
            if b and b[:3] == [None, 0, None]:
                b[2] = m.group(2)
            else:
                self._close(d)
                self.blocks[d] = [None, 0, m.group(2)]
            return
        m = PLAN.match(line)
        if m:
            d, b = len(m.group(1)), self.blocks.get(len(m.group(1)))
            self._close(d + 1)
            if b and b[0] is None and b[1] == 0:
                b[0] = int(m.group(2))
            else:
                self._close(d)
                self.blocks[d] = [int(m.group(2)), 0, None]
            return
        m = RESULT.match(line)
        if m:
            d = len(m.group(1))
            self._close(d + 1)
            self.blocks.setdefault(d, [None, 0, None])[1] += 1

    def close(self):
        self._close(0)
        bad, self.bad = self.bad, []
        return bad


def judge(lines, arch):
    """Turns a console into (results, problems, done).

    results: (verdict, suite, name) of every TAP/KTAP leaf result (a skip keeps its
    reason as "name # reason"), of the guest init's "### tsm-ok/fail" markers
    (<arch>/check:harness), and a FAIL in a phase for each plan that does not match its
    results, a phase with an exit status but no results, or a non-zero exit status;
    problems: kernel_problems(); done: the guest reported "### tsm-done".
    """
    results = []
    phase = f"{arch}/kunit-boot"
    prev_indent = {}
    exit_codes = {}
    counted = {}
    done = False
    plans = Plans()

    def end_blocks():
        for msg in plans.close():
            results.append(("FAIL", phase, msg))

    for raw in lines:
        line = TIMESTAMP.sub("", raw)
        m = MARK.match(line.strip())
        if m:
            what, arg = m.group(1), m.group(2)
            if what == "phase":
                end_blocks()
                phase = f"{arch}/{arg.replace(' ', ':')}"
                prev_indent = {}
            elif what == "ok":
                results.append(("PASS", f"{arch}/check:harness", arg))
            elif what == "fail":
                results.append(("FAIL", f"{arch}/check:harness", arg))
            elif what == "exit":
                end_blocks()
                name, _, code = arg.rpartition(" ")
                exit_codes[phase] = code
            elif what == "done":
                end_blocks()
                done = True
            continue
        plans.line(line)
        m = RESULT.match(line)
        if not m:
            continue
        indent, status, _num, desc = len(m.group(1)), m.group(2), m.group(3), m.group(4)
        # A result is a leaf unless deeper results came right before it (its children).
        deeper = prev_indent.get("last", -1) > indent
        prev_indent["last"] = indent
        if deeper:
            continue
        name, _, directive = desc.partition("#")
        name = name.strip()
        directive = directive.strip()
        skip = directive.upper().startswith("SKIP")
        verdict = "SKIP" if skip else ("PASS" if status == "ok" else "FAIL")
        if skip and directive[4:].strip():
            name = f"{name} # {directive[4:].strip()}"
        if phase.endswith("/kernel-log") and verdict != "FAIL":
            # KUnit suites of a module a test re-loaded ran already in kunit-modules;
            # count them once, but never hide a failure.
            continue
        results.append((verdict, phase, name))
        counted[phase] = counted.get(phase, 0) + 1
    end_blocks()
    for ph, code in exit_codes.items():
        if counted.get(ph, 0) == 0 and ph.endswith("/bench"):
            # The benchmark reports numbers, not test results: it only has to finish.
            results.append(("PASS" if code == "0" else "FAIL", ph, f"exit status {code}"))
        elif counted.get(ph, 0) == 0:
            results.append(("FAIL", ph, f"no test results (exit {code})"))
        elif code != "0" and not any(r[0] == "FAIL" and r[1] == ph for r in results):
            results.append(("FAIL", ph, f"exit status {code}"))
    return results, kernel_problems(lines), done


SELFTESTS_MAKEFILE = "tools/testing/selftests/tsm/Makefile"
KUNIT_DIRS = ("drivers", "samples", "rust/kernel")


def selftest_programs(root=REPO):
    """TEST_GEN_PROGS of the tsm selftests' Makefile: the binaries init must run.

    (TEST_GEN_PROGS_EXTENDED, the demo and the benchmark, are not tests.) Assignments
    (:=, =, +=) are followed in order; make conditionals are not evaluated.
    """
    with open(os.path.join(root, SELFTESTS_MAKEFILE)) as f:
        text = f.read().replace("\\\n", " ")
    progs = []
    for ln in text.splitlines():
        m = re.match(r"\s*TEST_GEN_PROGS\s*(:=|\+=|\?=|=)(.*)$", ln)
        if m:
            words = m.group(2).split("#", 1)[0].split()
            progs = progs + words if m.group(1) == "+=" else words
    if not progs:
        raise ValueError(f"no TEST_GEN_PROGS in {SELFTESTS_MAKEFILE}")
    return progs


def kernel_config(arch, root=REPO):
    """{CONFIG_X: value} of the fragments harness/build-kernel.sh merges for @arch.

    build-kernel.sh fails unless every "CONFIG_X=v" of them survives olddefconfig, so
    each is in the built .config; an option they do not name counts as off (tinyconfig).
    """
    frags = ["tsm-vfio.config", "tsm-vfio-debug.config", f"tsm-vfio-{arch}.config"]
    if os.environ.get("TSM_KASAN") == "1":
        frags.append("tsm-vfio-kasan.config")
    config = {}
    for frag in frags:
        with open(os.path.join(root, "kernel", "configs", frag)) as f:
            for ln in f:
                m = re.match(r"(CONFIG_\w+)=(\S+)", ln) or re.match(
                    r"# (CONFIG_\w+) is not set", ln)
                if m:
                    config[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    return config


def cfg_true(expr, config):
    """Evaluates a Rust cfg predicate against @config: CONFIG_X (y or m), CONFIG_X="v",
    all(), any(), not(); anything else (test, doc, ...) is false in a kernel build."""
    toks = re.findall(r'\w+\s*=\s*"[^"]*"|\w+|[(),]', expr)
    pos = 0

    def one():
        nonlocal pos
        tok = toks[pos]
        pos += 1
        if tok in ("all", "any", "not") and pos < len(toks) and toks[pos] == "(":
            pos += 1
            vals = []
            while toks[pos] != ")":
                vals.append(one())
                if toks[pos] == ",":
                    pos += 1
            pos += 1
            return all(vals) if tok == "all" else any(vals) if tok == "any" else not vals[0]
        key, _, val = tok.partition("=")
        key, val = key.strip(), val.strip().strip('"')
        if not key.startswith("CONFIG_"):
            return False
        return config.get(key) == val if val else config.get(key) in ("y", "m")

    return one()


def _attr_cfgs(src, i):
    """The cfg predicates of the attributes right above line @i of @src (comments and
    other attributes in between are skipped)."""
    cfgs = []
    for ln in reversed(src[:i]):
        s = ln.strip()
        if not s.startswith(("#[", "//")):
            break
        m = re.match(r"#\[cfg\((.*)\)\]$", s)
        if m:
            cfgs.append(m.group(1))
    return cfgs


def _rust_gates(path, depth=0):
    """(cfg predicates that gate Rust file @path, its crate root's path).

    The gates are the file's own #![cfg(...)] and, up the module tree, the #[cfg(...)]
    on each `mod NAME;` that includes it: the parent is a file of the same directory
    (a crate root or mod.rs) or DIR.rs beside the directory, as rustc resolves them.
    """
    with open(path) as f:
        src = f.read().splitlines()
    gates = [m.group(1) for ln in src for m in [re.match(r"\s*#!\[cfg\((.*)\)\]", ln)] if m]
    d, stem = os.path.split(path)
    stem = stem[:-3]
    parents = [os.path.join(d, n) for n in sorted(os.listdir(d))
               if n.endswith(".rs") and n != stem + ".rs"]
    parents.append(d + ".rs")
    decl = re.compile(rf"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+{re.escape(stem)}\s*;")
    for parent in parents if depth < 8 else []:
        if not os.path.isfile(parent):
            continue
        with open(parent) as f:
            psrc = f.read().splitlines()
        for i, ln in enumerate(psrc):
            if decl.match(ln):
                pgates, root = _rust_gates(parent, depth + 1)
                return gates + _attr_cfgs(psrc, i) + pgates, root
    return gates, path


def _make_gates(directory, obj):
    """The CONFIG symbols the kbuild Makefile of @directory builds @obj ("x.o") under:
    obj-$(CONFIG_X) += obj.o, or a composite object naming it (M-y/M-objs/
    M-$(CONFIG_Y)) that is itself built so. None if no Makefile names it."""
    path = os.path.join(directory, "Makefile")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    direct, parts = {}, {}
    for ln in text.splitlines():
        m = re.match(r"\s*(\w+)-(\$\((CONFIG_\w+)\)|y|objs)\s*[:+]?=(.*)$", ln)
        if not m:
            continue
        for word in m.group(4).split("#", 1)[0].split():
            if m.group(1) == "obj":
                direct[word] = [m.group(3)] if m.group(3) else []
            else:
                parts[word] = (f"{m.group(1)}.o", [m.group(3)] if m.group(3) else [])
    if obj in direct:
        return direct[obj]
    if obj in parts and parts[obj][0] != obj:
        outer = _make_gates(directory, parts[obj][0])
        return None if outer is None else parts[obj][1] + outer
    return None


def kunit_suites(arch, root=REPO):
    """The KUnit suites the test kernel of @arch must run, from the overlay's sources.

    A suite is `#[kunit_tests(NAME)]` (Rust) or `kunit_test_suite(s)(VAR)` with VAR's
    `.name = "NAME"` (C) in a file under KUNIT_DIRS. It is expected when the file is
    built for @arch: every cfg gate of it (the #[cfg] above the attribute, and up the
    module tree, _rust_gates()) holds, and the Makefile rule that builds its object
    (for Rust, the crate root's) is enabled in kernel_config(). A file whose directory
    has no Makefile (rust/kernel/: built into the kernel) or that its Makefile does not
    name counts as built, so a derivation gap expects too much, never too little.
    #if blocks in C files are not evaluated. Where the suite runs (at boot or at module
    load) is not derived: check_inventory() accepts either.
    """
    config = kernel_config(arch, root)
    on = lambda syms: all(config.get(s) in ("y", "m") for s in syms)  # noqa: E731
    suites = []
    for top in KUNIT_DIRS:
        for d, _, files in sorted(os.walk(os.path.join(root, top))):
            for n in sorted(files):
                path = os.path.join(d, n)
                if n.endswith(".rs"):
                    with open(path) as f:
                        src = f.read().splitlines()
                    found = [(i, m.group(1)) for i, ln in enumerate(src)
                             for m in [re.match(r"\s*#\[kunit_tests\((\w+)\)\]", ln)] if m]
                    if not found:
                        continue
                    gates, crate = _rust_gates(path)
                    make = _make_gates(os.path.dirname(crate),
                                       os.path.basename(crate)[:-3] + ".o")
                    if not on(make or []) or not all(cfg_true(g, config) for g in gates):
                        continue
                    suites += [name for i, name in found
                               if all(cfg_true(g, config) for g in _attr_cfgs(src, i))]
                elif n.endswith(".c"):
                    with open(path) as f:
                        text = f.read()
                    names = []
                    for m in re.finditer(r"\bkunit_test_suites?\s*\(([^)]*)\)", text):
                        for var in re.findall(r"&?\s*(\w+)", m.group(1)):
                            s = re.search(rf"\bstruct\s+kunit_suite\s+{var}\s*=\s*\{{"
                                          rf"[^}}]*?\.name\s*=\s*\"([^\"]+)\"", text)
                            if s:
                                names.append(s.group(1))
                    make = _make_gates(d, n[:-2] + ".o")
                    if names and on(make or []):
                        suites += names
    return suites


def expected(arch, mode, root=REPO):
    """What a run of @mode must show: {"phases": [...], "kunit": [...]}.

    test: one "selftest NAME" phase per selftest_programs() and every kunit_suites();
    demo/bench: only that phase (init runs nothing else that reports).
    """
    if mode != "test":
        return {"phases": [mode], "kunit": []}
    return {"phases": [f"selftest {p}" for p in selftest_programs(root)],
            "kunit": kunit_suites(arch, root)}


def check_inventory(lines, arch, expect):
    """Results for what must have run (@expect, from expected()).

    An expected phase that never started, or a KUnit suite whose "# Subtest: NAME" is in
    neither kunit-boot nor kunit-modules, is a FAIL <arch>/check:inventory; a phase that
    started but never reported its exit status is a FAIL in that phase.
    """
    phases, exits, suites = set(), set(), set()
    phase = "kunit-boot"
    for raw in lines:
        line = TIMESTAMP.sub("", raw)
        m = MARK.match(line.strip())
        if m:
            if m.group(1) == "phase":
                phase = m.group(2)
                phases.add(phase)
            elif m.group(1) == "exit":
                exits.add(phase)
            continue
        m = SUBTEST.match(line)
        if m and phase in ("kunit-boot", "kunit-modules"):
            suites.add(m.group(2))
    results = []
    inv = f"{arch}/check:inventory"
    for ph in expect["phases"]:
        if ph not in phases:
            results.append(("FAIL", inv, f"{ph} never ran"))
        elif ph not in exits:
            results.append(("FAIL", f"{arch}/{ph.replace(' ', ':')}",
                             "never reported its exit status"))
    for s in expect["kunit"]:
        if s not in suites:
            results.append(("FAIL", inv, f"KUnit suite {s} never ran"))
    if not any(r[1] == inv for r in results):
        results.append(("PASS", inv, f"{len(expect['phases'])} phases and "
                                     f"{len(expect['kunit'])} KUnit suites ran"))
    return results


def show_problems(lines, problems, n=3):
    """Prints the console around the first @n kernel problems."""
    for kind, at, _ in problems[:n]:
        print(f"----- {kind} at console line {at} -----", file=sys.stderr)
        for ln in lines[max(0, at - 5):at + 25]:
            print(ln, file=sys.stderr)


def probe(arch, args, results):
    """Facts about the QEMU we run, from one boot per QEMU version and topology (cached).

    Returns {"bars": [(bdf, index, start, end, flags)], "iort": path or None, ...}. On
    arm64 the firmware's IORT is read and the CANWBS-patched copy written (see iort.py).
    The probe boot's console is judged like a test boot's: its kernel problems, "###
    tsm-fail" markers and a non-zero QEMU exit are FAIL <arch>/check:probe in @results,
    its DSMs' health goes there too (Dsms), and facts from such a boot are not cached, so
    the next run probes again. Raises Abort when the facts cannot be had.
    """
    out = os.path.join(OUT, arch)
    facts_path = os.path.join(out, "facts.json")
    exe = qemu_bin(arch)
    if not os.path.exists(exe):
        raise Abort(f"no {exe}: run harness/setup.sh")
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, env=qemu_env())
    if r.returncode or not r.stdout.strip():
        raise Abort(f"{exe} --version failed (status {r.returncode}): "
                    f"{(r.stderr.strip().splitlines() or [''])[-1]}")
    ver = r.stdout.splitlines()[0]
    key = hashlib.sha256((FACTS_VERSION + ver + repr(ARCH[arch]["machine"]) +
                          repr(device_args())).encode()).hexdigest()
    if os.path.exists(facts_path):
        with open(facts_path) as f:
            facts = json.load(f)
        if facts.get("key") == key:
            return facts
    print(f"[tsm] {arch}: probing {ver}", file=sys.stderr)
    dsms = Dsms(arch, [[] for _ in TSM_DEVICES], results, " (probe boot)")
    with dsms as ports:
        cmd = qemu_cmd(arch, os.path.join(out, "main.cpio.gz"), "tsm.mode=probe", ports)
        lines, timed_out, status = boot(cmd, args.timeout, os.path.join(out, "probe.log"))
    text = [TIMESTAMP.sub("", ln).strip() for ln in lines]
    bad = []
    for kind, _, line in kernel_problems(lines):
        bad.append(f"{kind}: {line.strip()[:120]}")
    bad += [ln.split(":", 1)[1].strip() for ln in text if ln.startswith("### tsm-fail")]
    if status:
        bad.append(f"QEMU exited with status {status}")
    for why in bad:
        results.append(("FAIL", f"{arch}/check:probe", why))
    show_problems(lines, kernel_problems(lines))
    if "### tsm-done" not in text:
        tail(lines)
        raise Abort("the probe boot " + (f"timed out after {args.timeout}s" if timed_out
                                          else "ended before reporting done"))
    if not bad:
        results.append(("PASS", f"{arch}/check:probe", "probe boot clean"))
    facts = {"key": key, "qemu": ver, "iort": None, "bars": []}
    for ln in text:
        m = re.match(r"### tsm-fact: bar (\S+) (\d+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)",
                     ln)
        if m:
            facts["bars"].append([m.group(1), int(m.group(2)), int(m.group(3), 16),
                                  int(m.group(4), 16), int(m.group(5), 16)])
    if arch == "arm64":
        try:
            begin = text.index("### tsm-iort-begin")
            end = text.index("### tsm-iort-end")
        except ValueError:
            tail(lines)
            raise Abort("the probe boot did not print the IORT") from None
        table = base64.b64decode("".join(text[begin + 1:end]))
        with open(os.path.join(out, "iort.orig"), "wb") as f:
            f.write(table)
        try:
            new = iort.patch(table)
        except iort.IortError as e:
            raise Abort(f"cannot patch QEMU's IORT: {e}") from None
        facts["iort"] = os.path.join(out, "iort.aml")
        with open(facts["iort"], "wb") as f:
            f.write(new)
        print(f"[tsm] {arch}: IORT root complex flags {iort.root_complex_flags(table)} -> "
              f"{iort.root_complex_flags(new)}", file=sys.stderr)
    facts["devices"] = sorted({b[0] for b in facts["bars"]})
    if len(facts["devices"]) != len(TSM_DEVICES):
        tail(lines)
        raise Abort(f"the probe boot found {len(facts['devices'])} test devices, "
                    f"not {len(TSM_DEVICES)}")
    try:
        begin = next(i for i, ln in enumerate(text) if ln.startswith("### tsm-config-begin"))
        end = text.index("### tsm-config-end", begin)
    except (StopIteration, ValueError):
        tail(lines)
        raise Abort("the probe boot did not print the test device's config space") from None
    config = base64.b64decode("".join(text[begin + 1:end]))
    facts["msix"] = msix_layout(config)
    facts["caps"] = config_caps(config)
    if bad or dsms.failed:
        print(f"[tsm] {arch}: the probe boot had problems; its facts are not cached",
              file=sys.stderr)
    else:
        with open(facts_path, "w") as f:
            json.dump(facts, f, indent=1)
    return facts


PCI_CAP_ID_MSIX = 0x11


def msix_layout(cfg):
    """(table BIR, table offset, entries, PBA BIR, PBA offset) from config space, or None.

    Walks the standard capability list (PCI Local Bus 3.0 §6.7; MSI-X §6.8.2: Message
    Control at +2, Table Offset/BIR at +4, PBA Offset/BIR at +8).
    """
    if len(cfg) < 0x40 or not cfg[6] & 0x10:  # Status: Capabilities List
        return None
    ptr, hops = cfg[0x34] & 0xFC, 0
    while ptr and ptr + 12 <= len(cfg) and hops < 48:
        if cfg[ptr] == PCI_CAP_ID_MSIX:
            ctrl = int.from_bytes(cfg[ptr + 2:ptr + 4], "little")
            table = int.from_bytes(cfg[ptr + 4:ptr + 8], "little")
            pba = int.from_bytes(cfg[ptr + 8:ptr + 12], "little")
            return [table & 7, table & ~7, (ctrl & 0x7FF) + 1, pba & 7, pba & ~7]
        ptr, hops = cfg[ptr + 1] & 0xFC, hops + 1
    return None


PCI_CAP_ID_PM = 0x01
PCI_CAP_ID_EXP = 0x10
PCI_EXT_CAP_ID_DOE = 0x2E


def config_caps(cfg):
    """{"pcie": offset, "pm": offset, "doe": offset} of the capabilities tsm-dsm watches,
    each present only if found: the standard list (PCI Local Bus 3.0 §6.7) and the
    extended list from 100h (PCIe Base §7.6: ID in bits 15:0, next in bits 31:20)."""
    caps = {}
    if len(cfg) >= 0x40 and cfg[6] & 0x10:
        ptr, hops = cfg[0x34] & 0xFC, 0
        while ptr and ptr + 2 <= len(cfg) and hops < 48:
            name = {PCI_CAP_ID_PM: "pm", PCI_CAP_ID_EXP: "pcie"}.get(cfg[ptr])
            if name and name not in caps:
                caps[name] = ptr
            ptr, hops = cfg[ptr + 1] & 0xFC, hops + 1
    ptr, hops = 0x100, 0
    while ptr and ptr + 4 <= len(cfg) and hops < 960:
        hdr = int.from_bytes(cfg[ptr:ptr + 4], "little")
        if hdr in (0, 0xFFFFFFFF):
            break
        if hdr & 0xFFFF == PCI_EXT_CAP_ID_DOE and "doe" not in caps:
            caps["doe"] = ptr
        ptr, hops = (hdr >> 20) & 0xFFC, hops + 1
    return caps


IORESOURCE_MEM = 0x200
IORESOURCE_PREFETCH = 0x2000
IORESOURCE_MEM_64 = 0x100000


def dsm_args(facts, trace=None):
    """tsm-dsm arguments describing each test device as the guest sees it; with @trace,
    the QEMU trace log each follows and the capability offsets it needs to read it."""
    follow = []
    if trace:
        follow = ["--trace", trace]
        for cap, off in sorted(facts.get("caps", {}).items()):
            follow += [f"--{cap}-cap", f"{off:#x}"]
    msix = facts.get("msix")
    if msix:
        tbir, toff, n, pbir, poff = msix
        msix_arg = ["--msix", f"{tbir}:{toff:#x}:{n}:{pbir}:{poff:#x}"]
    else:
        msix_arg = ["--msix", "none"]
    per_dev = []
    for dev in facts["devices"]:
        args = ["--bdf", dev]
        for bdf, idx, start, end, flags in facts["bars"]:
            if bdf != dev or not flags & IORESOURCE_MEM or not start:
                continue
            bar = f"{idx}:{start:#x}:{end - start + 1:#x}"
            if flags & IORESOURCE_MEM_64:
                bar += ":64"
            if flags & IORESOURCE_PREFETCH:
                bar += ":pref"
            args += ["--bar", bar]
        per_dev.append(args + msix_arg + follow)
    return per_dev


def dsm_files(arch, i):
    """(log, state file) of the tsm-dsm of TSM_DEVICES[i]: dsm.log/dsm.state for the
    test device, dsm-<role>.* for the others."""
    out = os.path.join(OUT, arch)
    stem = "dsm" if i == 0 else f"dsm-{TSM_DEVICES[i][0]}"
    return os.path.join(out, f"{stem}.log"), os.path.join(out, f"{stem}.state")


class Dsms:
    """One tsm-dsm (the emulated device security manager) per test device, each on a
    free loopback port; entering returns the ports, in TSM_DEVICES order.

    QEMU's nvme connects to its DSM through spdm_port when QEMU starts (and refuses to
    start without it). Logs and TDISP state files are kept beside the console log.
    @args: the tsm-dsm arguments describing each device (dsm_args()); the device's
    misbehaviour knob is added here.

    Leaving checks each DSM's health into @results (a list, or None): tsm-dsm serves
    connections until it is killed (tools/tsm/dsm/src/main.rs has no signal handler), so
    one that exited before the harness sent SIGTERM, did not then die of it, or logged a
    Rust panic ("panicked at") is a FAIL <arch>/check:dsm <role>@when; a DSM that died
    while serving would otherwise look, in the guest, like the EIO or timeout a fault
    device is expected to cause. @exe: the tsm-dsm to run (tests pass a fake).
    """

    TERM_TIMEOUT = 5

    def __init__(self, arch, args, results=None, when="", exe=None):
        self.arch = arch
        self.args = args
        self.results = results
        self.when = when
        self.exe = exe or os.path.join(CACHE, "tools-target", "release", "tsm-dsm")
        self.procs = []
        self.logs = []
        self.failed = False

    def __enter__(self):
        if not os.path.exists(self.exe):
            raise Abort(f"no {self.exe}: run harness/build-tools.sh")
        ports = []
        for i, (role, knobs) in enumerate(TSM_DEVICES):
            log_path, state = dsm_files(self.arch, i)
            log = open(log_path, "w")
            self.logs.append(log)
            cmd = [self.exe, "--port", "0", "--identity", os.path.join(CACHE, "dsm-identity"),
                   "--state-file", state, *self.args[i], *knobs]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=log, text=True,
                                    env={**os.environ, "RUST_LOG": "info"})
            self.procs.append(proc)
            line = proc.stdout.readline()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if not m:
                try:
                    proc.wait(timeout=1)  # its exit status, if it is dying anyway
                except subprocess.TimeoutExpired:
                    pass
                self.__exit__(None, None, None)
                raise Abort(f"tsm-dsm ({role}) did not start: {line.strip()!r} "
                            f"(log: {log_path})")
            ports.append(int(m.group(1)))
        return ports

    def __exit__(self, *exc):
        early = [proc.poll() for proc in self.procs]
        for proc, rc in zip(self.procs, early):
            if rc is None:
                proc.terminate()
        hung = []
        for proc in self.procs:
            try:
                proc.wait(timeout=self.TERM_TIMEOUT)
                hung.append(False)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                hung.append(True)
            proc.stdout.close()
        for log in self.logs:
            log.close()
        verdicts = self.health(early, hung)
        self.failed = any(v[0] == "FAIL" for v in verdicts)
        if self.results is not None:
            self.results += verdicts
        return False

    def health(self, early, hung):
        """The check:dsm results: @early[i] is tsm-dsm i's exit status if it had exited
        before SIGTERM (else None), @hung[i] whether it outlived SIGTERM by TERM_TIMEOUT."""
        suite = f"{self.arch}/check:dsm"
        out = []
        for i, proc in enumerate(self.procs):
            role = TSM_DEVICES[i][0]
            log_path = dsm_files(self.arch, i)[0]
            why = []
            if early[i] is not None:
                why.append(f"exited ({exit_text(early[i])}) before the harness stopped it")
            elif hung[i]:
                why.append(f"still running {self.TERM_TIMEOUT}s after SIGTERM (killed)")
            elif proc.returncode != -signal.SIGTERM:
                why.append(f"exited ({exit_text(proc.returncode)}) on SIGTERM, "
                           "not killed by it")
            try:
                with open(log_path, errors="replace") as f:
                    panic = next((ln.strip() for ln in f if "panicked at" in ln), None)
            except OSError:
                panic = None
            if panic:
                why.append(f"panicked: {panic[:120]}")
            out += [("FAIL", suite, f"{role}{self.when}: {w} (log: {log_path})") for w in why]
        if not out:
            out.append(("PASS", suite, f"{len(self.procs)} tsm-dsm{self.when} ran until "
                                       "stopped, no panic"))
        return out


def exit_text(rc):
    """A Popen returncode in words: "status N" or "signal NAME"."""
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"status {rc}"


def dsm_reply(arch, facts, bdf, trace=None, wait=3.0):
    """What tsm-dsm last wrote for @bdf, on one line: "spdm=... ide.stream0=...
    host.cfg_writes=... tdi=...".

    With @trace (the boot's QEMU trace log), the reply waits, up to @wait seconds, until
    the DSM has consumed the log as far as it reached when the query came ("trace.offset"
    in the state file): every config write and MMIO access the guest made before it asked
    has then been applied. The DSM rewrites its state file for a trace that merely grew
    only when asked: the wanted offset goes to the query file beside the state file
    (tools/tsm/engine/src/dsm/server.rs). A DSM that does not catch up is answered with "error=trace-behind" added, one
    that follows no trace with "error=untraced" (its host.* counters mean nothing).
    """
    try:
        i = facts["devices"].index(bdf)
    except ValueError:
        return "error=no-such-device"
    want = 0
    if trace:
        try:
            want = os.path.getsize(trace)
        except OSError:
            want = 0
        state = dsm_files(arch, i)[1]
        query = os.path.splitext(state)[0] + ".query"
        try:
            with open(query + ".tmp", "w") as f:
                f.write(f"{want}\n")
            os.replace(query + ".tmp", query)
        except OSError:
            pass
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(dsm_files(arch, i)[1]) as f:
                kv = dict(ln.strip().split("=", 1) for ln in f if "=" in ln)
        except OSError:
            return "error=no-state-file"
        try:
            behind = int(kv.get("trace.offset", "0")) < want
        except ValueError:
            behind = True
        if not behind or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    words = [f"{k}={v}" for k, v in kv.items() if not k.startswith(("tdi.", "trace."))]
    words.append(f"tdi={kv.get('tdi.' + bdf, 'none')}")
    if behind:
        words.append("error=trace-behind")
    elif "trace.offset" not in kv:
        # Its host.* counters stay 0 whatever reaches the device: "saw nothing" must fail.
        words.append("error=untraced")
    return " ".join(words)


def initrd_for(arch, facts):
    """main.cpio.gz, preceded on arm64 by an uncompressed cpio with the patched IORT."""
    out = os.path.join(OUT, arch)
    main = os.path.join(out, "main.cpio.gz")
    if not facts["iort"]:
        return main
    aml = facts["iort"]
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "kernel/firmware/acpi"))
        with open(aml, "rb") as src, open(os.path.join(d, "kernel/firmware/acpi/iort.aml"),
                                          "wb") as dst:
            dst.write(src.read())
        acpi = subprocess.run("find kernel | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet",
                              shell=True, cwd=d, capture_output=True, check=True).stdout
    initrd = os.path.join(out, "initrd.img")
    with open(initrd, "wb") as f, open(main, "rb") as m:
        f.write(acpi)
        f.write(m.read())
    return initrd


def tail(lines, n=60):
    print("----- console tail -----", file=sys.stderr)
    for ln in lines[-n:]:
        print(ln, file=sys.stderr)
    print("------------------------", file=sys.stderr)


def cmd_run(args, results):
    """Probes (if needed), boots @args.mode and judges it, appending to @results.
    Returns a note for the per-arch line (wall time and console log)."""
    arch = args.arch
    try:
        expect = expected(arch, args.mode)
    except Exception as e:  # a derivation bug must not cost the boot: it fails, though
        expect = None
        results.append(("FAIL", f"{arch}/check:inventory", f"cannot derive what must run: {e}"))
    facts = probe(arch, args, results)
    initrd = initrd_for(arch, facts)
    log_path = args.log or os.path.join(OUT, arch, f"{args.mode}.log")
    showing = {"on": False}

    def echo(line):
        # demo/bench: the harness's verdicts and that phase's output, without the DSM
        # queries (the program prints the answers itself); --verbose: everything.
        clean = TIMESTAMP.sub("", line)
        if clean.startswith("### tsm-phase"):
            showing["on"] = clean.startswith(("### tsm-phase: demo", "### tsm-phase: bench"))
            return
        verdict = clean.startswith(("### tsm-ok", "### tsm-fail"))
        query = clean.startswith(("### tsm-dsm-query", "tsm-dsm-reply"))
        if args.verbose or (args.mode != "test" and (verdict or showing["on"] and not query)):
            print(clean, flush=True)

    trace = trace_file(arch)
    if trace:
        open(trace, "w").close()  # empty before the DSMs follow it; QEMU truncates it too
    start = time.monotonic()
    with Dsms(arch, dsm_args(facts, trace), results) as ports:
        lines, timed_out, status = boot(
            qemu_cmd(arch, initrd, f"{device_cmdline(facts)} tsm.mode={args.mode}"
                     f"{' tsm.backend=cca' if getattr(args, 'backend', 'emu') == 'cca' else ''}"
                     f"{' tsm.only=' + args.only if getattr(args, 'only', None) else ''}",
                     ports,
                     trace),
            args.timeout, log_path, echo, lambda bdf: dsm_reply(arch, facts, bdf, trace))
    wall = time.monotonic() - start
    judged, problems, done = judge(lines, arch)
    results += judged
    if expect:
        results += check_inventory(lines, arch, expect)
    if timed_out:
        results.append(("FAIL", f"{arch}/check:harness",
                        f"guest hung: no exit within {args.timeout}s"))
    elif not done:
        results.append(("FAIL", f"{arch}/check:harness", "guest ended before reporting done"))
    if status:
        results.append(("FAIL", f"{arch}/check:boot", f"QEMU exited with status {status}"))
    for kind, n, line in problems:
        results.append(("FAIL", f"{arch}/check:kernel", f"{kind}: {line.strip()[:120]}"))
    show_problems(lines, problems)
    if any(r[0] == "FAIL" for r in results) or timed_out or not done:
        tail(lines)
    return f", {wall:.1f}s (console: {log_path})"


def cmd_probe(args, results):
    print(json.dumps(probe(args.arch, args, results), indent=1))
    return ""


def is_check(suite):
    """A check of the run, not a test case: some '/'-component starts with "check:"."""
    return any(part.startswith("check:") for part in suite.split("/"))


def counts(results):
    """The per-arch line's words, counted as harness/summary.py does: passed and skipped
    test cases; failed test cases plus failed checks; then the checks alone."""
    tests = [v for v, s, _ in results if not is_check(s)]
    checks = [v for v, s, _ in results if is_check(s)]
    return (f"{tests.count('PASS')} passed, {tests.count('FAIL') + checks.count('FAIL')} "
            f"failed, {tests.count('SKIP')} skipped (checks: {checks.count('PASS')} passed, "
            f"{checks.count('FAIL')} failed)")


def main(argv=None):
    """Runs the command; whatever happens, every result (and, if the run could not
    finish, a FAIL <arch>/check:boot naming why) is appended to --results, and the exit
    status is non-zero if anything failed."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot and run the tests or the demo")
    r.add_argument("--arch", choices=ARCH, required=True)
    r.add_argument("--mode", choices=("test", "demo", "bench"), default="test")
    r.add_argument("--timeout", type=int, default=600)
    r.add_argument("--results", help="append results to this file")
    r.add_argument("--log", help="console log path")
    r.add_argument("-v", "--verbose", action="store_true", help="echo the whole console")
    r.add_argument("--backend", choices=("emu", "cca"), default="emu",
                   help="the demo's platform TSM: the emulated one, or the Arm CCA host "
                        "backend against the RMM model (arm64)")
    r.add_argument("--only", metavar="NAME[,ARG...]",
                   help="run only selftest NAME, with these kselftest harness arguments "
                        "(e.g. tsm_cca,-f,cca_knob): for iterating on one test; the "
                        "verdict fails every selftest that did not run")
    p = sub.add_parser("probe", help="learn the platform facts (and patch the IORT)")
    p.add_argument("--arch", choices=ARCH, default="arm64")
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--results", help="append results to this file")
    args = ap.parse_args(argv)
    mode = getattr(args, "mode", "probe")
    results = []
    note = ""
    try:
        note = cmd_run(args, results) if args.cmd == "run" else cmd_probe(args, results)
    except Abort as e:
        print(f"[tsm] {args.arch} {mode}: {e}", file=sys.stderr)
        results.append(("FAIL", f"{args.arch}/check:boot", str(e)))
    except (Exception, KeyboardInterrupt) as e:
        traceback.print_exc()
        results.append(("FAIL", f"{args.arch}/check:boot",
                        f"qemu.py failed: {type(e).__name__}: {e}"))
    # One result a line, whatever an exception message held.
    results = [(v, s, " ".join(str(n).split()) or "-") for v, s, n in results]
    if args.results:
        with open(args.results, "a") as f:
            for r in results:
                f.write(" ".join(r) + "\n")
    for r in results:
        if mode == "test" or r[0] == "FAIL":
            print(f"{r[0]:4} {r[1]} {r[2]}")
    print(f"[tsm] {args.arch} {mode}: {counts(results)}{note}", file=sys.stderr)
    return 1 if any(r[0] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
