// SPDX-License-Identifier: GPL-2.0

//! The syntax the firmware models' fault knobs share (`fw::rmm::knobs`, `fw::psp::knobs`,
//! `fw::tdx::knobs`): knobs separated by commas, each `KIND@TARGET[:N][=VALUE]`, where
//! TARGET names a call of the firmware's ABI in snake case and N is the 1-based count of
//! such calls at which the knob fires (default 1). Each model gives KIND, TARGET and
//! VALUE their meaning; this file only splits, names and lists.

use std::fmt;
use std::str::FromStr;

/// One knob, split but not interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec<'a> {
    /// KIND.
    pub kind: &'a str,
    /// TARGET.
    pub target: &'a str,
    /// N (1 if not given).
    pub nth: u32,
    /// VALUE, if given.
    pub value: Option<&'a str>,
}

/// Why a knob did not split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecError {
    /// Not `KIND@TARGET[:N][=VALUE]`.
    Syntax,
    /// N is not a positive integer.
    Count,
}

/// Splits `s` into its parts.
pub fn split(s: &str) -> Result<Spec<'_>, SpecError> {
    let (kind, rest) = s.split_once('@').ok_or(SpecError::Syntax)?;
    let (target, value) = match rest.split_once('=') {
        Some((t, v)) => (t, Some(v)),
        None => (rest, None),
    };
    let (target, nth) = match target.split_once(':') {
        Some((t, n)) => (
            t,
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(SpecError::Count)?,
        ),
        None => (target, 1),
    };
    Ok(Spec {
        kind,
        target,
        nth,
        value,
    })
}

/// [`split`], with a [`SpecError`] turned into the model's own error about the whole
/// knob `s`: `syntax` when it is not `KIND@TARGET[:N][=VALUE]`, `count` when N is bad.
pub fn split_or<E>(
    s: &str,
    syntax: fn(String) -> E,
    count: fn(String) -> E,
) -> Result<Spec<'_>, E> {
    split(s).map_err(|e| match e {
        SpecError::Syntax => syntax(s.to_owned()),
        SpecError::Count => count(s.to_owned()),
    })
}

/// Lowercase without underscores: how names are compared.
pub fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `value`'s `Debug` name in snake case (`PdevCommunicate` → `pdev_communicate`).
pub fn snake_name(value: impl fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{value:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The first of `all` whose `Debug` name is `name` (snake case or the variant name).
pub fn find_named<T: fmt::Debug>(all: impl IntoIterator<Item = T>, name: &str) -> Option<T> {
    let n = norm(name);
    all.into_iter().find(|v| norm(&format!("{v:?}")) == n)
}

/// A comma-separated list of knobs (blanks and empty items ignored).
pub fn parse_list<T: FromStr>(s: &str) -> Result<Vec<T>, T::Err> {
    s.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::parse)
        .collect()
}

/// Writes `items` as a comma-separated list.
pub fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, k) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{k}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_form() {
        assert_eq!(
            split("error@vdev_start:3=device"),
            Ok(Spec {
                kind: "error",
                target: "vdev_start",
                nth: 3,
                value: Some("device")
            })
        );
        assert_eq!(
            split("busy@x"),
            Ok(Spec {
                kind: "busy",
                target: "x",
                nth: 1,
                value: None
            })
        );
        assert_eq!(split("busy"), Err(SpecError::Syntax));
        assert_eq!(split("busy@x:0"), Err(SpecError::Count));
        assert_eq!(split("busy@x:y"), Err(SpecError::Count));
    }

    #[test]
    fn names() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum E {
            PdevCommunicate,
            Vdev,
        }
        assert_eq!(snake_name(E::PdevCommunicate), "pdev_communicate");
        assert_eq!(
            find_named([E::Vdev, E::PdevCommunicate], "pdev_communicate"),
            Some(E::PdevCommunicate)
        );
        assert_eq!(find_named([E::Vdev], "PDEV"), None);
    }
}
