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
use tsm_engine::conduit;
use tsm_engine::fw::tdx::{Knobs, TdxConfig, TdxModule};
use tsm_engine::program::{self, parse_knobs, ModelError};

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
    #[arg(long, default_value = "", value_parser = parse_knobs::<Knobs>)]
    knobs: Knobs,
}

fn run(cli: &Cli) -> Result<(), ModelError> {
    let mut tdx = TdxModule::new(TdxConfig {
        trust_anchor: program::read_trust_anchor(&cli.trust_anchor)?,
        knobs: cli.knobs.clone(),
        ..TdxConfig::default()
    });
    program::serve_conduit(module_path!(), &cli.dev, |chan| {
        conduit::serve_seamcalls(chan, &mut tdx)
    })
}

fn main() -> ExitCode {
    program::main("tsm-tdx", module_path!(), || run(&Cli::parse()))
}
