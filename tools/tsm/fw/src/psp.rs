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
use tsm_engine::conduit;
use tsm_engine::fw::psp::{Knobs, Psp, PspConfig};
use tsm_engine::program::{self, parse_knobs, ModelError};

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
    #[arg(long, default_value = "", value_parser = parse_knobs::<Knobs>)]
    knobs: Knobs,
}

fn run(cli: &Cli) -> Result<(), ModelError> {
    let mut cfg = PspConfig::new(program::read_trust_anchor(&cli.trust_anchor)?);
    cfg.knobs = cli.knobs.clone();
    let mut psp = Psp::new(cfg);
    program::serve_conduit(module_path!(), &cli.dev, |chan| {
        conduit::serve_psp(chan, &mut psp)
    })
}

fn main() -> ExitCode {
    program::main("tsm-psp", module_path!(), || run(&Cli::parse()))
}
