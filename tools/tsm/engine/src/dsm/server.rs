// SPDX-License-Identifier: GPL-2.0

//! The DSM's side of QEMU: its SPDM socket (serve one connection, one powered-on
//! device) and its trace log (follow the host's config writes to the device), keeping
//! the state file current.
//!
//! One [`Device`] (the DSM engine, the trace follower, the state file) is shared behind a
//! mutex by the socket loop ([`serve`]) and the follower thread ([`spawn_follower`]),
//! which polls the trace every [`FOLLOW_PERIOD`] and applies what QEMU appended.
//!
//! Ordering: QEMU writes and flushes a config write's trace line before it hands the
//! write to the device, so the line of the DOE GO write that sent a request is in the
//! trace before the request reaches the socket. The socket loop drains the follower
//! (under the same lock) before it handles each DOE request: every config write the
//! guest made before a DOE request is applied before that request is answered,
//! whatever the follower thread's timing. The follower thread only bounds how late a
//! write that no DOE request follows is seen.
//!
//! The state file is rewritten, under the lock, whenever the DSM's observable state
//! changed, and before each DOE response leaves; with a trace it ends with
//! `trace.offset=N`, the bytes of the trace consumed, so a test can wait until the DSM
//! has caught up with the trace file's size. The trace grows all the time (it holds
//! every MMIO access of every device), so the offset alone does not make the follower
//! rewrite the file: a reader that needs it current asks, by writing the offset it
//! wants (the trace's size when it asked) to the query file beside the state file
//! ([`query_file`]); the follower reads it every poll, and rewrites the state file once
//! it has drained that far. A slow-response delay is slept without the lock.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use log::{info, warn};

use super::Dsm;
use crate::qemu_trace::TraceFollower;
use crate::transport::qemu_socket::{self, Frame};

/// How often the follower thread polls the trace.
pub const FOLLOW_PERIOD: Duration = Duration::from_millis(5);

/// The query file of `state_file`: the same path with the extension `query`. It holds
/// a decimal trace offset; the follower keeps the state file's `trace.offset` at least
/// that far (once the trace has grown that far).
pub fn query_file(state_file: &Path) -> PathBuf {
    state_file.with_extension("query")
}

/// Atomically rewrites the state file (write a sibling, rename over).
pub fn write_state(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    let r = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        warn!("cannot write state file {}: {e}", path.display());
    }
}

/// One emulated device: the DSM engine, the follower of QEMU's trace that feeds it the
/// host's config writes, and the state file that shows both.
pub struct Device {
    dsm: Dsm,
    trace: Option<TraceFollower>,
    state_file: Option<PathBuf>,
    /// The trace offset in the state file as last written.
    written_offset: Option<u64>,
    /// The last error polling the trace (logged once, until polling works again).
    trace_error: Option<io::ErrorKind>,
    /// The offset last asked for in the query file (0 if none).
    wanted: u64,
}

