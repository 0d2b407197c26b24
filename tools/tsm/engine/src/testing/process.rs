// SPDX-License-Identifier: GPL-2.0

//! A program run by a test (tsm-dsm, tsm-fw): killed and reaped when the test is done,
//! however it ends.

use std::io;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long [`TestProcess::wait_exit`] polls between two looks.
const POLL: Duration = Duration::from_millis(20);

/// A child process of a test, killed and reaped when dropped.
#[derive(Debug)]
pub struct TestProcess(Child);

impl TestProcess {
    /// Starts `cmd`.
    pub fn spawn(cmd: &mut Command) -> io::Result<Self> {
        cmd.spawn().map(Self)
    }

    /// The process, for its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }

    /// Waits up to `limit` for the process to exit: its exit code, or `None` if it was
    /// killed by a signal or is still running at `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> io::Result<Option<i32>> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(s) = self.0.try_wait()? {
                return Ok(s.code());
            }
            std::thread::sleep(POLL);
        }
        Ok(None)
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
