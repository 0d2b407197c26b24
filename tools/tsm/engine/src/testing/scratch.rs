// SPDX-License-Identifier: GPL-2.0

//! Scratch files for tests: a fresh directory per test, removed when the test is done,
//! and appending to a file the way QEMU appends to its trace log.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system's temporary directory, removed with everything in
/// it when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `tsm-TAG-PID-N` (N counts the directories this process made), emptied
    /// first if a process of the same id left one behind.
    pub fn new(tag: &str) -> io::Result<Self> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tsm-{tag}-{}-{n}", std::process::id()));
        // A directory left by an earlier process with the same id: its content is stale.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` in the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Appends `text` to the file at `path`, creating it if need be, as QEMU appends to its
/// log.
pub fn append(path: &Path, text: &str) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_dir_is_fresh_and_goes_away() {
        let a = ScratchDir::new("scratch").unwrap();
        let b = ScratchDir::new("scratch").unwrap();
        assert_ne!(a.path(), b.path());
        append(&a.join("f"), "one\n").unwrap();
        append(&a.join("f"), "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(a.join("f")).unwrap(), "one\ntwo\n");
        let p = a.path().to_path_buf();
        drop(a);
        assert!(!p.exists());
    }
}
