// SPDX-License-Identifier: GPL-2.0

//! The device's view of what the host does to it outside the DOE mailbox: every config
//! write that reaches one of the DSM's functions (as QEMU's trace reports them, see
//! `qemu_trace`), with the device-side TDISP rules applied to it.
//!
//! - A shadow of each function's 4 KiB config space, all zero at reset (a fresh
//!   [`Dsm`]), holds the last value written to each byte. It gives the old bytes of the
//!   next write: `tsm_proto::config::classify_config_write` (the classifier the kernel
//!   filters writes with) turns old and new bytes into [`HostEvent`]s. The shadow is
//!   what was written, not what the registers read back (RW1C bits, read-only fields
//!   and what an FLR resets are not modelled); the classifier only needs the written
//!   values of the registers it watches.
//! - Each event is applied to the TDI of the written function by
//!   `state::dsm_on_host_event`. An event that moves a CONFIG_LOCKED or RUN TDI to
//!   ERROR is a *violation* (what the kernel should have refused); on a CONFIG_UNLOCKED
//!   or ERROR TDI it is only seen.
//! - A write of DOE Abort (DOE Control bit 0) drops the SPDM session and moves every
//!   CONFIG_LOCKED or RUN TDI to ERROR (`HostEvent::IdeOrSessionLost`); it is a
//!   violation only if a session was established or a TDI was locked. (Linux aborts
//!   every DOE mailbox once when it sets it up, long before any SPDM.) The connection
//!   (VCA) state is kept.
//! - The other DOE writes (the mailbox dwords, their acknowledgements, GO) are steps of
//!   an exchange, checked by `mailbox`: a write that is part of none (past the end of
//!   the request, over an unread response, GO on an incomplete request, an
//!   acknowledgement with nothing to read) costs the session as an abort does, and is
//!   a violation on the same terms (`doe-read-nothing-to-read@0x114`, ...).
//! - The bridge above the device: the writes of other functions' Secondary Bus
//!   Number say which bridge's secondary bus is the device's; its Bridge Control with
//!   Secondary Bus Reset newly set is a conventional reset of the device
//!   (`HostEvent::ConventionalReset`): the DSM returns to its power-on state (no SPDM
//!   connection or session, no IDE keys, TDIs CONFIG_UNLOCKED, shadows at reset) and
//!   keeps its counters; a violation (`conventional-reset@0x3e`, the bridge's offset)
//!   when a session was established or a TDI locked.
//! - Counters for the state file: config writes to the DSM's functions, events seen
//!   (in any state, DOE aborts included), violations, and the cause of the last one as
//!   `<event>@<offset>` (e.g. `bus-master-disabled@0x4`, `doe-abort@0x108`).
//!
//! - The BARs as QEMU maps them (`pci_update_mappings_add`/`_del`): each MMIO access
//!   the trace shows at an address inside a mapped BAR of a DSM function is an access
//!   to that function (QEMU's MMIO lines name no device: attributing them by address is
//!   what a device's own BAR decoding does). Every such access is counted; one that hits
//!   a CONFIG_LOCKED or RUN TDI of the function is a host (non-TEE) access to the TDI's
//!   locked MMIO, a violation `mmio-read@bar<N>+<offset>` or `mmio-write@...`. The
//!   pages of the MSI-X table and PBA are excepted when the TDI was locked without
//!   LOCK_MSIX: those stay the host's (TDISP's LOCK_INTERFACE flag; that a device
//!   accepts non-TEE accesses there then is this model's reading of it). What the
//!   device does with the access is [`MmioPolicy`]: a real device refuses it (a read
//!   completes with all ones, a write is dropped) and keeps the TDI, or moves the TDI
//!   to ERROR. QEMU has already served the access when the DSM reads the line: the
//!   model cannot make the refusal happen, it only records it. Every access is taken
//!   as the host's: the trace cannot tell a TEE guest's access (a TLP with the T bit)
//!   from the host's, and nothing here makes TEE accesses.
//!
//! The DSM's functions are the rids of `DsmConfig::functions` (function 0's if that is
//! empty); events of any other bus/device/function are ignored.
//!
//! Access width: QEMU's trace carries no access size, so the width of each write is an
//! inference ([`write_width`]): the natural width of a known register (Command, Device
//! Control, Device Control 2 and PMCSR 2; the BARs, the expansion ROM BAR, DOE Control
//! and the DOE mailboxes 4; 1 elsewhere), widened to 2 or 4 when the value does not fit, and cut
//! down to the largest naturally aligned width when the offset is not aligned (whatever
//! the value held above that width is lost). A byte write to the Command register is
//! thus taken as a word write that also writes 0 to its upper byte, and a word write of
//! a small value elsewhere as a byte write; neither changes what the classifier sees of
//! the registers it watches.

use std::collections::BTreeMap;

