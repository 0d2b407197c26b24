// SPDX-License-Identifier: GPL-2.0

//! The DOE relay of TDX_SPDM_REQUEST (§3 "DOE relay").
//!
//! TDX passes both the DOE and the SPDM headers through the host (AMD passes SPDM only;
//! Yilun 2026-04-22). When a relaying leaf returns TDX_SPDM_REQUEST, the request page
//! (`out_msg`, one 4 KiB page) holds one raw DOE object: DW0 vendor ID (15:0) and type
//! (23:16), DW1 length in dwords (17:0), then the payload. The host strips the 8-byte
//! header, sends `length * 4 − 8` bytes with that type through `pci_tsm_doe_transfer`,
//! writes the reply payload at offset 8 of the response page (`in_msg`), rebuilds DW0
//! with the same vendor and type and DW1 with `(reply + 8) / 4`, and re-issues the leaf.
//! The largest reply that fits is 4088 bytes.
//!
//! [`RelayRequest`] is the request page read by the host (and written by a module
//! model); [`RelayResponse`] the response page written by the host (and read by a
//! model). The header codec is the crate's [`super::super::doe::Header`].

use super::super::codec::{Error, Reader, Result, Writer};
use super::super::doe::{Header, HEADER_LEN};
use super::PAGE_SIZE;

/// The largest payload a message page carries: 4096 − 8 = 4088 bytes (§3).
pub const MAX_PAYLOAD: usize = PAGE_SIZE - HEADER_LEN;

/// One DOE object in a message page.
fn decode_object(page: &[u8]) -> Result<(u16, u8, &[u8])> {
    if page.len() > PAGE_SIZE {
        return Err(Error::TrailingBytes {
            count: page.len() - PAGE_SIZE,
        });
    }
    let mut r = Reader::new(page);
    let h = Header::decode(&mut r)?;
    let total = h.length_dw.saturating_mul(4);
    if total > page.len() {
        return Err(Error::LengthMismatch {
            field: "tdx.relay.length",
            declared: total,
            actual: page.len(),
        });
    }
    let payload = r.bytes(total - HEADER_LEN)?;
    Ok((h.vendor_id, h.object_type, payload))
}

fn encode_object(
    vendor_id: u16,
    object_type: u8,
    payload: &[u8],
    w: &mut Writer<'_>,
) -> Result<usize> {
    if payload.len() > MAX_PAYLOAD || payload.len() % 4 != 0 {
        return Err(Error::InvalidField {
            field: "tdx.relay.payload_len",
            value: payload.len() as u64,
        });
    }
    let total = payload.len() + HEADER_LEN;
    Header {
        vendor_id,
        object_type,
        length_dw: total / 4,
    }
    .encode(w)?;
    w.bytes(payload)?;
    Ok(total)
}

/// The DOE object of a request page: the vendor ID and type to send with, and the
/// payload (the header stripped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRequest<'a> {
    /// DW0 bits 15:0.
    pub vendor_id: u16,
    /// DW0 bits 23:16: the DOE object type the payload is sent as.
    pub object_type: u8,
    /// The `length * 4 − 8` bytes to send.
    pub payload: &'a [u8],
}

impl<'a> RelayRequest<'a> {
    /// Reads the request page (at most 4096 bytes): a DOE header whose length fits in
    /// the page, and the payload it declares. Bytes past the object are ignored.
    ///
    /// Unconfirmed: the leaf's RCX "request length" (§1) has no unit in the sheet, so it
    /// is not cross-checked against the header; the header's length is what V2 sends.
    pub fn decode(page: &'a [u8]) -> Result<Self> {
        let (vendor_id, object_type, payload) = decode_object(page)?;
        Ok(Self {
            vendor_id,
            object_type,
            payload,
        })
    }

    /// Writes the object (for a module model); returns its length in bytes. A payload
    /// above [`MAX_PAYLOAD`] or not a whole number of dwords is an
    /// [`Error::InvalidField`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<usize> {
        encode_object(self.vendor_id, self.object_type, self.payload, w)
    }
}

/// The response page the host writes after the DOE transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayResponse<'a> {
    /// The request's vendor ID, unchanged.
    pub vendor_id: u16,
    /// The request's type, unchanged.
    pub object_type: u8,
    /// The device's reply payload.
    pub reply: &'a [u8],
}

impl<'a> RelayResponse<'a> {
    /// The response to `request` carrying `reply`: the same vendor and type (§3).
    pub const fn to(request: &RelayRequest<'_>, reply: &'a [u8]) -> Self {
        Self {
            vendor_id: request.vendor_id,
            object_type: request.object_type,
            reply,
        }
    }

    /// Writes the response page: DW0 vendor and type, DW1 `(reply + 8) / 4`, the reply at
    /// offset 8. A reply above 4088 bytes or not a whole number of dwords is an
    /// [`Error::InvalidField`] (the `/ 4` would drop its tail). Returns the bytes written;
    /// the rest of the page is left as it was.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<usize> {
        encode_object(self.vendor_id, self.object_type, self.reply, w)
    }

    /// Reads a response page (for a module model), as [`RelayRequest::decode`].
    pub fn decode(page: &'a [u8]) -> Result<Self> {
        let (vendor_id, object_type, reply) = decode_object(page)?;
        Ok(Self {
            vendor_id,
            object_type,
            reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rewrite() {
        let mut req = [0u8; 16];
        req[..8].copy_from_slice(&[0x01, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00]);
        req[8..16].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = RelayRequest::decode(&req).unwrap();
        assert_eq!((r.vendor_id, r.object_type, r.payload.len()), (1, 2, 8));
        let reply = [9u8; 12];
        let mut page = [0u8; 32];
        let mut w = Writer::new(&mut page);
        assert_eq!(RelayResponse::to(&r, &reply).encode(&mut w), Ok(20));
        assert_eq!(page[..8], [0x01, 0x00, 0x02, 0x00, 5, 0, 0, 0]);
        assert!(RelayResponse::to(&r, &[0; 3])
            .encode(&mut Writer::new(&mut [0u8; 16]))
            .is_err());
    }

    #[test]
    fn length_past_page_refused() {
        let mut req = [0u8; 8];
        req[4] = 3;
        assert!(RelayRequest::decode(&req).is_err());
    }
}
