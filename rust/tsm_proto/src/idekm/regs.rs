// SPDX-License-Identifier: GPL-2.0

//! The IDE extended capability register blocks a QUERY_RESP carries (PCIe Base 6.x
//! §7.9.26 "IDE Extended Capability"): parsed views for the TSM, and a writer for a
//! device emulator.

use core::fmt;

use super::super::codec::{Error, Reader, Records, Result, Writer};

/// One Link IDE register block (PCIe Base 6.x §7.9.26.4): stream control and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStreamRegs {
    /// Link IDE Stream Control Register.
    pub control: u32,
    /// Link IDE Stream Status Register.
    pub status: u32,
}

impl LinkStreamRegs {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            control: r.u32()?,
            status: r.u32()?,
        })
    }
}

/// One Selective IDE address association register block (§7.9.26.5.4): three registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressAssociation {
    /// IDE Address Association Register 1 (valid bit, base/limit low bits).
    pub reg1: u32,
    /// IDE Address Association Register 2 (memory limit upper).
    pub reg2: u32,
    /// IDE Address Association Register 3 (memory base upper).
    pub reg3: u32,
}

/// Size of an [`AddressAssociation`] block.
const ADDRESS_ASSOCIATION_LEN: usize = 12;

impl AddressAssociation {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            reg1: r.u32()?,
            reg2: r.u32()?,
            reg3: r.u32()?,
        })
    }
}

/// One Selective IDE stream register block (§7.9.26.5), borrowed from a QUERY_RESP.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SelectiveStreamRegs<'a> {
    /// Selective IDE Stream Capability Register (bits 3:0: number of address
    /// association register blocks).
    pub capability: u32,
    /// Selective IDE Stream Control Register.
    pub control: u32,
    /// Selective IDE Stream Status Register.
    pub status: u32,
    /// IDE RID Association Register 1.
    pub rid_association_1: u32,
    /// IDE RID Association Register 2.
    pub rid_association_2: u32,
    assoc: &'a [u8],
}

impl fmt::Debug for SelectiveStreamRegs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectiveStreamRegs")
            .field("capability", &self.capability)
            .field("control", &self.control)
            .field("status", &self.status)
            .field("rid_association_1", &self.rid_association_1)
            .field("rid_association_2", &self.rid_association_2)
            .field("address_associations", &self.address_association_count())
            .finish()
    }
}

impl<'a> SelectiveStreamRegs<'a> {
    /// Number of address association blocks (bits 3:0 of the capability register).
    pub fn address_association_count(&self) -> usize {
        (self.capability & 0xf) as usize
    }

    /// Iterates over the stream's address association register blocks.
    pub fn address_associations(&self) -> AddressAssociations<'a> {
        let n = self.assoc.len() / ADDRESS_ASSOCIATION_LEN;
        Records::new(Reader::new(self.assoc), n, AddressAssociation::read)
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let capability = r.u32()?;
        let control = r.u32()?;
        let status = r.u32()?;
        let rid_association_1 = r.u32()?;
        let rid_association_2 = r.u32()?;
        let n = (capability & 0xf) as usize;
        // n <= 15, so the product cannot overflow.
        let assoc = r.bytes(n * ADDRESS_ASSOCIATION_LEN)?;
        Ok(Self {
            capability,
            control,
            status,
            rid_association_1,
            rid_association_2,
            assoc,
        })
    }
}

/// Iterator over [`AddressAssociation`] blocks.
pub type AddressAssociations<'a> = Records<'a, AddressAssociation>;

/// IDE capability register bit: Link IDE Stream Supported (§7.9.26.2).
pub const IDE_CAP_LINK: u32 = 1 << 0;
/// IDE capability register bit: Selective IDE Streams Supported (§7.9.26.2).
pub const IDE_CAP_SELECTIVE: u32 = 1 << 1;
/// IDE capability register bit: IDE_KM protocol supported (§7.9.26.2).
pub const IDE_CAP_IDE_KM: u32 = 1 << 6;

/// The IDE extended capability register blocks a QUERY_RESP carries, from the IDE
/// Capability Register to the last selective stream block (§6.33.3 "QUERY_RESP",
/// §7.9.26 "IDE Extended Capability").
///
/// The number of blocks is implied by the capability registers: Link IDE blocks
/// (`Number of TCs Supported for Link IDE` + 1, bits 15:13) when bit 0 is set,
/// selective stream blocks (`Number of Selective IDE Streams Supported` + 1,
/// bits 23:16) when bit 1 is set, each with the number of address association blocks
/// its own capability register announces. Construction checks that the bytes hold
/// exactly that.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdeRegs<'a> {
    raw: &'a [u8],
}

impl fmt::Debug for IdeRegs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdeRegs")
            .field("capability", &self.capability())
            .field("control", &self.control())
            .field("link_streams", &self.link_stream_count())
            .field("selective_streams", &self.selective_stream_count())
            .finish()
    }
}

