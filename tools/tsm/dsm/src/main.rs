// SPDX-License-Identifier: GPL-2.0

//! tsm-dsm: the emulated device security manager behind QEMU's SPDM socket.
//!
//! Start it before QEMU and give the device `spdm_port=<port>`; QEMU connects to
//! 127.0.0.1:<port> and forwards every DOE object the guest writes to the CMA or
//! Secured-CMA mailbox. Each connection is a freshly powered device (no session, TDIs
//! CONFIG_UNLOCKED, config space at reset). The TDISP state of every TDI is observable
//! in `--state-file` (rewritten on every change) and in the
//! `tdi_state function=... state=...` log lines.
//!
//! The device also sees the host's config writes and MMIO accesses to it: start QEMU
//! with `-trace pci_cfg_write -trace pci_update_mappings_add -trace
//! pci_update_mappings_del -trace memory_region_ops_read -trace memory_region_ops_write
//! -D FILE` and tsm-dsm with `--trace FILE` (and `--pcie-cap`,
//! `--pm-cap`, `--doe-cap` with the function's capability offsets, for FLR, power
//! states and DOE Abort). A thread follows FILE every few milliseconds and applies each
//! write to the function(s) of `--function` (function 0 of `--bdf` by default; other
//! functions' lines are ignored) with the device-side TDISP rules: a write that moves a
//! CONFIG_LOCKED or RUN TDI to ERROR, or a DOE Abort that drops an established session,
//! is a violation (`tsm_engine::dsm` module `host_view`). So is an MMIO access to a
//! mapped BAR of a locked TDI's function (outside the MSI-X pages unless the TDI was
//! locked with LOCK_MSIX); `--mmio-violation error` moves the TDI to ERROR too. Ordering: QEMU logs a write
//! before the device gets it, and tsm-dsm applies every logged write before it handles
//! the next DOE request, so all config writes the guest made before a DOE request are
//! applied before that request is answered. The state file then also shows
//! `host.cfg_writes=N`, `host.mmio=N`, `host.events=N`, `host.violations=N`,
//! `host.last_violation=<event>@<offset>|none` and `trace.offset=N` (bytes of FILE
//! consumed: the DSM has seen every write in FILE once it equals FILE's size). QEMU's
//! trace has no access sizes: tsm-dsm infers them from the register and the value.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use log::{error, info, warn};
use tsm_engine::args;
use tsm_engine::certs::{CertError, Identity};
use tsm_engine::dsm::server::{self, Device};
use tsm_engine::dsm::{Dsm, DsmConfig, MmioPolicy};
use tsm_engine::faults::{Faults, MsgKind};
use tsm_engine::fw::DevId;
use tsm_engine::qemu_trace::TraceFollower;
use tsm_engine::report::{BarInfo, FirstPageUnit, MsixLayout};
use tsm_engine::tdisp::FunctionId;

/// `--mmio-violation`.
fn parse_mmio_policy(s: &str) -> Result<MmioPolicy, String> {
    MmioPolicy::parse(s).ok_or_else(|| format!("{s:?}: expected reject or error"))
}

/// The MSI-X layout, `None` for "none" (an alias, so clap takes it as one value, not as
/// an optional argument).
type Msix = Option<MsixLayout>;

/// Emulated PCIe device security manager (SPDM 1.2 + IDE-KM + TDISP responder) for
/// QEMU's spdm_port.
#[derive(Parser, Debug)]
#[command(name = "tsm-dsm", version, about, long_about = None)]
struct Cli {
    /// TCP port on 127.0.0.1 (QEMU's spdm_port). 0 picks a free port; the chosen one is
    /// printed on stdout as "listening on 127.0.0.1:PORT".
    #[arg(long, default_value_t = 2323)]
    port: u16,

    /// Serve one connection, then exit (0 after QEMU's SHUTDOWN, 1 if the peer just
    /// closed).
    #[arg(long)]
    once: bool,

    /// Identity directory: reuse root.der/chain.spdm/leaf.key from it, or generate and
    /// save them there. root.pem in it is the trust anchor to give tsm-fw. Without it a
    /// fresh identity is made per run (see --root-cert-out).
    #[arg(long, value_name = "DIR")]
    identity: Option<PathBuf>,

    /// Write the root CA certificate (PEM) of the identity here.
    #[arg(long, value_name = "FILE")]
    root_cert_out: Option<PathBuf>,

    /// PCI address of the device's function 0 (reported by IDE-KM QUERY_RESP).
    #[arg(long, default_value = "0000:01:00.0", value_name = "SSSS:BB:DD.F", value_parser = args::parse_bdf)]
    bdf: DevId,

