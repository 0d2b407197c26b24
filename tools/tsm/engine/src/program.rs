// SPDX-License-Identifier: GPL-2.0

//! What the `main` of tsm-dsm and tsm-fw share: the logger (to stderr, filtered by
//! `RUST_LOG`, `info` by default, millisecond timestamps) and how a failure ends the
//! program (logged, printed on stderr as `PROGRAM: error`, exit status 1).

use std::fmt::Display;
use std::process::ExitCode;

use log::error;

/// Starts the logger, runs `run` (which parses the command line, so that clap's usage
/// errors keep their own message and status) and turns its result into the exit
/// status. `name` prefixes the error on stderr; `target` is the program's
/// `module_path!()`, the log target the error is logged under, as if the program had
/// logged it itself.
pub fn main<E: Display>(name: &str, target: &str, run: impl FnOnce() -> Result<(), E>) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(target: target, "{e}");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
