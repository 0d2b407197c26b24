// SPDX-License-Identifier: GPL-2.0

//! The uAPI headers and the shared codecs must describe the same protocol:
//! `include/uapi/linux/tsm_fw.h` and `tsm_proto::fwmsg` (the kernel's and tsm-fw's), and
//! `include/uapi/linux/tsm_cca.h` and `tsm_proto::rmi::guest` (the Arm CCA backend's
//! guest requests), `include/uapi/linux/tsm_sev.h` and `tsm_proto::tio::guest` (the
//! SEV-TIO backend's). This test parses each header's `#define`s, enum entries and struct
//! layouts (with C's natural alignment), checks that no struct has a padding hole, and
//! compares every constant and size with the Rust definitions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tsm_proto::fwmsg::{self, err, size, GuestOp, MsgType};

fn header(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../include/uapi/linux")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Strips /* */ comments.
fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i..].find("*/") {
            Some(j) => rest = &rest[i + j + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn parse_num(v: &str, consts: &BTreeMap<String, u64>) -> Option<u64> {
    let v = v
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if let Some((a, b)) = v.split_once("<<") {
        return Some(parse_num(a, consts)? << parse_num(b, consts)?);
    }
    if let Some(n) = v.strip_prefix('~') {
        return Some(!parse_num(n, consts)?);
    }
    let v = v.trim_end_matches(['U', 'L']);
    if let Some(h) = v.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).ok();
    }
    v.parse().ok().or_else(|| consts.get(v).copied())
}

struct Parsed {
    consts: BTreeMap<String, u64>,
    /// name -> (size, align)
    structs: BTreeMap<String, (usize, usize)>,
}

fn parse(name: &str) -> Parsed {
    let text = strip_comments(&header(name));
    let mut consts = BTreeMap::new();
    let mut structs: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut lines = text.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(d) = line.strip_prefix("#define ") {
            let mut it = d.split_whitespace();
            let (Some(name), Some(_)) = (it.next(), it.clone().next()) else {
                continue;
            };
            let value: String = it.collect::<Vec<_>>().join(" ");
            if let Some(v) = parse_num(&value, &consts) {
                consts.insert(name.to_owned(), v);
            }
        } else if line.starts_with("enum ") && line.ends_with('{') {
            for l in lines.by_ref() {
                if l.starts_with("};") {
                    break;
                }
                if let Some((n, v)) = l.trim_end_matches(',').split_once('=') {
                    let v = parse_num(v, &consts).unwrap_or_else(|| panic!("enum value {l}"));
                    consts.insert(n.trim().to_owned(), v);
                }
            }
        } else if let Some(name) = line
            .strip_prefix("struct ")
            .and_then(|l| l.strip_suffix(" {"))
        {
            let (mut off, mut align) = (0usize, 1usize);
            for l in lines.by_ref() {
                if l.starts_with("};") {
                    break;
                }
                let decl = l.trim_end_matches(';');
                let (ty, field) = decl.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
                let (field, count) = match field.split_once('[') {
                    Some((f, n)) => (
                        f,
                        parse_num(n.trim_end_matches(']'), &consts)
                            .unwrap_or_else(|| panic!("array size in {l}"))
                            as usize,
                    ),
                    None => (field, 1),
                };
                let (sz, al) = match ty.trim() {
                    "__u8" | "__s8" => (1, 1),
                    "__u16" | "__s16" => (2, 2),
                    "__u32" | "__s32" => (4, 4),
                    "__u64" | "__s64" => (8, 8),
                    t => *structs
                        .get(t.trim_start_matches("struct ").trim())
                        .unwrap_or_else(|| panic!("unknown type {t} in {name}")),
                };
                assert_eq!(off % al, 0, "hole before {name}.{field} (offset {off})");
                off += sz * count;
                align = align.max(al);
            }
            assert_eq!(off % align, 0, "tail padding in struct {name}");
            structs.insert(name.to_owned(), (off, align));
        }
    }
    Parsed { consts, structs }
}

