#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test of the project, ending with "N passed, N failed".
# The CPU-bound stages run side by side, so the 2 cores stay busy through the long
# single-threaded steps of each (rustc of one crate, vmlinux link, fuzzing): the host
# tests and every arch's kernel build together, then each arch's userspace (cargo, one
# at a time: they share a target dir and the DSM identity), then the boots one after
# the other (TCG timing is left alone). A failing stage is recorded and the others still
# run, so one run shows everything.
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

arches=()
host=0
for s in "${stages[@]}"; do
	case "$s" in
	host) host=1 ;;
	arm64 | x86_64) arches+=("$s") ;;
	*) die "unknown stage $s" ;;
	esac
done

# Stage 1, side by side: host tests (own results file) and the kernels.
if [ "$host" = 1 ]; then
	: > "$results.host"
	bash "$TSM_ROOT/harness/host-tests.sh" "$results.host" > "$TSM_OUT/host-tests.log" 2>&1 &
	host_pid=$!
fi
declare -A kpid
if [ ${#arches[@]} -gt 0 ]; then
	if bash "$TSM_ROOT/harness/prepare-tree.sh"; then
		for s in "${arches[@]}"; do
			mkdir -p "$TSM_OUT/$s"
			bash "$TSM_ROOT/harness/build-kernel.sh" "$s" > "$TSM_OUT/$s/kernel-build.log" 2>&1 &
			kpid[$s]=$!
		done
	else
		for s in "${arches[@]}"; do kpid[$s]=none; done
	fi
fi
declare -A built
for s in "${arches[@]}"; do
	built[$s]=0
	if [ "${kpid[$s]}" != none ] && wait "${kpid[$s]}"; then
		timer "$s kernel"
		# Stage 2: userspace, one arch at a time.
		if bash "$TSM_ROOT/harness/build-tools.sh" "$s" &&
			bash "$TSM_ROOT/harness/mkinitramfs.sh" "$s"; then
			built[$s]=1
			rec PASS "$s/check:build" "kernel, modules and guest userspace"
			timer "$s build"
			continue
		fi
	else
		[ "${kpid[$s]}" = none ] || tail -40 "$TSM_OUT/$s/kernel-build.log"
	fi
	rec FAIL "$s/check:build" "kernel, modules or guest userspace failed to build"
done
if [ "$host" = 1 ]; then
	wait "$host_pid"
	hrc=$?
	cat "$TSM_OUT/host-tests.log" >&2
	cat "$results.host" >> "$results"
	if [ "$hrc" != 0 ] && ! grep -q '^FAIL ' "$results.host"; then
		rec FAIL check:host "harness/host-tests.sh exited $hrc without a verdict"
	fi
	timer "host tests"
fi

# Stage 3: the boots, one after the other. The guest's own limit: the arm64 test boot
# takes about 640 s under TCG on this machine kind (2026-12-07), past the old 600.
for s in "${arches[@]}"; do
	[ "${built[$s]}" = 1 ] || continue
	bash "$TSM_ROOT/harness/guard.sh" "$results" "$s/check:boot" qemu.py \
		python3 "$TSM_ROOT/harness/qemu.py" run --arch "$s" --mode test \
		--results "$results" --timeout "${TSM_TIMEOUT:-900}"
	timer "$s boot"
done
python3 "$TSM_ROOT/harness/summary.py" "$results"
