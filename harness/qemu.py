#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the tsm-vfio test kernel in QEMU and judge the run.

  qemu.py run --arch arm64 --mode test  [--timeout S] [--results FILE] [--log FILE]
  qemu.py run --arch arm64 --mode demo
  qemu.py run --arch arm64 --mode bench  (the vfio-pci vs vfio-pci-tsm benchmark)
  qemu.py probe --arch arm64            (platform facts; on arm64 the patched IORT)

Every boot has one tsm-dsm (the emulated device security manager) per test device
(TSM_DEVICES), each listening on a loopback port that its nvme reaches through
spdm_port; the guest asks for a DSM's TDISP state over the console (boot()).

The judge is strict: a kernel panic, oops, BUG, WARN, lockdep or KASAN report, a hang
(timeout), a phase that never reported, or any "not ok" fails the run, and the console
tail is printed. Results are written one per line as "PASS|FAIL|SKIP <suite> <name>"
for harness/summary.py.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
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
FACTS_VERSION = "3"

COMMON_APPEND = "panic=-1 oops=panic rdinit=/init loglevel=5"

# Console patterns that fail a run whatever the tests said.
PROBLEMS = [
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("oops", re.compile(r"\bOops\b|Unable to handle kernel|general protection fault")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at")),
    ("warn", re.compile(r"WARNING: CPU: \d+ PID: |------------\[ cut here \]------------")),
    ("lockdep", re.compile(r"possible circular locking|possible recursive locking|"
                           r"inconsistent lock state|DEBUG_LOCKS_WARN_ON|"
                           r"suspicious RCU usage|lock held when returning")),
    ("kasan", re.compile(r"KASAN: |UBSAN: ")),
    ("hung", re.compile(r"INFO: task .* blocked for more than|rcu: INFO: rcu_\w+ "
                        r"(self-)?detected stall")),
    ("rust-panic", re.compile(r"rust_kernel: panicked|panicked at ")),
]

TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")
RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ?(.*?)\s*$")
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


def qemu_cmd(arch, initrd, append, ports):
    """The QEMU command line; @ports: each TSM_DEVICES entry's tsm-dsm port."""
    a = ARCH[arch]
    build = "build-kasan" if os.environ.get("TSM_KASAN") == "1" else "build"
    kernel = os.path.join(OUT, arch, build, a["image"])
    return [qemu_bin(arch), "-L", os.path.join(PREFIX, "qemu", "usr", "share", "qemu"),
            *a["machine"], "-smp", "2", "-m", "2G",
            "-display", "none", "-audio", "none", "-nic", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot",
            *device_args(ports),
            "-kernel", kernel, "-initrd", initrd,
            "-append", f"{a['append']} {COMMON_APPEND} {extra_cmdline()} {append}"]


def device_cmdline(facts):
    """Kernel command-line words naming the test devices (from the probe) and roles."""
    bdfs = facts["devices"]
    roles = ",".join(f"{b}={r}" for b, (r, _) in zip(bdfs, TSM_DEVICES))
    return f"pci_tsm_emulate_tee={','.join(bdfs)} tsm.devices={roles}"


DSM_QUERY = re.compile(r"### tsm-dsm-query (\S+) (\S+)")


def boot(cmd, timeout, log_path, echo=None, answer=None):
    """Runs QEMU, returns (console lines, timed_out). echo(line) sees lines live.

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
    return lines, timed_out


def judge(lines, arch):
    """Turns a console into (results, problems, done)."""
    results = []
    problems = []
    phase = f"{arch}/kunit-boot"
    prev_indent = {}
    exit_codes = {}
    counted = {}
    done = False
    seen = set()
    for n, raw in enumerate(lines):
        line = TIMESTAMP.sub("", raw)
        for kind, pat in PROBLEMS:
            # The console shows a report once live and once in the phase's dmesg dump.
            if pat.search(line) and (kind, line.strip()) not in seen:
                seen.add((kind, line.strip()))
                problems.append((kind, n, line))
        m = MARK.match(line.strip())
        if m:
            what, arg = m.group(1), m.group(2)
            if what == "phase":
                phase = f"{arch}/{arg.replace(' ', ':')}"
                prev_indent = {}
            elif what == "ok":
                results.append(("PASS", f"{arch}/harness", arg))
            elif what == "fail":
                results.append(("FAIL", f"{arch}/harness", arg))
            elif what == "exit":
                name, _, code = arg.rpartition(" ")
                exit_codes[phase] = code
            elif what == "done":
                done = True
            continue
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
        skip = directive.strip().upper().startswith("SKIP")
        verdict = "SKIP" if skip else ("PASS" if status == "ok" else "FAIL")
        if phase.endswith("/kernel-log") and verdict != "FAIL":
            # KUnit suites of a module a test re-loaded ran already in kunit-modules;
            # count them once, but never hide a failure.
            continue
        results.append((verdict, phase, name))
        counted[phase] = counted.get(phase, 0) + 1
    for ph, code in exit_codes.items():
        if counted.get(ph, 0) == 0 and ph.endswith("/bench"):
            # The benchmark reports numbers, not test results: it only has to finish.
            results.append(("PASS" if code == "0" else "FAIL", ph, f"exit status {code}"))
        elif counted.get(ph, 0) == 0:
            results.append(("FAIL", ph, f"no test results (exit {code})"))
        elif code != "0" and not any(r[0] == "FAIL" and r[1] == ph for r in results):
            results.append(("FAIL", ph, f"exit status {code}"))
    return results, problems, done


def probe(arch, args):
    """Facts about the QEMU we run, from one boot per QEMU version and topology (cached).

    Returns {"bars": [(bdf, index, start, end, flags)], "iort": path or None}. On arm64
    the firmware's IORT is read and the CANWBS-patched copy written (see iort.py).
    """
    out = os.path.join(OUT, arch)
    facts_path = os.path.join(out, "facts.json")
    ver = subprocess.run([qemu_bin(arch), "--version"], capture_output=True, text=True,
                         env=qemu_env()).stdout.splitlines()[0]
    key = hashlib.sha256((FACTS_VERSION + ver + repr(ARCH[arch]["machine"]) +
                          repr(device_args())).encode()).hexdigest()
    if os.path.exists(facts_path):
        with open(facts_path) as f:
            facts = json.load(f)
        if facts.get("key") == key:
            return facts
    print(f"[tsm] {arch}: probing {ver}", file=sys.stderr)
    with Dsms(arch, [[] for _ in TSM_DEVICES]) as ports:
        cmd = qemu_cmd(arch, os.path.join(out, "main.cpio.gz"), "tsm.mode=probe", ports)
        lines, timed_out = boot(cmd, args.timeout, os.path.join(out, "probe.log"))
    text = [TIMESTAMP.sub("", ln).strip() for ln in lines]
    if "### tsm-done" not in text:
        tail(lines)
        sys.exit(f"[tsm] {arch}: the probe boot failed{' (timeout)' if timed_out else ''}")
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
            sys.exit(f"[tsm] {arch}: the probe boot did not print the IORT")
        table = base64.b64decode("".join(text[begin + 1:end]))
        with open(os.path.join(out, "iort.orig"), "wb") as f:
            f.write(table)
        try:
            new = iort.patch(table)
        except iort.IortError as e:
            sys.exit(f"[tsm] {arch}: cannot patch QEMU's IORT: {e}")
        facts["iort"] = os.path.join(out, "iort.aml")
        with open(facts["iort"], "wb") as f:
            f.write(new)
        print(f"[tsm] {arch}: IORT root complex flags {iort.root_complex_flags(table)} -> "
              f"{iort.root_complex_flags(new)}", file=sys.stderr)
    facts["devices"] = sorted({b[0] for b in facts["bars"]})
    if len(facts["devices"]) != len(TSM_DEVICES):
        sys.exit(f"[tsm] {arch}: the probe boot found {len(facts['devices'])} test devices, "
                 f"not {len(TSM_DEVICES)}")
    try:
        begin = next(i for i, ln in enumerate(text) if ln.startswith("### tsm-config-begin"))
        end = text.index("### tsm-config-end", begin)
    except (StopIteration, ValueError):
        tail(lines)
        sys.exit(f"[tsm] {arch}: the probe boot did not print the test device's config space")
    facts["msix"] = msix_layout(base64.b64decode("".join(text[begin + 1:end])))
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


IORESOURCE_MEM = 0x200
IORESOURCE_PREFETCH = 0x2000
IORESOURCE_MEM_64 = 0x100000


def dsm_args(facts):
    """tsm-dsm arguments describing each test device as the guest sees it."""
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
        per_dev.append(args + msix_arg)
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
    """

    def __init__(self, arch, args):
        self.arch = arch
        self.args = args
        self.procs = []
        self.logs = []

    def __enter__(self):
        exe = os.path.join(CACHE, "tools-target", "release", "tsm-dsm")
        if not os.path.exists(exe):
            sys.exit(f"[tsm] no {exe}: run harness/build-tools.sh")
        ports = []
        for i, (role, knobs) in enumerate(TSM_DEVICES):
            log_path, state = dsm_files(self.arch, i)
            log = open(log_path, "w")
            self.logs.append(log)
            cmd = [exe, "--port", "0", "--identity", os.path.join(CACHE, "dsm-identity"),
                   "--state-file", state, *self.args[i], *knobs]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=log, text=True,
                                    env={**os.environ, "RUST_LOG": "info"})
            self.procs.append(proc)
            line = proc.stdout.readline()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if not m:
                self.__exit__(None, None, None)
                sys.exit(f"[tsm] tsm-dsm ({role}) did not start: {line!r} (log: {log_path})")
            ports.append(int(m.group(1)))
        return ports

    def __exit__(self, *exc):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        return False


