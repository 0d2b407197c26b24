// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the shared relay loop (`kernel::pci::tsm::relay`) with a scripted
//! firmware and a fake mailbox: the state machine every backend relies on.

use kernel::pci::tsm::relay::{
    self,
    Limits,
    Port,
    Progress,
    Step,
    Transport, //
};
use kernel::prelude::*;

/// A mailbox that echoes the request, or fails every exchange with `fail`.
struct Echo {
    fail: Option<Error>,
}

impl Transport for Echo {
    fn transfer(&self, _object_type: u8, request: &[u8], response: &mut [u8]) -> Result<usize> {
        if let Some(e) = self.fail {
            return Err(e);
        }
        let n = request.len().min(response.len());
        response[..n].copy_from_slice(&request[..n]);
        Ok(n)
    }
}

/// A firmware that wants `want` exchanges, checks each echo, then completes.
struct Script {
    want: u32,
    done: u32,
    req: [u8; 4],
    errors_seen: u32,
    aborted: Option<Error>,
}

impl Script {
    fn new(want: u32) -> Self {
        Self {
            want,
            done: 0,
            req: [0; 4],
            errors_seen: 0,
            aborted: None,
        }
    }

    fn next(&mut self) -> Step<u32> {
        if self.done >= self.want {
            return Step::Done(self.done);
        }
        self.req = self.done.to_le_bytes();
        Step::Doe { object_type: 1 }
    }
}

impl Port for Script {
    type Output = u32;

    fn issue(&mut self) -> Result<Step<u32>> {
        Ok(self.next())
    }

    fn request(&self) -> &[u8] {
        &self.req
    }

    fn resume(&mut self, response: Result<&[u8]>) -> Result<Step<u32>> {
        match response {
            Ok(r) if r == self.req => self.done += 1,
            Ok(_) => return Err(EIO),
            Err(_) => {
                // A firmware ends the command when an exchange fails.
                self.errors_seen += 1;
                return Ok(Step::Done(u32::MAX));
            }
        }
        Ok(self.next())
    }

    fn abort(&mut self, reason: Error) {
        self.aborted = Some(reason);
    }
}

#[kunit_tests(tsm_emu_relay)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_exchange_then_completes() {
        let mut p = Script::new(25);
        let r = relay::run(&Echo { fail: None }, &mut p, &Limits::default());
        assert_eq!(r, Ok(25));
        assert!(p.aborted.is_none());
    }

    #[test]
    fn transport_errors_go_to_the_firmware() {
        let mut p = Script::new(3);
        let r = relay::run(
            &Echo {
                fail: Some(ETIMEDOUT),
            },
            &mut p,
            &Limits::default(),
        );
        assert_eq!(r, Ok(u32::MAX));
        assert_eq!(p.errors_seen, 1);
    }

    #[test]
    fn exchange_bound_aborts_the_command() {
        let mut p = Script::new(100);
        let limits = Limits {
            max_exchanges: 10,
            deadline_ms: 60_000,
            cancellable: true,
        };
        let r = relay::run(&Echo { fail: None }, &mut p, &limits);
        assert_eq!(r, Err(ELOOP));
        assert_eq!(p.aborted, Some(ELOOP));
        assert_eq!(p.done, 10);
    }

    #[test]
    fn immediate_completion_needs_no_mailbox() {
        let mut p = Script::new(0);
        let r = relay::run(&Echo { fail: Some(EIO) }, &mut p, &Limits::default());
        assert_eq!(r, Ok(0));
    }

    /// A command that has carried one exchange, a second in, with `signal` pending.
    fn progress(signal: bool, withdrawable: bool) -> Progress {
        Progress {
            exchanges: 1,
            elapsed_ms: 1000,
            signal,
            withdrawable,
        }
    }

    #[test]
    fn signal_cancels_only_before_a_request_that_can_be_taken_back() {
        let l = Limits::default();
        assert_eq!(relay::check_bounds(&l, &progress(true, true)), Err(EINTR));
        assert_eq!(relay::check_bounds(&l, &progress(true, false)), Ok(()));
        assert_eq!(relay::check_bounds(&l, &progress(false, true)), Ok(()));
        let teardown = Limits {
            cancellable: false,
            ..l
        };
        assert_eq!(
            relay::check_bounds(&teardown, &progress(true, true)),
            Ok(())
        );
    }

    #[test]
    fn bounds_hold_before_a_secured_request_too() {
        let l = Limits {
            max_exchanges: 1,
            ..Limits::default()
        };
        assert_eq!(relay::check_bounds(&l, &progress(true, false)), Err(ELOOP));
        let l = Limits {
            deadline_ms: 999,
            ..Limits::default()
        };
        assert_eq!(
            relay::check_bounds(&l, &progress(false, false)),
            Err(ETIMEDOUT)
        );
    }

    #[test]
    fn by_default_only_plain_spdm_can_be_taken_back() {
        let p = Script::new(1);
        assert!(p.can_withdraw(relay::DOE_SPDM));
        assert!(!p.can_withdraw(relay::DOE_SECURED_SPDM));
    }
}
