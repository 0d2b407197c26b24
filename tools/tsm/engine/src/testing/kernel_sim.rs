// SPDX-License-Identifier: GPL-2.0

//! The kernel side of the `/dev/tsm_fw` protocol, in userspace, for tests: the backend's
//! relay loop that the kernel runs, carrying the firmware's DOE requests to a DSM.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use tsm_proto::fwmsg::{self, Cmd, Complete, DoeResponse, Hello, HelloAck, Message, Msg};

use crate::fw::{Command, DoeError};
use crate::fwproto::{errno, ProtoError};
use crate::transport::fw_channel::write_message;
use crate::transport::relay::{self, DoeEndpoint};

/// The kernel side of the protocol, in userspace: the backend's relay loop that the
/// kernel will run, carrying the firmware's DOE requests to a DSM.
pub struct KernelSim<'a> {
    rx: Receiver<io::Result<Option<Vec<u8>>>>,
    w: Box<dyn Write + Send + 'a>,
    next_id: u64,
    /// Timeout per DOE exchange and per firmware message.
    pub timeout: Duration,
    /// DOE exchanges relayed so far.
    pub exchanges: usize,
    /// Commands given up on ([`KernelSim::abandon`]): their later messages are stale.
    abandoned: Vec<u64>,
}

/// What a command's COMPLETE said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 0 or a negative errno.
    pub status: i32,
    /// `TSM_FW_ERR_*`.
    pub fw_error: u32,
    /// `TSM_FW_TDI_*`.
    pub tdi_state: u32,
    /// The result, or the firmware's reason for the failure.
    pub payload: Vec<u8>,
}

impl From<Complete<'_>> for Outcome {
    fn from(c: Complete<'_>) -> Self {
        Self {
            status: c.status,
            fw_error: c.fw_error,
            tdi_state: c.tdi_state,
            payload: c.payload.to_vec(),
        }
    }
}

/// Why a simulated kernel command failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Transport.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The firmware sent something that does not decode.
    #[error("protocol: {0}")]
    Proto(#[from] ProtoError),
    /// The firmware went quiet.
    #[error("firmware did not answer in time")]
    Timeout,
    /// The firmware closed its end.
    #[error("firmware closed the connection")]
    Closed,
    /// The firmware broke the protocol.
    #[error("unexpected message: {0}")]
    Unexpected(String),
}

impl<'a> KernelSim<'a> {
    /// A kernel side reading raw messages from `rx` and writing to `w`.
    pub fn new(rx: Receiver<io::Result<Option<Vec<u8>>>>, w: Box<dyn Write + Send + 'a>) -> Self {
        Self {
            rx,
            w,
            next_id: 1,
            timeout: Duration::from_secs(10),
            exchanges: 0,
            abandoned: Vec::new(),
        }
    }