use log::{debug, info, warn};
use tsm_proto::config::{classify_config_write, ConfigLayout};
use tsm_proto::state::{HostEvent, HostEvents, TdiState};
use tsm_proto::tdisp::{FunctionId, LockFlags};

use super::mailbox::Mailbox;
use super::{locked, Dsm, DsmConfig};
use crate::qemu_trace::{requester_id, TraceEvent};

/// Size of a PCIe function's config space.
pub const CONFIG_SPACE: usize = 4096;

/// Command register.
const COMMAND: u16 = 0x04;
/// BAR0..BAR5.
const BARS: core::ops::Range<u16> = 0x10..0x28;
/// Expansion ROM BAR.
const ROM: u16 = 0x30;
/// Device Control, from the PCI Express capability.
const DEVCTL: u16 = 0x08;
/// Device Control 2, from the PCI Express capability.
const DEVCTL2: u16 = 0x28;
/// PMCSR, from the Power Management capability.
const PMCSR: u16 = 0x04;
/// DOE Control, from the DOE extended capability.
const DOE_CONTROL: u16 = 0x08;
/// DOE Write Data Mailbox.
const DOE_WRITE_MAILBOX: u16 = 0x10;
/// DOE Read Data Mailbox.
const DOE_READ_MAILBOX: u16 = 0x14;
/// DOE Control: DOE Abort.
const DOE_ABORT: u32 = 1 << 0;
/// DOE Control: DOE Go.
const DOE_GO: u32 = 1 << 31;

/// Secondary Bus Number (type 1 header).
const SECONDARY_BUS: u16 = 0x19;
/// Bridge Control (type 1 header), its low byte.
const BRIDGE_CONTROL: u16 = 0x3e;
/// Bridge Control: Secondary Bus Reset.
const BRIDGE_SBR: u8 = 1 << 6;

/// What the device does with a host MMIO access to a locked TDI's MMIO (the
/// `--mmio-violation` knob of tsm-dsm). Either way it is a violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MmioPolicy {
    /// Refused (a read returns all ones, a write is dropped); the TDI keeps its state.
    #[default]
    Reject,
    /// The TDI goes to ERROR.
    Error,
}

impl MmioPolicy {
    /// `reject` or `error`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reject" => Some(Self::Reject),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// What the device saw of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounters {
    /// Config writes to the DSM's functions.
    pub cfg_writes: u64,
    /// MMIO accesses (reads and writes) to a mapped BAR of the DSM's functions.
    pub mmio: u64,
    /// Host events seen (in any TDI state), DOE aborts included.
    pub events: u64,
    /// Events that moved a CONFIG_LOCKED or RUN TDI to ERROR, DOE aborts that
    /// dropped an established session or hit a locked TDI, and MMIO accesses to a
    /// locked TDI's MMIO.
    pub violations: u64,
    /// The cause of the last violation, `<event>@<offset>` (config writes, DOE Abort)
    /// or `mmio-read@bar<N>+<offset>` and `mmio-write@...`.
    pub last_violation: Option<String>,
}

impl HostCounters {
    /// [`HostCounters::last_violation`], or `none`.
    pub fn last_violation_token(&self) -> &str {
        self.last_violation.as_deref().unwrap_or("none")
    }
}

/// What the device learns of a bridge from the writes to it.
#[derive(Debug, Clone, Copy, Default)]
struct Bridge {
    secondary: Option<u8>,
    control: u8,
}

/// The shadows, BAR mappings and counters (a field of [`Dsm`]).
#[derive(Debug, Clone)]
pub(super) struct HostView {
    shadows: BTreeMap<u16, Box<[u8; CONFIG_SPACE]>>,
    /// (rid, BAR index) -> (address, size), as QEMU maps them now.
    bars: BTreeMap<(u16, u8), (u64, u64)>,
    /// The DOE mailbox's exchange (function 0's DOE capability, `DsmConfig::doe_cap`).
    mailbox: Mailbox,
    /// Other functions' Secondary Bus Number and Bridge Control low byte, as last
    /// written: where the bridge above the device is, and its reset bit.
    bridges: BTreeMap<u16, Bridge>,
    pub(super) counters: HostCounters,
}

impl HostView {
    /// The view of a device at reset: a zeroed shadow per function.
    pub(super) fn new(cfg: &DsmConfig) -> Self {
        let mut shadows = BTreeMap::new();
        let mut rids: Vec<u16> = cfg.functions.iter().map(|f| f.requester_id()).collect();
        if rids.is_empty() {
            rids.push(cfg.function0_rid());
        }
        for rid in rids {
            shadows.insert(rid, Box::new([0u8; CONFIG_SPACE]));
        }
        Self {
            shadows,
            bars: BTreeMap::new(),
            mailbox: Mailbox::default(),
            bridges: BTreeMap::new(),
            counters: HostCounters::default(),
        }
    }
}

