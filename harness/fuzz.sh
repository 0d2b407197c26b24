#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every cargo-fuzz target of the protocol crate for a time budget each.
#   harness/fuzz.sh SECONDS [RESULTS]   (make check: a short smoke; make fuzz: long runs)
# Only stable Rust exists here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# Each target's execs and verdict are printed; a crash or leak fails the target.
source "$(dirname "$0")/lib.sh"
set +e
secs=${1:?seconds}
results=${2:-/dev/null}
dir=$TSM_ROOT/rust/tsm_proto
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$TSM_CACHE/fuzz-target
rc=0
if ! (cd "$dir" && cargo fuzz build -O >"$TSM_OUT/fuzz-build.log" 2>&1); then
	tail -20 "$TSM_OUT/fuzz-build.log"
	echo "FAIL fuzz build" >> "$results"
	exit 1
fi
for t in $(cd "$dir" && cargo fuzz list); do
	corpus=$TSM_CACHE/fuzz-corpus/$t
	mkdir -p "$corpus"
	log=$TSM_OUT/fuzz-$t.log
	(cd "$dir" && cargo fuzz run -O "$t" "$corpus" -- -max_total_time="$secs" \
		-print_final_stats=1 >"$log" 2>&1)
	st=$?
	execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
	if [ $st = 0 ]; then
		echo "PASS fuzz:$t ${secs}s ${execs:-?} execs" | tee -a "$results"
	else
		echo "FAIL fuzz:$t crashed after ${execs:-?} execs (see $log)" | tee -a "$results"
		grep -m5 -E 'panicked|ERROR|SUMMARY' "$log"
		rc=1
	fi
done
exit $rc