    /// A function hosting a TDI (repeatable); default: function 0 only.
    #[arg(long = "function", value_name = "SSSS:BB:DD.F", value_parser = args::parse_bdf)]
    functions: Vec<DevId>,

    /// A memory BAR of the TDI's function as the guest assigned it:
    /// INDEX:BASE:SIZE[:64][:pref] (repeatable). Default: 0:0:0x4000:64.
    #[arg(long = "bar", value_name = "BAR", default_value = "0:0:0x4000:64", value_parser = args::parse_bar)]
    bars: Vec<BarInfo>,

    /// MSI-X layout: TABLE_BAR:TABLE_OFFSET:ENTRIES:PBA_BAR:PBA_OFFSET, or "none".
    #[arg(long, default_value = "0:0x2000:32:0:0x3000", value_parser = args::parse_msix)]
    msix: Msix,

    /// FIRST_PAGE unit of the interface report: "page" (4K page number) or "byte".
    #[arg(long, default_value = "page", value_parser = args::parse_first_page_unit)]
    first_page_unit: FirstPageUnit,

    /// Number of selective IDE streams.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    ide_streams: u8,

    /// Config offset of the TDI function's PCI Express capability (0x40-0xfc): a write
    /// of Initiate FLR to its Device Control is an FLR. Without it FLR is not seen.
    #[arg(long, value_name = "OFF", value_parser = args::parse_cap_offset)]
    pcie_cap: Option<u16>,

    /// Config offset of the TDI function's Power Management capability (0x40-0xfc): a
    /// PMCSR write to D1/D2/D3hot is seen. Without it power states are not seen.
    #[arg(long, value_name = "OFF", value_parser = args::parse_cap_offset)]
    pm_cap: Option<u16>,

    /// Config offset of the device's DOE extended capability (0x100-0xffc): a write of
    /// DOE Abort drops the SPDM session. Without it DOE Abort is not seen.
    #[arg(long, value_name = "OFF", value_parser = args::parse_ext_cap_offset)]
    doe_cap: Option<u16>,

    /// Rewrite this file on every state change: spdm=..., ide.streamN=...,
    /// host.cfg_writes=N, host.mmio=N, host.events=N, host.violations=N, host.last_violation=...,
    /// tdi.SSSS:BB:DD.F=CONFIG_UNLOCKED|CONFIG_LOCKED|RUN|ERROR, and with --trace
    /// trace.offset=N. A trace that only grew rewrites it only when asked: write the
    /// wanted offset (decimal) to the same path with the extension "query".
    #[arg(long, value_name = "FILE")]
    state_file: Option<PathBuf>,

    /// Follow QEMU's trace log (its -D FILE, with -trace for pci_cfg_write,
    /// pci_update_mappings_add, pci_update_mappings_del, memory_region_ops_read and
    /// memory_region_ops_write) from its start: the device sees the host's config writes
    /// and MMIO accesses to its functions. The file need not exist yet; a new QEMU
    /// truncating it is followed from the start again.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,

    /// What a host MMIO access to a locked TDI's MMIO does besides counting as a
    /// violation: "reject" (the TDI keeps its state) or "error" (the TDI goes to ERROR).
    #[arg(long, default_value = "reject", value_name = "POLICY", value_parser = parse_mmio_policy)]
    mmio_violation: MmioPolicy,

    /// Fault: corrupt every signature (CHALLENGE_AUTH, MEASUREMENTS, KEY_EXCHANGE_RSP).
    #[arg(long)]
    bad_signature: bool,

    /// Fault: session transcript without the certificate hash (bad ResponderVerifyData
    /// and session keys).
    #[arg(long)]
    wrong_transcript: bool,

    /// Fault: truncate the response to this request (version, capabilities, algorithms,
    /// digests, certificate, challenge, measurements, key_exchange, finish, end_session,
    /// ide_query, key_prog, k_set_go, k_set_stop, tdisp_version, tdisp_capabilities,
    /// lock, report, state, start, stop).
    #[arg(long, value_name = "MSG")]
    truncate: Option<MsgKind>,

    /// Fault: append 8 KiB of junk to the response to this request.
    #[arg(long, value_name = "MSG")]
    oversize: Option<MsgKind>,

    /// Fault: answer this TDISP request with TDISP_ERROR (UNSPECIFIED).
    #[arg(long, value_name = "MSG")]
    tdisp_error: Option<MsgKind>,

    /// Fault: after this TDISP request succeeds, the TDI spontaneously enters ERROR.
    #[arg(long, value_name = "MSG")]
    error_after: Option<MsgKind>,

    /// Fault: delay responses by this many milliseconds (all, or --delay-at only).
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,

    /// Restrict --delay-ms to the response to this request.
    #[arg(long, value_name = "MSG", requires = "delay_ms")]
    delay_at: Option<MsgKind>,
}

