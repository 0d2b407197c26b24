// SPDX-License-Identifier: GPL-2.0

//! The public key parameters page of RMI_PDEV_SET_PUBKEY (the same in 1.1-alp12).
//!
//! The host parses the certificate chain the RMM had it cache, takes the leaf
//! certificate's key and hands it over: an ECDSA key as the raw uncompressed point
//! with no metadata, an RSA key as the modulus with the public exponent as metadata,
//! both big-endian without leading zeros (Linux `rmi-da.c`).

use super::super::codec::{Error, Result, Writer};
use super::result::{OrderError, Status};
use super::{Fields, Layout, GRANULE_SIZE};

wire_enum! {
    /// RmiSignatureAlgorithm.
    pub enum SignatureAlgo(u8, "rmi.signature_algorithm") decode from_u8 encode to_u8 {
        /// RSASSA-3072.
        Rsassa3072 = 0,
        /// ECDSA over P-256.
        EcdsaP256 = 1,
        /// ECDSA over P-384.
        EcdsaP384 = 2,
    }
}

impl SignatureAlgo {
    /// The key length the RMM requires: the 384-byte modulus, or the 65/97-byte
    /// uncompressed point.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Rsassa3072 => 384,
            Self::EcdsaP256 => 65,
            Self::EcdsaP384 => 97,
        }
    }
}

/// Capacity of the key and of the metadata.
pub const PUBKEY_MAX_LEN: usize = 1024;

/// RmiPublicKeyParams: 0x000 `key[1024]`, 0x400 `metadata[1024]`, 0x800 key_len, 0x808
/// metadata_len, 0x810 algo (u8). Borrows the key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PubkeyParams<'a> {
    /// The key (at most 1024 bytes).
    pub key: &'a [u8],
    /// The metadata (at most 1024 bytes).
    pub metadata: &'a [u8],
    /// The signature algorithm.
    pub algo: SignatureAlgo,
}

/// Bytes of [`PubkeyParams`] fields.
const PUBKEY_EXTENT: usize = 0x818;

impl<'a> PubkeyParams<'a> {
    /// An ECDSA key: the raw uncompressed point, no metadata.
    pub const fn ecdsa(algo: SignatureAlgo, point: &'a [u8]) -> Self {
        Self {
            key: point,
            metadata: &[],
            algo,
        }
    }

    /// An RSA key: the modulus as the key and the exponent as the metadata, each with
    /// leading zero bytes stripped.
    pub fn rsa(modulus: &'a [u8], exponent: &'a [u8]) -> Self {
        let strip = |b: &'a [u8]| {
            let n = b.iter().take_while(|x| **x == 0).count();
            b.get(n..).unwrap_or(&[])
        };
        Self {
            key: strip(modulus),
            metadata: strip(exponent),
            algo: SignatureAlgo::Rsassa3072,
        }
    }

    /// Decodes the page (at least 0x818 bytes, at most 4096); a length above 1024 is an
    /// [`Error::InvalidField`].
    pub fn decode(page: &'a [u8]) -> Result<Self> {
        let f = Fields::new(page, PUBKEY_EXTENT, GRANULE_SIZE)?;
        let take = |field, len_at, data_at| -> Result<&'a [u8]> {
            let len = f.u64(len_at)?;
            match usize::try_from(len) {
                Ok(n) if n <= PUBKEY_MAX_LEN => f.at(data_at)?.bytes(n),
                _ => Err(Error::InvalidField { field, value: len }),
            }
        };
        Ok(Self {
            key: take("rmi.pubkey.key_len", 0x800, 0x000)?,
            metadata: take("rmi.pubkey.metadata_len", 0x808, 0x400)?,
            algo: SignatureAlgo::from_u8(f.u8(0x810)?)?,
        })
    }

    /// Encodes the whole 4096-byte page; a key or metadata above 1024 bytes is an
    /// [`Error::InvalidField`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        for (field, data) in [
            ("rmi.pubkey.key_len", self.key),
            ("rmi.pubkey.metadata_len", self.metadata),
        ] {
            if data.len() > PUBKEY_MAX_LEN {
                return Err(Error::InvalidField {
                    field,
                    value: data.len() as u64,
                });
            }
        }
        let mut l = Layout::new(w);
        l.at(0x000)?.bytes(self.key)?;
        l.at(0x400)?.bytes(self.metadata)?;
        l.u64(0x800, self.key.len() as u64)?;
        l.u64(0x808, self.metadata.len() as u64)?;
        l.u8(0x810, self.algo.to_u8())?;
        l.finish(GRANULE_SIZE)
    }

    /// The RMM's check (TF-RMM `pdev.c`): the key length the algorithm requires
    /// (ERROR_INPUT).
    pub fn check(&self) -> core::result::Result<(), OrderError> {
        if self.key.len() != self.algo.key_len() {
            return Err(OrderError::new(
                Status::ErrorInput,
                "key length does not match the algorithm",
            ));
        }
        Ok(())
    }
}
