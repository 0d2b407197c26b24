#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest userspace for one arch and pack it: busybox, our modules, the tsm
# kselftests (static, against this kernel's uAPI headers), the demo and benchmark
# programs, tsm-fw with the DSM's root certificate as its trust anchor
# (harness/build-tools.sh first), and harness/guest/init.
# (harness/qemu.py puts the patched IORT in front of it on arm64.)
#   harness/mkinitramfs.sh arm64|x86_64   -> $TSM_OUT/<arch>/main.cpio.gz
source "$(dirname "$0")/lib.sh"
tsm_arch_vars "${1:?arch}"
out=$TSM_OUT/$1

# kselftests, built with the kernel's own selftest lib.mk.
st=$out/selftests
mkdir -p "$st"
make -s -C "$TREE/tools/testing/selftests/tsm" \
	CC="$TRIPLE-gcc" LDFLAGS=-static OUTPUT="$st" \
	KHDR_INCLUDES="-isystem $out/hdr/include" >/dev/null ||
	die "$1: selftests do not build"

root=$out/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules,tsm/selftests,tsm/bin}
cp "$TSM_PREFIX/busybox-$1/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$TSM_ROOT/harness/guest/init" "$root/init"
cp "$TSM_ROOT/harness/guest/modules" "$root/tsm/modules"
chmod 755 "$root/init"
cp -a "$out/modroot/lib/modules/." "$root/lib/modules/"
# The selftests' Makefile builds two programs that are not tests: the demo and the
# benchmark go to /tsm/bin, everything else is a test init runs.
extended="tsm_demo tsm_bench"
for f in "$st"/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case " $extended " in
	*" $(basename "$f") "*) install -m 755 "$f" "$root/tsm/bin/" ;;
	*) install -m 755 "$f" "$root/tsm/selftests/" ;;
	esac
done
install -m 755 "$TSM_CACHE/tools-target/$RUST_TRIPLE/release/tsm-fw" "$root/tsm/bin/tsm-fw"
# The CCA RMM model (tools/tsm/fw/src/rmm.rs), behind a firmware conduit
install -m 755 "$TSM_CACHE/tools-target/$RUST_TRIPLE/release/tsm-rmm" "$root/tsm/bin/tsm-rmm"
# The AMD PSP SEV-TIO model (tools/tsm/fw/src/psp.rs), behind a firmware conduit
install -m 755 "$TSM_CACHE/tools-target/$RUST_TRIPLE/release/tsm-psp" "$root/tsm/bin/tsm-psp"
mkdir -p "$root/etc/tsm"
cp "$TSM_CACHE/dsm-identity/root.pem" "$root/etc/tsm/root.pem"
[ -f "$TSM_ROOT/harness/guest/demo.sh" ] && install -m 755 "$TSM_ROOT/harness/guest/demo.sh" "$root/tsm/demo.sh"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$out/main.cpio.gz"
log "$1: initramfs $(du -h "$out/main.cpio.gz" | cut -f1)"
