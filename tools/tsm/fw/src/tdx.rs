// SPDX-License-Identifier: GPL-2.0

//! tsm-tdx: the model of the Intel TDX module's TDX Connect host interface
//! (`tsm_engine::fw::tdx`), run in the guest behind a TDX host backend's firmware
//! conduit (`Documentation/driver-api/pci/tsm-conduit.rst`).
//!
//! It opens the conduit's character device (`--dev`) and answers every SEAMCALL the
//! backend makes, reading and writing only the memory the backend handed over, until
//! the device goes away or the process is ended. The device's certificate chain must
//! verify against `--trust-anchor` (a DER or PEM root certificate). `--knobs` switches
//! on the model's status knobs (e.g. `resume@spdm_connect:3,busy@ide_stream_km`).
//! The provisional TDI bind calls have no SEAMCALL numbers and are not served here.
//! Logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use log::info;
use tsm_engine::certs;
use tsm_engine::conduit::{self, DevChannel};
use tsm_engine::fw::tdx::{Knobs, TdxConfig, TdxModule};

/// Model of the Intel TDX module's TDX Connect SEAMCALLs behind a firmware conduit.
#[derive(Parser, Debug)]
#[command(
    name = "tsm-tdx",
    version,
    about = "Model of the Intel TDX module's TDX Connect SEAMCALLs behind a firmware conduit",
    long_about = None
)]
struct Cli {
    /// The backend's conduit device (one call per read(), one return per write()).
    #[arg(long, default_value = "/dev/tsm_conduit_tdx", value_name = "PATH")]
    dev: PathBuf,

    /// The root certificate the device's chain must verify against (DER or PEM).
    #[arg(long, value_name = "PATH")]
    trust_anchor: PathBuf,

    /// The model's status knobs, comma separated (KIND@LEAF:N[=VALUE]).
    #[arg(long, default_value = "", value_parser = parse_knobs)]
    knobs: Knobs,
}

fn parse_knobs(s: &str) -> Result<Knobs, String> {
    s.parse().map_err(|e| format!("{e}"))
}

#[derive(Debug, thiserror::Error)]
enum TdxMainError {
    #[error("cannot open {path}: {err}")]
    Open { path: String, err: std::io::Error },
    #[error("trust anchor {path}: {err}")]
    Anchor { path: String, err: String },
    #[error("{0}")]
    Channel(#[from] conduit::ChannelError),
}

fn run(cli: &Cli) -> Result<(), TdxMainError> {
    let anchor_path = cli.trust_anchor.display().to_string();
    let bytes = std::fs::read(&cli.trust_anchor).map_err(|err| TdxMainError::Open {
        path: anchor_path.clone(),
        err,
    })?;
    let trust_anchor = certs::der_from_file_bytes(&bytes).map_err(|e| TdxMainError::Anchor {
        path: anchor_path,
        err: e.to_string(),
    })?;
    let path = cli.dev.display().to_string();
    let mut chan = DevChannel::open(&cli.dev).map_err(|err| TdxMainError::Open {
        path: path.clone(),
        err,
    })?;
    let mut tdx = TdxModule::new(TdxConfig {
        trust_anchor,
        knobs: cli.knobs.clone(),
        ..TdxConfig::default()
    });
    info!("serving {path}");
    conduit::serve_seamcalls(&mut chan, &mut tdx)?;
    info!("{path} closed");
    Ok(())
}

fn main() -> ExitCode {
    tsm_engine::program::main("tsm-tdx", module_path!(), || run(&Cli::parse()))
}
