#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test of the project, ending with "N passed, N failed".
# Host tests first (they need no kernel), then for each arch: build, boot, test.
# A failing stage is recorded and the next one still runs, so one run shows everything.
# Results of the harness itself are checks (suite <arch>/check:...): check:build here,
# check:boot when qemu.py could not run (harness/guard.sh records it if qemu.py died
# without saying why), the others from qemu.py.
#   harness/check.sh [arm64] [x86_64] [host]   (default: all)
source "$(dirname "$0")/lib.sh"
set +e
results=$TSM_OUT/results.txt
: > "$results"
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(host arm64 x86_64)
rec() { echo "$1 $2 $3" >> "$results"; }
t0=$(date +%s)
timer() { log "$1 done at +$(( $(date +%s) - t0 ))s"; }

if ! bash "$TSM_ROOT/harness/setup.sh"; then
	rec FAIL check:setup "harness/setup.sh failed"
	python3 "$TSM_ROOT/harness/summary.py" "$results"
	exit 1
fi
timer setup

for s in "${stages[@]}"; do
	case "$s" in
	host)
		bash "$TSM_ROOT/harness/host-tests.sh" "$results"
		timer "host tests"
		;;
	arm64 | x86_64)
		if bash "$TSM_ROOT/harness/prepare-tree.sh" &&
			bash "$TSM_ROOT/harness/build-kernel.sh" "$s" &&
			bash "$TSM_ROOT/harness/build-tools.sh" "$s" &&
			bash "$TSM_ROOT/harness/mkinitramfs.sh" "$s"; then
			rec PASS "$s/check:build" "kernel, modules and guest userspace"
			timer "$s build"
			bash "$TSM_ROOT/harness/guard.sh" "$results" "$s/check:boot" qemu.py \
				python3 "$TSM_ROOT/harness/qemu.py" run --arch "$s" --mode test \
				--results "$results" --timeout "${TSM_TIMEOUT:-600}"
			timer "$s boot"
		else
			rec FAIL "$s/check:build" "kernel, modules or guest userspace failed to build"
		fi
		;;
	*) die "unknown stage $s" ;;
	esac
done
python3 "$TSM_ROOT/harness/summary.py" "$results"
