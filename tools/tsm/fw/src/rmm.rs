// SPDX-License-Identifier: GPL-2.0

//! tsm-rmm: the model of the Arm CCA RMM's device-assignment interface
//! (`tsm_engine::fw::rmm`), run in the guest behind a CCA host backend's firmware conduit
//! (`Documentation/driver-api/pci/tsm-conduit.rst`).
//!
//! It opens the conduit's character device (`--dev`) and answers every SMC the backend
//! makes, reading and writing only the memory the backend handed to firmware, until the
//! device goes away or the process is ended. `--knobs` switches on the model's fault
//! knobs (e.g. `busy@granule_delegate:1,error@vdev_lock:1=5`). Logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use log::info;
use tsm_engine::conduit::{self, DevChannel};
use tsm_engine::fw::rmm::{Knobs, Rmm, RmmConfig};

/// Model of the Arm CCA RMM's device-assignment RMI behind a firmware conduit.
#[derive(Parser, Debug)]
#[command(
    name = "tsm-rmm",
    version,
    about = "Model of the Arm CCA RMM's device-assignment RMI behind a firmware conduit",
    long_about = None
)]
struct Cli {
    /// The backend's conduit device (one call per read(), one return per write()).
    #[arg(long, default_value = "/dev/tsm_conduit_rmm", value_name = "PATH")]
    dev: PathBuf,

    /// The model's fault knobs, comma separated (KIND@CALL:N[=VALUE]).
    #[arg(long, default_value = "", value_parser = parse_knobs)]
    knobs: Knobs,
}

fn parse_knobs(s: &str) -> Result<Knobs, String> {
    s.parse().map_err(|e| format!("{e}"))
}

#[derive(Debug, thiserror::Error)]
enum RmmMainError {
    #[error("cannot open {path}: {err}")]
    Open { path: String, err: std::io::Error },
    #[error("{0}")]
    Channel(#[from] conduit::ChannelError),
}

fn run(cli: &Cli) -> Result<(), RmmMainError> {
    let path = cli.dev.display().to_string();
    let mut chan = DevChannel::open(&cli.dev).map_err(|err| RmmMainError::Open {
        path: path.clone(),
        err,
    })?;
    let mut rmm = Rmm::new(RmmConfig {
        knobs: cli.knobs.clone(),
        ..RmmConfig::default()
    });
    info!("serving {path}");
    conduit::serve(&mut chan, &mut rmm)?;
    info!("{path} closed");
    Ok(())
}

fn main() -> ExitCode {
    tsm_engine::program::main("tsm-rmm", module_path!(), || run(&Cli::parse()))
}
