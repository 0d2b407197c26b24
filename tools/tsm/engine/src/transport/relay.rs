// SPDX-License-Identifier: GPL-2.0

//! A userspace stand-in for the kernel's relay loop: it runs firmware commands to
//! completion by carrying each requested DOE exchange to a DSM, with a per-exchange
//! timeout and a bound on the number of exchanges, exactly as the kernel's shared loop
//! does for every platform backend. Used by the loopback tests, the benchmark and the
//! tsm-fw host tests.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use log::debug;
use tsm_proto::codec::Writer;
use tsm_proto::doe::{self, DataObject};

use super::qemu_socket::{self, Frame};
use crate::dsm::Dsm;
use crate::fw::{Command, DoeError, Firmware, Input, Output};

/// `EIO`.
pub const EIO: i32 = 5;
/// `EMSGSIZE`.
pub const EMSGSIZE: i32 = 90;
/// `ELOOP`: too many exchanges for one command.
pub const ELOOP: i32 = 40;
/// `EPIPE`: the DSM went away.
pub const EPIPE: i32 = 32;

/// Bound on DOE exchanges per command (a connect needs about 25).
pub const MAX_EXCHANGES: usize = 512;
/// Largest DOE response object the relay accepts (the kernel's buffer).
pub const MAX_RESPONSE_OBJECT: usize = 0x1_0000;

/// Something that answers DOE data objects.
pub trait DoeEndpoint {
    /// Sends a whole DOE object and returns the whole response object.
    fn exchange(&mut self, object: &[u8], timeout: Duration) -> Result<Vec<u8>, DoeError>;
}

/// An in-process DSM. Its slow-response knob is simulated: a delay over the timeout is a
/// timeout, without sleeping; a shorter delay is slept.
pub struct LocalDsm(pub Dsm);

impl DoeEndpoint for LocalDsm {
    fn exchange(&mut self, object: &[u8], timeout: Duration) -> Result<Vec<u8>, DoeError> {
        let r = self.0.handle(object);
        if r.delay > timeout {
            return Err(DoeError::Timeout);
        }
        if !r.delay.is_zero() {
            std::thread::sleep(r.delay);
        }
        Ok(r.object)
    }
}

/// A DSM behind QEMU's SPDM socket framing (a running tsm-dsm).
pub struct SocketDsm {
    stream: TcpStream,
}

impl SocketDsm {
    /// Connects as QEMU does.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }

    /// Sends SHUTDOWN, as QEMU does when the device goes away, and waits for the echo.
    pub fn shutdown(mut self) -> io::Result<()> {
        qemu_socket::write_frame(
            &mut self.stream,
            &Frame {
                command: qemu_socket::CMD_SHUTDOWN,
                transport: qemu_socket::TRANSPORT_PCI_DOE,
                payload: Vec::new(),
            },
        )?;
        self.stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let _ = qemu_socket::read_frame(&mut self.stream)?;
        Ok(())
    }
}

impl DoeEndpoint for SocketDsm {
    fn exchange(&mut self, object: &[u8], timeout: Duration) -> Result<Vec<u8>, DoeError> {
        let frame = Frame {
            command: qemu_socket::CMD_NORMAL,
            transport: qemu_socket::TRANSPORT_PCI_DOE,
            payload: object.to_vec(),
        };
        qemu_socket::write_frame(&mut self.stream, &frame).map_err(|_| DoeError::Io(-EPIPE))?;
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|_| DoeError::Io(-EIO))?;
        match qemu_socket::read_frame(&mut self.stream) {
            Ok(Some(f)) if f.command == qemu_socket::CMD_NORMAL => Ok(f.payload),
            Ok(Some(_)) => Err(DoeError::Io(-EIO)),
            Ok(None) => Err(DoeError::Io(-EPIPE)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(DoeError::Timeout)
            }
            Err(_) => Err(DoeError::Io(-EIO)),
        }
    }
}

/// Wraps a firmware request payload into a DOE object.
pub fn doe_request_object(object_type: u8, payload: &[u8]) -> Result<Vec<u8>, DoeError> {
    let mut out = vec![0u8; doe::HEADER_LEN + doe::padded_len(payload.len())];
    let mut w = Writer::new(&mut out);
    DataObject {
        vendor_id: doe::PCI_SIG_VENDOR_ID,
        object_type,
        payload,
    }
    .encode(&mut w)
    .map_err(|_| DoeError::Io(-EMSGSIZE))?;
    let n = w.finish();
    out.truncate(n);
    Ok(out)
}

/// Unwraps a DOE response object into its payload, as the kernel's DOE core does: the
/// response must be of the request's vendor and type, else `-EIO`.
pub fn doe_response_payload(object: &[u8], object_type: u8) -> Result<Vec<u8>, DoeError> {
    if object.len() > MAX_RESPONSE_OBJECT {
        return Err(DoeError::Io(-EMSGSIZE));
    }
    let o = DataObject::decode(object).map_err(|_| DoeError::Io(-EIO))?;
    if o.vendor_id != doe::PCI_SIG_VENDOR_ID || o.object_type != object_type {
        return Err(DoeError::Io(-EIO));
    }
    Ok(o.payload.to_vec())
}

/// Outcome of one command run through the relay.
#[derive(Debug, Clone)]
pub struct Run {
    /// The final output ([`Output::Done`] or [`Output::Failed`]).
    pub output: Output,
    /// DOE exchanges made.
    pub exchanges: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs `cmd` to completion against `ep`.
pub fn run(fw: &mut Firmware, ep: &mut dyn DoeEndpoint, cmd: Command, timeout: Duration) -> Run {
    let t = Instant::now();
    let mut exchanges = 0;
    let mut out = fw.step(Input::Command(cmd));
    loop {
        match out {
            Output::SendDoe {
                object_type,
                payload,
            } => {
                exchanges += 1;
                let resp = if exchanges > MAX_EXCHANGES {
                    Err(DoeError::Io(-ELOOP))
                } else {
                    doe_request_object(object_type, &payload)
                        .and_then(|obj| ep.exchange(&obj, timeout))
                        .and_then(|obj| doe_response_payload(&obj, object_type))
                };
                debug!("exchange {exchanges}: {:?}", resp.as_ref().map(Vec::len));
                out = fw.step(Input::DoeResponse(resp));
            }
            done => {
                return Run {
                    output: done,
                    exchanges,
                    elapsed: t.elapsed(),
                }
            }
        }
    }
}
