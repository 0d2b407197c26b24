// SPDX-License-Identifier: GPL-2.0

//! Parsers for the command-line values both programs take: PCI addresses, BARs, the
//! MSI-X layout, the FIRST_PAGE unit and capability offsets; the programs give them to
//! clap as value parsers, so arguments are typed when they are parsed.

use tsm_proto::report::{BarInfo, FirstPageUnit, MsixLayout};

use super::fw::DevId;

/// A command-line value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {value:?}: {why}")]
pub struct ArgError {
    /// What was being parsed.
    pub what: &'static str,
    /// The value.
    pub value: String,
    /// Why it was refused.
    pub why: &'static str,
}

fn err(what: &'static str, value: &str, why: &'static str) -> ArgError {
    ArgError {
        what,
        value: value.to_owned(),
        why,
    }
}

/// A number in decimal or `0x` hexadecimal.
pub fn parse_u64(what: &'static str, s: &str) -> Result<u64, ArgError> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| err(what, s, "not a number"))
}

/// `[SSSS:]BB:DD.F`, hexadecimal.
pub fn parse_bdf(s: &str) -> Result<DevId, ArgError> {
    let bad = |why| err("PCI address", s, why);
    let parts: Vec<&str> = s.split(':').collect();
    let (seg, bus, df) = match parts.as_slice() {
        [b, df] => ("0", *b, *df),
        [sg, b, df] => (*sg, *b, *df),
        _ => return Err(bad("expected [SSSS:]BB:DD.F")),
    };
    let (d, f) = df.split_once('.').ok_or_else(|| bad("expected DD.F"))?;
    let segment = u16::from_str_radix(seg, 16).map_err(|_| bad("bad segment"))?;
    let bus = u8::from_str_radix(bus, 16).map_err(|_| bad("bad bus"))?;
    let dev = u8::from_str_radix(d, 16).map_err(|_| bad("bad device"))?;
    let func = u8::from_str_radix(f, 16).map_err(|_| bad("bad function"))?;
    if dev > 31 || func > 7 {
        return Err(bad("device > 1f or function > 7"));
    }
    Ok(DevId {
        segment,
        bus,
        devfn: (dev << 3) | func,
    })
}

/// `INDEX:BASE:SIZE[:64][:pref]`.
pub fn parse_bar(s: &str) -> Result<BarInfo, ArgError> {
    let bad = |why| err("BAR", s, why);
    let mut it = s.split(':');
    let index = it
        .next()
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|i| *i <= 5)
        .ok_or_else(|| bad("index must be 0-5"))?;
    let base = parse_u64("BAR base", it.next().ok_or_else(|| bad("missing base"))?)?;
    let size = parse_u64("BAR size", it.next().ok_or_else(|| bad("missing size"))?)?;
    if size == 0 || !size.is_power_of_two() {
        return Err(bad("size must be a power of two"));
    }
    if base % size.min(4096) != 0 {
        return Err(bad("base must be aligned"));
    }
    let mut b = BarInfo {
        index,
        base,
        size,
        is_64bit: false,
        prefetchable: false,
    };
    for flag in it {
        match flag {
            "64" => b.is_64bit = true,
            "pref" => b.prefetchable = true,
            _ => return Err(bad("flags are 64 and pref")),
        }
    }
    Ok(b)
}

/// `TABLE_BAR:TABLE_OFFSET:ENTRIES:PBA_BAR:PBA_OFFSET`, or `none`.
pub fn parse_msix(s: &str) -> Result<Option<MsixLayout>, ArgError> {
    if s == "none" {
        return Ok(None);
    }
    let bad = |why| err("MSI-X layout", s, why);
    let v: Vec<&str> = s.split(':').collect();
    let [tb, to, n, pb, po] = v.as_slice() else {
        return Err(bad(
            "expected TABLE_BAR:TABLE_OFFSET:ENTRIES:PBA_BAR:PBA_OFFSET",
        ));
    };
    let num = |what, x: &str| parse_u64(what, x);
    let entries = num("MSI-X entries", n)?;
    if entries == 0 || entries > 2048 {
        return Err(bad("entries must be 1-2048"));
    }
    Ok(Some(MsixLayout {
        table_bar: u8::try_from(num("MSI-X table BAR", tb)?).map_err(|_| bad("BAR"))?,
        table_offset: u32::try_from(num("MSI-X table offset", to)?).map_err(|_| bad("offset"))?,
        table_entries: entries as u16,
        pba_bar: u8::try_from(num("MSI-X PBA BAR", pb)?).map_err(|_| bad("BAR"))?,
        pba_offset: u32::try_from(num("MSI-X PBA offset", po)?).map_err(|_| bad("offset"))?,
    }))
}

