// SPDX-License-Identifier: GPL-2.0

//! Engines of the two agents that real TEE-IO hardware provides and QEMU does not:
//!
//! - [`dsm`]: the device security manager behind a PCIe DOE mailbox (SPDM 1.2 responder,
//!   IDE-KM responder, TDISP responder), driven one DOE object at a time;
//! - [`fw`]: the platform TSM firmware (SPDM requester, IDE key programming, TDISP
//!   LOCK/REPORT/START/STOP), a sans-IO state machine that never touches the device and
//!   asks for every DOE exchange, exactly as TDX Connect, SEV-TIO or the CCA RMM do;
//! - [`fwproto`]: the versioned message protocol between the kernel and tsm-fw over the
//!   `/dev/tsm_fw` character device (`include/uapi/linux/tsm_fw.h`);
//! - [`qemu_socket`]: QEMU's SPDM socket framing (`spdm_port`);
//! - [`qemu_trace`]: QEMU's trace log (`-trace pci_cfg_write -D FILE`), followed by the
//!   DSM to see the host's config writes to its device;
//! - [`relay`]: a userspace stand-in for the kernel's relay loop, for tests and the
//!   benchmark.
//!
//! Every protocol byte is encoded and decoded by the shared `tsm_proto` crate; the
//! cryptography is RustCrypto's (see [`crypto`]).

#![deny(missing_docs)]

pub use tsm_proto::{self, report, state, tdisp};

pub mod agent;
pub mod args;
pub mod certs;
pub mod crypto;
pub mod dsm;
pub mod faults;
pub mod fw;
pub mod fwproto;
pub mod qemu_socket;
pub mod qemu_trace;
pub mod relay;
pub mod server;
pub mod testbed;
pub mod wire;
