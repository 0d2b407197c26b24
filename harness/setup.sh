#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what tsm-vfio needs, only where it is missing (safe to re-run):
#  - Debian bookworm packages, system-wide: LLVM/clang/lld 19, kernel build tools,
#    the aarch64 cross gcc + libc for static selftests, UEFI for arm64, QEMU's libs;
#  - rustup's rust-src and musl targets, bindgen-cli from crates.io;
#  - through a private apt setup under $TSM_CACHE (the machine's apt config is never
#    touched, nothing from these suites is installed): linux-source-7.2 (sid, forky or
#    trixie-backports), QEMU 10.0 (bookworm-backports) and static busybox (arm64, amd64),
#    downloaded as .debs and unpacked into $TSM_CACHE/prefix.
source "$(dirname "$0")/lib.sh"

# The list is checked against what the scripts call: harness/test_programs.py.
sys_pkgs=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev
	cpio xz-utils make patch python3 kmod rsync gcc-aarch64-linux-gnu
	libc6-dev-arm64-cross qemu-efi-aarch64 seabios)
sys_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing ${missing[*]}"
	[ -n "${TSM_APT_UPDATED:-}" ] || { apt-get update -qq; TSM_APT_UPDATED=1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}
sys_install "${sys_pkgs[@]}"

command -v rustup >/dev/null || die "rustup not found (the machine's Rust toolchain is rustup's)"
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
for t in aarch64-unknown-linux-musl x86_64-unknown-linux-musl; do
	rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
bg_ok() {
	local v
	v=$(bindgen --version 2>/dev/null | awk '{print $2}') || return 1
	[ -n "$v" ] && [ "$(printf '%s\n0.71.1\n' "$v" | sort -V | head -1)" = 0.71.1 ]
}
bg_ok || { log "installing bindgen-cli"; cargo install -q bindgen-cli --locked; }

# Private apt for the packages the machine's suites do not carry.
mkdir -p "$TSM_APT/lists/partial" "$TSM_APT/cache/archives/partial" "$TSM_CACHE/debs"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$TSM_APT/sources.list.new" <<SRC
deb [signed-by=$key] http://deb.debian.org/debian sid main
deb [signed-by=$key] http://deb.debian.org/debian forky main
deb [signed-by=$key] http://deb.debian.org/debian trixie-backports main
deb [signed-by=$key] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=$key] http://deb.debian.org/debian bookworm main
SRC
if ! cmp -s "$TSM_APT/sources.list.new" "$TSM_APT/sources.list"; then
	mv "$TSM_APT/sources.list.new" "$TSM_APT/sources.list"
	rm -f "$TSM_APT/updated"
fi
rm -f "$TSM_APT/sources.list.new"

fetch() { # fetch NAME PKG... : download (once) the first PKG spec that apt can resolve
	local name=$1; shift
	ls "$TSM_CACHE/debs/$name"_*.deb >/dev/null 2>&1 && return 0
	if [ ! -f "$TSM_APT/updated" ]; then
		log "updating the private apt lists"
		tsm_apt update -qq 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
		touch "$TSM_APT/updated"
	fi
	for spec in "$@"; do
		(cd "$TSM_CACHE/debs" && tsm_apt download -qq "$spec" 2>&1 |
			grep -v '^W: Download is performed unsandboxed') && return 0
		ls "$TSM_CACHE/debs/$name"_*.deb >/dev/null 2>&1 && return 0
	done
	die "cannot download $name (tried: $*)"
}
unpack() { # unpack DEBNAME DIR
	local deb
	deb=$(ls "$TSM_CACHE/debs/$1"_*.deb | head -1)
	[ "$(cat "$2/.tsm-from-$1" 2>/dev/null)" = "$(basename "$deb")" ] && return 0
	mkdir -p "$2"
	dpkg -x "$deb" "$2"
	basename "$deb" > "$2/.tsm-from-$1"
}

fetch linux-source-7.2 linux-source-7.2 linux-source-7.2/forky linux-source-7.2/trixie-backports
for q in qemu-system-arm qemu-system-x86 qemu-system-common qemu-system-data; do
	fetch "$q" "$q/bookworm-backports"
	unpack "$q" "$TSM_PREFIX/qemu"
done
# Both arches share the package name: keep each .deb under its arch.
for a in arm64:arm64 amd64:x86_64; do
	d=${a%%:*}; dir=$TSM_PREFIX/busybox-${a##*:}
	deb=$(ls "$TSM_CACHE/debs/busybox-static"_*_"$d".deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		(cd "$TSM_CACHE/debs" && tsm_apt download -qq "busybox-static:$d/bookworm" 2>&1 |
			grep -v '^W: Download is performed unsandboxed') || true
		deb=$(ls "$TSM_CACHE/debs/busybox-static"_*_"$d".deb | head -1)
	fi
	[ -x "$dir/bin/busybox" ] || dpkg -x "$deb" "$dir"
done

# Kernel source: the .deb holds a tarball; unpack it once per package version.
src_deb=$(ls "$TSM_CACHE/debs/linux-source-7.2"_*.deb | head -1)
if [ "$(cat "$TSM_PREFIX/linux/.tsm-from" 2>/dev/null)" != "$(basename "$src_deb")" ]; then
	log "unpacking $(basename "$src_deb")"
	rm -rf "$TSM_PREFIX/linux"
	mkdir -p "$TSM_PREFIX/linux"
	dpkg-deb --fsys-tarfile "$src_deb" | tar -x -C "$TSM_PREFIX/linux" ./usr/src
	tar -xf "$TSM_PREFIX"/linux/usr/src/linux-source-7.2.tar.* -C "$TSM_PREFIX/linux"
	rm -rf "$TSM_PREFIX/linux/usr"
	basename "$src_deb" > "$TSM_PREFIX/linux/.tsm-from"
fi

# QEMU's shared libraries (bookworm names: the .debs are bookworm backports).
qemu_deps=$(for d in "$TSM_CACHE"/debs/qemu-system-{arm,x86,common}_*.deb; do
	dpkg-deb -f "$d" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/ //g'
done | grep -vE '^(qemu-|seabios|ipxe-qemu|$)' | sort -u)
# shellcheck disable=SC2086
sys_install $qemu_deps
for b in qemu-system-aarch64 qemu-system-x86_64; do
	miss=$(ldd "$TSM_PREFIX/qemu/usr/bin/$b" | grep 'not found' || true)
	[ -z "$miss" ] || die "$b lacks libraries: $miss"
done
log "setup complete"