/// The FIRST_PAGE unit of interface reports: `page` (4K page number) or `byte`.
pub fn parse_first_page_unit(s: &str) -> Result<FirstPageUnit, ArgError> {
    match s {
        "page" => Ok(FirstPageUnit::PageNumber),
        "byte" => Ok(FirstPageUnit::ByteAddress),
        _ => Err(err("FIRST_PAGE unit", s, "not page or byte")),
    }
}

fn cap_offset(what: &'static str, s: &str, lo: u64, hi: u64) -> Result<u16, ArgError> {
    let v = parse_u64(what, s)?;
    if v < lo || v > hi {
        return Err(err(
            what,
            s,
            if lo == 0x40 {
                "must be 0x40-0xfc"
            } else {
                "must be 0x100-0xffc"
            },
        ));
    }
    if v % 4 != 0 {
        return Err(err(what, s, "must be dword aligned"));
    }
    u16::try_from(v).map_err(|_| err(what, s, "too large"))
}

/// The config offset of a capability (PCI Express, Power Management) in the first 256
/// bytes: `0x40`-`0xfc`, dword aligned, decimal or `0x` hexadecimal.
pub fn parse_cap_offset(s: &str) -> Result<u16, ArgError> {
    cap_offset("capability offset", s, 0x40, 0xfc)
}

/// The config offset of an extended capability (DOE): `0x100`-`0xffc`, dword aligned.
pub fn parse_ext_cap_offset(s: &str) -> Result<u16, ArgError> {
    cap_offset("extended capability offset", s, 0x100, 0xffc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdf() {
        assert_eq!(
            parse_bdf("0000:01:00.0"),
            Ok(DevId {
                segment: 0,
                bus: 1,
                devfn: 0
            })
        );
        assert_eq!(parse_bdf("02:1f.7").map(|d| d.devfn), Ok(0xff));
        assert!(parse_bdf("02:20.0").is_err());
        assert!(parse_bdf("x").is_err());
    }

    #[test]
    fn bar_and_msix() {
        let b = parse_bar("0:0x10000000:0x4000:64").unwrap();
        assert_eq!(
            (b.index, b.base, b.size, b.is_64bit),
            (0, 0x1000_0000, 0x4000, true)
        );
        assert!(parse_bar("6:0:0x1000").is_err());
        assert!(parse_bar("0:0:0x1001").is_err());
        assert!(parse_bar("0:0x800:0x1000").is_err());
        assert!(parse_bar("0:0:0x1000:bogus").is_err());
        let m = parse_msix("0:0x2000:32:0:0x3000").unwrap().unwrap();
        assert_eq!(m.table_entries, 32);
        assert_eq!(parse_msix("none"), Ok(None));
        assert!(parse_msix("0:0:0:0:0").is_err());
    }

    #[test]
    fn capability_offsets() {
        assert_eq!(parse_cap_offset("0x80"), Ok(0x80));
        assert_eq!(parse_cap_offset("96"), Ok(0x60));
        assert_eq!(parse_cap_offset("0xfc"), Ok(0xfc));
        for bad in ["0x3c", "0x100", "0x82", "x", ""] {
            assert!(parse_cap_offset(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ext_cap_offset("0x100"), Ok(0x100));
        assert_eq!(parse_ext_cap_offset("0xffc"), Ok(0xffc));
        for bad in ["0xfc", "0x1000", "0x102", "0x10000000000"] {
            assert!(parse_ext_cap_offset(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn first_page_unit() {
        assert_eq!(parse_first_page_unit("page"), Ok(FirstPageUnit::PageNumber));
        assert_eq!(
            parse_first_page_unit("byte"),
            Ok(FirstPageUnit::ByteAddress)
        );
        assert!(parse_first_page_unit("bytes").is_err());
    }
}
