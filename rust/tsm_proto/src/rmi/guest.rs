// SPDX-License-Identifier: GPL-2.0

//! The guest requests of `tvm_arch` CCA: the `op` and payload of `IOMMU_VDEVICE_TSM_REQ`
//! and `VFIO_DEVICE_TSM_GUEST_REQ` as the Arm CCA host backend serves them
//! (`include/uapi/linux/tsm_cca.h`; the engine's `uapi_header` test compares the two).
//!
//! These operations are this project's, not an upstream ABI: on a real CCA host a Realm
//! asks the RMM itself (RSI) and the host only carries the RMM's device traffic. Each maps
//! onto one RMI 2.0 VDEV call:
//!
//! | op | payload | RMI | response |
//! |---|---|---|---|
//! | [`OP_GET_REPORT`] | none, or a `u32` offset | VDEV_GET_INTERFACE_REPORT | the report from the offset |
//! | [`OP_START`] | none | VDEV_START | empty |
//! | [`OP_GET_STATE`] | none | VDEV_GET_STATE | one byte, [`VdevState`] |
//! | [`OP_GET_MEASUREMENTS`] | none, or [`MeasReq`] | VDEV_GET_MEASUREMENTS (offset 0) | the measurements from the offset |
//!
//! The `tsm_code` of every request is the VDEV's state after it, or [`CODE_UNKNOWN`].

use super::super::codec::{Reader, Writer};
pub use super::super::guest_req::GuestReqError;
use super::super::guest_req::{no_payload, offset_payload};
use super::vdev::{MeasureParams, VdevState, MEASURE_NONCE_LEN};

/// `TSM_CCA_GUEST_GET_REPORT`.
pub const OP_GET_REPORT: u32 = 1;
/// `TSM_CCA_GUEST_START`.
pub const OP_START: u32 = 2;
/// `TSM_CCA_GUEST_GET_STATE`.
pub const OP_GET_STATE: u32 = 3;
/// `TSM_CCA_GUEST_GET_MEASUREMENTS`.
pub const OP_GET_MEASUREMENTS: u32 = 4;

/// `TSM_CCA_CODE_UNKNOWN`: `tsm_code` when the VDEV's state could not be read.
pub const CODE_UNKNOWN: u64 = u64::MAX;

/// `TSM_CCA_MEAS_RAW`: ask for raw bitstream measurements ([`MeasureParams::RAW`]).
pub const MEAS_RAW: u32 = 1 << 0;

/// `sizeof(struct tsm_cca_meas_req)`: `offset`, `flags`, `nonce[32]`.
pub const MEAS_REQ_LEN: usize = 8 + MEASURE_NONCE_LEN;

/// The payload of [`OP_GET_MEASUREMENTS`] (`struct tsm_cca_meas_req`, little-endian).
///
/// At offset 0 the host fetches the measurements anew (VDEV_GET_MEASUREMENTS with
/// [`Self::params`]); at any other offset it answers from the copy of its last fetch for
/// this TDI, so that a guest reads one signed response in pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeasReq {
    /// Where the response starts in the measurements.
    pub offset: u32,
    /// Raw bitstream measurements ([`MEAS_RAW`]).
    pub raw: bool,
    /// The nonce of the signed GET_MEASUREMENTS (all zero when there is no payload).
    pub nonce: [u8; MEASURE_NONCE_LEN],
}

impl MeasReq {
    /// The RMI measure-parameters page of a fetch.
    pub fn params(&self) -> MeasureParams {
        MeasureParams {
            flags: if self.raw { MeasureParams::RAW } else { 0 },
            nonce: self.nonce,
        }
    }

    /// Encodes the payload ([`MEAS_REQ_LEN`] bytes).
    pub fn encode(&self, w: &mut Writer<'_>) -> super::super::codec::Result<()> {
        w.u32(self.offset)?;
        w.u32(if self.raw { MEAS_RAW } else { 0 })?;
        w.bytes(&self.nonce)
    }
}

