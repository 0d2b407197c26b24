// SPDX-License-Identifier: GPL-2.0

//! PCIe TEE-IO wire protocols as pure, total functions.
//!
//! This crate holds every byte-level protocol that the tsm-vfio stack speaks between the
//! platform TSM firmware and a device's security manager (DSM): PCIe DOE data objects,
//! DMTF SPDM 1.2/1.3 (DSP0274), SPDM secured messages (DSP0277) over the PCIe CMA binding,
//! PCIe IDE key management (IDE-KM) and PCIe TDISP, plus the TDISP device interface report
//! validator, the TDISP state machines and the classification of host config-space
//! writes by the TDISP events they cause, and the `/dev/tsm_fw` messages between the
//! kernel's emulated platform TSM and the software TSM firmware (`fwmsg`). The `rmi`
//! module is the Arm CCA RMM's device-assignment interface (RMI PDEV/VDEV calls, pages
//! and state machines); the `tio` module is AMD SEV-TIO's host/PSP TIO command ABI
//! (command buffers, scatter-list addresses, SPDM buffers, firmware-written status
//! pages, status codes, and the relay/EXPAND sequencer and teardown orders as state
//! machines); the `tdx` module is the Intel TDX Connect host ABI (SEAMCALL leaf
//! marshalling, page-list encodings, the status classifier and DOE relay, and the
//! connect/disconnect orders, with the unpublished TDI bind leaves kept provisional in
//! one file). `conduit` is the channel between a vendor backend's firmware
//! conduit and a firmware model in userspace (one call and its return). `x509` takes the
//! device's leaf public key out of an SPDM certificate chain (for RMI_PDEV_SET_PUBKEY),
//! without verifying anything.
//!
//! Rules every module follows:
//! - `no_std`, `core` only (the `alloc` feature adds conveniences for userspace);
//! - no `unsafe`, no panics: every parser returns `Ok` or a typed [`codec::Error`] for any
//!   byte string, with checked arithmetic and no indexing that can go out of bounds;
//! - sibling modules are named with `super::` paths, never `crate::`, so the sources also
//!   build as a submodule of another crate (the kernel builds this crate once, as a crate
//!   of its Rust build: `rust/Makefile`).

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

/// Declares a wire enum: a fieldless enum whose variants are the codes of one code space
/// on the wire. A code is a plain value, so every wire enum derives `Debug`, `Clone`,
/// `Copy`, `PartialEq`, `Eq` and `Hash` (further derives go in the attributes); it has
/// `ALL` (every variant, in declaration order), a total decoder named
/// `decode` that maps any other value to an `Error::UnknownCode` of that space, and,
/// with `encode`, a `const fn` returning the wire value.
///
/// ```text
/// wire_enum! {
///     /// KP_ACK status codes.
///     pub enum KpAckStatus(u8, "idekm.kp_ack_status") decode from_u8 {
///         /// Key programmed.
///         Success = 0x00,
///     }
/// }
/// ```
///
/// The expansion names `Error` and `Result` unqualified: the calling module imports them
/// from `codec`. (A macro does not name the crate root here: `$crate` and `crate::` would
/// be another crate's root were the sources included with `#[path]`.) Defined
/// before the `mod` lines, it is in scope in every module of the crate by its plain
/// name and nowhere else.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident($repr:ident, $space:literal)
            decode $from:ident $(encode $to:ident)? {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            #[doc = concat!(
                "Maps a wire value; a value no variant has is an `Error::UnknownCode` in `",
                $space,
                "`."
            )]
            pub const fn $from(v: $repr) -> Result<Self> {
                match v {
                    $( $value => Ok(Self::$variant), )+
                    _ => Err(Error::UnknownCode {
                        space: $space,
                        value: v as u64,
                    }),
                }
            }

            $(
                /// The wire value.
                pub const fn $to(self) -> $repr {
                    self as $repr
                }
            )?
        }
    };
}

/// Declares a bit-set newtype over a wire field of type `$repr` that keeps every bit,
/// reserved ones too, so re-encoding is exact: `from_bits` wraps a value, `bits` returns
/// it, `contains` tests a mask; the constants are the defined bits, as `$repr` masks.
///
/// ```text
/// wire_bits! {
///     /// MMIO range attributes.
///     pub struct MmioAttributes(u16) {
///         /// Bit 0: the range maps the MSI-X table.
///         MSIX_TABLE = 1 << 0;
///     }
/// }
/// ```
macro_rules! wire_bits {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($repr:ty) {
            $( $(#[$bmeta:meta])* $bit:ident = $value:expr; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name($repr);

        impl $name {
            $( $(#[$bmeta])* pub const $bit: $repr = $value; )+

            /// Wraps the wire value (reserved bits kept, so re-encoding is exact).
            pub const fn from_bits(v: $repr) -> Self {
                Self(v)
            }

            /// The wire value.
            pub const fn bits(self) -> $repr {
                self.0
            }

            /// Whether every bit of `mask` is set.
            pub const fn contains(self, mask: $repr) -> bool {
                self.0 & mask == mask
            }
        }
    };
}

pub mod codec;
pub mod conduit;
pub mod config;
pub mod doe;
pub mod fwmsg;
pub mod guest_req;
pub mod idekm;
pub mod report;
pub mod rmi;
pub mod secured;
pub mod spdm;
pub mod state;
pub mod tdisp;
pub mod tdx;
pub mod tio;
pub mod x509;
