// SPDX-License-Identifier: GPL-2.0

//! The Intel TDX Connect host ABI for device assignment, as pure data.
//!
//! On TDX the TDX module owns the trusted side of PCIe TEE-IO: the host hands it metadata
//! pages and asks it, one SEAMCALL leaf at a time, to create an SPDM session with a
//! device, to set up a Selective IDE stream and its keys (the module programs the root
//! port; the host programs the endpoint), and to take the platform's IOMMUs under its
//! control. The module talks SPDM to the device through the host: a leaf returns
//! TDX_SPDM_REQUEST with one DOE object in a request page, the host relays it and
//! re-issues the leaf. This module is the host/module boundary of that flow and nothing
//! else: leaf numbers, the register marshalling of every published leaf, the
//! `HPA_ARRAY_T`/`HPA_LIST_INFO`/IOMMU_MT encodings, the FUNCTION_ID and stream fields,
//! the status classifier and the DOE header rewrite, a per-call driver that owns the
//! extension queue slot, and the host orders as state machines with rollback; plus, in
//! `guest`, the TD's side of binding as the staging guest driver uses it (the TDCALLs and
//! the TDCM buffer a host serves). It issues no SEAMCALL, flushes no cache and touches no
//! memory: a kernel backend makes the calls, a module model answers them, and both share
//! these codecs.
//!
//! Sources: only the project's fact sheets, `shared/backends/tdx-connect-abi.md` (cited by
//! its section, §1-§5, and its source tags: V2 = Yilun Xu's "PCIe Link Encryption
//! Establishment via TDX platform services" v2 and its review, V1, RFC30, EXT, STG, ITDX,
//! OVMM) and the older summary `tdx-connect.md`. The Intel specs were not read by the
//! sheets' author either; everything the sheets mark unconfirmed is marked
//! `Unconfirmed:` here, and so is every choice this module makes where the sheets say
//! nothing.
//!
//! **Provisional.** No host TDI bind leaf of the new ABI (LOCK, START, MMIO mapping) has a
//! public number. Those leaves and the bind/unbind orders built on them are in
//! [`provisional`] and nowhere else, named as public comments and guest-side code name
//! them, so that the published ABI replaces one file. (The guest TDCALLs in `guest` do
//! have numbers, from staging code.) The superseded 2023 prototype numbers (TDXIO23: 137-166, and 128/129/135 reused
//! with other meanings) are deliberately not encoded anywhere.
//!
//! Conventions: registers are `u64`; every page is 4 KiB; page contents are little-endian.
//! Decoders of module-written values (outputs, released arrays, request pages) are total
//! and reject reserved bits; encoders refuse values their field cannot hold.
//!
//! | file | what |
//! |---|---|
//! | `leaf` | [`Leaf`] numbers, the RAX leaf value ([`LeafValue`]), [`Regs`] |
//! | `hpa` | [`HpaArray`] (`HPA_ARRAY_T`), [`HpaListInfo`], [`IommuMt`], the release buffer |
//! | `fields` | [`FunctionId`], [`StreamInfo`], stream control, the SPDM.CONNECT config page, metadata field IDs |
//! | `call` | one input type per leaf ([`Input`]) with `regs()` and a decoder, and the leaf outputs ([`Output`]) |
//! | `status` | TDX status codes and the classifier ([`Action`]) |
//! | `relay` | the DOE object of a TDX_SPDM_REQUEST and the response header rewrite |
//! | `driver` | one leaf call to its end ([`LeafCall`]): resume, relay, key refresh; the extension slot ([`ExtSlot`]) |
//! | `guest` | the guest TDCALLs (TDG.TDI.RD/START, DMAR/MMIO.ACCEPT), TDG.VP.VMCALL\<TDCM\> and the TDCM buffer |
//! | `order` | the host orders as pure state machines ([`Sequencer`]): platform enable, connect, disconnect |
//! | `provisional` | the unpublished TDI bind leaves and the bind/unbind orders (provisional) |

pub mod call;
pub mod driver;
pub mod fields;
pub mod guest;
pub mod hpa;
pub mod leaf;
pub mod order;
pub mod provisional;
pub mod relay;
pub mod status;

pub use call::{
    ExtMemAdd, IdeStreamBlock, IdeStreamCreate, IdeStreamDelete, IdeStreamKm, Input, IommuClear,
    IommuSetup, KmOp, MngOp, Output, SpdmConnect, SpdmCreate, SpdmDelete, SpdmDisconnect, SpdmMng,
    SysConfig,
};
pub use driver::{ExtSlot, ExtTicket, LeafCall, Next, Returned};
pub use fields::{ConnectConfig, FunctionId, StreamControl, StreamInfo, StreamType};
pub use hpa::{HpaArray, HpaListInfo, IommuMt, IqBuffer, ReleaseBuffer};
pub use leaf::{Leaf, LeafValue, Regs};
pub use order::{LinkStep, Phase, Plan, PlatformStep, Sequencer, StepResult};
pub use relay::{RelayRequest, RelayResponse};
pub use status::{Action, Status};

/// Size of every page handed to the module (metadata, message, config and root pages).
pub const PAGE_SIZE: usize = 4096;

/// Most 8-byte entries a root page holds (`HPA_ARRAY_T`, `HPA_LIST_INFO`, IOMMU_MT; §3).
pub const MAX_ENTRIES: usize = 512;

/// A physical address's page-frame bits as the encodings carry them: 51:12 (§3).
const PFN_MASK: u64 = ((1 << 52) - 1) & !(PAGE_SIZE as u64 - 1);

/// Whether `pa` is a 4 KiB-aligned address below 2^52 (what bits 51:12 can carry).
pub const fn page_pa_ok(pa: u64) -> bool {
    pa & !PFN_MASK == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_pa_rule() {
        assert!(page_pa_ok(0));
        assert!(page_pa_ok(0x000F_FFFF_FFFF_F000));
        assert!(!page_pa_ok(0x10_0000_0000_0000));
        assert!(!page_pa_ok(0x1008));
    }
}
