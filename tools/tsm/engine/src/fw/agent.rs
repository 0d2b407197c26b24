// SPDX-License-Identifier: GPL-2.0

//! The tsm-fw agent: the [`Firmware`] served over the `/dev/tsm_fw` protocol
//! (`tsm_proto::fwmsg`) on any transport of [`crate::transport::fw_channel`]. It says
//! HELLO, then runs one command at a time, turning each [`Output::SendDoe`] into a
//! DOE_REQUEST to the kernel and the kernel's DOE_RESPONSE into the next
//! [`Input::DoeResponse`].

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use log::{debug, info, warn};

use tsm_proto::fwmsg::{
    self, declared_req_id, err, tdi_state_code, Cmd, Complete, DoeRequest, DoeResponse, Hello,
    Message, Msg, TDI_NONE,
};

use super::{Command, DoeError, Firmware, Input, Output};
use crate::fwproto::{self, errno, ProtoError};
use crate::transport::fw_channel::write_message;

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
    let hello = Msg::Hello(Hello {
        min_version: fwmsg::VERSION_1,
        max_version: fwmsg::VERSION_1,
        max_msg_size: fwmsg::MAX_MSG_SIZE as u32,
        caps: fwmsg::CAP_IDE | fwmsg::CAP_TDISP,
    });
    write_message(w, 0, &hello)?;
    let first = recv(rx, None)?.ok_or(AgentError::PeerClosed)?;
    match Cmd::decode(&first) {
        Ok((_, Cmd::HelloAck(ack))) => {
            if ack.version != fwmsg::VERSION_1 {
                return Err(AgentError::VersionRefused(ack.version));
            }
        }
        Ok((_, other)) => return Err(AgentError::Handshake(format!("{other:?}"))),
        Err(e) => return Err(AgentError::Handshake(e.to_string())),
    }
    info!("handshake done: protocol version {}", fwmsg::VERSION_1);
    // A command that ended the wait for a DOE_RESPONSE, served next.
    let mut next: Option<Vec<u8>> = None;
    loop {
        let raw = match next.take() {
            Some(raw) => raw,
            None => recv(rx, None)?.ok_or(AgentError::PeerClosed)?,
        };
        let (req_id, msg) = match Cmd::decode(&raw) {
            Ok(m) => m,
            Err(e) => {
                warn!("bad message from the kernel: {e}");
                bad_command(w, &raw, &e.into())?;
                continue;
            }
        };
        match Command::from_wire(&msg) {
            Some(Ok(cmd)) => {
                debug!("command {req_id} : {cmd:?}");
                next = serve_command(fw, rx, w, opts, req_id, cmd)?;
            }
            Some(Err(e)) => bad_command(w, &raw, &e)?,
            None if matches!(msg, Cmd::DoeResponse(_)) => {
                warn!("stale DOE_RESPONSE {req_id} ignored")
            }
            None => debug!("repeated HELLO_ACK ignored"),
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
    payload: &[u8],
) -> io::Result<()> {
    let c = Msg::Complete(Complete {
        status,
        fw_error,
        tdi_state,
        payload,
    });
    write_message(w, req_id, &c)
}

fn bad_command(w: &mut dyn Write, raw: &[u8], e: &ProtoError) -> io::Result<()> {
    let req_id = declared_req_id(raw).unwrap_or(0);
    warn!("command {req_id} refused: {e}");
    complete(w, req_id, -errno::EINVAL, err::BAD_COMMAND, TDI_NONE, &[])
}

/// Runs one command to its `COMPLETE`. Returns the next command if one arrived while the
/// firmware waited for a DOE_RESPONSE: the kernel sends a command only once it is done
/// with the previous one, and queues the answer to an exchange it carried before any
/// later command, so such a command means the kernel gave up on this one without
/// carrying the exchange; it is ended as not sent ([`DoeError::NotSent`], which gives a
/// sealed request's sequence number back) and the new command is served next.
fn serve_command(
    fw: &mut Firmware,
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    w: &mut dyn Write,
    opts: &AgentOptions,
    req_id: u64,
    cmd: Command,
) -> Result<Option<Vec<u8>>, AgentError> {
    let dev = cmd.dev();
    let mut out = fw.step(Input::Command(cmd));
    let mut seq: u32 = 0;
    let mut superseded = None;
    loop {
        match out {
            Output::Done { payload, tdi_state } => {
                complete(w, req_id, 0, err::NONE, tdi_state_code(tdi_state), &payload)?;
                return Ok(superseded);
            }
            Output::Failed { error, tdi_state } => {
                let (status, code) = fwproto::error_codes(&error);
                complete(
                    w,
                    req_id,
                    status,
                    code,
                    tdi_state_code(tdi_state),
                    error.to_string().as_bytes(),
                )?;
                return Ok(superseded);
            }
            Output::SendDoe {
                object_type,
                payload,
            } => {
                let request = Msg::DoeRequest(DoeRequest {
                    dev,
                    object_type,
                    seq,
                    timeout_ms: u32::try_from(opts.doe_timeout.as_millis()).unwrap_or(u32::MAX),
                    payload: &payload,
                });
                write_message(w, req_id, &request)?;
                let resp = match wait_doe(rx, w, req_id, seq, object_type, opts.doe_timeout * 2)? {
                    Wait::Answer(resp) => resp,
                    Wait::Superseded(raw) => {
                        info!("command {req_id} abandoned by the kernel: request {seq} not sent");
                        superseded = Some(raw);
                        Err(DoeError::NotSent)
                    }
                };
                seq = seq.wrapping_add(1);
                out = fw.step(Input::DoeResponse(resp));
            }
        }
    }
}

/// How the wait for a DOE_RESPONSE ended.
enum Wait {
    /// The kernel's answer (or the firmware's own timeout).
    Answer(Result<Vec<u8>, DoeError>),
    /// A command arrived first (raw, not yet decoded): the kernel abandoned this one.
    Superseded(Vec<u8>),
}

fn wait_doe(
    rx: &Receiver<io::Result<Option<Vec<u8>>>>,
    w: &mut dyn Write,
    req_id: u64,
    seq: u32,
    object_type: u8,
    limit: Duration,
) -> Result<Wait, AgentError> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(raw) = recv(rx, Some(left))? else {
            warn!("no DOE_RESPONSE from the kernel within {limit:?}");
            return Ok(Wait::Answer(Err(DoeError::Timeout)));
        };
        let (id, msg) = match Cmd::decode(&raw) {
            Ok(m) => m,
            Err(e) => {
                bad_command(w, &raw, &e.into())?;
                continue;
            }
        };
        match msg {
            Cmd::DoeResponse(d) if id == req_id && d.seq == seq => {
                return Ok(Wait::Answer(doe_result(&d, object_type)));
            }
            Cmd::DoeResponse(_) => warn!("stale DOE_RESPONSE {id} ignored"),
            other => {
                if Command::from_wire(&other).is_some() {
                    return Ok(Wait::Superseded(raw));
                }
                bad_command(w, &raw, &ProtoError::Invalid("message type"))?;
            }
        }
    }
}

fn doe_result(d: &DoeResponse<'_>, object_type: u8) -> Result<Vec<u8>, DoeError> {
    if d.status == -errno::ETIMEDOUT {
        return Err(DoeError::Timeout);
    }
    if d.status == -errno::ECANCELED {
        return Err(DoeError::NotSent);
    }
    if d.status != 0 {
        return Err(DoeError::Io(if d.status < 0 {
            d.status
        } else {
            -errno::EIO
        }));
    }
    if d.vendor_id != fwmsg::DOE_VENDOR_PCI_SIG || d.object_type != object_type {
        return Err(DoeError::Io(-errno::EIO));
    }
    Ok(d.payload.to_vec())
}
