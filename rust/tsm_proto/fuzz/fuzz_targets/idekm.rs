// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the IDE-KM decoder: any bytes decode or fail with a typed error, and every
//! decoded message re-encodes to bytes that decode to the same message.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tsm_proto::idekm::IdeKmMessage;

fuzz_target!(|data: &[u8]| common::assert_round_trip!(IdeKmMessage::decode, data));
