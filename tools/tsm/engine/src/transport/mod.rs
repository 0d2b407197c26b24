// SPDX-License-Identifier: GPL-2.0

//! How bytes reach the two engines; no protocol role lives here.
//!
//! - [`qemu_socket`]: QEMU's SPDM socket framing (`spdm_port`), DOE objects between
//!   QEMU's device model and tsm-dsm;
//! - [`fw_channel`]: the `/dev/tsm_fw` message channel between the kernel and tsm-fw,
//!   one message per `read()`/`write()` on the character device or length-framed on a
//!   byte stream;
//! - [`relay`]: a userspace stand-in for the kernel's relay loop, carrying the
//!   firmware's DOE requests to an in-process DSM or to one behind QEMU's socket, for
//!   the tests and the benchmark.

pub mod fw_channel;
pub mod qemu_socket;
pub mod relay;