    /// The firmware's next message, raw.
    fn recv(&mut self) -> Result<Vec<u8>, SimError> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(Ok(Some(raw))) => Ok(raw),
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => Err(SimError::Closed),
            Ok(Err(e)) => Err(SimError::Io(e)),
            Err(RecvTimeoutError::Timeout) => Err(SimError::Timeout),
        }
    }

    /// Waits for HELLO and answers HELLO_ACK with `version`.
    pub fn handshake(&mut self, version: u16) -> Result<Hello, SimError> {
        let raw = self.recv()?;
        let h = match decode(&raw)? {
            (_, Msg::Hello(h)) => h,
            (_, other) => return Err(SimError::Unexpected(format!("{other:?}"))),
        };
        let ack = Cmd::HelloAck(HelloAck {
            version,
            max_msg_size: fwmsg::MAX_MSG_SIZE as u32,
        });
        write_message(&mut *self.w, 0, &ack)?;
        Ok(h)
    }

    /// Sends raw bytes (for malformed-message tests).
    pub fn send_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.w.flush()
    }

    /// Waits for the next COMPLETE, relaying nothing.
    pub fn expect_complete(&mut self) -> Result<(u64, Outcome), SimError> {
        let raw = self.recv()?;
        match decode(&raw)? {
            (id, Msg::Complete(c)) => Ok((id, c.into())),
            (_, other) => Err(SimError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends `command` and gives up on it as the kernel does when a signal interrupts the
    /// wait for the firmware: returns the `seq` of the command's first DOE request, which
    /// is left unanswered. The command's later messages are stale: a COMPLETE is dropped,
    /// a DOE request answered `-ECANCELED`, as the kernel's channel does.
    pub fn abandon(&mut self, command: &Command) -> Result<u32, SimError> {
        let id = self.next_id;
        self.next_id += 1;
        write_message(&mut *self.w, id, &command.to_wire()?)?;
        loop {
            let raw = self.recv()?;
            match decode(&raw)? {
                (req_id, Msg::DoeRequest(d)) if req_id == id => {
                    self.abandoned.push(id);
                    return Ok(d.seq);
                }
                (req_id, m) if self.stale(req_id, &m)? => {}
                (_, other) => return Err(SimError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Handles a message of an abandoned command as the kernel does; false if `req_id` is
    /// not one.
    fn stale(&mut self, req_id: u64, m: &Msg<'_>) -> Result<bool, SimError> {
        if !self.abandoned.contains(&req_id) {
            return Ok(false);
        }
        if let Msg::DoeRequest(d) = m {
            let stale = Cmd::DoeResponse(DoeResponse {
                status: -errno::ECANCELED,
                vendor_id: fwmsg::DOE_VENDOR_PCI_SIG,
                object_type: d.object_type,
                seq: d.seq,
                payload: &[],
            });
            write_message(&mut *self.w, req_id, &stale)?;
        }
        Ok(true)
    }

    /// Sends `command` and relays its DOE requests to `ep` until COMPLETE.
    pub fn command(
        &mut self,
        command: &Command,
        ep: &mut dyn DoeEndpoint,
    ) -> Result<Outcome, SimError> {
        self.command_wire(command.to_wire()?, ep)
    }

    /// Sends the command message `cmd`, which need not be one the firmware takes, and
    /// relays its DOE requests to `ep` until COMPLETE.
    pub fn command_wire(
        &mut self,
        cmd: Cmd<'_>,
        ep: &mut dyn DoeEndpoint,
    ) -> Result<Outcome, SimError> {
        let id = self.next_id;
        self.next_id += 1;
        write_message(&mut *self.w, id, &cmd)?;
        loop {
            let raw = self.recv()?;
            let (req_id, d) = match decode(&raw)? {
                (req_id, m) if self.stale(req_id, &m)? => continue,
                (req_id, _) if req_id != id => {
                    return Err(SimError::Unexpected(format!("req_id {req_id} != {id}")))
                }
                (_, Msg::Complete(c)) => return Ok(c.into()),
                (req_id, Msg::DoeRequest(d)) => (req_id, d),
                (_, other) => return Err(SimError::Unexpected(format!("{other:?}"))),
            };
            self.exchanges += 1;
            let r = relay::doe_request_object(d.object_type, d.payload)
                .and_then(|o| ep.exchange(&o, self.timeout))
                .and_then(|o| relay::doe_response_payload(&o, d.object_type));
            let (status, payload) = match &r {
                Ok(payload) => (0, &payload[..]),
                Err(DoeError::Timeout) => (-errno::ETIMEDOUT, &[][..]),
                Err(DoeError::Io(n)) => (*n, &[][..]),
                Err(DoeError::NotSent) => (-errno::ECANCELED, &[][..]),
            };
            let resp = Cmd::DoeResponse(DoeResponse {
                status,
                vendor_id: fwmsg::DOE_VENDOR_PCI_SIG,
                object_type: d.object_type,
                seq: d.seq,
                payload,
            });
            write_message(&mut *self.w, req_id, &resp)?;
        }
    }
}

/// A firmware message.
fn decode(raw: &[u8]) -> Result<(u64, Msg<'_>), SimError> {
    Ok(Msg::decode(raw).map_err(ProtoError::from)?)
}
