// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SEV-TIO SPDM buffers the firmware writes: the buffer header, the REQ
//! object the host relays and the output objects (certificates, measurements, report),
//! plus the EXPAND capacity check. Any bytes decode or fail with a typed error; a
//! decoded object's payload lies inside the buffer at the place its length says.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tio::buffer::{
    expand_request, OutputObject, SpdmRequest, OUTPUT_OBJECT_HEADER_LEN, SPDM_OBJECT_HEADER_LEN,
    SPDM_PAYLOAD_OFFSET,
};
use tsm_proto::tio::BufferHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = BufferHeader::decode(data) {
        let mut b = vec![0u8; 0x40];
        h.encode(&mut b).expect("re-encode buffer header");
        assert_eq!(BufferHeader::decode(&b), Ok(h));
        assert_eq!(expand_request(data, h.capacity), Ok(None));
    }
    if let Ok(r) = SpdmRequest::decode(data) {
        assert_eq!(
            r.payload.len() + SPDM_OBJECT_HEADER_LEN,
            r.header.length as usize
        );
        let end = SPDM_PAYLOAD_OFFSET + r.payload.len();
        assert_eq!(&data[SPDM_PAYLOAD_OFFSET..end], r.payload);
    }
    if let Ok(o) = OutputObject::decode(data) {
        assert_eq!(
            o.payload.len() + OUTPUT_OBJECT_HEADER_LEN,
            o.header.length as usize
        );
    }
});
