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
//!   (VCA) state is kept. Other DOE writes (GO, the mailbox dwords) are plain writes.
//! - Counters for the state file: config writes to the DSM's functions, events seen
//!   (in any state, DOE aborts included), violations, and the cause of the last one as
//!   `<event>@<offset>` (e.g. `bus-master-disabled@0x4`, `doe-abort@0x108`).
//!
//! The DSM's functions are the rids of `DsmConfig::functions` (function 0's if that is
//! empty); writes to any other bus/device/function are ignored.
//!
//! Access width: QEMU's trace carries no access size, so the width of each write is an
//! inference ([`write_width`]): the natural width of a known register (Command 2, BARs
//! and the expansion ROM BAR 4, Device Control 2, PMCSR 2, DOE Control and the DOE
//! mailboxes 4; 1 elsewhere), widened to 2 or 4 when the value does not fit, and cut
//! down to the largest naturally aligned width when the offset is not aligned (whatever
//! the value held above that width is lost). A byte write to the Command register is
//! thus taken as a word write that also writes 0 to its upper byte, and a word write of
//! a small value elsewhere as a byte write; neither changes what the classifier sees of
//! the registers it watches.

use std::collections::BTreeMap;

use log::{debug, info, warn};
use tsm_proto::config::{classify_config_write, ConfigLayout};
use tsm_proto::state::{HostEvent, HostEvents, TdiState};

use super::{Dsm, DsmConfig};

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

/// What the device saw of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounters {
    /// Config writes to the DSM's functions.
    pub cfg_writes: u64,
    /// Host events seen (in any TDI state), DOE aborts included.
    pub events: u64,
    /// Events that moved a CONFIG_LOCKED or RUN TDI to ERROR, and DOE aborts that
    /// dropped an established session or hit a locked TDI.
    pub violations: u64,
    /// The cause of the last violation, `<event>@<offset>`.
    pub last_violation: Option<String>,
}

impl HostCounters {
    /// [`HostCounters::last_violation`], or `none`.
    pub fn last_violation_token(&self) -> &str {
        self.last_violation.as_deref().unwrap_or("none")
    }
}

/// The shadows and counters (a field of [`Dsm`]).
#[derive(Debug, Clone)]
pub(super) struct HostView {
    shadows: BTreeMap<u16, Box<[u8; CONFIG_SPACE]>>,
    pub(super) counters: HostCounters,
}

impl HostView {
    /// The view of a device at reset: a zeroed shadow per function.
    pub(super) fn new(cfg: &DsmConfig) -> Self {
        let mut shadows = BTreeMap::new();
        let mut rids: Vec<u16> = cfg.functions.iter().map(|f| f.requester_id()).collect();
        if rids.is_empty() {
            rids.push((u16::from(cfg.bus) << 8) | u16::from(cfg.devfn));
        }
        for rid in rids {
            shadows.insert(rid, Box::new([0u8; CONFIG_SPACE]));
        }
        Self {
            shadows,
            counters: HostCounters::default(),
        }
    }
}

/// The inferred width in bytes (1, 2 or 4) of a traced config write of `value` at
/// `offset` (see the module documentation).
pub fn write_width(cfg: &DsmConfig, offset: u16, value: u32) -> usize {
    let at = |cap: Option<u16>, reg: u16| cap.and_then(|c| c.checked_add(reg)) == Some(offset);
    let natural = if offset == COMMAND || at(cfg.pcie_cap, DEVCTL) || at(cfg.pm_cap, PMCSR) {
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

    /// A config write of `value` at `offset` to the function `rid` (`bus << 8 | devfn`),
    /// as QEMU traced it: ignored unless `rid` is one of the DSM's functions; otherwise
    /// counted, classified against the shadow, applied to the TDIs, and recorded in the
    /// shadow.
    pub fn config_write(&mut self, rid: u16, offset: u16, value: u32) {
        let Some(shadow) = self.host.shadows.get_mut(&rid) else {
            return;
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
                self.violation(cause, value);
            } else {
                info!("host event {cause} <- {value:#x}: seen, no locked TDI affected");
            }
        }
        let doe_control = self
            .cfg
            .doe_cap
            .and_then(|c| c.checked_add(DOE_CONTROL))
            .is_some_and(|c| c == offset);
        if doe_control && value & DOE_ABORT != 0 {
            self.doe_abort(offset, value);
        }
    }

    fn doe_abort(&mut self, offset: u16, value: u32) {
        let had_session = self.session_established();
        let locked = self
            .tdis
            .values()
            .any(|t| matches!(t.state, TdiState::ConfigLocked | TdiState::Run));
        self.host.counters.events += 1;
        self.changed = true;
        if self.session.take().is_some() {
            info!("DOE abort: dropping the secured session");
        }
        let broke = self.host_event_where(HostEvent::IdeOrSessionLost, |_| true);
        let cause = format!("doe-abort@{offset:#x}");
        if had_session || locked || broke {
            self.violation(cause, value);
        } else {
            info!("host event {cause} <- {value:#x}: seen, no session or locked TDI");
        }
    }

    fn violation(&mut self, cause: String, value: u32) {
        warn!("violation: host event {cause} <- {value:#x} on a locked TDI or session");
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
        ep.0.config_write(RID, devctl, 0x8000 | 0x2810);
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
        let token = format!("function-level-reset@{devctl:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));
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
        // GO and mailbox writes are plain writes.
        d.config_write(RID, testbed::DOE_CAP + 0x10, 0x0000_0001);
        d.config_write(RID, ctrl, 0x8000_0000);
        assert_eq!(counters(&d), (3, 1, 0, "none"));

        let (_, mut ep) = platform(false, false);
        ep.0.config_write(RID, ctrl, 0x1);
        assert!(!ep.0.session_established());
        assert!(ep.0.snapshot().contains("spdm=none\n"));
        let token = format!("doe-abort@{ctrl:#x}");
        assert_eq!(counters(&ep.0), (3, 2, 1, token.as_str()));
        assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
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
}
