// SPDX-License-Identifier: GPL-2.0

//! tsm-bench: what a connect (SPDM session + IDE keys) and a LOCK -> RUN -> STOP cycle
//! cost in the loopback (firmware engine <-> DSM engine in one thread, DOE objects built
//! and parsed as the kernel would), split into time spent in cryptographic primitives
//! (both sides: ECDSA, ECDH, HKDF/HMAC, SHA-384, AES-GCM, RNG) and everything else
//! (codecs, state machines, transcripts, copies). All ratios come from one run.
//!
//! Usage: `tsm-bench [ITERATIONS]` (default 20). Build with `--release`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tsm_engine::crypto;
use tsm_engine::faults::Faults;
use tsm_engine::fw::{Command, Firmware, GuestOp, Output};
use tsm_engine::testing::testbed;
use tsm_engine::transport::relay::{self, DoeEndpoint, LocalDsm};

/// Times the responder separately.
struct Timed {
    dsm: LocalDsm,
    spent: Duration,
}

impl DoeEndpoint for Timed {
    fn exchange(
        &mut self,
        object: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, tsm_engine::fw::DoeError> {
        let t = Instant::now();
        let r = self.dsm.exchange(object, timeout);
        self.spent += t.elapsed();
        r
    }
}

#[derive(Default)]
struct Acc {
    n: u32,
    total: Duration,
    crypto: Duration,
    dsm: Duration,
    exchanges: usize,
}

impl Acc {
    /// Counts the steps accumulated in `steps` as one operation.
    fn add_op(&mut self, steps: &Acc) {
        self.n += 1;
        self.total += steps.total;
        self.crypto += steps.crypto;
        self.dsm += steps.dsm;
        self.exchanges += steps.exchanges;
    }

    fn line(&self, name: &str) -> String {
        let n = self.n.max(1);
        let total = self.total / n;
        let crypto = self.crypto / n;
        let other = total.saturating_sub(crypto);
        let pct = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12);
        format!(
            "{name:<22} {:>3} DOE exchanges  {:>9.3} ms/op  crypto {:>9.3} ms ({:>5.1}%)  \
             other {:>7.3} ms ({:>5.1}%)  responder share {:>5.1}%",
            self.exchanges / n as usize,
            total.as_secs_f64() * 1e3,
            crypto.as_secs_f64() * 1e3,
            pct(crypto),
            other.as_secs_f64() * 1e3,
            pct(other),
            pct(self.dsm / n),
        )
    }
}

fn step(fw: &mut Firmware, ep: &mut Timed, cmd: Command, acc: &mut Acc) -> Result<(), String> {
    crypto::reset_crypto_time();
    ep.spent = Duration::ZERO;
    let r = relay::run(fw, ep, cmd.clone(), Duration::from_secs(10));
    if let Output::Failed { error, .. } = r.output {
        return Err(format!("{cmd:?}: {error}"));
    }
    acc.n += 1;
    acc.total += r.elapsed;
    acc.crypto += crypto::crypto_time();
    acc.dsm += ep.spent;
    acc.exchanges += r.exchanges;
    Ok(())
}

fn run(iterations: u32) -> Result<(), String> {
    let (dsm, cfg) = testbed::platform(Faults::default()).map_err(|e| e.to_string())?;
    let mut fw = Firmware::new(cfg);
    let mut ep = Timed {
        dsm: LocalDsm(dsm),
        spent: Duration::ZERO,
    };
    let mut connect = Acc::default();
    let mut disconnect = Acc::default();
    let mut cycle = Acc::default();
    // Warm-up.
    for cmd in [testbed::connect(), testbed::disconnect()] {
        step(&mut fw, &mut ep, cmd, &mut Acc::default())?;
    }
    for _ in 0..iterations {
        step(&mut fw, &mut ep, testbed::connect(), &mut connect)?;
        let mut c = Acc::default();
        for cmd in [
            testbed::bind(),
            testbed::guest(GuestOp::Start),
            testbed::unbind(),
        ] {
            step(&mut fw, &mut ep, cmd, &mut c)?;
        }
        cycle.add_op(&c);
        step(&mut fw, &mut ep, testbed::disconnect(), &mut disconnect)?;
    }
    println!("tsm-bench: {iterations} iterations, loopback, one thread, P-384/SHA-384/AES-256-GCM");
    println!("{}", connect.line("connect (SPDM+IDE)"));
    println!("{}", cycle.line("LOCK->RUN->STOP"));
    println!("{}", disconnect.line("disconnect"));
    let ratio = connect.total.as_secs_f64() / cycle.total.as_secs_f64().max(1e-12);
    println!("connect / cycle cost ratio: {ratio:.1}");
    Ok(())
}

fn main() -> ExitCode {
    let iterations = match std::env::args().nth(1).map(|a| a.parse::<u32>()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: tsm-bench [ITERATIONS > 0]");
            return ExitCode::from(2);
        }
    };
    match run(iterations) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
