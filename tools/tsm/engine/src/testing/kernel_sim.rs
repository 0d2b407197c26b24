// SPDX-License-Identifier: GPL-2.0

//! The kernel side of the `/dev/tsm_fw` protocol, in userspace, for tests: the backend's
//! relay loop that the kernel runs, carrying the firmware's DOE requests to a DSM.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::fw::DoeError;
use crate::fwproto::{self, errno, Body, Complete, DoeResponse, Hello, Message, ProtoError};
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
        }
    }

    fn recv(&mut self) -> Result<Message, SimError> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(Ok(Some(raw))) => Ok(Message::decode(&raw)?),
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => Err(SimError::Closed),
            Ok(Err(e)) => Err(SimError::Io(e)),
            Err(RecvTimeoutError::Timeout) => Err(SimError::Timeout),
        }
    }

    /// Waits for HELLO and answers HELLO_ACK with `version`.
    pub fn handshake(&mut self, version: u16) -> Result<Hello, SimError> {
        let m = self.recv()?;
        let Body::Hello(h) = m.body else {
            return Err(SimError::Unexpected(format!("{:?}", m.body)));
        };
        write_message(
            &mut *self.w,
            &Message {
                req_id: 0,
                body: Body::HelloAck {
                    version,
                    max_msg_size: fwproto::MAX_MSG_SIZE as u32,
                },
            },
        )?;
        Ok(h)
    }

    /// Sends raw bytes (for malformed-message tests).
    pub fn send_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.w.flush()
    }

    /// Waits for the next COMPLETE, relaying nothing.
    pub fn expect_complete(&mut self) -> Result<(u64, Complete), SimError> {
        let m = self.recv()?;
        match m.body {
            Body::Complete(c) => Ok((m.req_id, c)),
            other => Err(SimError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends a command and relays its DOE requests to `ep` until COMPLETE.
    pub fn command(&mut self, body: Body, ep: &mut dyn DoeEndpoint) -> Result<Complete, SimError> {
        let id = self.next_id;
        self.next_id += 1;
        write_message(&mut *self.w, &Message { req_id: id, body })?;
        loop {
            let m = self.recv()?;
            if m.req_id != id {
                return Err(SimError::Unexpected(format!("req_id {} != {id}", m.req_id)));
            }
            match m.body {
                Body::Complete(c) => return Ok(c),
                Body::DoeRequest(d) => {
                    self.exchanges += 1;
                    let r = relay::doe_request_object(d.object_type, &d.payload)
                        .and_then(|o| ep.exchange(&o, self.timeout))
                        .and_then(|o| relay::doe_response_payload(&o, d.object_type));
                    let resp = match r {
                        Ok(payload) => DoeResponse {
                            status: 0,
                            vendor_id: d.vendor_id,
                            object_type: d.object_type,
                            seq: d.seq,
                            payload,
                        },
                        Err(e) => DoeResponse {
                            status: match e {
                                DoeError::Timeout => -errno::ETIMEDOUT,
                                DoeError::Io(n) => n,
                            },
                            vendor_id: d.vendor_id,
                            object_type: d.object_type,
                            seq: d.seq,
                            payload: Vec::new(),
                        },
                    };
                    write_message(
                        &mut *self.w,
                        &Message {
                            req_id: id,
                            body: Body::DoeResponse(resp),
                        },
                    )?;
                }
                other => return Err(SimError::Unexpected(format!("{other:?}"))),
            }
        }
    }
}
