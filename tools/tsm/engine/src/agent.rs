// SPDX-License-Identifier: GPL-2.0

//! The tsm-fw agent loop over a pluggable transport, and a kernel-side simulator of the
//! same protocol for tests.
//!
//! Transports carry whole [`super::fwproto`] messages: the character device
//! (`/dev/tsm_fw`: one `read()`/`write()` per message) or any byte stream (a pipe pair,
//! a Unix socket), where the header's length field frames messages. A reader thread
//! feeds a channel so the loop can wait with a timeout on any transport.

use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use log::{debug, info, warn};

use super::fw::{DoeError, Firmware, Input, Output};
use super::fwproto::{
    self, errno, size, Body, Complete, DoeRequest, DoeResponse, Hello, Message, ProtoError,
};
use super::relay::{self, DoeEndpoint};

/// How messages are read from the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One `read()` returns exactly one message (the character device).
    Datagram,
    /// A byte stream; the header's length field delimits messages.
    Stream,
}

/// Reads one message.
pub fn read_message(r: &mut dyn Read, framing: Framing) -> io::Result<Option<Vec<u8>>> {
    match framing {
        Framing::Datagram => {
            let mut buf = vec![0u8; fwproto::MAX_MSG_SIZE];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return Ok(None),
                    Ok(n) => {
                        buf.truncate(n);
                        return Ok(Some(buf));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Framing::Stream => {
            let mut head = vec![0u8; size::HDR];
            let mut got = 0;
            while got < head.len() {
                match r.read(&mut head[got..]) {
                    Ok(0) if got == 0 => return Ok(None),
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let len = Message::declared_len(&head).unwrap_or(0);
            if !(size::HDR..=fwproto::MAX_MSG_SIZE).contains(&len) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message length {len} out of bounds"),
                ));
            }
            head.resize(len, 0);
            r.read_exact(&mut head[size::HDR..])?;
            Ok(Some(head))
        }
    }
}

/// Writes one message with a single `write()` call where possible.
pub fn write_message(w: &mut dyn Write, msg: &Message) -> io::Result<()> {
    let b = msg
        .encode()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    w.write_all(&b)?;
    w.flush()
}

/// Spawns a reader thread; the channel yields raw messages, then one `Err` or `None` at
/// the end of the stream.
pub fn reader_thread(
    mut r: Box<dyn Read + Send>,
    framing: Framing,
) -> Receiver<io::Result<Option<Vec<u8>>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let m = read_message(&mut *r, framing);
        let end = !matches!(m, Ok(Some(_)));
        if tx.send(m).is_err() || end {
            return;
        }
    });
    rx
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The kernel closed the device / the peer closed the stream.
    #[error("peer closed the connection")]
    PeerClosed,
    /// I/O failure.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The kernel refused every version the firmware speaks.
    #[error("kernel refused protocol version (HELLO_ACK version {0})")]
    VersionRefused(u16),
    /// The first message was not HELLO_ACK.
    #[error("handshake: expected HELLO_ACK, got {0}")]
    Handshake(String),
}

/// Agent options.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Timeout the firmware asks for per DOE exchange, and (twice it) how long it waits
    /// for the kernel's DOE_RESPONSE before failing the command.
    pub doe_timeout: Duration,
}

/// Runs the agent until the peer goes away.
pub fn run_agent(
    fw: &mut Firmware,
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    w: &mut dyn Write,
    opts: &AgentOptions,
) -> Result<(), AgentError> {
    write_message(
        w,
        &Message {
            req_id: 0,
            body: Body::Hello(Hello {
                min_version: fwproto::VERSION_1,
                max_version: fwproto::VERSION_1,
                max_msg_size: fwproto::MAX_MSG_SIZE as u32,
                caps: fwproto::CAP_IDE | fwproto::CAP_TDISP,
            }),
        },
    )?;
    let first = recv(rx, None)?.ok_or(AgentError::PeerClosed)?;
    match Message::decode(&first) {
        Ok(Message {
            body: Body::HelloAck { version, .. },
            ..
        }) => {
            if version != fwproto::VERSION_1 {
                return Err(AgentError::VersionRefused(version));
            }
        }
        Ok(m) => return Err(AgentError::Handshake(format!("{:?}", m.body))),
        Err(e) => return Err(AgentError::Handshake(e.to_string())),
    }
    info!("handshake done: protocol version {}", fwproto::VERSION_1);
    loop {
        let raw = recv(rx, None)?.ok_or(AgentError::PeerClosed)?;
        let msg = match Message::decode(&raw) {
            Ok(m) => m,
            Err(e) => {
                warn!("bad message from the kernel: {e}");
                bad_command(w, &raw, &e)?;
                continue;
            }
        };
        match fwproto::command_of(&msg.body) {
            Some(Ok(cmd)) => {
                debug!("command {} : {cmd:?}", msg.req_id);
                serve_command(fw, rx, w, opts, msg.req_id, cmd)?;
            }
            Some(Err(e)) => bad_command(w, &raw, &e)?,
            None => match msg.body {
                Body::DoeResponse(_) => warn!("stale DOE_RESPONSE {} ignored", msg.req_id),
                Body::HelloAck { .. } => debug!("repeated HELLO_ACK ignored"),
                other => {
                    warn!("unexpected message type {:#x}", other.msg_type());
                    bad_command(w, &raw, &ProtoError::Invalid("message type"))?;
                }
            },
        }
    }
}