/// The inferred width in bytes (1, 2 or 4) of a traced config write of `value` at
/// `offset` (see the module documentation).
pub fn write_width(cfg: &DsmConfig, offset: u16, value: u32) -> usize {
    let at = |cap: Option<u16>, reg: u16| cap.and_then(|c| c.checked_add(reg)) == Some(offset);
    let natural = if offset == COMMAND
        || at(cfg.pcie_cap, DEVCTL)
        || at(cfg.pcie_cap, DEVCTL2)
        || at(cfg.pm_cap, PMCSR)
    {
        2
    } else if BARS.contains(&offset)
        || offset == ROM
        || at(cfg.doe_cap, DOE_CONTROL)
        || at(cfg.doe_cap, DOE_WRITE_MAILBOX)
        || at(cfg.doe_cap, DOE_READ_MAILBOX)
    {
        4
    } else {
        1
    };
    let wanted = if value > 0xffff {
        4
    } else if value > 0xff {
        natural.max(2)
    } else {
        natural
    };
    [4, 2, 1]
        .into_iter()
        .find(|w| *w <= wanted && usize::from(offset) % w == 0)
        .unwrap_or(1)
}

impl Dsm {
    /// What the device saw of the host so far.
    pub fn host_counters(&self) -> &HostCounters {
        &self.host.counters
    }

    /// Applies one event of QEMU's trace to the device: a config write, a BAR
    /// (un)mapping or an MMIO access.
    pub fn apply(&mut self, event: &TraceEvent) {
        match *event {
            TraceEvent::CfgWrite {
                bus,
                slot,
                func,
                offset,
                value,
            } => self.config_write(requester_id(bus, slot, func), offset, value),
            TraceEvent::BarMapping {
                bus,
                slot,
                func,
                bar,
                addr,
                size,
                mapped,
            } => self.bar_mapping(requester_id(bus, slot, func), bar, addr, size, mapped),
            TraceEvent::Mmio {
                write, addr, value, ..
            } => self.mmio(write, addr, value),
        }
    }

    /// A config write of `value` at `offset` to the function `rid` (`bus << 8 | devfn`),
    /// as QEMU traced it: ignored unless `rid` is one of the DSM's functions; otherwise
    /// counted, classified against the shadow, applied to the TDIs, and recorded in the
    /// shadow.
    pub fn config_write(&mut self, rid: u16, offset: u16, value: u32) {
        let Some(shadow) = self.host.shadows.get_mut(&rid) else {
            return self.bridge_write(rid, offset, value);
        };
        let width = write_width(&self.cfg, offset, value);
        let off = usize::from(offset);
        let Some(old) = shadow.get_mut(off..off + width) else {
            warn!("config write at {offset:#x} is outside the config space; ignored");
            return;
        };
        let bytes = value.to_le_bytes();
        let new = bytes.get(..width).unwrap_or(&bytes);
        if width < 4 && value >> (8 * width) != 0 {
            debug!("unaligned config write {value:#x} at {offset:#x} taken as {width} byte(s)");
        }
        let layout = ConfigLayout {
            pcie_cap: self.cfg.pcie_cap,
            pm_cap: self.cfg.pm_cap,
            locked: &[],
        };
        let events = classify_config_write(&layout, offset, old, new).unwrap_or_else(|e| {
            warn!("config write at {offset:#x} not classified: {e}");
            HostEvents::empty()
        });
        old.copy_from_slice(new);
        self.host.counters.cfg_writes += 1;
        self.changed = true;
        debug!(
            "config write {:02x}:{:02x}.{} @{offset:#x} <- {value:#x} ({width} byte(s))",
            rid >> 8,
            (rid >> 3) & 0x1f,
            rid & 7
        );
        for event in events.iter() {
            self.host.counters.events += 1;
            let broke = self.host_event_where(event, |f| f.requester_id() == rid);
            let cause = format!("{}@{offset:#x}", event.name());
            if broke {
                self.violation(cause, value.into());
            } else {
                info!("host event {cause} <- {value:#x}: seen, no locked TDI affected");
            }
        }
        // The DOE capability is function 0's.
        if let Some(reg) = self.cfg.doe_cap.and_then(|c| offset.checked_sub(c)) {
            if rid == self.cfg.function0_rid() {
                self.doe_write(reg, offset, value);
            }
        }
    }

    /// A write at `reg` of the DOE capability (config `offset`): an abort, or a step of
    /// an exchange that [`Mailbox`] checks.
    fn doe_write(&mut self, reg: u16, offset: u16, value: u32) {
        let mb = &mut self.host.mailbox;
        let misuse = match reg {
            DOE_CONTROL if value & DOE_ABORT != 0 => {
                mb.abort();
                return self.host_cost_the_session(format!("doe-abort@{offset:#x}"), value);
            }
            DOE_CONTROL if value & DOE_GO != 0 => mb.go(),
            DOE_WRITE_MAILBOX => mb.write(value),
            DOE_READ_MAILBOX => mb.ack(),
            _ => None,
        };
        if let Some(m) = misuse {
            self.host_cost_the_session(format!("{}@{offset:#x}", m.name()), value);
        }
    }

