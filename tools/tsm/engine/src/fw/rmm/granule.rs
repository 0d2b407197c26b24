// SPDX-License-Identifier: GPL-2.0

//! Granule tracking: which 4 KiB granules the host delegated, and what each delegated
//! granule has become (a PDEV, a PDEV's auxiliary granule, a VDEV, a Realm
//! descriptor).
//!
//! A granule not tracked is UNDELEGATED: NS memory the host owns. Objects are created
//! only in DELEGATED granules, and parameter and communication pages must be
//! UNDELEGATED; both are checked here and answered with RMI_ERROR_INPUT.
//! RMI_GRANULE_RANGE_UNDELEGATE scrubs the granule (writes zeros) before giving it
//! back, so nothing the model kept there reaches the host.
//!
//! Unconfirmed: the status for delegating a granule that is not UNDELEGATED, or
//! undelegating one that is not DELEGATED. TF-RMM's range calls start from
//! ERROR_INPUT with X1 = the base (runtime/rmi/granule.c), but the state checks sit in
//! code the fact sheet does not cover; ERROR_INPUT is used.

use std::collections::BTreeMap;

use tsm_proto::rmi::{OrderError, Status};

use super::memory::{aligned, FwMemory, GRANULE};

/// What a delegated granule holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GranuleState {
    /// Delegated, free to become an object.
    Delegated,
    /// A Realm descriptor (installed by the RMI_REALM_CREATE stand-in).
    Rd {
        /// Whether the Realm was created with device assignment (`flags0.DA`).
        da: bool,
    },
    /// A PDEV (from PDEV_CREATE, including while its creation or destruction is a
    /// stateful operation in progress).
    Pdev,
    /// An auxiliary granule donated to the PDEV at this PA.
    PdevAux {
        /// The PDEV.
        pdev: u64,
    },
    /// A VDEV.
    Vdev {
        /// The PDEV it belongs to.
        pdev: u64,
    },
}

fn input(why: &'static str) -> OrderError {
    OrderError::new(Status::ErrorInput, why)
}

/// The granules the model tracks (every other one is UNDELEGATED).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Granules {
    map: BTreeMap<u64, GranuleState>,
}

impl Granules {
    /// The state of the granule at `pa` (`None`: UNDELEGATED).
    pub fn state(&self, pa: u64) -> Option<GranuleState> {
        self.map.get(&pa).copied()
    }

    /// Every tracked granule.
    pub fn all(&self) -> &BTreeMap<u64, GranuleState> {
        &self.map
    }

    /// Delegates the UNDELEGATED granule at `pa`, which must be memory the conduit
    /// reaches.
    pub fn delegate(&mut self, mem: &mut dyn FwMemory, pa: u64) -> Result<(), OrderError> {
        if !aligned(pa) {
            return Err(input("granule not aligned"));
        }
        if self.map.contains_key(&pa) {
            return Err(input("granule already delegated"));
        }
        mem.read(pa, &mut [0u8; 1])
            .map_err(|_| input("granule is not memory"))?;
        self.map.insert(pa, GranuleState::Delegated);
        Ok(())
    }

    /// Undelegates the DELEGATED granule at `pa`, scrubbing it first.
    pub fn undelegate(&mut self, mem: &mut dyn FwMemory, pa: u64) -> Result<(), OrderError> {
        if !aligned(pa) {
            return Err(input("granule not aligned"));
        }
        if self.state(pa) != Some(GranuleState::Delegated) {
            return Err(input("granule is not DELEGATED"));
        }
        mem.write(pa, &[0u8; GRANULE as usize])
            .map_err(|_| input("granule is not memory"))?;
        self.map.remove(&pa);
        Ok(())
    }

    /// Checks that `pa` is an aligned DELEGATED granule (where an object is to be
    /// created).
    pub fn require_delegated(&self, pa: u64) -> Result<(), OrderError> {
        if !aligned(pa) {
            return Err(input("object granule not aligned"));
        }
        match self.state(pa) {
            Some(GranuleState::Delegated) => Ok(()),
            _ => Err(input("object granule is not DELEGATED")),
        }
    }

    /// Turns the DELEGATED granule `pa` into `to`.
    pub fn claim(&mut self, pa: u64, to: GranuleState) -> Result<(), OrderError> {
        self.require_delegated(pa)?;
        self.map.insert(pa, to);
        Ok(())
    }

    /// Returns the object granule `pa` to DELEGATED (its object is gone).
    pub fn release(&mut self, pa: u64) {
        if let Some(g) = self.map.get_mut(&pa) {
            *g = GranuleState::Delegated;
        }
    }

    /// Checks that `pa` is an aligned NS (UNDELEGATED) page: what every parameter,
    /// communication and request/response page must be.
    pub fn require_ns(&self, pa: u64) -> Result<(), OrderError> {
        if !aligned(pa) {
            return Err(input("NS page not aligned"));
        }
        if self.map.contains_key(&pa) {
            return Err(input("NS page is delegated"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory::PageMemory;
    use super::*;

    #[test]
    fn delegate_rules() {
        let mut m = PageMemory::new();
        m.add_page(0x1000);
        let mut g = Granules::default();
        let st = |e: Result<(), OrderError>| e.map_err(|e| e.status);
        assert_eq!(st(g.delegate(&mut m, 0x1001)), Err(Status::ErrorInput));
        assert_eq!(st(g.delegate(&mut m, 0x2000)), Err(Status::ErrorInput));
        assert_eq!(st(g.delegate(&mut m, 0x1000)), Ok(()));
        assert_eq!(st(g.delegate(&mut m, 0x1000)), Err(Status::ErrorInput));
        assert_eq!(st(g.require_ns(0x1000)), Err(Status::ErrorInput));
        g.claim(0x1000, GranuleState::Pdev).unwrap();
        assert_eq!(st(g.undelegate(&mut m, 0x1000)), Err(Status::ErrorInput));
        g.release(0x1000);
        m.write(0x1000, &[7; 8]).unwrap();
        assert_eq!(st(g.undelegate(&mut m, 0x1000)), Ok(()));
        assert_eq!(m.page(0x1000).map(|p| p[0]), Some(0), "scrubbed");
        assert_eq!(g.state(0x1000), None);
    }
}
