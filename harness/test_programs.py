# SPDX-License-Identifier: GPL-2.0
"""Every program the harness, the kernel build and the tests call is on a new machine or
installed by harness/setup.sh.

CI runs on a machine where earlier sessions may have installed things by hand, so a
green CI can hide a missing install step (it did: headers_install needs rsync, which a
new machine lacks). This test reads the commands the scripts call, maps each to the
package that provides it (PROVIDERS), and fails if that package is neither on a new
machine (fresh-machine-packages.txt) nor installed by setup.sh. A command it cannot map
fails too: whoever adds a program says where it comes from.
"""
import os
import re
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Where each program comes from. "deb:PKG" is a Debian package (on a new machine, or in
# setup.sh's sys_pkgs); the others are provided by setup.sh or the scripts themselves:
#   builtin     a bash builtin or keyword
#   rustup      the machine's Rust toolchain (rustup is on every new machine of this kind)
#   crate:NAME  `cargo install NAME` in setup.sh / fuzz.sh
#   prefix      unpacked by setup.sh into $TSM_CACHE/prefix (QEMU, busybox)
#   built       built by the harness itself (tsm-dsm, tsm-fw)
PROVIDERS = {
    **dict.fromkeys(
        "[ cd echo exit export local printf read return set shift source test trap true "
        "false wait command exec coproc kill continue break pwd declare".split(), "builtin"),
    **dict.fromkeys(
        "basename cat chmod comm cp cut date dirname du env head install ln ls mkdir mktemp "
        "mv nproc readlink rm sha256sum sleep sort tail tee timeout touch tr uname wc "
        "whoami".split(), "deb:coreutils"),
    "awk": "deb:mawk",
    "grep": "deb:grep",
    "sed": "deb:sed",
    "find": "deb:findutils",
    "xargs": "deb:findutils",
    "cmp": "deb:diffutils",
    "tar": "deb:tar",
    "gzip": "deb:gzip",
    "xz": "deb:xz-utils",
    "make": "deb:make",
    "patch": "deb:patch",
    "cpio": "deb:cpio",
    "rsync": "deb:rsync",
    "bash": "deb:bash",
    "sh": "deb:dash",
    "git": "deb:git",
    "python3": "deb:python3",
    "perl": "deb:perl",
    "bc": "deb:bc",
    "flex": "deb:flex",
    "bison": "deb:bison",
    "depmod": "deb:kmod",
    "ldd": "deb:libc-bin",
    "dpkg": "deb:dpkg",
    "dpkg-deb": "deb:dpkg",
    "dpkg-query": "deb:dpkg",
    "apt-get": "deb:apt",
    "clang": "deb:clang-19",
    "ld.lld": "deb:lld-19",
    "llvm-ar": "deb:llvm-19",
    "llvm-nm": "deb:llvm-19",
    "llvm-objcopy": "deb:llvm-19",
    "llvm-objdump": "deb:llvm-19",
    "llvm-readelf": "deb:llvm-19",
    "llvm-strip": "deb:llvm-19",
    "libclang": "deb:libclang-19-dev",
    "gcc": "deb:gcc",
    "x86_64-linux-gnu-gcc": "deb:gcc",
    "aarch64-linux-gnu-gcc": "deb:gcc-aarch64-linux-gnu",
    "libc-arm64-static": "deb:libc6-dev-arm64-cross",
    "libc-static": "deb:libc6-dev",
    "libelf": "deb:libelf-dev",
    "libssl": "deb:libssl-dev",
    "uefi-aarch64": "deb:qemu-efi-aarch64",
    "seabios": "deb:seabios",
    "rustup": "rustup",
    "cargo": "rustup",
    "rustc": "rustup",
    "rustfmt": "rustup",
    "bindgen": "crate:bindgen-cli",
    "cargo-fuzz": "crate:cargo-fuzz",
    "qemu-system-aarch64": "prefix",
    "qemu-system-x86_64": "prefix",
    "busybox": "prefix",
    "tsm-dsm": "built",
}

# What Linux 7.2's build, modules_install and headers_install call for our configs
# (LLVM=1, Rust): Documentation/process/changes.rst of the tree, less what our configs
# do not use (pahole: no BTF; openssl: no module signing), plus what was seen needed
# (rsync by headers_install, on a new machine).
KBUILD = ["make", "bash", "sh", "clang", "ld.lld", "llvm-ar", "llvm-nm", "llvm-objcopy",
          "llvm-objdump", "llvm-readelf", "llvm-strip", "libclang", "rustc", "bindgen",
          "flex", "bison", "perl", "bc", "awk", "sed", "grep", "python3", "depmod",
          "rsync", "libelf", "libssl", "gzip", "xz", "tar", "cpio"]

# What the Python harness runs (qemu.py: QEMU, tsm-dsm, cpio for the IORT archive) and
# what QEMU and the selftest build need besides the shell scripts' own commands.
PYTHON_AND_GUEST = ["qemu-system-aarch64", "qemu-system-x86_64", "tsm-dsm", "find",
                    "sort", "cpio", "uefi-aarch64", "seabios", "busybox",
                    "aarch64-linux-gnu-gcc", "libc-arm64-static", "x86_64-linux-gnu-gcc",
                    "libc-static"]

KEYWORDS = set("if then else elif fi for in do done while until case esac function "
               "select time ! [[ ]] {".split())


def _split(text, out, funcs):
    """Splits bash @text into simple commands (strings with quoted parts blanked) and
    appends them to @out; command substitutions are split recursively. Returns the
    index where a closing parenthesis of a substitution ended the text."""
    cur, i, n = [], 0, len(text)
    label = False       # after "case ... in" or ";;": text up to ")" is a pattern
    depth = 0           # open subshells "(" within this text

    def flush():
        seg = "".join(cur).strip()
        cur.clear()
        if seg:
            out.append(seg)

    while i < n:
        c = text[i]
        if c == "\\":
            cur.append(text[i:i + 2])
            i += 2
        elif c == "'":
            j = text.find("'", i + 1)
            i = n if j < 0 else j + 1
            cur.append("\0")
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 2
                elif text.startswith("$(", i) and not text.startswith("$((", i):
                    i += 2 + _split(text[i + 2:], out, funcs)
                else:
                    i += 1
            i += 1
            cur.append("\0")
        elif text.startswith("$((", i):
            depth, i = 2, i + 3
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            cur.append("\0")
        elif text.startswith("$(", i):
            i += 2 + _split(text[i + 2:], out, funcs)
            cur.append("\0")
        elif text.startswith("${", i):
            j = text.find("}", i)
            i = n if j < 0 else j + 1
            cur.append("\0")
        elif c == "#" and (not cur or cur[-1][-1:].isspace()):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == "(" and "".join(cur).rstrip().endswith("="):
            j = text.find(")", i)                   # array literal
            i = n if j < 0 else j + 1
            cur.append("\0")
        elif c == ")":
            if label:
                cur.clear()
                label = False
                i += 1
                continue
            flush()
            if depth == 0:
                return i + 1
            depth -= 1
            i += 1
        elif text.startswith(";;", i):
            flush()
            label = True
            i += 2
        elif label and c in "|\n":
            if "".join(cur).strip() == "esac":
                label = False
                flush()
            else:
                cur.append(" ")
            i += 1
        elif c in ";|&(\n{}":
            depth += c == "("
            seg = "".join(cur).strip()
            if c == "\n" and re.match(r"^case\b.*\bin$", seg):
                label = True
                cur.clear()
            else:
                flush()
            i += 1
        else:
            cur.append(c)
            i += 1
    flush()
    return n


def shell_commands(text):
    """Command names in a bash script: the first word of every simple command, after
    its variable assignments and keywords (a careful approximation of bash's parser).

    Heredoc bodies, comments, quoted strings, case patterns, array literals and
    function definitions are skipped; functions the scripts define are not programs.
    """
    funcs = set(re.findall(r"^\s*([A-Za-z_][\w-]*)\s*\(\)", text, re.M))
    body, heredoc = [], None
    for line in text.splitlines():
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*'?(\w+)'?", line)
        if m:
            heredoc = m.group(1)
            line = line[:m.start()]
        body.append(re.sub(r"^\s*[A-Za-z_][\w-]*\s*\(\)", "", line))
    segs = []
    _split("\n".join(body), segs, funcs)
    cmds = set()
    for seg in segs:
        words = seg.split()
        while words and (words[0] in KEYWORDS - {"for", "select"} or re.match(r"^[A-Za-z_]\w*(\[.*\])?=", words[0])
                         or words[0].startswith((">", "<", "2>", "&>"))):
            words.pop(0)
        if not words or words[0] in ("for", "select"):
            continue
        w = words[0]
        if w in ("command", "exec", "xargs", "timeout", "env") and len(words) > 1:
            rest = [x for x in words[1:] if not x.startswith("-") and not x.isdigit()
                    and "=" not in x]
            if rest and re.match(r"^[A-Za-z][\w.+-]*$", rest[0]):
                cmds.add(rest[0])
        if re.match(r"^[A-Za-z\[][\w.+-]*$", w) and w not in funcs:
            cmds.add(w)
    return cmds


def makefile_commands(text):
    """Commands of the recipe lines of a Makefile (make's own $(...) expanded away)."""
    cmds = set()
    for line in text.splitlines():
        if line.startswith("\t"):
            line = re.sub(r"(?<!\$)\$\([^()]*\)", "X", line.lstrip("\t@-"))
            cmds |= shell_commands(line.replace("$$", "$"))
    return cmds


def setup_packages(text):
    """The Debian packages setup.sh installs (its sys_pkgs array)."""
    m = re.search(r"^sys_pkgs=\((.*?)\)", text, re.M | re.S)
    return set(m.group(1).split()) if m else set()


def setup_crates(text):
    return set(re.findall(r"cargo install (?:-q )?([\w-]+)", text))


def fresh_packages():
    with open(os.path.join(HERE, "fresh-machine-packages.txt")) as f:
        return {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def unprovided(programs, pkgs, crates, fresh):
    """(program, why) for each program neither on a new machine nor set up."""
    bad = []
    for p in sorted(programs):
        src = PROVIDERS.get(p)
        if src is None:
            bad.append((p, "unknown program: add it to PROVIDERS with where it comes from"))
        elif src.startswith("deb:") and src[4:] not in fresh and src[4:] not in pkgs:
            bad.append((p, f"{src[4:]} is not on a new machine and setup.sh does not install it"))
        elif src.startswith("crate:") and src[6:] not in crates:
            bad.append((p, f"nothing runs `cargo install {src[6:]}`"))
    return bad


def called_programs():
    """Every program the scripts of the harness and CI call, plus KBUILD and
    PYTHON_AND_GUEST."""
    progs = set(KBUILD) | set(PYTHON_AND_GUEST)
    scripts = [f"harness/{n}" for n in sorted(os.listdir(HERE)) if n.endswith(".sh")]
    texts = [read(p) for p in scripts + [".ci/run"]]
    # Functions of lib.sh (sourced by every script) are not programs.
    funcs = set(re.findall(r"^\s*([A-Za-z_][\w-]*)\s*\(\)", "\n".join(texts), re.M))
    for t in texts:
        progs |= shell_commands(t) - funcs
    progs |= makefile_commands(read("Makefile"))
    return progs


class ProgramsTest(unittest.TestCase):
    def test_every_called_program_is_on_a_new_machine_or_set_up(self):
        setup = read("harness/setup.sh")
        crates = setup_crates(setup) | setup_crates(read("harness/fuzz.sh"))
        bad = unprovided(called_programs(), setup_packages(setup), crates, fresh_packages())
        self.assertEqual(bad, [], "\n".join(f"{p}: {why}" for p, why in bad))

    def test_a_missing_install_step_is_found(self):
        # The case that happened: headers_install needs rsync, setup did not install it.
        script = "kmake headers_install\nrsync -a a b | tee log\n"
        progs = shell_commands(script)
        self.assertIn("rsync", progs)
        bad = unprovided(progs | {"rsync"}, {"make"}, set(), {"coreutils"})
        self.assertIn("rsync", [p for p, _ in bad])

    def test_an_unknown_program_is_found(self):
        bad = unprovided(shell_commands("x=1\nfrobnicate --all\n"), set(), set(), set())
        self.assertEqual([p for p, _ in bad], ["frobnicate"])

    def test_scanner_skips_what_is_not_a_command(self):
        script = ("f() { :; }\nf\ncat <<EOF\nnotacommand here\nEOF\n"
                  "case $a in\narm64) uname -m ;;\nesac\nA=1 B=2 env | grep x # note\n"
                  "if ! command -v zstd >/dev/null; then echo \"no zstd; go\"; fi\n")
        self.assertEqual(shell_commands(script),
                         {"cat", "uname", "env", "grep", "command", "zstd", "echo"})

    def test_setup_list_is_read(self):
        pkgs = setup_packages(read("harness/setup.sh"))
        self.assertIn("rsync", pkgs)
        self.assertIn("clang-19", pkgs)


if __name__ == "__main__":
    unittest.main()
