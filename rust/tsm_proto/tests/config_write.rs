// SPDX-License-Identifier: GPL-2.0

//! The config-space write classifier (`tsm_proto::config`): which host writes cause
//! which TDISP host events (PCIe Base 6.x §11.2.6, §11.4.3, §11.4.9), that it rejects
//! malformed writes, and that it never panics.

use proptest::prelude::*;
use tsm_proto::config::{classify_config_write, ConfigLayout};
use tsm_proto::state::HostEvent;

fn layout() -> ConfigLayout<'static> {
    ConfigLayout {
        pcie_cap: Some(0x40),
        pm_cap: Some(0x80),
        locked: &[(0x200, 0x10)],
    }
}

fn classify(off: u16, old: &[u8], new: &[u8]) -> Vec<HostEvent> {
    classify_config_write(&layout(), off, old, new)
        .unwrap()
        .iter()
        .collect()
}

#[test]
fn classifier_command_register() {
    assert_eq!(
        classify(0x04, &[0x06], &[0x04]),
        vec![HostEvent::MemorySpaceDisabled]
    );
    assert_eq!(
        classify(0x04, &[0x06], &[0x02]),
        vec![HostEvent::BusMasterDisabled]
    );
    assert_eq!(
        classify(0x04, &[0x06, 0x00, 0x10, 0x00], &[0x00, 0x00, 0x10, 0x00]),
        vec![HostEvent::MemorySpaceDisabled, HostEvent::BusMasterDisabled]
    );
    // Setting bits, or rewriting them unchanged, is harmless.
    assert!(classify(0x04, &[0x00], &[0x06]).is_empty());
    assert!(classify(0x04, &[0x06], &[0x06]).is_empty());
    // Status register (06h) writes are not the command register.
    assert!(classify(0x06, &[0xff, 0xff], &[0, 0]).is_empty());
}

#[test]
fn classifier_flr_pm_bars_and_locked_ranges() {
    // Device Control at 0x48: Initiate FLR is bit 15.
    assert_eq!(
        classify(0x48, &[0x00, 0x00], &[0x00, 0x80]),
        vec![HostEvent::FunctionLevelReset]
    );
    assert_eq!(
        classify(0x49, &[0x00], &[0x80]),
        vec![HostEvent::FunctionLevelReset]
    );
    // The error reporting enables are the host's; Relaxed Ordering is locked.
    assert!(classify(0x48, &[0x00, 0x00], &[0x0f, 0x00]).is_empty());
    assert_eq!(
        classify(0x48, &[0x00, 0x00], &[0x10, 0x00]),
        vec![HostEvent::LockedConfigChange]
    );
    // PMCSR at 0x84: D0 -> D3hot, D3hot -> D0, no change.
    assert_eq!(
        classify(0x84, &[0x00, 0x00], &[0x03, 0x00]),
        vec![HostEvent::PowerStateNonD0]
    );
    assert!(classify(0x84, &[0x03], &[0x00]).is_empty());
    assert!(classify(0x84, &[0x03], &[0x03]).is_empty());
    // BAR0..5, ROM BAR.
    for off in (0x10..0x28).step_by(4) {
        assert_eq!(
            classify(off, &[0, 0, 0, 0xfe], &[0xff, 0xff, 0xff, 0xff]),
            vec![HostEvent::LockedConfigChange]
        );
        assert!(classify(off, &[1, 2, 3, 4], &[1, 2, 3, 4]).is_empty());
    }
    assert_eq!(
        classify(0x30, &[0, 0, 0, 0], &[1, 0, 0, 0]),
        vec![HostEvent::LockedConfigChange]
    );
    assert!(
        classify(0x2c, &[0, 0, 0, 0], &[1, 0, 0, 0]).is_empty(),
        "subsystem ids are RO"
    );
    // Caller-declared locked range.
    assert_eq!(
        classify(0x20c, &[0], &[1]),
        vec![HostEvent::LockedConfigChange]
    );
    assert!(classify(0x210, &[0], &[1]).is_empty());
    // Without the capabilities, their offsets mean nothing.
    let l = ConfigLayout::default();
    assert!(classify_config_write(&l, 0x49, &[0], &[0x80])
        .unwrap()
        .is_empty());
}

#[test]
fn classifier_rejects_malformed_writes() {
    let l = layout();
    assert!(classify_config_write(&l, 0, &[], &[]).is_err());
    assert!(classify_config_write(&l, 0, &[0; 5], &[0; 5]).is_err());
    assert!(classify_config_write(&l, 0, &[0; 2], &[0; 1]).is_err());
    assert!(classify_config_write(&l, 3, &[0; 2], &[0; 2]).is_err());
    assert!(classify_config_write(&l, 0xffff, &[0], &[0]).is_ok());
}

proptest! {
    #[test]
    fn classifier_never_panics(off in any::<u16>(), old in proptest::collection::vec(any::<u8>(), 0..6), mask in any::<u8>()) {
        let new: Vec<u8> = old.iter().map(|b| b ^ mask).collect();
        let _ = classify_config_write(&layout(), off, &old, &new);
    }
}