#[test]
fn constants_match() {
    let p = parse("tsm_fw.h");
    let c = |n: &str| *p.consts.get(n).unwrap_or_else(|| panic!("{n} missing"));
    assert_eq!(c("TSM_FW_MAGIC"), u64::from(fwmsg::MAGIC));
    assert_eq!(c("TSM_FW_VERSION_1"), u64::from(fwmsg::VERSION_1));
    assert_eq!(c("TSM_FW_MAX_PAYLOAD"), fwmsg::MAX_PAYLOAD as u64);
    assert_eq!(c("TSM_FW_MAX_MSG_SIZE"), fwmsg::MAX_MSG_SIZE as u64);
    assert_eq!(c("TSM_FW_MAX_BARS"), fwmsg::MAX_BARS as u64);
    assert_eq!(
        c("TSM_FW_DOE_VENDOR_PCI_SIG"),
        u64::from(fwmsg::DOE_VENDOR_PCI_SIG)
    );
    assert_eq!(c("TSM_FW_DOE_TYPE_CMA"), u64::from(fwmsg::DOE_TYPE_CMA));
    assert_eq!(
        c("TSM_FW_DOE_TYPE_SECURED_CMA"),
        u64::from(fwmsg::DOE_TYPE_SECURED_CMA)
    );
    assert_eq!(c("TSM_FW_CAP_IDE"), u64::from(fwmsg::CAP_IDE));
    assert_eq!(c("TSM_FW_CAP_TDISP"), u64::from(fwmsg::CAP_TDISP));
    assert_eq!(c("TSM_FW_BAR_64BIT"), u64::from(fwmsg::BAR_64BIT));
    assert_eq!(c("TSM_FW_BAR_PREFETCH"), u64::from(fwmsg::BAR_PREFETCH));
    for (n, op) in [
        ("TSM_FW_GUEST_GET_REPORT", GuestOp::GetReport),
        ("TSM_FW_GUEST_START", GuestOp::Start),
        ("TSM_FW_GUEST_GET_STATE", GuestOp::GetState),
    ] {
        assert_eq!(c(n), u64::from(op.to_u32()), "{n}");
    }
    assert_eq!(c("TSM_FW_TDI_NONE"), u64::from(fwmsg::TDI_NONE));
    for (n, s) in [
        (
            "TSM_FW_TDI_CONFIG_UNLOCKED",
            tsm_engine::state::TdiState::ConfigUnlocked,
        ),
        (
            "TSM_FW_TDI_CONFIG_LOCKED",
            tsm_engine::state::TdiState::ConfigLocked,
        ),
        ("TSM_FW_TDI_RUN", tsm_engine::state::TdiState::Run),
        ("TSM_FW_TDI_ERROR", tsm_engine::state::TdiState::Error),
    ] {
        assert_eq!(c(n), u64::from(fwmsg::tdi_state_code(Some(s))), "{n}");
    }
    // The wire's lock flags are the TDISP LOCK_INTERFACE_REQUEST flags.
    use tsm_engine::tdisp::LockFlags;
    for (n, v, f) in [
        (
            "TSM_FW_LOCK_NO_FW_UPDATE",
            fwmsg::LOCK_NO_FW_UPDATE,
            LockFlags::NO_FW_UPDATE,
        ),
        (
            "TSM_FW_LOCK_CACHE_LINE_128",
            fwmsg::LOCK_CACHE_LINE_128,
            LockFlags::SYSTEM_CACHE_LINE_SIZE_128,
        ),
        ("TSM_FW_LOCK_MSIX", fwmsg::LOCK_MSIX, LockFlags::LOCK_MSIX),
        (
            "TSM_FW_LOCK_BIND_P2P",
            fwmsg::LOCK_BIND_P2P,
            LockFlags::BIND_P2P,
        ),
        (
            "TSM_FW_LOCK_ALL_REQUEST_REDIRECT",
            fwmsg::LOCK_ALL_REQUEST_REDIRECT,
            LockFlags::ALL_REQUEST_REDIRECT,
        ),
    ] {
        assert_eq!(c(n), u64::from(v), "{n}");
        assert_eq!(v, f.bits(), "{n}");
    }
    for (n, t) in [
        ("TSM_FW_MSG_HELLO", MsgType::Hello),
        ("TSM_FW_MSG_DOE_REQUEST", MsgType::DoeRequest),
        ("TSM_FW_MSG_COMPLETE", MsgType::Complete),
        ("TSM_FW_CMD_HELLO_ACK", MsgType::HelloAck),
        ("TSM_FW_CMD_CONNECT", MsgType::Connect),
        ("TSM_FW_CMD_DISCONNECT", MsgType::Disconnect),
        ("TSM_FW_CMD_BIND", MsgType::Bind),
        ("TSM_FW_CMD_UNBIND", MsgType::Unbind),
        ("TSM_FW_CMD_GUEST_REQ", MsgType::GuestReq),
        ("TSM_FW_CMD_DOE_RESPONSE", MsgType::DoeResponse),
    ] {
        assert_eq!(c(n), u64::from(t.to_u16()), "{n}");
        assert_eq!(n.starts_with("TSM_FW_CMD_"), t.is_command(), "{n}");
    }
    assert_eq!(MsgType::ALL.len(), 10, "a type has no Rust twin");
    for (n, v) in [
        ("TSM_FW_ERR_NONE", err::NONE),
        ("TSM_FW_ERR_TRANSPORT", err::TRANSPORT),
        ("TSM_FW_ERR_TIMEOUT", err::TIMEOUT),
        ("TSM_FW_ERR_MALFORMED", err::MALFORMED),
        ("TSM_FW_ERR_OVERSIZED", err::OVERSIZED),
        ("TSM_FW_ERR_SPDM_ERROR", err::SPDM_ERROR),
        ("TSM_FW_ERR_PROTOCOL", err::PROTOCOL),
        ("TSM_FW_ERR_NEGOTIATION", err::NEGOTIATION),
        ("TSM_FW_ERR_CERT", err::CERT),
        ("TSM_FW_ERR_CRYPTO", err::CRYPTO),
        ("TSM_FW_ERR_IDE_KM", err::IDE_KM),
        ("TSM_FW_ERR_TDISP_ERROR", err::TDISP_ERROR),
        ("TSM_FW_ERR_REPORT", err::REPORT),
        ("TSM_FW_ERR_STATE", err::STATE),
        ("TSM_FW_ERR_BUSY", err::BUSY),
        ("TSM_FW_ERR_BAD_COMMAND", err::BAD_COMMAND),
    ] {
        assert_eq!(c(n), u64::from(v), "{n}");
    }
}

