// SPDX-License-Identifier: GPL-2.0

//! VENDOR_DEFINED_REQUEST / VENDOR_DEFINED_RESPONSE (DSP0274 1.3.0 §10.22), the envelope
//! that carries PCI-SIG IDE-KM and TDISP.
//!
//! Body: StandardID (u16), Len (u8), VendorID (Len bytes), ReqLength/RespLength (u16),
//! payload. PCI-SIG messages (IDE-KM, PCIe 6.x §6.33.3; TDISP, PCIe 6.x §11) use
//! StandardID 3 (PCI-SIG in the DSP0274 registry), a two-byte VendorID 0001h, and the
//! first payload byte is the protocol ID: 00h IDE-KM, 01h TDISP. The payload is exposed
//! whole (protocol ID included) for the IDE-KM and TDISP codecs.

use super::super::codec::{len_field, Reader, Result, Writer};

/// StandardID of DMTF (DSP0274 1.3.0 Table "Registry or standards body ID").
pub const STANDARD_ID_DMTF: u16 = 0;
/// StandardID of the TCG.
pub const STANDARD_ID_TCG: u16 = 1;
/// StandardID of USB.
pub const STANDARD_ID_USB: u16 = 2;
/// StandardID of PCI-SIG.
pub const STANDARD_ID_PCI_SIG: u16 = 3;
/// StandardID of IANA.
pub const STANDARD_ID_IANA: u16 = 4;
/// PCI-SIG's vendor ID bytes (0001h, little-endian, Len = 2).
pub const PCI_SIG_VENDOR_ID: [u8; 2] = [0x01, 0x00];
/// PCI-SIG protocol ID of IDE-KM (first payload byte).
pub const PROTOCOL_ID_IDE_KM: u8 = 0x00;
/// PCI-SIG protocol ID of TDISP (first payload byte).
pub const PROTOCOL_ID_TDISP: u8 = 0x01;

/// The body of a VENDOR_DEFINED_REQUEST or VENDOR_DEFINED_RESPONSE (Param1/Param2 are
/// reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorDefined<'a> {
    /// StandardID.
    pub standard_id: u16,
    /// VendorID bytes (at most 255).
    pub vendor_id: &'a [u8],
    /// The vendor payload (ReqLength/RespLength bytes).
    pub payload: &'a [u8],
}

impl<'a> VendorDefined<'a> {
    /// A PCI-SIG envelope around `payload` (whose first byte is the protocol ID).
    pub const fn pci_sig(payload: &'a [u8]) -> Self {
        Self {
            standard_id: STANDARD_ID_PCI_SIG,
            vendor_id: &PCI_SIG_VENDOR_ID,
            payload,
        }
    }

    /// Whether this is a PCI-SIG message (StandardID 3, VendorID 0001h).
    pub fn is_pci_sig(&self) -> bool {
        self.standard_id == STANDARD_ID_PCI_SIG && self.vendor_id == PCI_SIG_VENDOR_ID
    }

    /// For a PCI-SIG message, the protocol ID (first payload byte).
    pub fn pci_sig_protocol(&self) -> Option<u8> {
        if self.is_pci_sig() {
            self.payload.first().copied()
        } else {
            None
        }
    }

    /// Decodes the body after the four-byte header.
    pub fn decode_body(r: &mut Reader<'a>) -> Result<Self> {
        let standard_id = r.u16()?;
        let n = usize::from(r.u8()?);
        let vendor_id = r.bytes(n)?;
        let len = usize::from(r.u16()?);
        let payload = r.bytes(len)?;
        Ok(Self {
            standard_id,
            vendor_id,
            payload,
        })
    }

    /// Encodes the body after the four-byte header.
    pub fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = len_field("spdm.vendor_id_len", self.vendor_id.len())?;
        let len = len_field("spdm.vendor_payload_length", self.payload.len())?;
        w.u16(self.standard_id)?;
        w.u8(n)?;
        w.bytes(self.vendor_id)?;
        w.u16(len)?;
        w.bytes(self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Negotiated, Request, Version};
    use super::*;

    #[test]
    fn pci_sig_tdisp_envelope_golden() {
        // DSP0274 1.2.0 §10.22 + PCIe TDISP: StandardID 3, Len 2, VendorID 0001h,
        // ReqLength 3, payload = protocol 01h (TDISP), version 10h, GET_VERSION 81h.
        let b = [
            0x12, 0xfe, 0, 0, 0x03, 0x00, 0x02, 0x01, 0x00, 0x03, 0x00, 0x01, 0x10, 0x81,
        ];
        let neg = Negotiated::initial(Version::V12);
        let Request::VendorDefined(v) = Request::decode(&b, &neg).unwrap() else {
            panic!()
        };
        assert!(v.is_pci_sig());
        assert_eq!(v.pci_sig_protocol(), Some(PROTOCOL_ID_TDISP));
        assert_eq!(v.payload, &[0x01, 0x10, 0x81]);
        let mut out = [0u8; 14];
        Request::VendorDefined(VendorDefined::pci_sig(&[0x01, 0x10, 0x81]))
            .encode(&mut Writer::new(&mut out), &neg)
            .unwrap();
        assert_eq!(out, b);
    }
}
