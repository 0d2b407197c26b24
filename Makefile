# SPDX-License-Identifier: GPL-2.0
# tsm-vfio: the two commands.
#   make        set up, build Linux 7.2 + tsm-vfio for arm64, boot it in QEMU, run the demo
#   make check  every test: host (protocol crate, harness), arm64 and x86_64 guests
# Both install what they need (harness/setup.sh) and are incremental on re-runs.
# Downloads and builds live in $(TSM_CACHE) (default ~/.cache/tsm-vfio).

.PHONY: all demo bench bench-emu bench-vfio check check-host check-arm64 check-x86_64 setup kernel-arm64 kernel-x86_64 fuzz clean-cache

all: demo

setup:
	bash harness/setup.sh

# (Explicit targets: make skips pattern rules for .PHONY targets.)
kernel-arm64 kernel-x86_64: setup
	bash harness/prepare-tree.sh
	bash harness/build-kernel.sh $(patsubst kernel-%,%,$@)
	bash harness/build-tools.sh $(patsubst kernel-%,%,$@)
	bash harness/mkinitramfs.sh $(patsubst kernel-%,%,$@)

# TSM_BACKEND=cca: the demo on the Arm CCA host backend and the RMM model
TSM_BACKEND ?= emu
demo: kernel-arm64
	python3 harness/qemu.py run --arch arm64 --mode demo --backend $(TSM_BACKEND)

check:
	bash harness/check.sh

check-host check-arm64 check-x86_64:
	bash harness/check.sh $(patsubst check-%,%,$@)

# Long fuzz runs of every protocol parser (FUZZ_SECONDS each); not part of `make check`.
FUZZ_SECONDS ?= 120
fuzz: setup
	bash harness/fuzz.sh $(FUZZ_SECONDS)

# Benchmarks (separate from the tests):
#   bench-emu   the emulated firmware <-> DSM loopback on the host: connect and
#               LOCK->RUN->STOP cycle costs split into crypto and the rest
#   bench-vfio  in the arm64 guest: config/BAR access through vfio-pci-tsm vs vfio-pci
#               (ratio, same boot) and TSM bind+unbind cycles per second
BENCH_ITERS ?= 50
bench: bench-emu bench-vfio

bench-emu: setup
	cd tools/tsm && cargo run -q --locked --release -p tsm-bench -- $(BENCH_ITERS)

bench-vfio: kernel-arm64
	python3 harness/qemu.py run --arch arm64 --mode bench

clean-cache:
	rm -rf $${TSM_CACHE:-$$HOME/.cache/tsm-vfio}/out
