// SPDX-License-Identifier: GPL-2.0

//! The AMD SEV-TIO host/PSP command ABI ("TIO commands"), as pure data.
//!
//! On AMD SEV-SNP platforms the PSP firmware is the platform TSM: the host hands it a
//! device context per physical device, relays the SPDM messages the PSP wants to send
//! through the device's DOE mailbox, and binds TDIs to SNP guests. This module is the
//! host/PSP boundary of that flow and nothing else: command IDs and the CMDRESP
//! register, the packed command buffers (host-written, with decoders for tests and a
//! firmware model), scatter-list addresses (SLAs), the SPDM buffer and data-object
//! headers, the firmware-written status pages, the status codes with their
//! classification, and the sequencers (the SPDM relay / EXPAND / re-issue loop of one
//! command, and the forced-retry and unbind → status → reclaim → fence orders) as state
//! machines without I/O. It issues no mailbox command and touches no memory.
//!
//! Sources, as named in the project's fact sheet (`shared/backends/sev-tio-abi.md`,
//! 2026-12-01, and the older summary `sev-tio.md`): Linux 7.2.13 (`L72`), the AMDESE
//! out-of-tree tree (`OOT`), aik's older tree (`AIK`), the RFC series (`V1`, `V2`) and
//! the phase-1/phase-2 posts (`P1`, `P2`). The firmware specification (AMD 58271) was not
//! read; anything the fact sheet marks unconfirmed is called "unconfirmed" here.
//!
//! Conventions: every buffer is packed little-endian; a command buffer starts with its
//! own length as a `u32` and is at most [`MAX_CMD_LEN`] bytes. Decoders are total,
//! reject unknown codes and wrong lengths, and ignore reserved bytes; encoders write
//! reserved bytes as zero. Layout differences between firmware generations are behind
//! [`Layout`]: [`Layout::Current`] is L72/OOT/P1, [`Layout::Aik`] the older AIK and V1
//! layouts where the fact sheet gives them.
//!
//! | file | what |
//! |---|---|
//! | `cmd` | [`Command`] IDs, [`Layout`], buffer lengths, the CMDRESP register |
//! | `sla` | [`Sla`] encode/decode, scatter pages and end-of-list |
//! | `buffer` | SPDM buffer header, data-object headers, REQ/RESP and output objects |
//! | `request` | every command buffer ([`Request`], [`SpdmCtrl`], [`InterfaceId`]) |
//! | `status` | firmware-written pages: TIO_STATUS, DEV_STATUS, TDI_INFO, TDI_STATUS, fence |
//! | `result` | [`Status`] codes and their [`Class`] |
//! | `seq` | the one-command sequencer (relay, re-issue, EXPAND once) |
//! | `guest` | the guest requests of `tvm_arch` SEV (`<linux/tsm_sev.h>`) |
//! | `order` | device disconnect and TDI unbind orders with forced retries |
//! | `standin` | [`StandIn`]: the host's RMP and guest actions on a model's conduit (no PSP ABI) |

use super::codec::{Error, Result};

pub mod buffer;
pub mod cmd;
pub mod guest;
pub mod order;
pub mod request;
pub mod result;
pub mod seq;
pub mod sla;
pub mod standin;
pub mod status;

pub use buffer::{read_resp, write_output, BufferHeader, DataType, ObjectHeader, ObjectId};
pub use cmd::{Command, Layout, MAX_CMD_LEN};
pub use order::{Completion, DevTeardown, Op, PlatformInit, TdiTeardown};
pub use request::{CmdBuf, InterfaceId, LockFlags, Request, SpdmCtrl};
pub use result::{Class, Status};
pub use seq::{Done, Expand, Failure, Issue, Next, Relay, Sequencer};
pub use sla::{PageSize, Sla};
pub use standin::StandIn;
pub use status::{DevStatus, FenceStatus, SpdmAlgos, TdiInfo, TdiStatus, TioStatus};

/// Size of a page as the PSP sees it (every SLA data page is 4 KiB: the host always uses
/// 4K, L72).
pub const PAGE_SIZE: usize = 4096;

/// `N` bytes of `buf` at `offset`, or [`Error::Truncated`].
fn get<const N: usize>(buf: &[u8], offset: usize) -> Result<[u8; N]> {
    let end = offset
        .checked_add(N)
        .ok_or(Error::Truncated { offset, needed: N })?;
    let s = buf.get(offset..end).ok_or(Error::Truncated {
        offset: buf.len(),
        needed: end.saturating_sub(buf.len()),
    })?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Ok(out)
}

fn get_u8(buf: &[u8], offset: usize) -> Result<u8> {
    let [b] = get::<1>(buf, offset)?;
    Ok(b)
}

fn get_u16(buf: &[u8], offset: usize) -> Result<u16> {
    get(buf, offset).map(u16::from_le_bytes)
}

fn get_u32(buf: &[u8], offset: usize) -> Result<u32> {
    get(buf, offset).map(u32::from_le_bytes)
}

fn get_u64(buf: &[u8], offset: usize) -> Result<u64> {
    get(buf, offset).map(u64::from_le_bytes)
}

/// Writes `data` into `buf` at `offset`, or [`Error::BufferTooSmall`].
fn put(buf: &mut [u8], offset: usize, data: &[u8]) -> Result<()> {
    let end = offset
        .checked_add(data.len())
        .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
    buf.get_mut(offset..end)
        .ok_or(Error::BufferTooSmall { needed: end })?
        .copy_from_slice(data);
    Ok(())
}

/// Checks that `buf` is exactly `len` bytes long.
fn exact(buf: &[u8], len: usize) -> Result<()> {
    match buf.len() {
        n if n < len => Err(Error::Truncated {
            offset: n,
            needed: len - n,
        }),
        n if n > len => Err(Error::TrailingBytes { count: n - len }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_total() {
        let mut b = [0u8; 4];
        assert!(put(&mut b, 2, &[1, 2]).is_ok());
        assert_eq!(b, [0, 0, 1, 2]);
        assert!(put(&mut b, 3, &[1, 2]).is_err());
        assert!(put(&mut b, usize::MAX, &[1]).is_err());
        assert_eq!(get_u16(&b, 2), Ok(0x0201));
        assert!(get_u32(&b, 1).is_err());
        assert!(get_u64(&b, usize::MAX).is_err());
        assert_eq!(exact(&b, 4), Ok(()));
        assert_eq!(
            exact(&b, 5),
            Err(Error::Truncated {
                offset: 4,
                needed: 1
            })
        );
        assert_eq!(exact(&b, 3), Err(Error::TrailingBytes { count: 1 }));
    }
}