    /// A config write to another function: if it writes the Secondary Bus Number or
    /// the Bridge Control of a bridge, remembered; a Secondary Bus Reset (the bit
    /// set where it was clear) by the bridge whose secondary bus is the device's
    /// resets the device.
    fn bridge_write(&mut self, rid: u16, offset: u16, value: u32) {
        let width = write_width(&self.cfg, offset, value);
        let byte = |reg: u16| {
            let i = usize::from(reg.checked_sub(offset)?);
            (i < width).then(|| value.to_le_bytes().get(i).copied())?
        };
        let (secondary, control) = (byte(SECONDARY_BUS), byte(BRIDGE_CONTROL));
        if secondary.is_none() && control.is_none() {
            return;
        }
        let b = self.host.bridges.entry(rid).or_default();
        if secondary.is_some() {
            b.secondary = secondary;
        }
        let Some(control) = control else {
            return;
        };
        let rising = b.control & BRIDGE_SBR == 0 && control & BRIDGE_SBR != 0;
        b.control = control;
        if rising && b.secondary == Some(self.cfg.bus) {
            let cause = format!(
                "{}@{BRIDGE_CONTROL:#x}",
                HostEvent::ConventionalReset.name()
            );
            self.conventional_reset(cause, value);
        }
    }

    /// A conventional reset of the device (here: a Secondary Bus Reset from the bridge
    /// above it): its security state returns to that of a device just powered on (no
    /// SPDM connection or session, no IDE keys, every TDI CONFIG_UNLOCKED, config
    /// space at reset), what it saw of the host so far is kept. A violation if a
    /// session was established or a TDI locked.
    fn conventional_reset(&mut self, cause: String, value: u32) {
        let held = self.holds_a_session_or_lock();
        let mut fresh = Dsm::new(self.cfg.clone());
        fresh.host.counters = std::mem::take(&mut self.host.counters);
        // QEMU traces the unmapping of the BARs the reset disables.
        fresh.host.bars = std::mem::take(&mut self.host.bars);
        fresh.host.bridges = std::mem::take(&mut self.host.bridges);
        *self = fresh;
        self.host.counters.events += 1;
        info!("{cause}: the device is reset (no session, TDIs CONFIG_UNLOCKED)");
        self.violation_if(held, cause, value);
    }

    /// The device answered a DOE request with an object of `bytes` bytes: the host
    /// reads that many (rounded up to dwords) out of the mailbox before its next request.
    pub fn doe_responded(&mut self, bytes: usize) {
        self.host.mailbox.responded(bytes);
    }

    /// A host action that cost the device its SPDM session (a DOE Abort, a mailbox
    /// write outside an exchange): the session is dropped and every CONFIG_LOCKED or
    /// RUN TDI goes to ERROR; a violation if a session was established or a TDI locked.
    fn host_cost_the_session(&mut self, cause: String, value: u32) {
        let held = self.holds_a_session_or_lock();
        self.host.counters.events += 1;
        self.changed = true;
        if self.session.take().is_some() {
            info!("{cause}: dropping the secured session");
        }
        self.host_event_where(HostEvent::IdeOrSessionLost, |_| true);
        self.violation_if(held, cause, value);
    }

    /// Whether the device holds what a host action that resets it or its mailbox
    /// breaks: an established SPDM session or a locked TDI.
    fn holds_a_session_or_lock(&self) -> bool {
        self.session_established() || self.tdis.values().any(|t| locked(t.state))
    }

    /// A host action that broke what the device held (`held`, from
    /// [`Dsm::holds_a_session_or_lock`] before it) is a violation; one that found
    /// nothing to break is only seen.
    fn violation_if(&mut self, held: bool, cause: String, value: u32) {
        if held {
            self.violation(cause, value.into());
        } else {
            info!("host event {cause} <- {value:#x}: seen, no session or locked TDI");
        }
    }

    /// BAR `bar` of the function `rid` mapped at `addr..addr + size` (`mapped`), or no
    /// longer mapped there, as QEMU traced it; ignored unless `rid` is one of the DSM's
    /// functions.
    pub fn bar_mapping(&mut self, rid: u16, bar: u8, addr: u64, size: u64, mapped: bool) {
        if !self.host.shadows.contains_key(&rid) {
            return;
        }
        if mapped {
            self.host.bars.insert((rid, bar), (addr, size));
        } else if self.host.bars.get(&(rid, bar)).is_some_and(|m| m.0 == addr) {
            self.host.bars.remove(&(rid, bar));
        }
    }

