// SPDX-License-Identifier: GPL-2.0

//! What the guest-request decoders of the vendor backends share (`rmi::guest` for
//! `tvm_arch` CCA, `tio::guest` for SEV): why a request is refused before it reaches
//! firmware, and the payload shapes more than one op has.

use super::codec::Reader;

/// Why a guest request was refused before it reached firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestReqError {
    /// No such op (`EOPNOTSUPP`).
    Unsupported,
    /// A payload of the wrong size or with unknown flags (`EINVAL`).
    Invalid,
}

/// `v` if `payload` is empty (an op that takes none).
pub fn no_payload<T>(payload: &[u8], v: T) -> Result<T, GuestReqError> {
    match payload.is_empty() {
        true => Ok(v),
        false => Err(GuestReqError::Invalid),
    }
}

/// The offset of an op that reads from one: none (offset 0) or a little-endian `u32`.
pub fn offset_payload(payload: &[u8]) -> Result<u32, GuestReqError> {
    match payload.len() {
        0 => Ok(0),
        4 => Reader::new(payload)
            .u32()
            .map_err(|_| GuestReqError::Invalid),
        _ => Err(GuestReqError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_shapes() {
        assert_eq!(no_payload(&[], 7), Ok(7));
        assert_eq!(no_payload(&[0], 7), Err(GuestReqError::Invalid));
        assert_eq!(offset_payload(&[]), Ok(0));
        assert_eq!(
            offset_payload(&0x0102_0304u32.to_le_bytes()),
            Ok(0x0102_0304)
        );
        for n in [1, 2, 3, 5, 8] {
            assert_eq!(offset_payload(&[0u8; 8][..n]), Err(GuestReqError::Invalid));
        }
    }
}
