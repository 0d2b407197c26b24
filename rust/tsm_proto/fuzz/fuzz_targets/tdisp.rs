// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the TDISP decoders: any bytes decode or fail with a typed error, and every
//! decoded message re-encodes to bytes of the same length that decode to the same
//! message.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::encoded;
use libfuzzer_sys::fuzz_target;
use tsm_proto::tdisp::{Message, Request, Response};

fuzz_target!(|data: &[u8]| {
    let req = Request::decode(data);
    let rsp = Response::decode(data);
    assert!(
        req.is_err() || rsp.is_err(),
        "a payload is one direction only"
    );
    if let Ok(m) = Message::decode(data) {
        match m {
            Message::Request(r) => assert_eq!(Ok(r), req),
            Message::Response(r) => assert_eq!(Ok(r), rsp),
        }
        let b = encoded(data.len(), |w| m.encode(w));
        assert_eq!(b.len(), data.len());
        assert_eq!(Message::decode(&b), Ok(m));
    }
});
