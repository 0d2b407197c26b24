#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Make the kernel source tree: pristine Linux 7.2 + patches/ + the overlay.
#
# The working tree ($TSM_OUT/src) is updated file by file and only where the content
# changed, so kbuild's timestamps stay meaningful and re-runs rebuild only what moved.
source "$(dirname "$0")/lib.sh"

pristine=$TSM_PREFIX/linux/linux-source-$TSM_KVER_WANT
tree=$TSM_OUT/src
manifest=$TSM_OUT/src.manifest
[ -f "$pristine/Makefile" ] || die "no kernel source in $pristine: run harness/setup.sh"

kver() { make -s -C "$1" kernelversion 2>/dev/null; }
pver=$(kver "$pristine")
case "$pver" in
"$TSM_KVER_WANT".*|"$TSM_KVER_WANT") ;;
*) die "kernel source is $pver, tsm-vfio needs $TSM_KVER_WANT.x" ;;
esac

if [ ! -f "$tree/.tsm-pristine" ] || [ "$(cat "$tree/.tsm-pristine")" != "$pver" ]; then
	log "creating working tree from linux $pver"
	rm -rf "$tree" "$manifest"
	cp -a "$pristine" "$tree.tmp"
	echo "$pver" > "$tree.tmp/.tsm-pristine"
	mv "$tree.tmp" "$tree"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# 1. Files the patches touch, patched from their pristine copies.
: > "$stage/list"
for p in "$TSM_ROOT"/patches/*.patch; do
	[ -e "$p" ] || continue
	grep -E '^\+\+\+ b/' "$p" | sed -E 's/^\+\+\+ b\/([^\t ]*).*/\1/'
done | sort -u > "$stage/patched"
mkdir -p "$stage/tree"
while read -r f; do
	[ -n "$f" ] || continue
	if [ -f "$pristine/$f" ]; then
		mkdir -p "$stage/tree/$(dirname "$f")"
		cp "$pristine/$f" "$stage/tree/$f"
	fi
	echo "$f" >> "$stage/list"
done < "$stage/patched"
for p in "$TSM_ROOT"/patches/*.patch; do
	[ -e "$p" ] || continue
	patch -s -p1 -N --no-backup-if-mismatch -d "$stage/tree" < "$p" ||
		die "patch does not apply: $(basename "$p")"
done

# 2. The overlay: every tracked or new (not ignored) file below the kernel-path dirs.
overlay_dirs="Documentation arch drivers include kernel rust samples tools"
( cd "$TSM_ROOT" && git ls-files --cached --others --exclude-standard -- $overlay_dirs ) |
	grep -vE '(^|/)(target|fuzz)/|Cargo\.lock$' | while read -r f; do
	[ -f "$TSM_ROOT/$f" ] || continue
	if grep -qxF "$f" "$stage/patched"; then
		die "$f is both patched and in the overlay"
	fi
	mkdir -p "$stage/tree/$(dirname "$f")"
	cp "$TSM_ROOT/$f" "$stage/tree/$f"
	echo "$f" >> "$stage/list"
done
sort -u -o "$stage/list" "$stage/list"

# 3. Install what changed; put back what no longer is ours.
changed=0
while read -r f; do
	if ! cmp -s "$stage/tree/$f" "$tree/$f"; then
		mkdir -p "$tree/$(dirname "$f")"
		cp "$stage/tree/$f" "$tree/$f.tsm-new" && mv "$tree/$f.tsm-new" "$tree/$f"
		changed=$((changed + 1))
	fi
done < "$stage/list"
if [ -f "$manifest" ]; then
	comm -23 "$manifest" "$stage/list" | while read -r f; do
		if [ -f "$pristine/$f" ]; then cp "$pristine/$f" "$tree/$f"; else rm -f "$tree/$f"; fi
		log "restored $f"
	done
fi
cp "$stage/list" "$manifest"
log "tree ready: linux $pver, $(wc -l < "$stage/list") project files, $changed updated"
