// SPDX-License-Identifier: GPL-2.0

//! Test support, used by the tests of every crate of the workspace and by the
//! benchmark, never by tsm-dsm or tsm-fw themselves.
//!
//! - [`testbed`]: a ready-made emulated platform (a device, its DSM, a firmware that
//!   trusts it) and the commands of its lifecycle;
//! - [`kernel_sim`]: the kernel side of the `/dev/tsm_fw` protocol, to drive tsm-fw as
//!   the kernel would;
//! - [`process`]: a program run by a test, killed when the test ends;
//! - [`scratch`]: a fresh directory per test, and appending to a file as QEMU does.

pub mod kernel_sim;
pub mod process;
pub mod scratch;
pub mod testbed;