fn recv(
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    timeout: Option<Duration>,
) -> Result<Option<Vec<u8>>, AgentError> {
    let r = match timeout {
        None => rx.recv().map_err(|_| AgentError::PeerClosed)?,
        Some(t) => match rx.recv_timeout(t) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => return Err(AgentError::PeerClosed),
        },
    };
    match r {
        Ok(Some(m)) => Ok(Some(m)),
        Ok(None) => Err(AgentError::PeerClosed),
        Err(e) => Err(AgentError::Io(e)),
    }
}

fn complete(
    w: &mut dyn Write,
    req_id: u64,
    status: i32,
    fw_error: u32,
    tdi_state: u32,
    payload: Vec<u8>,
) -> io::Result<()> {
    write_message(
        w,
        &Message {
            req_id,
            body: Body::Complete(Complete {
                status,
                fw_error,
                tdi_state,
                payload,
            }),
        },
    )
}

fn bad_command(w: &mut dyn Write, raw: &[u8], e: &ProtoError) -> io::Result<()> {
    let req_id = raw
        .get(16..24)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_le_bytes);
    warn!("command {req_id} refused: {e}");
    complete(
        w,
        req_id,
        -errno::EINVAL,
        fwproto::err::BAD_COMMAND,
        fwproto::TDI_NONE,
        Vec::new(),
    )
}

fn serve_command(
    fw: &mut Firmware,
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    w: &mut dyn Write,
    opts: &AgentOptions,
    req_id: u64,
    cmd: super::fw::Command,
) -> Result<(), AgentError> {
    let dev = cmd.dev();
    let mut out = fw.step(Input::Command(cmd));
    let mut seq: u32 = 0;
    loop {
        match out {
            Output::Done { payload, tdi_state } => {
                complete(
                    w,
                    req_id,
                    0,
                    fwproto::err::NONE,
                    fwproto::tdi_state_code(tdi_state),
                    payload,
                )?;
                return Ok(());
            }
            Output::Failed { error, tdi_state } => {
                let (status, code) = fwproto::error_codes(&error);
                complete(
                    w,
                    req_id,
                    status,
                    code,
                    fwproto::tdi_state_code(tdi_state),
                    error.to_string().into_bytes(),
                )?;
                return Ok(());
            }
            Output::SendDoe {
                object_type,
                payload,
            } => {
                write_message(
                    w,
                    &Message {
                        req_id,
                        body: Body::DoeRequest(DoeRequest {
                            dev,
                            vendor_id: fwproto::DOE_VENDOR_PCI_SIG,
                            object_type,
                            seq,
                            timeout_ms: u32::try_from(opts.doe_timeout.as_millis())
                                .unwrap_or(u32::MAX),
                            payload,
                        }),
                    },
                )?;
                let resp = wait_doe(rx, w, req_id, seq, object_type, opts.doe_timeout * 2)?;
                seq = seq.wrapping_add(1);
                out = fw.step(Input::DoeResponse(resp));
            }
        }
    }
}

fn wait_doe(
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    w: &mut dyn Write,
    req_id: u64,
    seq: u32,
    object_type: u8,
    limit: Duration,
) -> Result<Result<Vec<u8>, DoeError>, AgentError> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(raw) = recv(rx, Some(left))? else {
            warn!("no DOE_RESPONSE from the kernel within {limit:?}");
            return Ok(Err(DoeError::Timeout));
        };
        let msg = match Message::decode(&raw) {
            Ok(m) => m,
            Err(e) => {
                bad_command(w, &raw, &e)?;
                continue;
            }
        };
        match msg.body {
            Body::DoeResponse(d) if msg.req_id == req_id && d.seq == seq => {
                return Ok(doe_result(d, object_type));
            }
            Body::DoeResponse(_) => warn!("stale DOE_RESPONSE {} ignored", msg.req_id),
            body => {
                if fwproto::command_of(&body).is_some() {
                    // One command at a time: the kernel serializes per firmware.
                    complete(
                        w,
                        msg.req_id,
                        -errno::EBUSY,
                        fwproto::err::BUSY,
                        fwproto::TDI_NONE,
                        Vec::new(),
                    )?;
                } else {
                    bad_command(w, &raw, &ProtoError::Invalid("message type"))?;
                }
            }
        }
    }
}

fn doe_result(d: DoeResponse, object_type: u8) -> Result<Vec<u8>, DoeError> {
    if d.status == -errno::ETIMEDOUT {
        return Err(DoeError::Timeout);
    }
    if d.status != 0 {
        return Err(DoeError::Io(if d.status < 0 {
            d.status
        } else {
            -errno::EIO
        }));
    }
    if d.vendor_id != fwproto::DOE_VENDOR_PCI_SIG || d.object_type != object_type {
        return Err(DoeError::Io(-errno::EIO));
    }
    Ok(d.payload)
}

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