#[test]
fn struct_sizes_match_and_have_no_holes() {
    let p = parse("tsm_fw.h");
    let expect = [
        ("tsm_fw_hdr", size::HDR),
        ("tsm_fw_dev", size::DEV),
        ("tsm_fw_hello", size::HELLO),
        ("tsm_fw_hello_ack", size::HELLO_ACK),
        ("tsm_fw_connect", size::CONNECT),
        ("tsm_fw_disconnect", size::DISCONNECT),
        ("tsm_fw_bar", size::BAR),
        ("tsm_fw_msix", size::MSIX),
        ("tsm_fw_bind", size::BIND),
        ("tsm_fw_unbind", size::UNBIND),
        ("tsm_fw_guest_req", size::GUEST_REQ),
        ("tsm_fw_doe_request", size::DOE_REQUEST),
        ("tsm_fw_doe_response", size::DOE_RESPONSE),
        ("tsm_fw_complete", size::COMPLETE),
    ];
    for (name, want) in expect {
        let (got, _) = p
            .structs
            .get(name)
            .unwrap_or_else(|| panic!("struct {name} missing"));
        assert_eq!(*got, want, "sizeof(struct {name})");
    }
    assert_eq!(p.structs.len(), expect.len(), "a struct has no Rust twin");
    // The size bound covers the largest fixed body with the largest payload.
    const {
        assert!(size::HDR + size::DOE_REQUEST + fwmsg::MAX_PAYLOAD <= fwmsg::MAX_MSG_SIZE);
        assert!(size::HDR + size::DOE_RESPONSE + fwmsg::MAX_PAYLOAD <= fwmsg::MAX_MSG_SIZE);
        assert!(size::HDR + size::COMPLETE + fwmsg::MAX_PAYLOAD <= fwmsg::MAX_MSG_SIZE);
        assert!(size::HDR + size::BIND <= fwmsg::MAX_MSG_SIZE);
    }
}

