// SPDX-License-Identifier: GPL-2.0

//! PCIe TEE-IO wire protocols as pure, total functions.
//!
//! This crate holds every byte-level protocol that the tsm-vfio stack speaks between the
//! platform TSM firmware and a device's security manager (DSM): PCIe DOE data objects,
//! DMTF SPDM 1.2/1.3 (DSP0274), SPDM secured messages (DSP0277) over the PCIe CMA binding,
//! PCIe IDE key management (IDE-KM) and PCIe TDISP, plus the TDISP device interface report
//! validator and the TDISP state machines.
//!
//! Rules every module follows:
//! - `no_std`, `core` only (the `alloc` feature adds conveniences for userspace);
//! - no `unsafe`, no panics: every parser returns `Ok` or a typed [`codec::Error`] for any
//!   byte string, with checked arithmetic and no indexing that can go out of bounds;
//! - sibling modules are named with `super::` paths, never `crate::`, so a kernel module
//!   can include the sources as a submodule with `#[path]` as well as link the crate.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod codec;
pub mod doe;
pub mod idekm;
pub mod report;
pub mod secured;
pub mod spdm;
pub mod state;
pub mod tdisp;
