# SPDX-License-Identifier: GPL-2.0
# Shared settings for the tsm-vfio harness scripts; sourced, never run.
#
# Everything downloaded or built lives under $TSM_CACHE (outside the clone), so re-runs
# and later clones on the same machine are incremental; a fresh machine fills it anew.

set -euo pipefail

TSM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TSM_CACHE=${TSM_CACHE:-$HOME/.cache/tsm-vfio}
TSM_KVER_WANT=7.2
TSM_APT=$TSM_CACHE/apt
TSM_PREFIX=$TSM_CACHE/prefix          # unpacked .debs (qemu, busybox, linux-source)
TSM_OUT=$TSM_CACHE/out                # per-arch kernel trees, build dirs, initramfs
mkdir -p "$TSM_CACHE" "$TSM_PREFIX" "$TSM_OUT"

export PATH=/usr/lib/llvm-19/bin:$HOME/.cargo/bin:$PATH

log() { printf '[tsm] %s\n' "$*" >&2; }
die() { printf '[tsm] error: %s\n' "$*" >&2; exit 1; }

# Private apt: our own sources list, lists and cache dirs; the machine's apt setup is
# never touched and nothing from sid/forky is installed system-wide.
tsm_apt() {
	apt-get -q -o Dir::Etc::sourcelist="$TSM_APT/sources.list" \
		-o Dir::Etc::sourceparts=/dev/null \
		-o Dir::State::Lists="$TSM_APT/lists" \
		-o Dir::Cache="$TSM_APT/cache" \
		-o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
		-o Acquire::Languages=none \
		-o APT::Get::List-Cleanup=0 "$@"
}

# Arch names: kernel ARCH, QEMU binary, Rust/GNU triple.
tsm_arch_vars() {
	case "$1" in
	arm64)
		KARCH=arm64; QEMU_BIN=qemu-system-aarch64; TRIPLE=aarch64-linux-gnu
		RUST_TRIPLE=aarch64-unknown-linux-musl; KIMAGE=arch/arm64/boot/Image ;;
	x86_64)
		KARCH=x86_64; QEMU_BIN=qemu-system-x86_64; TRIPLE=x86_64-linux-gnu
		RUST_TRIPLE=x86_64-unknown-linux-musl; KIMAGE=arch/x86/boot/bzImage ;;
	*) die "unknown arch '$1' (arm64 or x86_64)" ;;
	esac
	TREE=$TSM_OUT/src
	BUILD=$TSM_OUT/$1/build
	# TSM_KASAN=1: a KASAN kernel in its own build dir (see README, "Test kernel config").
	[ "${TSM_KASAN:-0}" = 1 ] && BUILD=$TSM_OUT/$1/build-kasan
	return 0
}
