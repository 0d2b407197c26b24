// SPDX-License-Identifier: GPL-2.0

//! What the `main` of tsm-dsm and tsm-fw share: the logger (to stderr, filtered by
//! `RUST_LOG`, `info` by default, millisecond timestamps) and how a failure ends the
//! program (logged, printed on stderr as `PROGRAM: error`, exit status 1). And what the
//! firmware models behind a conduit (tsm-rmm, tsm-tdx, tsm-psp) share: their trust
//! anchor, their knobs' parser, and serving the conduit device until it ends
//! ([`serve_conduit`]).

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

use log::{error, info};

use crate::certs::{self, CertError};
use crate::conduit::{ChannelError, DevChannel};

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

/// Why a firmware model behind a conduit ended in failure.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file (the trust anchor, the conduit device) did not open.
    #[error("cannot open {path}: {err}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        err: std::io::Error,
    },
    /// The trust anchor is no certificate.
    #[error("trust anchor {path}: {err}")]
    Anchor {
        /// The file.
        path: String,
        /// Why.
        err: CertError,
    },
    /// The channel failed while serving.
    #[error("{0}")]
    Channel(#[from] ChannelError),
}

/// The root certificate at `path` (DER or PEM), as DER; refused unless it parses as a
/// certificate (as tsm-fw's is), so a wrong file fails at start, not at the first
/// connect.
pub fn read_trust_anchor(path: &Path) -> Result<Vec<u8>, ModelError> {
    let p = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|err| ModelError::Open { path: p(), err })?;
    let der = certs::der_from_file_bytes(&bytes)
        .and_then(|der| certs::check_certificate(&der).map(|_| der))
        .map_err(|err| ModelError::Anchor { path: p(), err })?;
    Ok(der)
}

/// A `--knobs` value parser for clap: `s` as `K`, its error as text.
pub fn parse_knobs<K>(s: &str) -> Result<K, String>
where
    K: FromStr,
    K::Err: Display,
{
    s.parse().map_err(|e: K::Err| e.to_string())
}

/// Opens the conduit device `dev` and serves it with `serve` (a model's serving loop,
/// which ends when the device does), logging under `target` (the program's
/// `module_path!()`) when it starts and ends.
pub fn serve_conduit(
    target: &str,
    dev: &Path,
    serve: impl FnOnce(&mut DevChannel) -> Result<(), ChannelError>,
) -> Result<(), ModelError> {
    let path = dev.display().to_string();
    let mut chan = DevChannel::open(dev).map_err(|err| ModelError::Open {
        path: path.clone(),
        err,
    })?;
    info!(target: target, "serving {path}");
    serve(&mut chan)?;
    info!(target: target, "{path} closed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{pem_from_der, Identity};

    #[test]
    fn trust_anchor_and_knobs() {
        let dir = std::env::temp_dir().join(format!("tsm-anchor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let id = Identity::generate("a").unwrap();
        let (pem, der, junk) = (dir.join("r.pem"), dir.join("r.der"), dir.join("junk"));
        std::fs::write(&pem, pem_from_der(&id.root_der).unwrap()).unwrap();
        std::fs::write(&der, &id.root_der).unwrap();
        std::fs::write(&junk, b"not a certificate").unwrap();
        assert_eq!(read_trust_anchor(&pem).unwrap(), id.root_der);
        assert_eq!(read_trust_anchor(&der).unwrap(), id.root_der);
        assert!(matches!(
            read_trust_anchor(&junk),
            Err(ModelError::Anchor { .. })
        ));
        assert!(matches!(
            read_trust_anchor(&dir.join("gone")),
            Err(ModelError::Open { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        use crate::fw::psp::Knobs;
        assert_eq!(parse_knobs::<Knobs>("").unwrap(), Knobs::none());
        assert!(parse_knobs::<Knobs>("error@no_such_command").is_err());
    }
}
