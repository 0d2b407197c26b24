// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the TDX Connect pages: the module-written request page of a TDX_SPDM_REQUEST
//! (the DOE object the host relays) and released-page lists, and the host-written pages
//! a module model reads (response page, SPDM.CONNECT config page, IOMMU_MT root page),
//! and the TD-written TDCM buffer a host's VMCALL handler reads.
//! The first byte picks a count for the list decoders. Every decoder is total; a decoded
//! request re-encodes to the same object, and the rebuilt response keeps its vendor and
//! type and never leaves the page.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Writer;
use tsm_proto::tdx::guest::TdcmBuffer;
use tsm_proto::tdx::hpa::{decode_iommu_mt, read_root_page};
use tsm_proto::tdx::relay::MAX_PAYLOAD;
use tsm_proto::tdx::{ConnectConfig, RelayRequest, RelayResponse, PAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, page)) = data.split_first() else {
        return;
    };
    let count = usize::from(sel) * 2;
    let mut out = vec![0u64; 512];
    let _ = read_root_page(page, count, &mut out);
    let _ = decode_iommu_mt(page, count, &mut out);
    if let Ok(c) = ConnectConfig::decode(page) {
        let mut p = vec![0u8; PAGE_SIZE];
        c.encode(&mut Writer::new(&mut p)).expect("config encodes");
        assert_eq!(ConnectConfig::decode(&p), Ok(c));
    }
    let _ = RelayResponse::decode(page);
    if let Ok(b) = TdcmBuffer::decode(page) {
        let mut p = vec![0u8; page.len()];
        let n = b
            .encode(&mut Writer::new(&mut p))
            .expect("TDCM buffer re-encodes");
        assert_eq!(TdcmBuffer::decode(&p[..n]), Ok(b));
    }
    let Ok(req) = RelayRequest::decode(page) else {
        return;
    };
    assert!(req.payload.len() <= MAX_PAYLOAD);
    let mut p = vec![0u8; PAGE_SIZE];
    req.encode(&mut Writer::new(&mut p))
        .expect("request re-encodes");
    assert_eq!(RelayRequest::decode(&p), Ok(req));
    // Answer with the request's own payload, cut to whole dwords.
    let reply = &req.payload[..req.payload.len() / 4 * 4];
    let mut resp = vec![0u8; PAGE_SIZE];
    let n = RelayResponse::to(&req, reply)
        .encode(&mut Writer::new(&mut resp))
        .expect("reply fits");
    assert!(n <= PAGE_SIZE);
    let back = RelayResponse::decode(&resp).expect("rebuilt response decodes");
    assert_eq!(
        (back.vendor_id, back.object_type, back.reply),
        (req.vendor_id, req.object_type, reply)
    );
});
