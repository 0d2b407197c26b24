// SPDX-License-Identifier: GPL-2.0

//! tsm-psp: the model of the AMD PSP's SEV-TIO firmware (`tsm_engine::fw::psp`), run in
//! the guest behind a SEV-TIO host backend's firmware conduit
//! (`Documentation/driver-api/pci/tsm-conduit.rst`).
//!
//! It opens the conduit's character device (`--dev`) and answers every PSP call the
//! backend makes, reading and writing only the memory the backend handed over, until
//! the device goes away or the process is ended. The calls are TIO commands and the
//! stand-ins of the host's RMP updates and guest launch (`tsm_proto::tio::standin`).
//! The device's certificate chain must verify against `--trust-anchor` (a DER or PEM
//! root certificate). `--knobs` switches on the model's fault knobs (e.g.
//! `error@dev_connect:1=spdm_error,expand@tdi_bind`). Logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use log::info;
use tsm_engine::certs;
use tsm_engine::conduit::{self, DevChannel};
use tsm_engine::fw::psp::{Knobs, Psp, PspConfig};

/// Model of the AMD PSP's SEV-TIO commands behind a firmware conduit.
#[derive(Parser, Debug)]
#[command(
    name = "tsm-psp",
    version,
    about = "Model of the AMD PSP's SEV-TIO commands behind a firmware conduit",
    long_about = None
)]
struct Cli {
    /// The backend's conduit device (one call per read(), one return per write()).
    #[arg(long, default_value = "/dev/tsm_psp", value_name = "PATH")]
    dev: PathBuf,

    /// The root certificate the device's chain must verify against (DER or PEM).
    #[arg(long, value_name = "PATH")]
    trust_anchor: PathBuf,

    /// The model's fault knobs, comma separated (KIND@COMMAND[:N][=VALUE]).
    #[arg(long, default_value = "", value_parser = parse_knobs)]
    knobs: Knobs,
}

fn parse_knobs(s: &str) -> Result<Knobs, String> {
    s.parse().map_err(|e| format!("{e}"))
}

#[derive(Debug, thiserror::Error)]
enum PspMainError {
    #[error("cannot open {path}: {err}")]
    Open { path: String, err: std::io::Error },
    #[error("trust anchor {path}: {err}")]
    Anchor { path: String, err: String },
    #[error("{0}")]
    Channel(#[from] conduit::ChannelError),
}

fn run(cli: &Cli) -> Result<(), PspMainError> {
    let anchor_path = cli.trust_anchor.display().to_string();
    let bytes = std::fs::read(&cli.trust_anchor).map_err(|err| PspMainError::Open {
        path: anchor_path.clone(),
        err,
    })?;
    let trust_anchor = certs::der_from_file_bytes(&bytes).map_err(|e| PspMainError::Anchor {
        path: anchor_path,
        err: e.to_string(),
    })?;
    let path = cli.dev.display().to_string();
    let mut chan = DevChannel::open(&cli.dev).map_err(|err| PspMainError::Open {
        path: path.clone(),
        err,
    })?;
    let mut cfg = PspConfig::new(trust_anchor);
    cfg.knobs = cli.knobs.clone();
    let mut psp = Psp::new(cfg);
    info!("serving {path}");
    conduit::serve_psp(&mut chan, &mut psp)?;
    info!("{path} closed");
    Ok(())
}

fn main() -> ExitCode {
    tsm_engine::program::main("tsm-psp", module_path!(), || run(&Cli::parse()))
}
