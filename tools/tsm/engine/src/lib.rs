// SPDX-License-Identifier: GPL-2.0

//! Engines of the two agents that real TEE-IO hardware provides and QEMU does not, laid
//! out by concern:
//!
//! - [`dsm`]: the device side, the device security manager behind a PCIe DOE mailbox
//!   (SPDM 1.2 responder, IDE-KM responder, TDISP responder), driven one DOE object at
//!   a time, and the server that puts it behind QEMU's socket (`dsm::server`);
//! - [`fw`]: the firmware side, the platform TSM firmware (SPDM requester, IDE key
//!   programming, TDISP LOCK/REPORT/START/STOP), a sans-IO state machine that never
//!   touches the device and asks for every DOE exchange, exactly as TDX Connect, SEV-TIO
//!   or the CCA RMM do, and the agent that serves it to the kernel (`fw::agent`);
//! - [`transport`]: how bytes reach the engines: QEMU's SPDM socket framing, the
//!   `/dev/tsm_fw` message channel, and a userspace stand-in for the kernel's relay
//!   loop;
//! - [`conduit`]: the model side of the firmware conduit (`/dev/<name>`,
//!   `<linux/tsm_conduit.h>`): a vendor backend's SMCs or SEAMCALLs served to a
//!   firmware model (`fw::rmm`, `fw::tdx`), one call at a time;
//! - [`testing`]: test support: a ready-made platform and a kernel-side simulator of the
//!   `/dev/tsm_fw` protocol, for the tests and the benchmark.
//!
//! Shared by both sides: [`fwproto`], where the firmware's typed commands meet the
//! versioned messages between the kernel and tsm-fw over the `/dev/tsm_fw` character
//! device (`include/uapi/linux/tsm_fw.h`; their codec, `tsm_proto::fwmsg`, is the
//! kernel's too);
//! [`wire`], owned-buffer encoding of SPDM, IDE-KM and TDISP messages; [`qemu_trace`],
//! QEMU's trace log (`-trace pci_cfg_write -D FILE`), followed by the DSM to see the
//! host's config writes to its device; [`faults`], the DSM's misbehaviour knobs;
//! [`args`], the parsers of both programs' command-line values, and [`program`], what
//! their `main` shares; [`certs`] and [`crypto`].
//!
//! Every protocol byte is encoded and decoded by the shared `tsm_proto` crate; the
//! cryptography is RustCrypto's (see [`crypto`]).

#![deny(missing_docs)]

pub use tsm_proto::{self, report, state, tdisp};

pub mod args;
pub mod certs;
pub mod conduit;
pub mod crypto;
pub mod dsm;
pub mod faults;
pub mod fw;
pub mod fwproto;
pub mod program;
pub mod qemu_trace;
pub mod testing;
pub mod transport;
pub mod wire;
