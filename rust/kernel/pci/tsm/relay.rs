// SPDX-License-Identifier: GPL-2.0

//! The one relay loop of every platform TSM backend.
//!
//! Platform firmwares never touch a device: they stop and ask the kernel for one DOE
//! exchange, and continue when the kernel hands back the answer. Only the shape of the
//! asking differs (SEV-TIO: status `SPDM_REQUEST` and a REQ buffer, re-issue the command;
//! TDX Connect: `TDX_SPDM_REQUEST` and a request page, call again; CCA: a `COMMUNICATE`
//! exit with `REQ_SEND`, communicate again; the emulated platform: a `DOE_REQUEST`
//! message over `/dev/tsm_fw`). A backend expresses that shape as a [`Port`] ("issue" and
//! "continue" plus its buffer codec); [`run`] does the rest, the same way for all of them:
//!
//! - carries each requested exchange over the DSM's DOE mailbox ([`Transport`]),
//!   handing transport errors (`-ETIMEDOUT`, `-EIO`, ...) to the firmware, which decides;
//! - bounds the number of exchanges and the wall time of one command;
//! - cancels a command that may be cancelled (connect, bind, guest requests) when the
//!   calling task has a signal pending, but only before an exchange the firmware can take
//!   back ([`Port::can_withdraw`]: by default a plain SPDM one, never a secured one, which
//!   the firmware sealed with the session's next sequence number); runs a teardown
//!   (unbind, disconnect) to its end whatever the caller's signals, bounded by the limits
//!   only ([`Limits::cancellable`]);
//! - on any of those, tells the firmware ([`Port::abort`]) and returns a clean errno.
//!
//! Per-DSM serialization comes from the caller: the PCI/TSM core runs every link
//! operation of one DSM under that DSM's lock, and a [`super::Dsm`] (the usual
//! [`Transport`]) only exists inside those operations.

use crate::prelude::*;
use crate::time::{
    Instant,
    Monotonic, //
};

/// Largest DOE response payload the loop accepts (the kernel's buffer per exchange).
pub const MAX_RESPONSE: usize = 0x1_0000;

/// DOE object type of CMA/SPDM (PCIe r6.x, 6.31.3).
pub const DOE_SPDM: u8 = 1;

/// DOE object type of secured CMA/SPDM: a message of an SPDM session (DSP0277).
pub const DOE_SECURED_SPDM: u8 = 2;

/// Something that carries one DOE exchange: a DSM's mailbox, or a test double.
pub trait Transport {
    /// Sends `request` as the payload of a PCI-SIG DOE object of `object_type` and puts
    /// the payload of the response object into `response`; returns its length.
    fn transfer(&self, object_type: u8, request: &[u8], response: &mut [u8]) -> Result<usize>;
}

/// What the firmware wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<O> {
    /// One DOE exchange of this object type; the payload is [`Port::request`].
    Doe {
        /// DOE object type (1 CMA/SPDM, 2 secured CMA/SPDM).
        object_type: u8,
    },
    /// The command ended (successfully or not, as the backend's output says).
    Done(O),
}

/// One firmware command in progress, as the relay loop drives it.
pub trait Port {
    /// What the command yields when done.
    type Output;

    /// Starts the command.
    fn issue(&mut self) -> Result<Step<Self::Output>>;

    /// The payload of the exchange the last [`Step::Doe`] asked for.
    fn request(&self) -> &[u8];

    /// Continues the command with the outcome of the exchange: the response payload, or
    /// the transport's error for the firmware to handle.
    fn resume(&mut self, response: Result<&[u8]>) -> Result<Step<Self::Output>>;

    /// The loop gives up on the command (`reason`: `ECANCELED` on a signal, `ETIMEDOUT` past
    /// the deadline, `ELOOP` past the exchange bound): bring the firmware back to idle.
    fn abort(&mut self, reason: Error);

