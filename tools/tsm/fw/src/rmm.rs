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
use tsm_engine::conduit;
use tsm_engine::fw::rmm::{Knobs, Rmm, RmmConfig};
use tsm_engine::program::{self, parse_knobs, ModelError};

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
    #[arg(long, default_value = "", value_parser = parse_knobs::<Knobs>)]
    knobs: Knobs,
}

fn run(cli: &Cli) -> Result<(), ModelError> {
    let mut rmm = Rmm::new(RmmConfig {
        knobs: cli.knobs.clone(),
        ..RmmConfig::default()
    });
    program::serve_conduit(module_path!(), &cli.dev, |chan| {
        conduit::serve(chan, &mut rmm)
    })
}

fn main() -> ExitCode {
    program::main("tsm-rmm", module_path!(), || run(&Cli::parse()))
}