/// A decoded guest request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestOp {
    /// The interface report from `offset`.
    GetReport {
        /// Where the response starts in the report.
        offset: u32,
    },
    /// VDEV_START: LOCKED → STARTED (TDISP RUN).
    Start,
    /// The VDEV's state.
    GetState,
    /// The measurements.
    GetMeasurements(MeasReq),
}

impl GuestOp {
    /// Decodes `op` and its payload.
    pub fn decode(op: u32, payload: &[u8]) -> Result<Self, GuestReqError> {
        let mut r = Reader::new(payload);
        let bad = |_| GuestReqError::Invalid;
        match op {
            OP_GET_REPORT => Ok(Self::GetReport {
                offset: offset_payload(payload)?,
            }),
            OP_START => no_payload(payload, Self::Start),
            OP_GET_STATE => no_payload(payload, Self::GetState),
            OP_GET_MEASUREMENTS => match payload.len() {
                0 => Ok(Self::GetMeasurements(MeasReq::default())),
                MEAS_REQ_LEN => {
                    let offset = r.u32().map_err(bad)?;
                    let flags = r.u32().map_err(bad)?;
                    if flags & !MEAS_RAW != 0 {
                        return Err(GuestReqError::Invalid);
                    }
                    Ok(Self::GetMeasurements(MeasReq {
                        offset,
                        raw: flags & MEAS_RAW != 0,
                        nonce: r.array().map_err(bad)?,
                    }))
                }
                _ => Err(GuestReqError::Invalid),
            },
            _ => Err(GuestReqError::Unsupported),
        }
    }
}

/// The `tsm_code` of a request: the VDEV's state after it, if it could be read.
pub fn tsm_code(state: Option<VdevState>) -> u64 {
    state.map_or(CODE_UNKNOWN, |s| u64::from(s.to_u8()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_payloads() {
        use GuestOp::*;
        assert_eq!(GuestOp::decode(1, &[]), Ok(GetReport { offset: 0 }));
        assert_eq!(
            GuestOp::decode(1, &0x1234u32.to_le_bytes()),
            Ok(GetReport { offset: 0x1234 })
        );
        assert_eq!(GuestOp::decode(1, &[0; 2]), Err(GuestReqError::Invalid));
        assert_eq!(GuestOp::decode(2, &[]), Ok(Start));
        assert_eq!(GuestOp::decode(2, &[0]), Err(GuestReqError::Invalid));
        assert_eq!(GuestOp::decode(3, &[]), Ok(GetState));
        assert_eq!(GuestOp::decode(3, &[0; 4]), Err(GuestReqError::Invalid));
        assert_eq!(
            GuestOp::decode(4, &[]),
            Ok(GetMeasurements(MeasReq::default()))
        );
        assert_eq!(GuestOp::decode(0, &[]), Err(GuestReqError::Unsupported));
        assert_eq!(GuestOp::decode(5, &[]), Err(GuestReqError::Unsupported));
    }

    #[test]
    fn measurement_request_round_trip_and_flags() {
        let q = MeasReq {
            offset: 7,
            raw: true,
            nonce: [0xa5; MEASURE_NONCE_LEN],
        };
        let mut b = [0u8; MEAS_REQ_LEN];
        q.encode(&mut Writer::new(&mut b)).unwrap();
        assert_eq!(&b[..8], &[7, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(GuestOp::decode(4, &b), Ok(GuestOp::GetMeasurements(q)));
        assert_eq!(q.params().flags, MeasureParams::RAW);
        assert_eq!(q.params().nonce, q.nonce);
        // An unknown flag, a short or a long payload
        b[4] = 3;
        assert_eq!(GuestOp::decode(4, &b), Err(GuestReqError::Invalid));
        assert_eq!(
            GuestOp::decode(4, &b[..MEAS_REQ_LEN - 1]),
            Err(GuestReqError::Invalid)
        );
        assert_eq!(GuestOp::decode(4, &[0; 41]), Err(GuestReqError::Invalid));
    }

    #[test]
    fn codes() {
        assert_eq!(tsm_code(None), CODE_UNKNOWN);
        assert_eq!(tsm_code(Some(VdevState::Started)), 3);
    }
}
