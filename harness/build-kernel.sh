#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the test kernel for one arch: tinyconfig + our fragments, LLVM=1,
# out of tree (O=), incrementally. Also installs modules and uAPI headers for the guest.
#   harness/build-kernel.sh arm64|x86_64
source "$(dirname "$0")/lib.sh"
tsm_arch_vars "${1:?arch}"

src=$TREE
frags=(tsm-vfio.config tsm-vfio-debug.config "tsm-vfio-$1.config")
[ "${TSM_KASAN:-0}" = 1 ] && frags+=(tsm-vfio-kasan.config)
kmake() { make -C "$src" O="$BUILD" ARCH="$KARCH" LLVM=1 "$@"; }
mkdir -p "$BUILD"

# Re-run the config step only when a fragment changed (or on first use).
cfg_hash=$(cd "$src/kernel/configs" && cat "${frags[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$BUILD/.config" ] || [ "$(cat "$BUILD/.tsm-config-hash" 2>/dev/null)" != "$cfg_hash" ]; then
	log "$1: configuring (tinyconfig + ${frags[*]})"
	kmake -s rustavailable >/dev/null || { kmake rustavailable; die "Rust toolchain not usable"; }
	kmake -s tinyconfig >/dev/null
	# All fragments in one merge: applied one by one, olddefconfig would drop options
	# whose dependencies only a later fragment enables (ACPI needs arm64's EFI).
	(cd "$src/kernel/configs" && "$src/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
		"$BUILD/.config" "${frags[@]}" >/dev/null)
	kmake -s olddefconfig >/dev/null
	# Every option a fragment asks for must survive dependency resolution, and every
	# option it turns off must stay off (not be selected back on).
	missing=0
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			grep -qxF "$line" "$BUILD/.config" || { log "$1: config lost: $line (from $f)"; missing=1; }
		done < <(grep -E '^CONFIG_[A-Z0-9_]+=.+$' "$src/kernel/configs/$f")
		while IFS= read -r opt; do
			! grep -qE "^$opt=" "$BUILD/.config" ||
				{ log "$1: config still on: $opt (off in $f)"; missing=1; }
		done < <(sed -nE 's/^# (CONFIG_[A-Z0-9_]+) is not set$/\1/p' "$src/kernel/configs/$f")
	done
	[ "$missing" = 0 ] || die "$1: the config fragments ask for options their dependencies do not allow"
	echo "$cfg_hash" > "$BUILD/.tsm-config-hash"
fi

log "$1: building ($(nproc) jobs)"
start=$(date +%s)
blog=$TSM_OUT/$1/build.log
if ! kmake -j"$(nproc)" -s "$(basename "$KIMAGE")" modules > "$blog" 2>&1; then
	grep -E -A12 'error(\[E[0-9]+\])?:|Error [0-9]' "$blog" | head -80
	die "$1: kernel build failed (full log: $blog)"
fi
[ -f "$BUILD/$KIMAGE" ] || die "$1: no $KIMAGE after build"
nwarn=$(grep -cE 'warning(\[[^]]*\])?:' "$blog" || true)
[ "$nwarn" = 0 ] || { grep -E -A8 'warning(\[[^]]*\])?:' "$blog" | head -60; log "$1: $nwarn warnings"; }
log "$1: built in $(( $(date +%s) - start ))s"

rm -rf "$TSM_OUT/$1/modroot"
kmake -s INSTALL_MOD_PATH="$TSM_OUT/$1/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
kmake -s INSTALL_HDR_PATH="$TSM_OUT/$1/hdr" headers_install >/dev/null