/// Locks a shared [`Device`]; a thread that panicked holding the lock left the device in
/// a consistent state between two calls, so a poisoned lock is taken as is.
pub fn lock(device: &Mutex<Device>) -> MutexGuard<'_, Device> {
    device.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Device {
    /// A device served by `dsm`, fed by `trace` if given, shown in `state_file` if given.
    pub fn new(dsm: Dsm, trace: Option<TraceFollower>, state_file: Option<PathBuf>) -> Self {
        Self {
            dsm,
            trace,
            state_file,
            written_offset: None,
            trace_error: None,
            wanted: 0,
        }
    }

    /// The DSM.
    pub fn dsm(&self) -> &Dsm {
        &self.dsm
    }

    /// The DSM, mutably.
    pub fn dsm_mut(&mut self) -> &mut Dsm {
        &mut self.dsm
    }

    /// Bytes of the trace consumed, if there is a trace.
    pub fn trace_offset(&self) -> Option<u64> {
        self.trace.as_ref().map(TraceFollower::offset)
    }

    /// Powers the device on again with `dsm` (config shadow at reset, no session, TDIs
    /// CONFIG_UNLOCKED); the trace follower keeps its offset. The state file keeps
    /// showing the previous power cycle until the new one changes something.
    pub fn power_on(&mut self, dsm: Dsm) {
        self.dsm = dsm;
        self.dsm.take_changed();
    }

    /// Applies every event appended to the trace since the last drain; returns how many.
    pub fn drain(&mut self) -> usize {
        let Some(t) = self.trace.as_mut() else {
            return 0;
        };
        let events = match t.poll() {
            Ok(ev) => {
                self.trace_error = None;
                ev
            }
            Err(e) => {
                if self.trace_error != Some(e.kind()) {
                    warn!("cannot read the trace {}: {e}", t.path().display());
                }
                self.trace_error = Some(e.kind());
                return 0;
            }
        };
        for e in &events {
            self.dsm.apply(e);
        }
        events.len()
    }

    /// The state file's content: [`Dsm::snapshot`], then `trace.offset=N` if there is a
    /// trace.
    pub fn snapshot(&self) -> String {
        let mut s = self.dsm.snapshot();
        if let Some(off) = self.trace_offset() {
            s.push_str(&format!("trace.offset={off}\n"));
        }
        s
    }

    /// Rewrites the state file.
    pub fn write_state_file(&mut self) {
        self.dsm.take_changed();
        self.written_offset = self.trace_offset();
        if let Some(p) = &self.state_file {
            write_state(p, &self.snapshot());
        }
    }

    /// Reads the query file (see the module documentation); a missing or unreadable
    /// one asks for nothing new. Call it before [`Device::drain`]: the drain then
    /// reads the trace at least as far as the asker saw it.
    pub fn read_query(&mut self) {
        let Some(q) = self.state_file.as_deref().map(query_file) else {
            return;
        };
        if let Some(want) = std::fs::read_to_string(q)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            self.wanted = want;
        }
    }

    /// Rewrites the state file if the DSM's state changed since it was last written, or
    /// if the query file asks for a trace offset beyond the one it shows.
    pub fn sync_state_file(&mut self) {
        let asked = self
            .written_offset
            .is_some_and(|w| w < self.wanted && self.trace_offset() != Some(w));
        if self.dsm.take_changed() || asked {
            self.write_state_file();
        }
    }
}

/// Starts the thread that drains `device`'s trace every `period` and keeps its state
/// file current; it ends when the last other reference to `device` is dropped.
pub fn spawn_follower(device: &Arc<Mutex<Device>>, period: Duration) -> io::Result<JoinHandle<()>> {
    let weak = Arc::downgrade(device);
    std::thread::Builder::new()
        .name("trace-follower".into())
        .spawn(move || loop {
            std::thread::sleep(period);
            let Some(device) = weak.upgrade() else {
                return;
            };
            let mut d = lock(&device);
            d.read_query();
            d.drain();
            d.sync_state_file();
        })
}

