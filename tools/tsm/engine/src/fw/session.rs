// SPDX-License-Identifier: GPL-2.0

//! The requester's SPDM framing and secured session: DOE padding, plain responses,
//! sealing and opening secured records, and PCI-SIG vendor-defined requests in them.

use tsm_proto::spdm::{CapabilityFlags, Negotiated};
use tsm_proto::{codec, doe, spdm};

use super::{Device, FwError, Next, ReqSession};
use crate::crypto::CryptoError;
use crate::wire;

pub(super) fn pad(mut m: Vec<u8>) -> Vec<u8> {
    m.resize(doe::padded_len(m.len()), 0);
    m
}

pub(super) fn req_flags() -> CapabilityFlags {
    CapabilityFlags::ENCRYPT
        .union(CapabilityFlags::MAC)
        .union(CapabilityFlags::KEY_EX)
}

/// Decodes a plain response, mapping SPDM ERROR to [`FwError::SpdmError`].
pub(super) fn plain_response<'a>(
    payload: &'a [u8],
    neg: &Negotiated,
) -> Result<(spdm::Response<'a>, &'a [u8]), FwError> {
    let (r, exact) = wire::decode_response(payload, neg)?;
    if let spdm::Response::Error(e) = r {
        return Err(FwError::SpdmError(e.code));
    }
    Ok((r, exact))
}

/// The device's secured session.
pub(super) fn session_mut(dev: &mut Device) -> Result<&mut ReqSession, FwError> {
    dev.spdm
        .as_mut()
        .and_then(|s| s.session.as_mut())
        .ok_or(FwError::State("no session"))
}

pub(super) fn seal(dev: &mut Device, msg: &[u8]) -> Result<Vec<u8>, FwError> {
    let s = session_mut(dev)?;
    Ok(s.secrets.req.seal(s.id, msg)?)
}

/// Takes back the last [`seal`]: its record was never sent.
pub(super) fn unseal(dev: &mut Device) {
    if let Ok(s) = session_mut(dev) {
        s.secrets.req.unseal_last();
    }
}

/// Notes that the last secured request's response will never be opened (see
/// `ReqSession::response_maybe_lost`).
pub(super) fn response_abandoned(dev: &mut Device) {
    if let Ok(s) = session_mut(dev) {
        s.response_maybe_lost = true;
    }
}

pub(super) fn open(dev: &mut Device, payload: &[u8]) -> Result<Vec<u8>, FwError> {
    let s = session_mut(dev)?;
    let mut opened = s.secrets.rsp.open(payload);
    if opened.is_err() && s.response_maybe_lost {
        // The device answered the abandoned request: its response took one number.
        let mut skipped = s.secrets.rsp.clone();
        skipped.skip();
        if let Ok(r) = skipped.open(payload) {
            s.secrets.rsp = skipped;
            opened = Ok(r);
        }
    }
    if opened.is_ok() {
        s.response_maybe_lost = false;
    }
    let (sid, app) = opened.map_err(|e| match e {
        codec::Error::InvalidField {
            field: "secured.mac",
            ..
        } => FwError::Crypto(CryptoError::BadTag),
        other => FwError::Codec(other),
    })?;
    if sid != s.id {
        return Err(FwError::Protocol("secured record for another session"));
    }
    Ok(app)
}

/// Opens a secured response (the kernel guarantees it came back as a Secured CMA
/// object) and returns the SPDM message inside.
pub(super) fn secured_spdm(dev: &mut Device, payload: &[u8]) -> Result<Vec<u8>, FwError> {
    open(dev, payload)
}

pub(super) fn neg_of(dev: &Device) -> Result<Negotiated, FwError> {
    dev.spdm
        .as_ref()
        .map(|s| s.neg)
        .ok_or(FwError::State("not negotiated"))
}

/// Sends a PCI-SIG vendor payload in the session; returns the response payload.
pub(super) fn vendor_req(dev: &mut Device, payload: &[u8]) -> Result<Next, FwError> {
    let neg = neg_of(dev)?;
    let m = wire::vendor_request(payload, &neg)?;
    Ok(Next::Secured(seal(dev, &m)?))
}

pub(super) fn vendor_rsp(
    dev: &mut Device,
    payload: &[u8],
    protocol: u8,
) -> Result<Vec<u8>, FwError> {
    let neg = neg_of(dev)?;
    let app = secured_spdm(dev, payload)?;
    let (r, _) = wire::decode_response(&app, &neg)?;
    match r {
        spdm::Response::VendorDefined(v) if v.pci_sig_protocol() == Some(protocol) => {
            Ok(v.payload.to_vec())
        }
        spdm::Response::Error(e) => Err(FwError::SpdmError(e.code)),
        _ => Err(FwError::Protocol("unexpected response to a vendor request")),
    }
}