    /// An MMIO access QEMU traced at the absolute address `addr`: ignored unless a
    /// mapped BAR of one of the DSM's functions holds `addr`; otherwise counted and, on a
    /// locked TDI's MMIO, a violation handled as [`DsmConfig::mmio_policy`] says.
    pub fn mmio(&mut self, write: bool, addr: u64, value: u64) {
        let Some((rid, bar, off)) = self.host.bars.iter().find_map(|(&(rid, bar), &(a, n))| {
            addr.checked_sub(a)
                .filter(|off| *off < n)
                .map(|off| (rid, bar, off))
        }) else {
            return;
        };
        self.host.counters.mmio += 1;
        self.changed = true;
        let cause = format!(
            "{}@bar{bar}+{off:#x}",
            if write { "mmio-write" } else { "mmio-read" }
        );
        let open_msix = self.msix_page(bar, off);
        let hit: Vec<FunctionId> = self
            .tdis
            .iter()
            .filter_map(|(id, t)| {
                let f = FunctionId::from_u32(*id).ok()?;
                let is_locked = locked(t.state);
                let msix_locked = t
                    .lock
                    .is_some_and(|l| l.flags.contains(LockFlags::LOCK_MSIX));
                (f.requester_id() == rid && is_locked && (msix_locked || !open_msix)).then_some(f)
            })
            .collect();
        if hit.is_empty() {
            debug!("host {cause} ({value:#x}): seen, no locked TDI MMIO");
            return;
        }
        self.violation(cause, value);
        if self.cfg.mmio_policy == MmioPolicy::Error {
            for f in hit {
                self.set_state(f, TdiState::Error);
            }
        }
    }

    /// Whether `off` of BAR `bar` is in a page of the MSI-X table or PBA.
    fn msix_page(&self, bar: u8, off: u64) -> bool {
        self.cfg.msix.is_some_and(|m| {
            m.pages()
                .into_iter()
                .any(|(b, start, end)| b == bar && (start..end).contains(&off))
        })
    }

