#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the emulators (tools/tsm): tsm-dsm for the host, tsm-fw, tsm-rmm and tsm-psp
# (all of package tsm-fw, which also builds tsm-tdx) as static binaries for the guest
# arch, and make the DSM's identity once (its root certificate is the trust anchor the
# guest's tsm-fw and tsm-psp are given).
#   harness/build-tools.sh arm64|x86_64
source "$(dirname "$0")/lib.sh"
tsm_arch_vars "${1:?arch}"
export CARGO_TARGET_DIR=$TSM_CACHE/tools-target
cd "$TSM_ROOT/tools/tsm"
log "$1: building tsm-dsm (host), tsm-fw, tsm-rmm and tsm-psp ($RUST_TRIPLE)"
cargo build -q --locked --release -p tsm-dsm
cargo build -q --locked --release -p tsm-fw --target "$RUST_TRIPLE"

ident=$TSM_CACHE/dsm-identity
if [ ! -f "$ident/root.pem" ]; then
	mkdir -p "$ident"
	coproc DSM { exec "$CARGO_TARGET_DIR/release/tsm-dsm" --port 0 --identity "$ident" 2>/dev/null; }
	read -r -t 60 line <&"${DSM[0]}" || true
	kill "$DSM_PID" 2>/dev/null || true
	wait "$DSM_PID" 2>/dev/null || true
	[ -f "$ident/root.pem" ] || die "tsm-dsm did not make its identity ($line)"
fi
