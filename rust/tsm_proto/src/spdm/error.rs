// SPDX-License-Identifier: GPL-2.0

//! ERROR response (DSP0274 1.3.0 §10.13) and RESPOND_IF_READY (§10.13.2).

use super::super::codec::{Error, Reader, Result, Writer};
use super::{code, put_header, Header, Negotiated};

wire_enum! {
    /// ERROR codes (DSP0274 1.3.0 §10.13, Table "Error code and error data").
    pub enum ErrorCode(u8, "spdm.error_code") decode from_byte encode byte {
        /// 01h InvalidRequest.
        InvalidRequest = 0x01,
        /// 03h Busy.
        Busy = 0x03,
        /// 04h UnexpectedRequest.
        UnexpectedRequest = 0x04,
        /// 05h Unspecified.
        Unspecified = 0x05,
        /// 06h DecryptError.
        DecryptError = 0x06,
        /// 07h UnsupportedRequest.
        UnsupportedRequest = 0x07,
        /// 08h RequestInFlight.
        RequestInFlight = 0x08,
        /// 09h InvalidResponseCode.
        InvalidResponseCode = 0x09,
        /// 0Ah SessionLimitExceeded.
        SessionLimitExceeded = 0x0a,
        /// 0Bh SessionRequired.
        SessionRequired = 0x0b,
        /// 0Ch ResetRequired.
        ResetRequired = 0x0c,
        /// 0Dh ResponseTooLarge.
        ResponseTooLarge = 0x0d,
        /// 0Eh RequestTooLarge.
        RequestTooLarge = 0x0e,
        /// 0Fh LargeResponse.
        LargeResponse = 0x0f,
        /// 10h MessageLost.
        MessageLost = 0x10,
        /// 11h InvalidPolicy (1.3).
        InvalidPolicy = 0x11,
        /// 41h VersionMismatch.
        VersionMismatch = 0x41,
        /// 42h ResponseNotReady.
        ResponseNotReady = 0x42,
        /// 43h RequestResynch.
        RequestResynch = 0x43,
        /// 44h OperationFailed (1.3).
        OperationFailed = 0x44,
        /// 45h NoPendingRequests (1.3).
        NoPendingRequests = 0x45,
        /// FFh Vendor/Other standards defined.
        VendorDefined = 0xff,
    }
}

/// Largest ExtendedErrorData (DSP0274 1.3.0 §10.13: 0 to 32 bytes).
pub const MAX_EXTENDED_LEN: usize = 32;

/// ExtendedErrorData, by error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedError<'a> {
    /// No extended data (every code not listed below).
    None,
    /// ResponseNotReady (DSP0274 1.3.0 Table "ResponseNotReady extended error data").
    ResponseNotReady {
        /// RDTExponent: the responder needs up to 2^RDTExponent microseconds.
        rdt_exponent: u8,
        /// Request code of the request being processed.
        request_code: u8,
        /// Token to send in RESPOND_IF_READY.
        token: u8,
        /// RDTM: multiplier giving the timeout after which the request may be dropped.
        rdtm: u8,
    },
    /// LargeResponse: the chunk handle for CHUNK_GET.
    LargeResponse {
        /// Handle.
        handle: u8,
    },
    /// ResponseTooLarge: the size of the response that did not fit.
    ResponseTooLarge {
        /// Size of the response in bytes.
        size: u32,
    },
    /// VendorDefined: Len, VendorID and opaque data, kept raw (may include DOE padding
    /// when decoded with `decode_padded`).
    Vendor(&'a [u8]),
}

/// ERROR response (DSP0274 1.3.0 §10.13, Table "ERROR response message format"):
/// Param1 error code, Param2 error data, then ExtendedErrorData.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse<'a> {
    /// Error code.
    pub code: ErrorCode,
    /// Error data (Param2), meaning depends on the code.
    pub data: u8,
    /// ExtendedErrorData.
    pub extended: ExtendedError<'a>,
}

