#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host-side tests: the protocol crate (cargo test, clippy, rustfmt) and the harness's own
# Python. Appends results to $1.
source "$(dirname "$0")/lib.sh"
set +e
results=${1:?results file}
rec() { echo "$1 $2 $3" >> "$results"; }
sum=$TSM_ROOT/harness/summary.py
# Build products outside the clone, so a new clone on the same machine starts warm.
export CARGO_TARGET_DIR=$TSM_CACHE/host-target

for crate in rust/tsm_proto tools/tsm; do
	dir=$TSM_ROOT/$crate
	name=$(basename "$crate")
	log "cargo test $crate"
	(cd "$dir" && cargo test --locked --all-features 2>&1) | tee "$TSM_OUT/cargo-$name.log" |
		python3 "$sum" cargo "$results"
	if (cd "$dir" && cargo clippy --locked --all-targets --all-features -- -D warnings \
			> "$TSM_OUT/clippy-$name.log" 2>&1); then
		rec PASS "lint:$name" "cargo clippy -D warnings"
	else
		rec FAIL "lint:$name" "cargo clippy -D warnings (see $TSM_OUT/clippy-$name.log)"
		tail -30 "$TSM_OUT/clippy-$name.log"
	fi
	if (cd "$dir" && cargo fmt --check > "$TSM_OUT/fmt-$name.log" 2>&1); then
		rec PASS "lint:$name" "cargo fmt --check"
	else
		rec FAIL "lint:$name" "cargo fmt --check (see $TSM_OUT/fmt-$name.log)"
		head -30 "$TSM_OUT/fmt-$name.log"
	fi
done

log "python harness tests"
(cd "$TSM_ROOT/harness" && python3 -m unittest -v 2>&1) | python3 "$sum" unittest "$results"

# A short fuzz smoke of every parser (the long runs are `make fuzz`).
log "fuzz smoke (${TSM_FUZZ_SMOKE:-10}s a target)"
bash "$TSM_ROOT/harness/fuzz.sh" "${TSM_FUZZ_SMOKE:-10}" "$results" >/dev/null
