//! Scripted calls (`[[call]]`): one call placed by a given phone at a given
//! emulated time, of a given kind and length, alongside or instead of the
//! random `[calls]` workload.
//!
//! What `to` names depends on the kind:
//!
//! | kind | `to` |
//! |---|---|
//! | `two-party`, `conference`, `held` | another extension of the fleet (the party called, or conferenced in) |
//! | `voicemail` | the mailbox: another extension of the fleet (every user has one; the primary's Voicemail Pro, or its backup's, answers) |
//! | `hunt-group` | a `[[hunt-group]]` of the fleet, by name |
//! | `external` | an outside number (digits, not an extension of the fleet), over a trunk of an IP500 V2 |

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::fleet::Fleet;
use crate::scenario::CallKind;

/// The longest call fleetsim places: a day (what a voicemail server or a
/// trunk holds at most).
pub const MAX_CALL: Dur = Dur::days(1);

/// Every kind a call may be, as written in files.
const KINDS: [CallKind; 6] = [
    CallKind::TwoParty,
    CallKind::Voicemail,
    CallKind::Conference,
    CallKind::Held,
    CallKind::HuntGroup,
    CallKind::External,
];

/// One call of a scenario's script (`[[call]]`), validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptedCall {
    /// The call's id in events: `s`, its place among the scenario's
    /// `[[call]]`s counting from 1, and the calling extension (`s1-2011`).
    pub id: String,
    /// When the phone is asked to place it (emulated time since the start).
    pub at: Dur,
    /// The calling extension.
    pub from: String,
    /// What is called: an extension, a mailbox, a hunt group or an outside
    /// number, as the kind says (see the module docs).
    pub to: String,
    /// How long the call lasts once set up.
    pub lasts: Dur,
    /// The kind of call.
    pub kind: CallKind,
    /// Whether the call is recorded (VRL).
    pub recorded: bool,
}

impl ScriptedCall {
    /// In words: `2011 calls 3001 (two-party) for 20m, recorded`.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            CallKind::Voicemail => format!("leaves a message for {}", self.to),
            CallKind::HuntGroup => format!("calls hunt group {}", self.to),
            CallKind::External => format!("calls outside number {}", self.to),
            kind => format!("calls {} ({})", self.to, kind.as_str()),
        };
        let recorded = if self.recorded { ", recorded" } else { "" };
        format!("{} {what} for {}{recorded}", self.from, self.lasts)
    }
}

/// A `[[call]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawCall {
    at: Spanned<Dur>,
    #[serde(deserialize_with = "number")]
    from: Spanned<String>,
    #[serde(deserialize_with = "number")]
    to: Spanned<String>,
    lasts: Spanned<Dur>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    recorded: Option<Spanned<bool>>,
}

/// An extension, hunt group or number: a string, or a bare non-negative
/// integer taken as its digits (`from = 2011` is `from = "2011"`).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Spanned<String>, D::Error> {
    let w = Spanned::<Written>::deserialize(d)?;
    Ok(Spanned::new(w.span(), w.into_inner().0))
}

