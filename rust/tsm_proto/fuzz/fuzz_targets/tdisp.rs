// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the TDISP decoders: any bytes decode or fail with a typed error, and every
//! decoded message re-encodes to bytes of the same length that decode to the same
//! message.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tsm_proto::tdisp::{Message, Request, Response};

fuzz_target!(|data: &[u8]| {
    let req = Request::decode(data);
    let rsp = Response::decode(data);
    assert!(
        req.is_err() || rsp.is_err(),
        "a payload is one direction only"
    );
    match Message::decode(data) {
        Ok(Message::Request(r)) => assert_eq!(Ok(r), req),
        Ok(Message::Response(r)) => assert_eq!(Ok(r), rsp),
        Err(_) => {}
    }
    common::assert_round_trip!(Message::decode, data);
});