impl<'a> ErrorResponse<'a> {
    pub(super) fn decode_body(h: &Header, r: &mut Reader<'a>) -> Result<Self> {
        let code = ErrorCode::from_byte(h.param1)?;
        let extended = match code {
            ErrorCode::ResponseNotReady => ExtendedError::ResponseNotReady {
                rdt_exponent: r.u8()?,
                request_code: r.u8()?,
                token: r.u8()?,
                rdtm: r.u8()?,
            },
            ErrorCode::LargeResponse => ExtendedError::LargeResponse { handle: r.u8()? },
            ErrorCode::ResponseTooLarge => ExtendedError::ResponseTooLarge { size: r.u32()? },
            ErrorCode::VendorDefined => {
                let rest = r.rest();
                if rest.len() > MAX_EXTENDED_LEN {
                    return Err(Error::InvalidField {
                        field: "spdm.extended_error_data",
                        value: rest.len() as u64,
                    });
                }
                ExtendedError::Vendor(rest)
            }
            _ => ExtendedError::None,
        };
        Ok(Self {
            code,
            data: h.param2,
            extended,
        })
    }

    /// Encodes the whole message; the extended data must fit the code.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let ok = matches!(
            (self.code, &self.extended),
            (
                ErrorCode::ResponseNotReady,
                ExtendedError::ResponseNotReady { .. }
            ) | (
                ErrorCode::LargeResponse,
                ExtendedError::LargeResponse { .. }
            ) | (
                ErrorCode::ResponseTooLarge,
                ExtendedError::ResponseTooLarge { .. }
            ) | (ErrorCode::VendorDefined, ExtendedError::Vendor(_))
        ) || (!matches!(
            self.code,
            ErrorCode::ResponseNotReady
                | ErrorCode::LargeResponse
                | ErrorCode::ResponseTooLarge
                | ErrorCode::VendorDefined
        ) && self.extended == ExtendedError::None);
        if !ok {
            return Err(Error::InvalidField {
                field: "spdm.extended_error_data",
                value: u64::from(self.code.byte()),
            });
        }
        put_header(w, neg, code::ERROR, self.code.byte(), self.data)?;
        match self.extended {
            ExtendedError::None => Ok(()),
            ExtendedError::ResponseNotReady {
                rdt_exponent,
                request_code,
                token,
                rdtm,
            } => w.bytes(&[rdt_exponent, request_code, token, rdtm]),
            ExtendedError::LargeResponse { handle } => w.u8(handle),
            ExtendedError::ResponseTooLarge { size } => w.u32(size),
            ExtendedError::Vendor(d) => {
                if d.len() > MAX_EXTENDED_LEN {
                    return Err(Error::InvalidField {
                        field: "spdm.extended_error_data",
                        value: d.len() as u64,
                    });
                }
                w.bytes(d)
            }
        }
    }
}

/// RESPOND_IF_READY request (DSP0274 1.3.0 §10.13.2): Param1 the original request code,
/// Param2 the token from ResponseNotReady.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RespondIfReady {
    /// Request code of the original request.
    pub request_code: u8,
    /// Token from the ResponseNotReady extended data.
    pub token: u8,
}

#[cfg(test)]
mod tests {
    use super::super::{Response, Version};
    use super::*;

    #[test]
    fn response_not_ready_golden() {
        // DSP0274 1.2.0 §10.13 Table 54: ResponseNotReady, RDTExponent 20, request
        // GET_MEASUREMENTS (E0h), token 7, RDTM 2.
        let b = [0x12, 0x7f, 0x42, 0x00, 20, 0xe0, 7, 2];
        let neg = Negotiated::initial(Version::V12);
        let Response::Error(e) = Response::decode(&b, &neg).unwrap() else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::ResponseNotReady);
        assert_eq!(
            e.extended,
            ExtendedError::ResponseNotReady {
                rdt_exponent: 20,
                request_code: 0xe0,
                token: 7,
                rdtm: 2
            }
        );
        assert!(Response::decode(&b[..7], &neg).is_err());
    }

    #[test]
    fn every_code_round_trips() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_byte(c.byte()), Ok(c));
        }
        assert!(ErrorCode::from_byte(0x02).is_err());
        assert!(ErrorCode::from_byte(0x46).is_err());
    }

    #[test]
    fn plain_codes_refuse_extended_data() {
        let neg = Negotiated::initial(Version::V12);
        assert!(Response::decode(&[0x12, 0x7f, 0x03, 0x00], &neg).is_ok());
        assert!(Response::decode(&[0x12, 0x7f, 0x03, 0x00, 1], &neg).is_err());
        assert!(Response::decode_padded(&[0x12, 0x7f, 0x0f, 0x00, 9, 0, 0, 0], &neg).is_ok());
    }
}
