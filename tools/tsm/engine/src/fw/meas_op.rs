// SPDX-License-Identifier: GPL-2.0

//! Signed measurements: the check of a MEASUREMENTS response (CONNECT's, in the clear,
//! and [`MeasOp`]'s) and the op that asks for every measurement block inside the secured
//! session, with a nonce the caller chose.
//!
//! The signature covers `VCA || L || GET_MEASUREMENTS || MEASUREMENTS up to Signature`
//! (`tsm_proto::spdm::auth_transcript`). In the clear, L is the connection's; inside a
//! session it is the session's own (`AuthTranscript::for_session`), which the session
//! record keeps from the handshake on (`ReqSession::meas`), so the op verifies the
//! signature by the key the session was authenticated with.

use log::info;
use p384::ecdsa::VerifyingKey;
use tsm_proto::spdm;
use tsm_proto::spdm::auth::{meas_attr, meas_op, SignedMeasurementRequest};
use tsm_proto::spdm::auth_transcript::AuthTranscript;
use tsm_proto::spdm::{Negotiated, NONCE_LEN};

use super::session::{neg_of, plain_response, seal, secured_spdm, session_mut};
use super::{Device, FwError, Next};
use crate::crypto::{self, Hasher};
use crate::wire;

/// Checks the MEASUREMENTS response in `payload` (one SPDM message, possibly padded) to
/// the signed GET_MEASUREMENTS `request`: the record is well formed and its signature by
/// `leaf` verifies over `transcript`, whose L it empties. Returns the number of blocks
/// and the response's exact bytes.
pub(super) fn verify_measurements<'a>(
    neg: &Negotiated,
    leaf: &VerifyingKey,
    transcript: &mut AuthTranscript,
    request: &[u8],
    payload: &'a [u8],
) -> Result<(u8, &'a [u8]), FwError> {
    let (r, exact) = plain_response(payload, neg)?;
    let spdm::Response::Measurements(m) = r else {
        return Err(FwError::Protocol("expected MEASUREMENTS"));
    };
    m.record.validate()?;
    let sig = m
        .signature
        .ok_or(FwError::Protocol("MEASUREMENTS not signed"))?;
    let body = exact
        .get(..exact.len().saturating_sub(sig.len()))
        .ok_or(FwError::Protocol("MEASUREMENTS too short"))?;
    let mut h = Hasher::new();
    transcript.feed_measurements(request, body, &mut h);
    let signed = crypto::signing_message(neg.version, crypto::context::MEASUREMENTS, &h.digest());
    crypto::verify(leaf, &signed, sig)?;
    Ok((m.record.count, exact))
}

/// GET_MEASUREMENTS of every block, signed, in the device's secured session.
pub(super) struct MeasOp {
    /// Param1: SignatureRequested, and RawBitStreamRequested if asked.
    attributes: u8,
    /// The requester nonce the signature must cover.
    nonce: [u8; NONCE_LEN],
    /// The GET_MEASUREMENTS sent, exactly (empty until sent).
    request: Vec<u8>,
    /// The verified MEASUREMENTS response, exactly (empty until it came).
    response: Vec<u8>,
}

impl MeasOp {
    /// The op for `nonce`; `raw` asks for raw bit streams instead of digests (the
    /// device may still answer digests, DSP0274).
    pub(super) fn new(nonce: [u8; NONCE_LEN], raw: bool) -> Self {
        let raw = if raw {
            meas_attr::RAW_BIT_STREAM_REQUESTED
        } else {
            0
        };
        Self {
            attributes: meas_attr::SIGNATURE_REQUESTED | raw,
            nonce,
            request: Vec::new(),
            response: Vec::new(),
        }
    }

    /// The verified MEASUREMENTS response, the whole SPDM message as the device sent it
    /// inside the session (empty until it came).
    pub(super) fn measurements(&self) -> &[u8] {
        &self.response
    }

    pub(super) fn request(&mut self, dev: &mut Device) -> Result<Next, FwError> {
        if !self.response.is_empty() {
            return Ok(Next::Done(self.response.clone()));
        }
        if !self.request.is_empty() {
            return Err(FwError::State("GET_MEASUREMENTS already sent"));
        }
        let neg = neg_of(dev)?;
        let m = wire::spdm_request(
            &spdm::Request::GetMeasurements(spdm::GetMeasurements {
                attributes: self.attributes,
                operation: meas_op::ALL,
                signed: Some(SignedMeasurementRequest {
                    nonce: self.nonce,
                    slot_id: 0,
                }),
                requester_context: None,
            }),
            &neg,
        )?;
        let rec = seal(dev, &m)?;
        self.request = m;
        Ok(Next::Secured(rec))
    }

