// SPDX-License-Identifier: GPL-2.0

//! The DSM's side of QEMU's SPDM socket: serve one connection (one powered-on device),
//! keeping the state file current before every response leaves.

use std::io;
use std::net::TcpStream;
use std::path::Path;

use log::{info, warn};

use super::dsm::Dsm;
use super::qemu_socket::{self, Frame};

/// Atomically rewrites the state file (write a sibling, rename over).
pub fn write_state(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    let r = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        warn!("cannot write state file {}: {e}", path.display());
    }
}

/// Serves one QEMU connection; `Ok(true)` if it ended with SHUTDOWN, `Ok(false)` if the
/// peer closed between frames.
pub fn serve(stream: &mut TcpStream, dsm: &mut Dsm, state_file: Option<&Path>) -> io::Result<bool> {
    if let Some(p) = state_file {
        write_state(p, &dsm.snapshot());
    }
    loop {
        let Some(frame) = qemu_socket::read_frame(stream)? else {
            return Ok(false);
        };
        let reply = match frame.command {
            qemu_socket::CMD_NORMAL => {
                if frame.transport != qemu_socket::TRANSPORT_PCI_DOE {
                    warn!("transport type {} is not PCI DOE", frame.transport);
                }
                let r = dsm.handle(&frame.payload);
                if !r.delay.is_zero() {
                    std::thread::sleep(r.delay);
                }
                if r.object.len() > qemu_socket::QEMU_MAX_MESSAGE {
                    warn!(
                        "response of {} bytes exceeds QEMU's {}-byte buffer",
                        r.object.len(),
                        qemu_socket::QEMU_MAX_MESSAGE
                    );
                }
                Frame {
                    command: qemu_socket::CMD_NORMAL,
                    transport: frame.transport,
                    payload: r.object,
                }
            }
            qemu_socket::CMD_TEST => Frame {
                command: qemu_socket::CMD_TEST,
                transport: frame.transport,
                payload: b"tsm-dsm".to_vec(),
            },
            qemu_socket::CMD_SHUTDOWN => {
                info!("SHUTDOWN from the peer");
                let _ = qemu_socket::write_frame(
                    stream,
                    &Frame {
                        command: qemu_socket::CMD_SHUTDOWN,
                        transport: frame.transport,
                        payload: Vec::new(),
                    },
                );
                return Ok(true);
            }
            other => {
                warn!("unknown socket command {other:#x}");
                Frame {
                    command: qemu_socket::CMD_UNKNOWN,
                    transport: frame.transport,
                    payload: Vec::new(),
                }
            }
        };
        // The state file is current before the requester sees the response.
        if dsm.take_changed() {
            if let Some(p) = state_file {
                write_state(p, &dsm.snapshot());
            }
        }
        qemu_socket::write_frame(stream, &reply)?;
    }
}