    /// Whether the firmware can take back the request of a [`Step::Doe`] of `object_type`
    /// that the loop then never sends (a signal cancels a command only before such an
    /// exchange). The default: a plain SPDM request can be taken back, a secured one
    /// cannot. The firmware sealed it with the session's next sequence number before the
    /// kernel saw it (DSP0277), so a request withdrawn after the firmware counted it
    /// would leave the firmware's and the device's sequence numbers apart, and the
    /// session lost. A port whose firmware un-counts a request it is told was not sent
    /// says so here.
    fn can_withdraw(&self, object_type: u8) -> bool {
        object_type != DOE_SECURED_SPDM
    }
}

/// Bounds of one command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most DOE exchanges (a connect needs about 25).
    pub max_exchanges: u32,
    /// Wall time of the whole command, in milliseconds.
    pub deadline_ms: u32,
    /// A pending signal cancels the command (connect, bind, guest requests: the caller
    /// sees `EINTR` and nothing is left half done) before the next exchange the firmware
    /// can take back ([`Port::can_withdraw`]); before one it cannot, the command goes
    /// on. `false` for teardown (unbind,
    /// disconnect), which must complete even for a task killed with `SIGKILL` (a VMM
    /// closes its devices from `do_exit()` with the signal still pending): a STOP cut
    /// short would leave the device locked while the kernel forgets it. A port of a
    /// command that is not cancellable must not wait interruptibly either.
    pub cancellable: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_exchanges: 512,
            deadline_ms: 60_000,
            cancellable: true,
        }
    }
}

/// Where one command stands when the loop is about to carry its next exchange.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Exchanges carried so far.
    pub exchanges: u32,
    /// Milliseconds since the command was issued.
    pub elapsed_ms: i64,
    /// The calling task has a signal pending.
    pub signal: bool,
    /// The firmware can take back the next request ([`Port::can_withdraw`]).
    pub withdrawable: bool,
}

/// Why the loop stops a command before its next exchange, if it does: `ELOOP` past the
/// exchange bound, `ETIMEDOUT` past the deadline, `EINTR` on a signal when the command
/// may be cancelled and the next request can be taken back.
pub fn check_bounds(limits: &Limits, p: &Progress) -> Result {
    if p.exchanges >= limits.max_exchanges {
        return Err(ELOOP);
    }
    if p.elapsed_ms > i64::from(limits.deadline_ms) {
        return Err(ETIMEDOUT);
    }
    if limits.cancellable && p.withdrawable && p.signal {
        return Err(EINTR);
    }
    Ok(())
}

/// Runs a command to its end: issue, then carry every requested exchange over `transport`
/// and continue, within `limits`. A port error ends the command with that error (the port
/// has already cleaned up); a bound ends it with `ELOOP`, `ETIMEDOUT` or `EINTR` after
/// [`Port::abort`].
pub fn run<P: Port>(transport: &dyn Transport, port: &mut P, limits: &Limits) -> Result<P::Output> {
    let mut response = KVVec::from_elem(0u8, MAX_RESPONSE, GFP_KERNEL)?;
    let start = Instant::<Monotonic>::now();
    let mut exchanges = 0u32;
    let mut step = port.issue()?;
    loop {
        let object_type = match step {
            Step::Done(out) => return Ok(out),
            Step::Doe { object_type } => object_type,
        };
        let progress = Progress {
            exchanges,
            elapsed_ms: start.elapsed().as_millis(),
            signal: limits.cancellable && crate::current!().signal_pending(),
            withdrawable: port.can_withdraw(object_type),
        };
        if let Err(e) = check_bounds(limits, &progress) {
            port.abort(if e == EINTR { ECANCELED } else { e });
            return Err(e);
        }
        exchanges += 1;
        let r = transport.transfer(object_type, port.request(), &mut response);
        let answer = match r {
            Ok(n) => response.get(..n).ok_or(EIO),
            Err(e) => Err(e),
        };
        step = port.resume(answer)?;
    }
}
