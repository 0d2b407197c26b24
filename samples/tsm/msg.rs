// SPDX-License-Identifier: GPL-2.0

//! The `/dev/tsm_fw` messages (`include/uapi/linux/tsm_fw.h`,
//! `Documentation/driver-api/pci/tsm-fw.rst`) for the backend. The codec is the protocol
//! crate's `fwmsg`, the one tsm-fw uses too: pure, every byte string the firmware writes
//! decodes to a message or a typed error. What is the kernel's lives here: the encoding
//! of a command into a kernel buffer, and the KUnit tests of the codec as the module
//! builds it.

use kernel::prelude::*;

use tsm_proto::codec::Error as CodecError;
use tsm_proto::fwmsg::Message;

pub(crate) use tsm_proto::fwmsg::{
    size,
    Bar,
    Bind,
    Cmd,
    Connect,
    Dev,
    Disconnect,
    DoeResponse,
    GuestReq,
    HelloAck,
    Msg as FwMsg,
    Msix,
    Unbind,
    DOE_VENDOR_PCI_SIG,
    LOCK_MSIX,
    MAX_MSG_SIZE,
    VERSION_1, //
};

/// Decodes one whole message written by the firmware; returns its `req_id` and the
/// message.
pub(crate) fn decode(buf: &[u8]) -> Result<(u64, FwMsg<'_>), CodecError> {
    FwMsg::decode(buf)
}

/// Encodes `cmd` with `req_id` into a new buffer; `EINVAL` if it does not encode.
pub(crate) fn encode(cmd: &Cmd<'_>, req_id: u64) -> Result<KVVec<u8>> {
    let mut v = KVVec::from_elem(0u8, cmd.encoded_len(), GFP_KERNEL)?;
    let n = cmd.encode(req_id, &mut v).map_err(|_| EINVAL)?;
    v.truncate(n);
    Ok(v)
}

#[cfg(CONFIG_SAMPLE_TSM_EMU_KUNIT_TEST)]
#[kunit_tests(tsm_emu_msg)]
mod tests {
    use super::*;
    use tsm_proto::codec::Writer;
    use tsm_proto::fwmsg::{
        Header,
        MsgType, //
    };

    fn hdr(msg_type: MsgType, length: u32, req_id: u64) -> [u8; size::HDR] {
        let mut b = [0u8; size::HDR];
        let h = Header {
            version: VERSION_1,
            msg_type,
            length,
            flags: 0,
            req_id,
        };
        let _ = h.encode(&mut Writer::new(&mut b));
        b
    }

    #[test]
    fn hello_decodes() {
        let mut m = [0u8; size::HDR + size::HELLO];
        m[..size::HDR].copy_from_slice(&hdr(MsgType::Hello, 40, 0));
        m[size::HDR] = 1;
        m[size::HDR + 2] = 1;
        match decode(&m) {
            Ok((0, FwMsg::Hello(h))) => {
                assert_eq!(h.min_version, 1);
                assert_eq!(h.max_version, 1);
            }
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn doe_request_roundtrip_and_truncation() {
        let mut m = [0u8; size::HDR + size::DOE_REQUEST + 8];
        m[..size::HDR].copy_from_slice(&hdr(MsgType::DoeRequest, 56, 7));
        let body = [
            0u8, 0, 1, 0, 1, 0, 1, 0, 3, 0, 0, 0, 0x88, 0x13, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
        ];
        m[size::HDR..size::HDR + size::DOE_REQUEST].copy_from_slice(&body);
        m[size::HDR + size::DOE_REQUEST..].copy_from_slice(&[0x10, 0x84, 0, 0, 0, 0, 0, 0]);
        match decode(&m) {
            Ok((req_id, FwMsg::DoeRequest(d))) => {
                assert_eq!(req_id, 7);
                assert_eq!(d.dev.bus, 1);
                assert_eq!(d.object_type, 1);
                assert_eq!(d.seq, 3);
                assert_eq!(d.payload.len(), 8);
            }
            other => panic!("{:?}", other),
        }
        // Every truncation is a typed error, never a crash.
        for n in 0..m.len() {
            assert!(decode(&m[..n]).is_err());
        }
    }

    #[test]
    fn bad_magic_and_length_rejected() {
        let mut m = [0u8; size::HDR + size::COMPLETE];
        m[..size::HDR].copy_from_slice(&hdr(MsgType::Complete, 40, 1));
        assert!(decode(&m).is_ok());
        m[0] ^= 1;
        assert!(decode(&m).is_err());
        m[0] ^= 1;
        m[8] = 41;
        assert!(decode(&m).is_err());
        m[8] = 40;
        // A payload length past the message end.
        m[size::HDR + 12] = 4;
        assert!(decode(&m).is_err());
    }

    #[test]
    fn commands_have_their_documented_sizes() {
        let bind = Cmd::Bind(Bind::default());
        assert_eq!(
            encode(&bind, 1).map(|v| v.len()),
            Ok(size::HDR + size::BIND)
        );
        let connect = Cmd::Connect(Connect {
            dev: Dev::default(),
            stream_id: 0,
        });
        assert_eq!(
            encode(&connect, 2).map(|v| v.len()),
            Ok(size::HDR + size::CONNECT)
        );
        let mut small = [0u8; size::HDR];
        let ack = Cmd::HelloAck(HelloAck {
            version: 1,
            max_msg_size: MAX_MSG_SIZE as u32,
        });
        assert!(ack.encode(0, &mut small).is_err());
    }
}