/// Serves one QEMU connection to `device`; `Ok(true)` if it ended with SHUTDOWN,
/// `Ok(false)` if the peer closed between frames. Before each DOE request is handled,
/// the trace is drained (see the module documentation).
pub fn serve(stream: &mut TcpStream, device: &Mutex<Device>) -> io::Result<bool> {
    {
        let mut d = lock(device);
        d.drain();
        d.write_state_file();
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
                let r = {
                    let mut d = lock(device);
                    // Every config write made before this request, first.
                    d.drain();
                    let r = d.dsm_mut().handle(&frame.payload);
                    // What QEMU puts in the read mailbox for the guest to read.
                    d.dsm_mut().doe_responded(r.object.len());
                    // The state file is current before the requester sees the response.
                    d.sync_state_file();
                    r
                };
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
        qemu_socket::write_frame(stream, &reply)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Faults;
    use crate::testing::scratch::{self, ScratchDir};
    use crate::testing::testbed;

    #[test]
    fn the_trace_feeds_the_dsm_and_the_state_file_shows_the_offset() {
        let dir = ScratchDir::new("server-device").unwrap();
        let trace = dir.join("trace");
        let state = dir.join("state");
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        let mut d = Device::new(dsm, Some(TraceFollower::new(&trace)), Some(state.clone()));
        assert_eq!(d.drain(), 0);
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(s.ends_with("trace.offset=0\n"), "{s}");
        let lines = "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n\
                     pci_cfg_write nvme 01:00.0 @0x4 <- 0x2\n\
                     pci_cfg_write nvme 02:00.0 @0x4 <- 0x0\n\
                     pci_update_mappings_add nvme 01:00.0 0,0x10000000+0x4000\n\
                     memory_region_ops_read cpu 0 mr 0x1 addr 0x10000000 value 0x0 size 4 name 'nvme'\n\
                     memory_region_ops_write cpu 0 mr 0x2 addr 0x9000000 value 0x41 size 4 name 'pl011'\n";
        std::fs::write(&trace, lines).unwrap();
        assert_eq!(d.drain(), 6);
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(
            s.contains("host.cfg_writes=2\nhost.mmio=1\nhost.events=1\n"),
            "{s}"
        );
        assert!(
            s.ends_with(&format!("trace.offset={}\n", lines.len())),
            "{s}"
        );
        // A new power cycle: the shadow and counters at reset, the offset kept, the
        // state file untouched until something happens.
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        d.power_on(dsm);
        d.sync_state_file();
        assert_eq!(std::fs::read_to_string(&state).unwrap(), s);
        assert_eq!(d.trace_offset(), Some(lines.len() as u64));
        assert_eq!(d.dsm().host_counters().cfg_writes, 0);
        std::fs::write(&trace, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x2\n").unwrap();
        assert_eq!(d.drain(), 1);
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(
            s.contains("host.cfg_writes=1\nhost.mmio=0\nhost.events=0\n"),
            "{s}"
        );
    }

    #[test]
    fn the_offset_alone_is_written_when_asked_for() {
        let dir = ScratchDir::new("server-query").unwrap();
        let trace = dir.join("trace");
        let state = dir.join("dsm.state");
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        let mut d = Device::new(dsm, Some(TraceFollower::new(&trace)), Some(state.clone()));
        d.write_state_file();
        // Another device's MMIO: the trace grows, the DSM's state does not change.
        let uart =
            "memory_region_ops_write cpu 0 mr 0x2 addr 0x9000000 value 0x41 size 4 name 'pl011'\n";
        std::fs::write(&trace, uart.repeat(3)).unwrap();
        d.read_query();
        assert_eq!(d.drain(), 3);
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(s.ends_with("trace.offset=0\n"), "{s}");
        // Asked for the size the trace had: written once drained that far.
        let size = 3 * uart.len();
        std::fs::write(query_file(&state), format!("{size}\n")).unwrap();
        assert_eq!(query_file(&state), dir.join("dsm.query"));
        d.read_query();
        d.drain();
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(s.ends_with(&format!("trace.offset={size}\n")), "{s}");
        // Not again for the same query, however far the trace grows.
        scratch::append(&trace, uart).unwrap();
        d.read_query();
        assert_eq!(d.drain(), 1);
        d.sync_state_file();
        assert_eq!(std::fs::read_to_string(&state).unwrap(), s);
        // A query beyond what the trace holds yet: written with what there is.
        std::fs::write(query_file(&state), "999999").unwrap();
        d.read_query();
        d.sync_state_file();
        let s = std::fs::read_to_string(&state).unwrap();
        assert!(
            s.ends_with(&format!("trace.offset={}\n", 4 * uart.len())),
            "{s}"
        );
    }

    #[test]
    fn without_a_trace_nothing_changes() {
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        let mut d = Device::new(dsm, None, None);
        assert_eq!(d.drain(), 0);
        assert_eq!(d.trace_offset(), None);
        assert!(!d.snapshot().contains("trace.offset"));
    }
}