    fn violation(&mut self, cause: String, value: u64) {
        warn!("violation: host event {cause} ({value:#x}) on a locked TDI or session");
        self.host.counters.violations += 1;
        self.host.counters.last_violation = Some(cause);
        self.changed = true;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::faults::Faults;
    use crate::fw::{Command, Firmware, GuestOp};
    use crate::testing::testbed::{self, TDI};
    use crate::transport::relay::LocalDsm;

    const T: Duration = Duration::from_secs(5);
    /// The testbed function's rid.
    const RID: u16 = TDI.requester_id();

    fn ok(fw: &mut Firmware, ep: &mut LocalDsm, cmd: Command) {
        testbed::run_ok(fw, ep, cmd, T).unwrap_or_else(|e| panic!("{e}"));
    }

    /// A testbed DSM, connected (session established, IDE keys active) and, with `lock`,
    /// its TDI locked; with `start`, also started. BAR0 (as the host enumerated it: a
    /// change, seen while unlocked) and Command (memory and bus master on) written
    /// first.
    fn platform(lock: bool, start: bool) -> (Firmware, LocalDsm) {
        let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
        let mut fw = Firmware::new(cfg);
        let mut ep = LocalDsm(dsm);
        ep.0.config_write(RID, 0x10, 0x1000_0004);
        ep.0.config_write(RID, 0x04, 0x0006);
        ok(&mut fw, &mut ep, testbed::connect());
        assert!(ep.0.session_established());
        if lock {
            ok(&mut fw, &mut ep, testbed::bind());
            assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        }
        if start {
            ok(&mut fw, &mut ep, testbed::guest(GuestOp::Start));
            assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Run));
        }
        let c = ep.0.host_counters();
        assert_eq!((c.cfg_writes, c.events, c.violations), (2, 1, 0));
        (fw, ep)
    }

    fn counters(d: &Dsm) -> (u64, u64, u64, &str) {
        let c = d.host_counters();
        (
            c.cfg_writes,
            c.events,
            c.violations,
            c.last_violation_token(),
        )
    }

    #[test]
    fn bus_master_clear_on_a_locked_tdi_is_a_violation() {
        let (_, mut ep) = platform(true, false);
        ep.0.take_changed();
        ep.0.config_write(RID, 0x04, 0x0002);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        assert_eq!(counters(&ep.0), (3, 2, 1, "bus-master-disabled@0x4"));
        assert!(ep.0.take_changed());
        let snap = ep.0.snapshot();
        assert!(snap.contains("host.cfg_writes=3\n"), "{snap}");
        assert!(snap.contains("host.events=2\n"), "{snap}");
        assert!(snap.contains("host.violations=1\n"), "{snap}");
        assert!(
            snap.contains("host.last_violation=bus-master-disabled@0x4\n"),
            "{snap}"
        );
        // Already in ERROR: seen, not another violation.
        ep.0.config_write(RID, 0x04, 0x0000);
        assert_eq!(counters(&ep.0), (4, 3, 1, "bus-master-disabled@0x4"));
    }

    #[test]
    fn bus_master_clear_on_an_unlocked_tdi_is_only_seen() {
        let (_, mut ep) = platform(false, false);
        ep.0.config_write(RID, 0x04, 0x0002);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
        assert_eq!(counters(&ep.0), (3, 2, 0, "none"));
        assert!(ep.0.snapshot().contains("host.last_violation=none\n"));
        assert!(ep.0.session_established());
    }

    #[test]
    fn rewriting_a_bar_with_its_value_is_no_event_changing_it_while_locked_is() {
        let (_, mut ep) = platform(true, false);
        ep.0.config_write(RID, 0x10, 0x1000_0004);
        assert_eq!(counters(&ep.0), (3, 1, 0, "none"));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        ep.0.config_write(RID, 0x10, 0x2000_0004);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        assert_eq!(counters(&ep.0), (4, 2, 1, "locked-config-change@0x10"));
    }

    #[test]
    fn flr_while_run_is_a_violation() {
        let (_, mut ep) = platform(true, true);
        // Device Control at PCIe cap + 8, Initiate FLR is bit 15.
        let devctl = testbed::PCIE_CAP + 8;
        ep.0.config_write(RID, devctl, 0x8000);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        let token = format!("function-level-reset@{devctl:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));
    }

    #[test]
    fn a_locked_device_control_field_changed_while_locked_is_a_violation() {
        let (_, mut ep) = platform(true, false);
        let devctl = testbed::PCIE_CAP + 8;
        // An error reporting enable is the host's; Relaxed Ordering is locked
        ep.0.config_write(RID, devctl, 0x0001);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        ep.0.config_write(RID, devctl, 0x0011);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        let token = format!("locked-config-change@{devctl:#x}");
        assert_eq!(counters(&ep.0), (4, 2, 1, token.as_str()));
    }

    #[test]
    fn d3hot_while_locked_is_a_violation() {
        let (_, mut ep) = platform(true, false);
        let pmcsr = testbed::PM_CAP + 4;
        ep.0.config_write(RID, pmcsr, 0x0003);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        let token = format!("power-state-non-d0@{pmcsr:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));
    }

    #[test]
    fn doe_abort_without_a_session_is_seen_with_one_it_is_a_violation() {
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        let mut d = dsm;
        let ctrl = testbed::DOE_CAP + 8;
        // As Linux does when it sets the mailbox up: no session yet.
        d.config_write(RID, ctrl, 0x1);
        assert_eq!(counters(&d), (1, 1, 0, "none"));
        // An exchange's mailbox writes and GO are no events: DOE Discovery here.
        for dw in [0x0000_0001, 3, 0] {
            d.config_write(RID, testbed::DOE_CAP + 0x10, dw);
        }
        d.config_write(RID, ctrl, 0x8000_0000);
        for _ in 0..3 {
            d.config_write(RID, testbed::DOE_CAP + 0x14, 0);
        }
        assert_eq!(counters(&d), (8, 1, 0, "none"));

        let (_, mut ep) = platform(false, false);
        ep.0.config_write(RID, ctrl, 0x1);
        assert!(!ep.0.session_established());
        assert!(ep.0.snapshot().contains("spdm=none\n"));
        let token = format!("doe-abort@{ctrl:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    }

    #[test]
    fn a_mailbox_write_outside_an_exchange_costs_the_session() {
        let rd = testbed::DOE_CAP + 0x14;
        let wr = testbed::DOE_CAP + 0x10;
        // No session: seen only
        let (mut d, _) = testbed::platform(Faults::default()).unwrap();
        d.config_write(RID, rd, 0);
        assert_eq!(counters(&d), (1, 1, 0, "none"));

        // An acknowledgement with nothing to read, under an established session
        let (_, mut ep) = platform(false, false);
        assert!(ep.0.session_established());
        ep.0.config_write(RID, rd, 0);
        assert!(!ep.0.session_established());
        let token = format!("doe-read-nothing-to-read@{rd:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));

        // A request written over an unread response, with a locked TDI
        let (_, mut ep) = platform(true, false);
        for dw in [0x0001_0001, 2] {
            ep.0.config_write(RID, wr, dw);
        }
        ep.0.config_write(RID, testbed::DOE_CAP + 8, 0x8000_0000);
        ep.0.doe_responded(12);
        ep.0.config_write(RID, rd, 0);
        assert_eq!(counters(&ep.0).2, 0);
        ep.0.config_write(RID, wr, 0x0001_0001);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        let token = format!("doe-write-response-unread@{wr:#x}");
        assert_eq!(counters(&ep.0), (7, 2, 1, token.as_str()));
        // Out of step until an abort: no second violation for the same misuse
        ep.0.config_write(RID, wr, 2);
        assert_eq!(counters(&ep.0).2, 1);
    }

    #[test]
    fn doe_abort_with_a_locked_tdi_moves_it_to_error() {
        let (_, mut ep) = platform(true, true);
        ep.0.config_write(RID, testbed::DOE_CAP + 8, 0x1);
        assert!(!ep.0.session_established());
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        assert_eq!(ep.0.host_counters().violations, 1);
    }

    #[test]
    fn a_secondary_bus_reset_from_the_bridge_above_resets_the_device() {
        let (_, mut ep) = platform(true, false);
        let bus = u32::from(RID >> 8);
        let (port, other) = (0x0080, 0x0088);
        // Two root ports: ours (its secondary bus is the device's), and another
        ep.0.config_write(port, 0x18, bus << 8);
        ep.0.config_write(other, 0x19, bus + 1);
        ep.0.config_write(other, 0x3e, 0x42);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        assert_eq!(counters(&ep.0), (2, 1, 0, "none"));
        ep.0.config_write(port, 0x3e, 0x42);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
        assert!(!ep.0.session_established());
        assert!(ep.0.snapshot().contains("spdm=none\nide.stream0=idle\n"));
        assert_eq!(counters(&ep.0), (2, 2, 1, "conventional-reset@0x3e"));
        // Held, then released: one reset
        ep.0.config_write(port, 0x3e, 0x42);
        ep.0.config_write(port, 0x3e, 0x02);
        assert_eq!(counters(&ep.0).1, 2);
        // The device at reset: seen, no violation; its config space is at reset too
        ep.0.config_write(port, 0x3e, 0x42);
        assert_eq!(counters(&ep.0), (2, 3, 1, "conventional-reset@0x3e"));
        ep.0.config_write(RID, 0x04, 0x0006);
        assert_eq!(counters(&ep.0).1, 3);
    }

    #[test]
    fn writes_to_other_functions_are_ignored() {
        let (_, mut ep) = platform(true, false);
        ep.0.take_changed();
        for rid in [0x0200, 0x0108, 0x0101] {
            ep.0.config_write(rid, 0x04, 0x0000);
        }
        assert_eq!(counters(&ep.0), (2, 1, 0, "none"));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        assert!(!ep.0.take_changed());
    }

    #[test]
    fn the_doe_mailbox_is_function_0s() {
        let (d, _) = testbed::platform(Faults::default()).unwrap();
        let mut cfg = d.config().clone();
        let f1 = FunctionId::new(RID | 1, None);
        cfg.functions.push(f1);
        let mut d = Dsm::new(cfg);
        let ctrl = testbed::DOE_CAP + 8;
        // The same offset of function 1 is no DOE Control
        d.config_write(RID | 1, ctrl, 0x1);
        assert_eq!(counters(&d), (1, 0, 0, "none"));
        d.config_write(RID, ctrl, 0x1);
        assert_eq!(counters(&d), (2, 1, 0, "none"));
    }

    #[test]
    fn width_inference() {
        let (dsm, _) = testbed::platform(Faults::default()).unwrap();
        let cfg = dsm.config();
        let w = |off, v| write_width(cfg, off, v);
        assert_eq!(w(0x04, 0x6), 2);
        assert_eq!(w(0x04, 0x0010_0006), 4);
        assert_eq!(w(0x05, 0x4), 1);
        assert_eq!(w(0x06, 0xffff), 2);
        assert_eq!(w(0x10, 0), 4);
        assert_eq!(w(0x14, 0xffff_ffff), 4);
        assert_eq!(w(0x30, 0), 4);
        assert_eq!(w(0x3c, 0x0b), 1);
        assert_eq!(w(0x3c, 0x10b), 2);
        assert_eq!(w(0x3d, 0x10b), 1);
        assert_eq!(w(0x3e, 0x1_0000), 2);
        assert_eq!(w(testbed::PCIE_CAP + 8, 0x10), 2);
        assert_eq!(w(testbed::PM_CAP + 4, 0x3), 2);
        assert_eq!(w(testbed::DOE_CAP + 8, 0x1), 4);
        assert_eq!(w(testbed::DOE_CAP + 0x10, 0x1), 4);
        assert_eq!(w(testbed::DOE_CAP + 0x14, 0x0), 4);
        assert_eq!(w(testbed::DOE_CAP + 0x0c, 0x2), 1);
    }

    #[test]
    fn an_unaligned_write_keeps_the_bytes_it_can() {
        let (_, mut ep) = platform(true, false);
        // Taken as one byte (0x34) at 0x11: the BAR changes.
        ep.0.config_write(RID, 0x11, 0x1234);
        assert_eq!(counters(&ep.0), (3, 2, 1, "locked-config-change@0x11"));
        // Past the end of the config space: ignored.
        ep.0.config_write(RID, 0x1000, 0);
        assert_eq!(ep.0.host_counters().cfg_writes, 3);
    }

    /// BAR0 of the testbed function mapped where its BAR says.
    fn map_bar0(d: &mut Dsm) {
        d.bar_mapping(RID, 0, 0x1000_0000, 0x4000, true);
    }

    fn mmio_counters(d: &Dsm) -> (u64, u64, &str) {
        let c = d.host_counters();
        (c.mmio, c.violations, c.last_violation_token())
    }

    #[test]
    fn mmio_to_an_unlocked_tdi_is_only_seen() {
        let (_, mut ep) = platform(false, false);
        map_bar0(&mut ep.0);
        ep.0.take_changed();
        ep.0.mmio(false, 0x1000_0000, 0xf01_07ff);
        ep.0.mmio(true, 0x1000_3fff, 0);
        assert_eq!(mmio_counters(&ep.0), (2, 0, "none"));
        assert!(ep.0.take_changed());
        assert!(ep.0.snapshot().contains("host.mmio=2\n"));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    }

    #[test]
    fn mmio_outside_the_mapped_bars_is_not_the_devices() {
        let (_, mut ep) = platform(true, false);
        // Not mapped yet: the BAR register alone does not decode.
        ep.0.mmio(false, 0x1000_0000, 0);
        map_bar0(&mut ep.0);
        ep.0.take_changed();
        for addr in [0x0fff_ffff, 0x1000_4000, 0x0900_0000, u64::MAX] {
            ep.0.mmio(true, addr, 0);
        }
        // Another function's BAR at the same place is not this DSM's.
        ep.0.bar_mapping(0x0200, 0, 0x2000_0000, 0x4000, true);
        ep.0.mmio(false, 0x2000_0000, 0);
        assert_eq!(mmio_counters(&ep.0), (0, 0, "none"));
        assert!(!ep.0.take_changed());
        // Unmapped (Memory Space off): no longer decoded.
        ep.0.bar_mapping(RID, 0, 0x1000_0000, 0x4000, false);
        ep.0.mmio(false, 0x1000_0000, 0);
        assert_eq!(mmio_counters(&ep.0), (0, 0, "none"));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    }

    #[test]
    fn mmio_to_a_locked_tdi_is_a_violation_refused_by_default() {
        for start in [false, true] {
            let (_, mut ep) = platform(true, start);
            let was = ep.0.tdi_state(TDI);
            map_bar0(&mut ep.0);
            ep.0.mmio(false, 0x1000_0014, 0x46_0001);
            assert_eq!(mmio_counters(&ep.0), (1, 1, "mmio-read@bar0+0x14"));
            ep.0.mmio(true, 0x1000_1000, 1);
            assert_eq!(mmio_counters(&ep.0), (2, 2, "mmio-write@bar0+0x1000"));
            assert_eq!(ep.0.tdi_state(TDI), was);
            assert!(ep
                .0
                .snapshot()
                .contains("host.last_violation=mmio-write@bar0+0x1000\n"));
        }
    }

    #[test]
    fn with_the_error_policy_mmio_to_a_locked_tdi_sends_it_to_error() {
        let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
        let mut dsm_cfg = dsm.config().clone();
        dsm_cfg.mmio_policy = MmioPolicy::Error;
        let mut fw = Firmware::new(cfg);
        let mut ep = LocalDsm(Dsm::new(dsm_cfg));
        ok(&mut fw, &mut ep, testbed::connect());
        ok(&mut fw, &mut ep, testbed::bind());
        ok(&mut fw, &mut ep, testbed::guest(GuestOp::Start));
        map_bar0(&mut ep.0);
        ep.0.mmio(true, 0x1000_0000, 0);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        assert_eq!(mmio_counters(&ep.0), (1, 1, "mmio-write@bar0+0x0"));
        // ERROR is no longer locked: seen, no further violation.
        ep.0.mmio(true, 0x1000_0000, 0);
        assert_eq!(mmio_counters(&ep.0), (2, 1, "mmio-write@bar0+0x0"));
    }

    #[test]
    fn the_msix_pages_are_the_hosts_unless_locked_with_lock_msix() {
        // Locked with LOCK_MSIX (the testbed's bind): the table and PBA pages too.
        let (_, mut ep) = platform(true, false);
        map_bar0(&mut ep.0);
        ep.0.mmio(true, 0x1000_2000, 0);
        ep.0.mmio(false, 0x1000_3008, 0);
        assert_eq!(mmio_counters(&ep.0), (2, 2, "mmio-read@bar0+0x3008"));

        // Locked without it: the table and PBA pages are not a violation, the rest is.
        let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
        let mut fw = Firmware::new(cfg);
        let mut ep = LocalDsm(dsm);
        ok(&mut fw, &mut ep, testbed::connect());
        let mut p = testbed::bind_params();
        p.lock_flags = LockFlags::NO_FW_UPDATE;
        ok(&mut fw, &mut ep, Command::Bind(p));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        map_bar0(&mut ep.0);
        ep.0.mmio(true, 0x1000_2000, 0);
        ep.0.mmio(true, 0x1000_2ffc, 0);
        ep.0.mmio(false, 0x1000_3000, 0);
        assert_eq!(mmio_counters(&ep.0), (3, 0, "none"));
        ep.0.mmio(false, 0x1000_1ffc, 0);
        assert_eq!(mmio_counters(&ep.0), (4, 1, "mmio-read@bar0+0x1ffc"));
    }
}