/// The text of a string or of a non-negative integer.
struct Written(String);

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Written;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an extension, hunt group or number, e.g. \"2011\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Written, E> {
                Ok(Written(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Written, E> {
                Ok(Written(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Written, E> {
                u64::try_from(v)
                    .map(|n| Written(n.to_string()))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// Validates the `[[call]]`s of a scenario; the result is in time order
/// (calls at the same time in file order).
pub(crate) fn resolve(
    src: &Source<'_>,
    fleet: &Fleet,
    raw: &[Spanned<RawCall>],
    duration: Dur,
) -> Result<Vec<ScriptedCall>, Box<FileError>> {
    let check = Check { src, fleet };
    let mut calls = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        calls.push(check.call(i, c.get_ref(), duration)?);
    }
    calls.sort_by_key(|c| c.at);
    Ok(calls)
}

/// The checks of one scenario's calls against its fleet.
struct Check<'a> {
    src: &'a Source<'a>,
    fleet: &'a Fleet,
}

impl Check<'_> {
    /// Validates the call at index `i` of the file.
    fn call(&self, i: usize, c: &RawCall, duration: Dur) -> Result<ScriptedCall, Box<FileError>> {
        let field = |f: &str| format!("call[{i}].{f}");
        self.before_the_end(&c.at, duration, &field("at"))?;
        self.extension(&c.from, &field("from"))?;
        let kind = self.kind(c.kind.as_ref(), &field("kind"))?;
        self.target(kind, &c.to, c.from.get_ref(), &field("to"))?;
        self.length(&c.lasts, &field("lasts"))?;
        let recorded = match &c.recorded {
            Some(r) => self.recordable(kind, r, &field("recorded"))?,
            None => false,
        };
        Ok(ScriptedCall {
            id: format!("s{}-{}", i + 1, c.from.get_ref()),
            at: *c.at.get_ref(),
            from: c.from.get_ref().clone(),
            to: c.to.get_ref().clone(),
            lasts: *c.lasts.get_ref(),
            kind,
            recorded,
        })
    }

    fn error(&self, span: Range<usize>, field: &str, msg: String, hint: String) -> Box<FileError> {
        self.src.error(span, Some(field), msg, Some(hint))
    }

    /// The call is placed before the run ends (a call placed as it ends is
    /// never seen).
    fn before_the_end(
        &self,
        at: &Spanned<Dur>,
        duration: Dur,
        field: &str,
    ) -> Result<(), Box<FileError>> {
        if *at.get_ref() < duration {
            return Ok(());
        }
        Err(self.error(
            at.span(),
            field,
            format!(
                "a call at {} is not within the run, which ends at {duration}",
                at.get_ref()
            ),
            format!("place the call before {duration}, or make the duration longer"),
        ))
    }

    /// `ext` is an extension of the fleet.
    fn extension(&self, ext: &Spanned<String>, field: &str) -> Result<(), Box<FileError>> {
        let want = ext.get_ref();
        if self.fleet.phone(want).is_some() {
            return Ok(());
        }
        let near = nearest(self.fleet, want);
        Err(self.error(
            ext.span(),
            field,
            format!(
                "no phone of fleet {:?} has extension {want:?}",
                self.fleet.name
            ),
            format!(
                "did you mean {}? The fleet's extensions: {}",
                one_of(&near),
                extension_ranges(self.fleet)
            ),
        ))
    }

    /// The kind as written, `two-party` when not given.
    fn kind(
        &self,
        kind: Option<&Spanned<String>>,
        field: &str,
    ) -> Result<CallKind, Box<FileError>> {
        let Some(k) = kind else {
            return Ok(CallKind::TwoParty);
        };
        if let Some(found) = KINDS.iter().find(|x| x.as_str() == k.get_ref()) {
            return Ok(*found);
        }
        let names: Vec<&str> = KINDS.iter().map(|x| x.as_str()).collect();
        Err(self.error(
            k.span(),
            field,
            format!("unknown kind of call {:?}", k.get_ref()),
            format!("use one of: {} (default two-party)", names.join(", ")),
        ))
    }

    /// `to` names what a call of `kind` calls (see the module docs).
    fn target(
        &self,
        kind: CallKind,
        to: &Spanned<String>,
        from: &str,
        field: &str,
    ) -> Result<(), Box<FileError>> {
        match kind {
            // Every extension has a mailbox, and the primary always runs
            // Voicemail Pro, so a voicemail call needs only an extension.
            CallKind::TwoParty | CallKind::Conference | CallKind::Held | CallKind::Voicemail => {
                self.extension(to, field)?;
                self.not_self(kind, to, from, field)
            }
            CallKind::HuntGroup => self.hunt_group(to, field),
            CallKind::External => {
                self.trunks(to, field)?;
                self.outside_number(to, field)
            }
        }
    }

    /// A phone does not call itself.
    fn not_self(
        &self,
        kind: CallKind,
        to: &Spanned<String>,
        from: &str,
        field: &str,
    ) -> Result<(), Box<FileError>> {
        if to.get_ref() != from {
            return Ok(());
        }
        Err(self.error(
            to.span(),
            field,
            format!("{from} cannot make a {} call to itself", kind.as_str()),
            "call another extension of the fleet".into(),
        ))
    }

    /// `to` is a hunt group of the fleet.
    fn hunt_group(&self, to: &Spanned<String>, field: &str) -> Result<(), Box<FileError>> {
        let groups: Vec<&str> = self
            .fleet
            .hunt_groups
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        if groups.contains(&to.get_ref().as_str()) {
            return Ok(());
        }
        let hint = if groups.is_empty() {
            "the fleet has no [[hunt-group]]: add one, or choose another kind".to_string()
        } else {
            format!(
                "a hunt-group call names a hunt group: {}",
                groups.join(", ")
            )
        };
        Err(self.error(
            to.span(),
            field,
            format!(
                "no hunt group {:?} in fleet {:?}",
                to.get_ref(),
                self.fleet.name
            ),
            hint,
        ))
    }

    /// Some IP500 V2 of the fleet connects trunks.
    fn trunks(&self, to: &Spanned<String>, field: &str) -> Result<(), Box<FileError>> {
        if self.fleet.servers.iter().any(|s| s.trunks > 0) {
            return Ok(());
        }
        Err(self.error(
            to.span(),
            field,
            format!(
                "an external call needs a trunk, and no IP500 V2 of fleet {:?} connects any",
                self.fleet.name
            ),
            "give an expansion-v2 of the fleet trunks (e.g. trunks = 8), or choose another kind"
                .into(),
        ))
    }

    /// `to` is a number outside the fleet: digits, not an extension.
    fn outside_number(&self, to: &Spanned<String>, field: &str) -> Result<(), Box<FileError>> {
        let n = to.get_ref();
        let digits = n.strip_prefix('+').unwrap_or(n);
        let internal = self.fleet.phone(n).is_some();
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !internal {
            return Ok(());
        }
        let why = if internal {
            format!("{n:?} is an extension of the fleet, not an outside number")
        } else {
            format!("{n:?} is not a telephone number")
        };
        Err(self.error(
            to.span(),
            field,
            why,
            "an external call dials an outside number, e.g. to = \"901632960000\"; to call an extension, use kind = \"two-party\"".into(),
        ))
    }

    /// A call's length: more than zero, at most [`MAX_CALL`].
    fn length(&self, lasts: &Spanned<Dur>, field: &str) -> Result<(), Box<FileError>> {
        let d = *lasts.get_ref();
        if !d.0.is_zero() && d <= MAX_CALL {
            return Ok(());
        }
        Err(self.error(
            lasts.span(),
            field,
            format!("a call lasting {d} is out of range"),
            format!(
                "a call lasts more than zero and at most {MAX_CALL}: write e.g. lasts = \"20m\""
            ),
        ))
    }

    /// A voicemail call is not recorded: the message is the recording.
    fn recordable(
        &self,
        kind: CallKind,
        r: &Spanned<bool>,
        field: &str,
    ) -> Result<bool, Box<FileError>> {
        if !*r.get_ref() || kind != CallKind::Voicemail {
            return Ok(*r.get_ref());
        }
        Err(self.error(
            r.span(),
            field,
            "a voicemail call is not recorded: the message left is kept as it is".into(),
            "remove `recorded`, or record a call of another kind".into(),
        ))
    }
}

/// The three extensions of `fleet` nearest to `want`: by edit distance,
/// then by numeric distance.
fn nearest<'a>(fleet: &'a Fleet, want: &str) -> Vec<&'a str> {
    let number = |s: &str| s.parse::<i64>().ok();
    let mut all: Vec<(usize, i64, &str)> = fleet
        .phones
        .iter()
        .map(|p| {
            let e = p.extension.as_str();
            let gap = match (number(e), number(want)) {
                (Some(a), Some(b)) => (a - b).abs(),
                _ => i64::MAX,
            };
            (edit_distance(e, want), gap, e)
        })
        .collect();
    all.sort();
    all.into_iter().take(3).map(|(_, _, e)| e).collect()
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The fleet's extensions by home, in runs: `2001–2018 (primary), 3001–3006 (secondary)`.
fn extension_ranges(fleet: &Fleet) -> String {
    let mut by_home: BTreeMap<usize, (String, Vec<&str>)> = BTreeMap::new();
    for p in &fleet.phones {
        let order = fleet
            .servers
            .iter()
            .position(|s| s.name == p.home)
            .unwrap_or(usize::MAX);
        let entry = by_home
            .entry(order)
            .or_insert_with(|| (p.home.clone(), Vec::new()));
        entry.1.push(&p.extension);
    }
    let parts: Vec<String> = by_home
        .into_values()
        .map(|(home, exts)| format!("{} ({home})", runs(&exts)))
        .collect();
    if parts.is_empty() {
        return "none (the fleet has no phones)".into();
    }
    parts.join(", ")
}

/// Consecutive numbers as `a–b` runs, anything else listed: `2001–2018, 2020`.
fn runs(exts: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64, &str)> = None;
    let close = |r: (i64, i64, &str), out: &mut Vec<String>| {
        out.push(if r.0 == r.1 {
            r.2.to_string()
        } else {
            format!("{}–{}", r.0, r.1)
        });
    };
    for e in exts {
        let n = e.parse::<i64>().ok();
        if let (Some(n), Some((a, b, s))) = (n, run)
            && n == b + 1
        {
            run = Some((a, n, s));
            continue;
        }
        if let Some(r) = run.take() {
            close(r, &mut out);
        }
        match n {
            Some(n) => run = Some((n, n, e)),
            None => out.push((*e).to_string()),
        }
    }
    if let Some(r) = run {
        close(r, &mut out);
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_changes() {
        assert_eq!(edit_distance("2019", "2018"), 1);
        assert_eq!(edit_distance("2011", "2011"), 0);
        assert_eq!(edit_distance("201", "2011"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn suggestions_read_as_a_list() {
        assert_eq!(one_of(&["2018", "2017", "2016"]), "2018, 2017 or 2016");
        assert_eq!(one_of(&["2018"]), "2018");
    }

    #[test]
    fn consecutive_extensions_read_as_runs() {
        assert_eq!(
            runs(&["2001", "2002", "2003", "2005", "x9"]),
            "2001–2003, 2005, x9"
        );
        assert_eq!(runs(&["7"]), "7");
    }
}