    pub(super) fn response(&mut self, dev: &mut Device, payload: &[u8]) -> Result<(), FwError> {
        if self.request.is_empty() || !self.response.is_empty() {
            return Err(FwError::State("no GET_MEASUREMENTS outstanding"));
        }
        let neg = neg_of(dev)?;
        let app = secured_spdm(dev, payload)?;
        let s = session_mut(dev)?;
        let (n, exact) = verify_measurements(&neg, &s.leaf, &mut s.meas, &self.request, &app)?;
        info!("{n} signed measurement blocks verified (in the session)");
        self.response = exact.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tsm_proto::doe;

    use super::super::session::pad;
    use super::super::Firmware;
    use super::*;
    use crate::crypto::KeyPair;
    use crate::faults::Faults;
    use crate::testing::testbed;
    use crate::transport::relay::{
        doe_request_object, doe_response_payload, DoeEndpoint, LocalDsm,
    };

    const T: Duration = Duration::from_secs(2);

    /// The software firmware connected to the testbed's DSM (session and IDE up).
    fn connected() -> (Firmware, LocalDsm) {
        let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
        let mut fw = Firmware::new(cfg);
        let mut ep = LocalDsm(dsm);
        testbed::run_ok(&mut fw, &mut ep, testbed::connect(), T).unwrap();
        (fw, ep)
    }

    /// Runs `op` over `ep` until it is done; the number of exchanges.
    fn run(op: &mut MeasOp, dev: &mut Device, ep: &mut LocalDsm) -> Result<usize, FwError> {
        let mut n = 0;
        loop {
            let m = match op.request(dev)? {
                Next::Done(_) => return Ok(n),
                Next::Plain(_) => panic!("GET_MEASUREMENTS in the clear"),
                Next::Secured(m) => m,
            };
            n += 1;
            let ty = doe::TYPE_SECURED_CMA_SPDM;
            let rsp = doe_request_object(ty, &pad(m))
                .and_then(|o| ep.exchange(&o, T))
                .and_then(|o| doe_response_payload(&o, ty))?;
            op.response(dev, &rsp)?;
        }
    }

    /// The blocks' raw-bit-stream flags of a MEASUREMENTS response.
    fn raw_flags(neg: &Negotiated, bytes: &[u8]) -> Vec<bool> {
        let (r, exact) = wire::decode_response(bytes, neg).unwrap();
        assert_eq!(exact.len(), bytes.len(), "exactly one message");
        let spdm::Response::Measurements(m) = r else {
            panic!("not MEASUREMENTS: {r:?}");
        };
        assert!(m.signature.is_some());
        m.record
            .iter()
            .map(|b| b.unwrap().dmtf.unwrap().raw_bit_stream)
            .collect()
    }

    #[test]
    fn signed_measurements_in_the_session() {
        let (mut fw, mut ep) = connected();
        let dev = fw.devices.get_mut(&testbed::DEV).unwrap();
        let neg = neg_of(dev).unwrap();
        let mut op = MeasOp::new([7; NONCE_LEN], false);
        assert!(op.measurements().is_empty());
        assert_eq!(run(&mut op, dev, &mut ep), Ok(1), "one exchange");
        assert_eq!(raw_flags(&neg, op.measurements()), vec![false, false]);
        // Done stays done, with the response as its result.
        match op.request(dev) {
            Ok(Next::Done(r)) => assert_eq!(r, op.measurements()),
            _ => panic!("not done"),
        }
        // RawBitStreamRequested reaches the device.
        let mut raw = MeasOp::new([8; NONCE_LEN], true);
        run(&mut raw, dev, &mut ep).unwrap();
        assert_eq!(raw_flags(&neg, raw.measurements()), vec![true, true]);
        assert!(ep.0.session_established(), "the session goes on");
    }

    #[test]
    fn a_signature_by_another_key_fails_and_order_is_kept() {
        let (mut fw, _ep) = connected();
        let dev = fw.devices.get_mut(&testbed::DEV).unwrap();
        let mut op = MeasOp::new([9; NONCE_LEN], false);
        let Next::Secured(_) = op.request(dev).unwrap() else {
            panic!("no request");
        };
        assert_eq!(
            op.request(dev).err(),
            Some(FwError::State("GET_MEASUREMENTS already sent"))
        );
        let mut fresh = MeasOp::new([9; NONCE_LEN], false);
        assert_eq!(
            fresh.response(dev, &[0; 16]).err(),
            Some(FwError::State("no GET_MEASUREMENTS outstanding"))
        );
        // The session's key replaced: the device's signature no longer verifies.
        let (mut fw, mut ep) = connected();
        let dev = fw.devices.get_mut(&testbed::DEV).unwrap();
        session_mut(dev).unwrap().leaf = KeyPair::generate().public();
        let mut op = MeasOp::new([9; NONCE_LEN], false);
        assert!(matches!(
            run(&mut op, dev, &mut ep),
            Err(FwError::Crypto(_))
        ));
        assert!(op.measurements().is_empty(), "nothing kept");
    }

    #[test]
    fn no_session_no_request() {
        let mut dev = Device {
            spdm: None,
            stream_id: 0,
            ide_active: false,
            tdis: Default::default(),
        };
        let mut op = MeasOp::new([0; NONCE_LEN], false);
        assert!(op.request(&mut dev).is_err());
    }
}