def dsm_reply(arch, facts, bdf):
    """What tsm-dsm last wrote for @bdf, on one line: "spdm=... ide.stream0=... tdi=..."."""
    try:
        i = facts["devices"].index(bdf)
    except ValueError:
        return "error=no-such-device"
    try:
        with open(dsm_files(arch, i)[1]) as f:
            kv = dict(ln.strip().split("=", 1) for ln in f if "=" in ln)
    except OSError:
        return "error=no-state-file"
    words = [f"{k}={v}" for k, v in kv.items() if not k.startswith("tdi.")]
    words.append(f"tdi={kv.get('tdi.' + bdf, 'none')}")
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


def cmd_run(args):
    arch = args.arch
    facts = probe(arch, args)
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

    start = time.monotonic()
    with Dsms(arch, dsm_args(facts)) as ports:
        lines, timed_out = boot(
            qemu_cmd(arch, initrd, f"{device_cmdline(facts)} tsm.mode={args.mode}", ports),
            args.timeout, log_path, echo, lambda bdf: dsm_reply(arch, facts, bdf))
    wall = time.monotonic() - start
    results, problems, done = judge(lines, arch)
    if timed_out:
        results.append(("FAIL", f"{arch}/harness", f"guest hung: no exit within {args.timeout}s"))
    elif not done:
        results.append(("FAIL", f"{arch}/harness", "guest ended before reporting done"))
    for kind, n, line in problems:
        results.append(("FAIL", f"{arch}/kernel", f"{kind}: {line.strip()[:120]}"))
    failed = [r for r in results if r[0] == "FAIL"]
    if args.results:
        with open(args.results, "a") as f:
            for r in results:
                f.write(" ".join(r) + "\n")
    for r in results:
        if args.mode == "test" or r[0] == "FAIL":
            print(f"{r[0]:4} {r[1]} {r[2]}")
    if problems:
        for kind, n, line in problems[:3]:
            print(f"----- {kind} at console line {n} -----", file=sys.stderr)
            for ln in lines[max(0, n - 5):n + 25]:
                print(ln, file=sys.stderr)
    if failed or timed_out or not done:
        tail(lines)
    print(f"[tsm] {arch} {args.mode}: {len(results) - len(failed)} ok, {len(failed)} failed, "
          f"{wall:.1f}s (console: {log_path})", file=sys.stderr)
    return 1 if failed else 0


def cmd_probe(args):
    print(json.dumps(probe(args.arch, args), indent=1))
    return 0


def main():
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
    p = sub.add_parser("probe", help="learn the platform facts (and patch the IORT)")
    p.add_argument("--arch", choices=ARCH, default="arm64")
    p.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_probe(args)


if __name__ == "__main__":
    sys.exit(main())