impl<'a> IdeRegs<'a> {
    /// Validates `raw` as a complete IDE register dump.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(raw);
        let cap = r.u32()?;
        r.u32()?;
        r.skip(link_count(cap) * 8)?;
        for _ in 0..selective_count(cap) {
            SelectiveStreamRegs::parse(&mut r)?;
        }
        r.finish()?;
        Ok(Self { raw })
    }

    /// The raw register bytes, little-endian dwords.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// IDE Capability Register.
    pub fn capability(&self) -> u32 {
        Reader::new(self.raw).u32().unwrap_or(0)
    }

    /// IDE Control Register.
    pub fn control(&self) -> u32 {
        let mut r = Reader::new(self.raw);
        r.skip(4).and_then(|()| r.u32()).unwrap_or(0)
    }

    /// Number of Link IDE register blocks present.
    pub fn link_stream_count(&self) -> usize {
        link_count(self.capability())
    }

    /// Number of Selective IDE stream register blocks present.
    pub fn selective_stream_count(&self) -> usize {
        selective_count(self.capability())
    }

    /// Iterates over the Link IDE register blocks.
    pub fn link_streams(&self) -> LinkStreams<'a> {
        let mut r = Reader::new(self.raw);
        let n = self.link_stream_count();
        let ok = r.skip(8).is_ok();
        Records::new(r, if ok { n } else { 0 }, LinkStreamRegs::read)
    }

    /// Iterates over the Selective IDE stream register blocks.
    pub fn selective_streams(&self) -> SelectiveStreams<'a> {
        let mut r = Reader::new(self.raw);
        let n = self.selective_stream_count();
        let ok = r.skip(8 + self.link_stream_count() * 8).is_ok();
        Records::new(r, if ok { n } else { 0 }, SelectiveStreamRegs::parse)
    }
}

fn link_count(cap: u32) -> usize {
    if cap & IDE_CAP_LINK != 0 {
        ((cap >> 13) & 0x7) as usize + 1
    } else {
        0
    }
}

fn selective_count(cap: u32) -> usize {
    if cap & IDE_CAP_SELECTIVE != 0 {
        ((cap >> 16) & 0xff) as usize + 1
    } else {
        0
    }
}

/// Iterator over [`LinkStreamRegs`].
pub type LinkStreams<'a> = Records<'a, LinkStreamRegs>;

/// Iterator over [`SelectiveStreamRegs`].
pub type SelectiveStreams<'a> = Records<'a, SelectiveStreamRegs<'a>>;

/// Writes an IDE register dump (for a device emulator building a QUERY_RESP).
///
/// `capability` must announce exactly `link.len()` link blocks and
/// `selective.len()` selective blocks, and each selective block's capability must
/// announce exactly as many address association blocks as given; otherwise
/// [`Error::LengthMismatch`].
pub fn write_ide_regs(
    w: &mut Writer<'_>,
    capability: u32,
    control: u32,
    link: &[LinkStreamRegs],
    selective: &[(SelectiveStreamHeader, &[AddressAssociation])],
) -> Result<()> {
    if link.len() != link_count(capability) {
        return Err(Error::LengthMismatch {
            field: "idekm.link_streams",
            declared: link_count(capability),
            actual: link.len(),
        });
    }
    if selective.len() != selective_count(capability) {
        return Err(Error::LengthMismatch {
            field: "idekm.selective_streams",
            declared: selective_count(capability),
            actual: selective.len(),
        });
    }
    w.u32(capability)?;
    w.u32(control)?;
    for l in link {
        w.u32(l.control)?;
        w.u32(l.status)?;
    }
    for (h, assoc) in selective {
        let n = (h.capability & 0xf) as usize;
        if assoc.len() != n {
            return Err(Error::LengthMismatch {
                field: "idekm.address_associations",
                declared: n,
                actual: assoc.len(),
            });
        }
        w.u32(h.capability)?;
        w.u32(h.control)?;
        w.u32(h.status)?;
        w.u32(h.rid_association_1)?;
        w.u32(h.rid_association_2)?;
        for a in *assoc {
            w.u32(a.reg1)?;
            w.u32(a.reg2)?;
            w.u32(a.reg3)?;
        }
    }
    Ok(())
}

/// The fixed registers of a selective stream block, for [`write_ide_regs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SelectiveStreamHeader {
    /// Selective IDE Stream Capability Register.
    pub capability: u32,
    /// Selective IDE Stream Control Register.
    pub control: u32,
    /// Selective IDE Stream Status Register.
    pub status: u32,
    /// IDE RID Association Register 1.
    pub rid_association_1: u32,
    /// IDE RID Association Register 2.
    pub rid_association_2: u32,
}