#[test]
fn cca_guest_header_matches() {
    use tsm_proto::rmi::{guest, VdevState};
    let p = parse("tsm_cca.h");
    let c = |n: &str| *p.consts.get(n).unwrap_or_else(|| panic!("{n} missing"));
    for (n, v) in [
        ("TSM_CCA_GUEST_GET_REPORT", guest::OP_GET_REPORT),
        ("TSM_CCA_GUEST_START", guest::OP_START),
        ("TSM_CCA_GUEST_GET_STATE", guest::OP_GET_STATE),
        ("TSM_CCA_GUEST_GET_MEASUREMENTS", guest::OP_GET_MEASUREMENTS),
        ("TSM_CCA_MEAS_RAW", guest::MEAS_RAW),
    ] {
        assert_eq!(c(n), u64::from(v), "{n}");
    }
    assert_eq!(c("TSM_CCA_CODE_UNKNOWN"), guest::CODE_UNKNOWN);
    for (n, s) in [
        ("TSM_CCA_VDEV_NEW", VdevState::New),
        ("TSM_CCA_VDEV_UNLOCKED", VdevState::Unlocked),
        ("TSM_CCA_VDEV_LOCKED", VdevState::Locked),
        ("TSM_CCA_VDEV_STARTED", VdevState::Started),
        ("TSM_CCA_VDEV_ERROR", VdevState::Error),
    ] {
        assert_eq!(c(n), u64::from(s.to_u8()), "{n}");
    }
    // Every constant of the header is one of the above: none without a Rust twin.
    assert_eq!(p.consts.len(), 11, "{:?}", p.consts.keys());
    let (size, _) = p.structs.get("tsm_cca_meas_req").expect("tsm_cca_meas_req");
    assert_eq!(*size, guest::MEAS_REQ_LEN);
    assert_eq!(p.structs.len(), 1);
}

#[test]
fn sev_guest_header_matches() {
    use tsm_proto::tio::{guest, status::TdispState};
    let p = parse("tsm_sev.h");
    let c = |n: &str| *p.consts.get(n).unwrap_or_else(|| panic!("{n} missing"));
    for (n, v) in [
        ("TSM_SEV_GUEST_GET_REPORT", guest::OP_GET_REPORT),
        ("TSM_SEV_GUEST_RUN", guest::OP_RUN),
        ("TSM_SEV_GUEST_GET_STATE", guest::OP_GET_STATE),
        ("TSM_SEV_GUEST_STOP", guest::OP_STOP),
    ] {
        assert_eq!(c(n), u64::from(v), "{n}");
    }
    assert_eq!(c("TSM_SEV_CODE_NONE"), guest::CODE_NONE);
    for (n, s) in [
        ("TSM_SEV_TDISP_UNLOCKED", TdispState::Unlocked),
        ("TSM_SEV_TDISP_LOCKED", TdispState::Locked),
        ("TSM_SEV_TDISP_RUN", TdispState::Run),
        ("TSM_SEV_TDISP_ERROR", TdispState::Error),
    ] {
        assert_eq!(c(n), u64::from(s.to_u8()), "{n}");
    }
    // Every constant of the header is one of the above: none without a Rust twin.
    assert_eq!(p.consts.len(), 9, "{:?}", p.consts.keys());
    assert!(p.structs.is_empty());
}
