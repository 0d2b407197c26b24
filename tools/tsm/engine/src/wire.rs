// SPDX-License-Identifier: GPL-2.0

//! Owned-buffer helpers over the `tsm_proto` codecs shared by both engines: encoding
//! SPDM, IDE-KM and TDISP messages into `Vec`s, recovering the exact length of a message
//! received with PCIe DOE padding (transcripts hash exact messages), DOE wrapping, and
//! the DSP0277 secured-message version element of the KEY_EXCHANGE opaque data.

use tsm_proto::codec::{self, Writer};
use tsm_proto::doe::{self, SpdmKind};
use tsm_proto::idekm::IdeKmMessage;
use tsm_proto::spdm::{self, Negotiated, VendorDefined};
use tsm_proto::tdisp;

/// Largest single message either engine builds (covers a 64 KiB report portion).
const MAX_MSG: usize = 0x1_2000;

fn build(f: impl FnOnce(&mut Writer<'_>) -> codec::Result<()>) -> codec::Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_MSG];
    let mut w = Writer::new(&mut buf);
    f(&mut w)?;
    let n = w.finish();
    buf.truncate(n);
    Ok(buf)
}

/// Encodes an SPDM request.
pub fn spdm_request(m: &spdm::Request<'_>, neg: &Negotiated) -> codec::Result<Vec<u8>> {
    build(|w| m.encode(w, neg))
}

/// Encodes an SPDM response.
pub fn spdm_response(m: &spdm::Response<'_>, neg: &Negotiated) -> codec::Result<Vec<u8>> {
    build(|w| m.encode(w, neg))
}

/// `m`, decoded from the start of `buf`, with its exact bytes: as many bytes of `buf` as
/// `encode` makes of it, the DOE padding after them left out.
fn with_exact<M>(
    buf: &[u8],
    m: M,
    encode: impl FnOnce(&M) -> codec::Result<Vec<u8>>,
) -> codec::Result<(M, &[u8])> {
    let n = encode(&m)?.len();
    let exact = buf.get(..n).ok_or(codec::Error::Truncated {
        offset: 0,
        needed: n,
    })?;
    Ok((m, exact))
}

/// Decodes a (possibly DOE-padded) SPDM response and returns it with its exact bytes.
pub fn decode_response<'a>(
    buf: &'a [u8],
    neg: &Negotiated,
) -> codec::Result<(spdm::Response<'a>, &'a [u8])> {
    let m = spdm::Response::decode_padded(buf, neg)?;
    with_exact(buf, m, |m| spdm_response(m, neg))
}

/// Decodes a (possibly DOE-padded) SPDM request and returns it with its exact bytes.
pub fn decode_request<'a>(
    buf: &'a [u8],
    neg: &Negotiated,
) -> codec::Result<(spdm::Request<'a>, &'a [u8])> {
    let m = spdm::Request::decode_padded(buf, neg)?;
    with_exact(buf, m, |m| spdm_request(m, neg))
}

/// Encodes an IDE-KM object (protocol id first).
pub fn idekm(m: &IdeKmMessage<'_>) -> codec::Result<Vec<u8>> {
    build(|w| m.encode(w))
}

/// Encodes a TDISP request payload (protocol id first).
pub fn tdisp_request(m: &tdisp::Request<'_>) -> codec::Result<Vec<u8>> {
    build(|w| m.encode(w))
}

/// Encodes a TDISP response payload (protocol id first).
pub fn tdisp_response(m: &tdisp::Response<'_>) -> codec::Result<Vec<u8>> {
    build(|w| m.encode(w))
}

/// Wraps a PCI-SIG vendor payload (IDE-KM or TDISP) in VENDOR_DEFINED_REQUEST.
pub fn vendor_request(payload: &[u8], neg: &Negotiated) -> codec::Result<Vec<u8>> {
    spdm_request(
        &spdm::Request::VendorDefined(VendorDefined::pci_sig(payload)),
        neg,
    )
}

/// Wraps a PCI-SIG vendor payload in VENDOR_DEFINED_RESPONSE.
pub fn vendor_response(payload: &[u8], neg: &Negotiated) -> codec::Result<Vec<u8>> {
    spdm_response(
        &spdm::Response::VendorDefined(VendorDefined::pci_sig(payload)),
        neg,
    )
}

/// A whole DOE data object carrying an SPDM or secured SPDM message.
pub fn doe_object(kind: SpdmKind, message: &[u8]) -> codec::Result<Vec<u8>> {
    let mut out = vec![0u8; doe::HEADER_LEN + doe::padded_len(message.len())];
    let n = doe::wrap_spdm(kind, message, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// DSP0277 secured message version 1.0, as the 16-bit version number (major.minor in
/// bits 15:8).
pub const SECURED_MESSAGE_VERSION_10: u16 = 0x1000;

/// OpaqueData (DSP0274 Annex "General opaque data format", OpaqueDataFmt1) with one
/// DMTF element: the DSP0277 secured message version list (`select` false, requester)
/// or selection (`select` true, responder), each naming version 1.0.
pub fn secured_version_opaque(select: bool) -> Vec<u8> {
    let mut elem = vec![1u8]; // SMDataVersion
    if select {
        elem.push(0); // SMDataID: version selection
        elem.extend_from_slice(&SECURED_MESSAGE_VERSION_10.to_le_bytes());
    } else {
        elem.push(1); // SMDataID: supported version list
        elem.push(1); // VersionCount
        elem.extend_from_slice(&SECURED_MESSAGE_VERSION_10.to_le_bytes());
    }
    let mut out = vec![1, 0, 0, 0]; // TotalElements, Reserved
    out.push(0); // ID: DMTF
    out.push(0); // VendorLen
    out.extend_from_slice(&(elem.len() as u16).to_le_bytes());
    out.extend_from_slice(&elem);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// Whether `opaque` carries a secured message version element naming 1.0.
pub fn opaque_names_version_10(opaque: &[u8]) -> bool {
    // Element data starts after TotalElements(1) Reserved(3) ID(1) VendorLen(1) Len(2).
    let want = SECURED_MESSAGE_VERSION_10.to_le_bytes();
    opaque.len() >= 12
        && opaque.first() == Some(&1)
        && opaque.get(4) == Some(&0)
        && opaque.windows(2).skip(10).any(|w| w == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsm_proto::spdm::Version;

    #[test]
    fn exact_length_strips_doe_padding() {
        let neg = Negotiated::initial(Version::V12);
        let m = spdm_response(&spdm::Response::EndSessionAck, &neg).unwrap();
        let obj = doe_object(SpdmKind::Plain, &m).unwrap();
        let (_, payload) = doe::unwrap_spdm(&obj).unwrap();
        let (r, exact) = decode_response(payload, &neg).unwrap();
        assert_eq!(r, spdm::Response::EndSessionAck);
        assert_eq!(exact, m.as_slice());
    }

    #[test]
    fn opaque_version_elements() {
        let q = secured_version_opaque(false);
        let s = secured_version_opaque(true);
        assert_eq!(q.len() % 4, 0);
        assert!(opaque_names_version_10(&q));
        assert!(opaque_names_version_10(&s));
        assert!(!opaque_names_version_10(&[]));
    }
}