#[derive(Debug, thiserror::Error)]
enum DsmError {
    #[error("{0}")]
    Arg(#[from] args::ArgError),
    #[error("identity: {0}")]
    Identity(#[from] CertError),
    #[error("cannot listen on 127.0.0.1:{port}: {err}")]
    Listen { port: u16, err: std::io::Error },
    #[error("{what}: {err}")]
    Io {
        what: &'static str,
        err: std::io::Error,
    },
    #[error("peer closed the connection without SHUTDOWN")]
    PeerClosed,
}

fn config(cli: &Cli) -> Result<DsmConfig, DsmError> {
    let dev = cli.bdf;
    let identity = match &cli.identity {
        Some(dir) => Identity::load_or_create(dir, "tsm-dsm emulated device")?,
        None => Identity::generate("tsm-dsm emulated device")?,
    };
    if let Some(p) = &cli.root_cert_out {
        let pem = tsm_engine::certs::pem_from_der(&identity.root_der)?;
        std::fs::write(p, pem).map_err(|err| DsmError::Io {
            what: "writing --root-cert-out",
            err,
        })?;
    }
    let fid = |d: tsm_engine::fw::DevId| {
        let rid = (u16::from(d.bus) << 8) | u16::from(d.devfn);
        FunctionId::new(rid, None)
    };
    let mut functions: Vec<FunctionId> = cli.functions.iter().copied().map(fid).collect();
    if functions.is_empty() {
        functions.push(fid(dev));
    }
    let faults = Faults {
        bad_signature: cli.bad_signature,
        wrong_transcript: cli.wrong_transcript,
        truncate: cli.truncate,
        oversize: cli.oversize,
        tdisp_error: cli.tdisp_error,
        error_after: cli.error_after,
        delay: cli.delay_ms.map(Duration::from_millis),
        delay_at: cli.delay_at,
    };
    Ok(DsmConfig {
        identity,
        segment: u8::try_from(dev.segment).unwrap_or(0),
        bus: dev.bus,
        devfn: dev.devfn,
        functions,
        bars: cli.bars.clone(),
        msix: cli.msix,
        first_page_unit: cli.first_page_unit,
        ide_streams: cli.ide_streams,
        faults,
        pcie_cap: cli.pcie_cap,
        pm_cap: cli.pm_cap,
        doe_cap: cli.doe_cap,
        mmio_policy: cli.mmio_violation,
    })
}

fn run(cli: &Cli) -> Result<(), DsmError> {
    let cfg = config(cli)?;
    let listener = TcpListener::bind(("127.0.0.1", cli.port)).map_err(|err| DsmError::Listen {
        port: cli.port,
        err,
    })?;
    let addr = listener.local_addr().map_err(|err| DsmError::Io {
        what: "local address",
        err,
    })?;
    info!(
        "tsm-dsm: {} BAR(s), {} TDI function(s), faults: {:?}",
        cfg.bars.len(),
        cfg.functions.len(),
        cfg.faults
    );
    // The device of the next connection exists before it connects, so that the config
    // writes QEMU traces before tsm-dsm accepts the connection are not lost.
    let device = Arc::new(Mutex::new(Device::new(
        Dsm::new(cfg.clone()),
        cli.trace.clone().map(TraceFollower::new),
        cli.state_file.clone(),
    )));
    if let Some(t) = &cli.trace {
        info!("following the trace {}", t.display());
        server::spawn_follower(&device, server::FOLLOW_PERIOD).map_err(|err| DsmError::Io {
            what: "starting the trace follower",
            err,
        })?;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    loop {
        let (mut stream, peer) = listener.accept().map_err(|err| DsmError::Io {
            what: "accept",
            err,
        })?;
        let _ = stream.set_nodelay(true);
        info!("connection from {peer}: device powered on");
        let r = server::serve(&mut stream, &device);
        {
            let mut d = server::lock(&device);
            // What QEMU traced up to the end of the connection belongs to this device.
            d.drain();
            d.write_state_file();
            d.power_on(Dsm::new(cfg.clone()));
        }
        match r {
            Ok(true) => {
                if cli.once {
                    return Ok(());
                }
            }
            Ok(false) => {
                warn!("peer {peer} closed the connection");
                if cli.once {
                    return Err(DsmError::PeerClosed);
                }
            }
            Err(err) => {
                error!("connection from {peer}: {err}");
                if cli.once {
                    return Err(DsmError::Io {
                        what: "serving the connection",
                        err,
                    });
                }
            }
        }
    }
}

fn main() -> ExitCode {
    tsm_engine::program::main("tsm-dsm", module_path!(), || run(&Cli::parse()))
}
