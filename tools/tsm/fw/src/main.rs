// SPDX-License-Identifier: GPL-2.0

//! tsm-fw: the software TSM firmware, run in the guest as the platform firmware agent the
//! kernel's emulated TSM backend forwards to (as tpm_vtpm_proxy forwards to swtpm).
//!
//! It opens the backend's character device (`--dev`, default `/dev/tsm_fw`), says HELLO,
//! and serves CONNECT/DISCONNECT/BIND/UNBIND/GUEST_REQ commands, asking the kernel for
//! every DOE exchange. For host tests the same protocol runs over stdin/stdout
//! (`--stdio`) or a Unix socket (`--socket`). Logs go to stderr.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use log::info;
use tsm_engine::args;
use tsm_engine::certs::{self, CertError};
use tsm_engine::fw::agent::{self, AgentError, AgentOptions};
use tsm_engine::fw::{Firmware, FwConfig};
use tsm_engine::report::FirstPageUnit;
use tsm_engine::transport::fw_channel::{self, Framing};

/// Software TSM firmware: SPDM/IDE-KM/TDISP requester behind the kernel's /dev/tsm_fw.
#[derive(Parser, Debug)]
#[command(name = "tsm-fw", version, about, long_about = None)]
struct Cli {
    /// The kernel backend's character device (one message per read()/write()).
    #[arg(long, default_value = "/dev/tsm_fw", value_name = "PATH")]
    dev: PathBuf,

    /// Speak the protocol over stdin/stdout instead (byte stream; for tests).
    #[arg(long, conflicts_with = "socket")]
    stdio: bool,

    /// Speak the protocol over a Unix stream socket at PATH instead (connects to it).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Root certificate (PEM or DER) every device's SPDM chain must start with.
    #[arg(long, value_name = "FILE")]
    trust_anchor: PathBuf,

    /// FIRST_PAGE unit of device interface reports: "page" or "byte".
    #[arg(long, default_value = "page", value_parser = args::parse_first_page_unit)]
    first_page_unit: FirstPageUnit,

    /// Per-exchange DOE timeout asked of the kernel, in milliseconds; the firmware gives
    /// up on an exchange after twice this.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    doe_timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
enum FwMainError {
    #[error("trust anchor {path}: {err}")]
    Anchor { path: String, err: String },
    #[error("trust anchor {path}: {err}")]
    AnchorCert { path: String, err: CertError },
    #[error("cannot open {path}: {err}")]
    Open { path: String, err: std::io::Error },
    #[error("{0}")]
    Agent(#[from] AgentError),
}

fn run(cli: &Cli) -> Result<(), FwMainError> {
    let ap = cli.trust_anchor.display().to_string();
    let bytes = std::fs::read(&cli.trust_anchor).map_err(|e| FwMainError::Anchor {
        path: ap.clone(),
        err: e.to_string(),
    })?;
    let anchor = certs::der_from_file_bytes(&bytes).map_err(|err| FwMainError::AnchorCert {
        path: ap.clone(),
        err,
    })?;
    certs::check_certificate(&anchor).map_err(|err| FwMainError::AnchorCert { path: ap, err })?;
    let mut fw = Firmware::new(FwConfig {
        trust_anchor: anchor,
        first_page_unit: cli.first_page_unit,
    });
    let opts = AgentOptions {
        doe_timeout: Duration::from_millis(cli.doe_timeout_ms),
    };
    let (rx, mut w): (_, Box<dyn Write>) = if cli.stdio {
        info!("tsm-fw on stdin/stdout");
        (
            fw_channel::reader_thread(Box::new(std::io::stdin()), Framing::Stream),
            Box::new(std::io::stdout()),
        )
    } else if let Some(p) = &cli.socket {
        let open = |err| FwMainError::Open {
            path: p.display().to_string(),
            err,
        };
        let s = UnixStream::connect(p).map_err(open)?;
        let r = s.try_clone().map_err(open)?;
        info!("tsm-fw on socket {}", p.display());
        (
            fw_channel::reader_thread(Box::new(r), Framing::Stream),
            Box::new(s),
        )
    } else {
        let open = |err| FwMainError::Open {
            path: cli.dev.display().to_string(),
            err,
        };
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&cli.dev)
            .map_err(open)?;
        let r = f.try_clone().map_err(open)?;
        info!("tsm-fw on {}", cli.dev.display());
        (
            fw_channel::reader_thread(Box::new(r), Framing::Datagram),
            Box::new(f),
        )
    };
    agent::run_agent(&mut fw, &rx, &mut *w, &opts)?;
    Ok(())
}

fn main() -> ExitCode {
    tsm_engine::program::main("tsm-fw", module_path!(), || run(&Cli::parse()))
}
