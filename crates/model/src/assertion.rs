//! Assertions over the event log: `never`, `eventually` and `count` match
//! any event by name, server and fields inside a time window; `state`
//! checks what a run tracks (where a phone is registered, a service's or a
//! hunt group's state, a licence, calls up) at a moment or throughout a
//! window. Times may be relative to a fault (`"fault 0 + 3m"`), so an
//! assertion moves with its fault in a fault-time sweep.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::{Dur, parse_duration};
use crate::error::{FileError, Source};
use crate::event::EventKind;
use crate::fault::{Fault, glob};
use crate::fleet::Fleet;
use crate::schema::{FieldType, event_names, fields};
use crate::suggest::nearest;

/// What each pseudo-server logs: the runner its start, end and audit, the
/// operator its actions and their failures, the network its faults.
const PSEUDO_LOGS: [(&str, &[EventKind]); 3] = [
    (
        "runner",
        &[EventKind::RunStarted, EventKind::RunEnded, EventKind::Audit],
    ),
    (
        "operator",
        &[EventKind::FaultApplied, EventKind::ActionFailed],
    ),
    ("network", &[EventKind::FaultApplied]),
];

/// A moment of the run: a time, or a time relative to a fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moment {
    /// When, from the start of the run.
    pub at: Dur,
    /// The `[[fault]]` table the moment is anchored to (its `source`), so
    /// moving that fault moves the moment.
    #[serde(skip)]
    pub anchor: Option<usize>,
    /// As written (`"5m"`, `"fault 0 + 3m"`).
    pub written: String,
}

impl Moment {
    /// A moment at a fixed time.
    pub fn fixed(at: Dur) -> Moment {
        Moment {
            at,
            anchor: None,
            written: at.to_string(),
        }
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.anchor.is_some() {
            write!(f, "{} ({})", self.written, self.at)
        } else {
            write!(f, "{}", self.at)
        }
    }
}

/// A closed window of the run, both ends included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First moment.
    pub from: Moment,
    /// Last moment.
    pub to: Moment,
}

impl Window {
    /// Whether `t_ms` falls inside.
    pub fn contains(&self, t_ms: u64) -> bool {
        (self.from.at.as_millis()..=self.to.at.as_millis()).contains(&t_ms)
    }

    /// Whether it is a single moment (`at`).
    pub fn is_moment(&self) -> bool {
        self.from == self.to
    }
}

impl Window {
    /// The whole run: from its start to its end.
    pub fn whole_run(duration: Dur) -> Window {
        Window {
            from: Moment::fixed(Dur::ZERO).written_as(START),
            to: Moment::fixed(duration).written_as(END),
        }
    }
}

/// How an unwritten `from` and `to` read.
const START: &str = "start";
const END: &str = "end";

impl Moment {
    fn written_as(mut self, w: &str) -> Moment {
        self.written = w.into();
        self
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.from.written == START, self.to.written == END);
        match (start, end) {
            _ if self.is_moment() => write!(f, "at {}", self.from),
            (true, true) => write!(f, "during the run"),
            (true, false) => write!(f, "until {}", self.to),
            (false, true) => write!(f, "from {} on", self.from),
            (false, false) => write!(f, "from {} to {}", self.from, self.to),
        }
    }
}

/// A count's bounds in words: "exactly 16", "2 to 5", "at least 1",
/// "at most 3", "any number of".
pub fn bound(min: Option<u32>, max: Option<u32>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("exactly {a}"),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => "any number of".into(),
    }
}

/// A value an event field is compared with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A string; `*` and `?` match like a shell glob.
    Text(String),
    /// A whole number.
    Number(i64),
    /// A flag.
    Flag(bool),
}

impl FieldValue {
    /// Whether the field's value in an event (as a TOML value) matches.
    pub fn matches(&self, v: &toml::Value) -> bool {
        match (self, v) {
            (FieldValue::Text(p), toml::Value::String(s)) => glob(p, s),
            (FieldValue::Number(n), toml::Value::Integer(i)) => n == i,
            (FieldValue::Flag(b), toml::Value::Boolean(x)) => b == x,
            _ => false,
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(s) => write!(f, "{s:?}"),
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// Which events an assertion counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventMatch {
    /// The event's kind.
    pub event: EventKind,
    /// The server (a name or a glob) it is logged by; any when `None`.
    pub server: Option<String>,
    /// Fields (snake_case, as in the event log) and the values they must have.
    #[serde(rename = "where")]
    pub fields: BTreeMap<String, FieldValue>,
}

impl fmt::Display for EventMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name: &str = self.event.into();
        f.write_str(name)?;
        if let Some(s) = &self.server {
            write!(f, " on {s}")?;
        }
        if !self.fields.is_empty() {
            let w: Vec<String> = self
                .fields
                .iter()
                .map(|(k, v)| format!("{} = {v}", k.replace('_', "-")))
                .collect();
            write!(f, " with {}", w.join(", "))?;
        }
        Ok(())
    }
}

/// Something a run tracks over time, and the value it must have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "of")]
pub enum StateProbe {
    /// Phone `phone` is registered on `on` (as a guest or not, if given),
    /// or, with `on` = `None`, registered nowhere.
    Phone {
        /// Extension.
        phone: String,
        /// Server; `None`: registered nowhere.
        on: Option<String>,
        /// Whether as a guest, if that matters.
        guest: Option<bool>,
    },
    /// `service` on `on` is `state` (`active`, `standby`, `down`).
    Service {
        /// Service name as in fleet files.
        service: String,
        /// Server.
        on: String,
        /// Expected state.
        state: String,
    },
    /// `server`'s licence is `state` (`normal`, `grace`, `restricted`).
    Licence {
        /// Server.
        server: String,
        /// Expected state.
        state: String,
    },
    /// Hunt group `group` runs (`active`) or not on `on`.
    HuntGroup {
        /// The group.
        group: String,
        /// Server.
        on: String,
        /// Running there.
        active: bool,
    },
    /// Calls up (started, not yet ended, dropped or failed) on `on`, or
    /// across the fleet, lie within `min..=max`.
    CallsUp {
        /// Server; the whole fleet when `None`.
        on: Option<String>,
        /// Least.
        min: Option<u32>,
        /// Most.
        max: Option<u32>,
    },
}

impl fmt::Display for StateProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateProbe::Phone { phone, on, guest } => {
                let how = match guest {
                    Some(true) => " as a guest",
                    Some(false) => " as a home phone",
                    None => "",
                };
                match on {
                    Some(on) => write!(f, "phone {phone} is registered on {on}{how}"),
                    None => write!(f, "phone {phone} is registered nowhere"),
                }
            }
            StateProbe::Service { service, on, state } => write!(f, "{service} is {state} on {on}"),
            StateProbe::Licence { server, state } => write!(f, "{server}'s licence is {state}"),
            StateProbe::HuntGroup { group, on, active } => {
                let runs = if *active { "runs" } else { "does not run" };
                write!(f, "hunt group {group} {runs} on {on}")
            }
            StateProbe::CallsUp { on, min, max } => {
                let bound = bound(*min, *max);
                let place = on
                    .as_deref()
                    .map_or("in the fleet".into(), |s| format!("on {s}"));
                let one = matches!(
                    (min, max),
                    (Some(1), Some(1)) | (Some(1), None) | (None, Some(1))
                );
                let calls = if one { "call" } else { "calls" };
                write!(f, "{bound} {calls} up {place}")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reading them from a file.

/// `never`, `eventually` and `count = { ... }`: the bounds (`min`, `max`)
/// belong to `count` only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawEvents {
    event: Spanned<String>,
    #[serde(default)]
    server: Option<Spanned<String>>,
    #[serde(default, rename = "where")]
    fields: Option<Spanned<toml::Table>>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) min: Option<u32>,
    #[serde(default)]
    pub(crate) max: Option<u32>,
}

/// `state = { phone | service | licence | hunt-group | calls-up, ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawState {
    #[serde(default)]
    phone: Option<Spanned<String>>,
    #[serde(default)]
    service: Option<Spanned<String>>,
    #[serde(default)]
    licence: Option<Spanned<String>>,
    #[serde(default)]
    hunt_group: Option<Spanned<String>>,
    #[serde(default)]
    calls_up: Option<Spanned<bool>>,
    #[serde(default)]
    on: Option<Spanned<String>>,
    #[serde(default)]
    is: Option<Spanned<String>>,
    #[serde(default)]
    guest: Option<bool>,
    #[serde(default)]
    registered: Option<bool>,
    #[serde(default)]
    min: Option<u32>,
    #[serde(default)]
    max: Option<u32>,
    #[serde(default)]
    at: Option<Spanned<String>>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
}

/// What validation needs to read assertions: the file, the fleet, the
/// resolved faults and the run's length.
pub(crate) struct Ctx<'a> {
    pub(crate) src: &'a Source<'a>,
    pub(crate) fleet: &'a Fleet,
    pub(crate) faults: &'a [Fault],
    /// The call ids the run can log.
    pub(crate) calls: &'a CallIds,
    pub(crate) duration: Dur,
    /// `expect[i].never` and the like: the field prefix of errors.
    pub(crate) field: String,
}

type Res<T> = Result<T, Box<FileError>>;

/// The call ids a run can log: its scripted calls' (`s1-2011`), and, with a
/// random workload, `c<N>-<extension>` of any of the fleet's phones. A
/// message has its call's id, a recording its call's id and `-rec`.
pub(crate) struct CallIds {
    pub(crate) scripted: Vec<String>,
    pub(crate) random: bool,
}

impl CallIds {
    /// Whether `value` (an id or a glob) can name a call of the run.
    fn names(&self, value: &str, fleet: &Fleet) -> bool {
        let id = value.strip_suffix("-rec").unwrap_or(value);
        if self.scripted.iter().any(|s| glob(value, s) || glob(id, s)) {
            return true;
        }
        if !self.random {
            return false;
        }
        if value.contains(['*', '?']) {
            return value.starts_with(['c', '*', '?']);
        }
        // c<N>-<extension>: a random call of a phone of the fleet.
        let Some((n, ext)) = id.strip_prefix('c').and_then(|r| r.split_once('-')) else {
            return false;
        };
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && fleet.phone(ext).is_some()
    }

    /// Where the run's call ids come from, for a hint.
    fn hint(&self) -> String {
        let scripted = match self.scripted.as_slice() {
            [] => "the scenario has no [[call]]".to_string(),
            ids => {
                let shown: Vec<&str> = ids.iter().map(String::as_str).collect();
                format!("scripted calls: {}", some_of(&shown))
            }
        };
        let random = if self.random {
            "random calls are c<N>-<extension>, e.g. \"c12-2001\""
        } else {
            "no random calls ([calls] per-hour), so no c… ids"
        };
        format!(
            "{scripted}; {random}; a message has its call's id, a recording its call's id and \"-rec\""
        )
    }
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, sub: &str, msg: String, hint: String) -> Box<FileError> {
        let field = format!("{}.{sub}", self.field);
        self.src.error(span, Some(&field), msg, Some(hint))
    }

    /// The faults as `check -v` numbers them, for hints.
    fn fault_list(&self) -> String {
        if self.faults.is_empty() {
            return "this scenario has no faults".into();
        }
        let all: Vec<String> = self
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| format!("fault {i} at {}: {}", f.at, f.kind.describe()))
            .collect();
        format!("faults, counted from 0 in time order: {}", all.join("; "))
    }

    /// `"5m"` or `"fault N"`, `"fault N + D"`, `"fault N - D"`.
    pub(crate) fn moment(&self, s: &Spanned<String>, sub: &str) -> Res<Moment> {
        let text = s.get_ref().trim();
        let (anchor, ms) = match text.strip_prefix("fault") {
            Some(rest) => self.relative(s, sub, rest)?,
            None => match parse_duration(text) {
                Ok(d) => (None, i128::from(d.as_millis())),
                Err(e) => {
                    let hint = "write a time such as \"5m\", or one relative to a fault: \"fault 0\", \"fault 0 + 3m\", \"fault 1 - 30s\"".into();
                    return Err(self.err(s.span(), sub, e.to_string(), hint));
                }
            },
        };
        let end = i128::from(self.duration.as_millis());
        if !(0..=end).contains(&ms) {
            let msg = format!("{text:?} falls outside the run (0 to {})", self.duration);
            return Err(self.err(s.span(), sub, msg, self.fault_list()));
        }
        Ok(Moment {
            at: Dur::millis(ms as u64),
            anchor,
            written: text.to_string(),
        })
    }

    /// The part after `fault`: ` N`, ` N + D`, ` N - D`.
    fn relative(&self, s: &Spanned<String>, sub: &str, rest: &str) -> Res<(Option<usize>, i128)> {
        let bad = |msg: String| self.err(s.span(), sub, msg, self.fault_list());
        let rest = rest.trim();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(index) = rest[..digits].parse::<usize>() else {
            return Err(bad(format!(
                "{:?}: write the fault's number, e.g. \"fault 0 + 3m\"",
                s.get_ref()
            )));
        };
        let Some(fault) = self.faults.get(index) else {
            return Err(bad(format!("there is no fault {index}")));
        };
        let base = i128::from(fault.at.as_millis());
        let tail = rest[digits..].trim();
        let (sign, offset) = match tail.chars().next() {
            None => return Ok((Some(fault.source), base)),
            Some('+') => (1, tail[1..].trim()),
            Some('-') => (-1, tail[1..].trim()),
            Some(_) => {
                return Err(bad(format!(
                    "{:?}: after the fault's number write + or - and a duration, e.g. \"fault {index} + 3m\"",
                    s.get_ref()
                )));
            }
        };
        let d = parse_duration(offset).map_err(|e| bad(e.to_string()))?;
        Ok((Some(fault.source), base + sign * i128::from(d.as_millis())))
    }

    /// `from` (default: the start) and `to` (default: the end).
    fn window(&self, from: &Option<Spanned<String>>, to: &Option<Spanned<String>>) -> Res<Window> {
        let whole = Window::whole_run(self.duration);
        let from_m = match from {
            Some(f) => self.moment(f, "from")?,
            None => whole.from,
        };
        let to_m = match to {
            Some(t) => self.moment(t, "to")?,
            None => whole.to,
        };
        if from_m.at > to_m.at {
            let span = to.as_ref().or(from.as_ref()).map_or(0..0, Spanned::span);
            let msg = format!("the window ends ({to_m}) before it starts ({from_m})");
            return Err(self.err(span, "to", msg, "put `to` after `from`".into()));
        }
        Ok(Window {
            from: from_m,
            to: to_m,
        })
    }

    /// `at`, or `from`/`to` (a state needs one or the other).
    fn at_or_window(&self, r: &RawState, span: Range<usize>) -> Res<Window> {
        match (&r.at, r.from.is_some() || r.to.is_some()) {
            (Some(at), false) => {
                let m = self.moment(at, "at")?;
                Ok(Window {
                    from: m.clone(),
                    to: m,
                })
            }
            (None, true) => self.window(&r.from, &r.to),
            (Some(at), true) => Err(self.err(
                at.span(),
                "at",
                "give `at` or a window (`from`, `to`), not both".into(),
                "`at` checks one moment; `from`/`to` check every moment between".into(),
            )),
            (None, false) => Err(self.err(
                span,
                "at",
                "a state needs a moment or a window".into(),
                "write at = \"10m\", or from = \"fault 0 + 4m\", to = \"fault 1\"".into(),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Event matches.

impl Ctx<'_> {
    pub(crate) fn when(&self, r: &RawEvents, span: Range<usize>) -> Res<(EventMatch, Window)> {
        if r.min.is_some() || r.max.is_some() {
            return Err(self.err(
                span,
                if r.min.is_some() { "min" } else { "max" },
                "min and max bound a count".into(),
                "write count = { event = ..., min = 1 } to bound how many".into(),
            ));
        }
        let m = self.event_match(&r.event, &r.server, &r.fields)?;
        Ok((m, self.window(&r.from, &r.to)?))
    }

    pub(crate) fn count(&self, r: &RawEvents, span: Range<usize>) -> Res<(EventMatch, Window)> {
        if r.min.is_none() && r.max.is_none() {
            return Err(self.err(
                span,
                "min",
                "a count needs a bound".into(),
                "write min = 1, max = 3, or both (min = max = 184 for an exact count)".into(),
            ));
        }
        self.ordered(span, r.min, r.max)?;
        let m = self.event_match(&r.event, &r.server, &r.fields)?;
        Ok((m, self.window(&r.from, &r.to)?))
    }

    fn event_match(
        &self,
        event: &Spanned<String>,
        server: &Option<Spanned<String>>,
        fields: &Option<Spanned<toml::Table>>,
    ) -> Res<EventMatch> {
        let kind = self.event_kind(event)?;
        let server = match server {
            Some(s) => {
                let p = self.server_pattern(s)?;
                self.logged_by(kind, s)?;
                Some(p)
            }
            None => None,
        };
        let mut out = BTreeMap::new();
        if let Some(t) = fields {
            for (k, v) in t.get_ref() {
                let (name, value) = self.field(kind, k, v, t.span())?;
                if out.insert(name, value).is_some() {
                    // `records-held` and `records_held` name one field.
                    let msg = format!("the field {k:?} is given twice");
                    let hint = "keep one: kebab-case and snake_case name the same field".into();
                    return Err(self.err(t.span(), &format!("where.{k}"), msg, hint));
                }
            }
        }
        Ok(EventMatch {
            event: kind,
            server,
            fields: out,
        })
    }

    fn event_kind(&self, event: &Spanned<String>) -> Res<EventKind> {
        let name = event.get_ref();
        name.parse::<EventKind>().map_err(|_| {
            let names = event_names();
            let near = nearest(name, names.iter().copied());
            let hint = match near {
                Some(n) => format!("did you mean {n:?}? events: {}", names.join(", ")),
                None => format!("events: {}", names.join(", ")),
            };
            self.err(
                event.span(),
                "event",
                format!("unknown event {name:?}"),
                hint,
            )
        })
    }

    /// When `s` names only pseudo-servers: that one of them logs `kind`
    /// (a check of an event nobody it names logs would see nothing).
    fn logged_by(&self, kind: EventKind, s: &Spanned<String>) -> Res<()> {
        let p = s.get_ref();
        if self.fleet.servers.iter().any(|x| glob(p, &x.name)) {
            return Ok(());
        }
        let named: Vec<(&str, &[EventKind])> = PSEUDO_LOGS
            .iter()
            .filter(|(n, _)| glob(p, n))
            .map(|(n, k)| (*n, *k))
            .collect();
        if named.iter().any(|(_, logs)| logs.contains(&kind)) {
            return Ok(());
        }
        let event: &str = kind.into();
        let said: Vec<String> = (named.iter())
            .map(|(n, logs)| {
                let l: Vec<&str> = logs.iter().map(|k| (*k).into()).collect();
                format!("{n} logs {}", l.join(", "))
            })
            .collect();
        Err(self.err(
            s.span(),
            "server",
            format!("{p:?} never logs {event} events, so this would see none"),
            format!(
                "{}; a fleet server logs {event}: name one, or leave `server` out",
                said.join("; ")
            ),
        ))
    }

    /// A server name or glob that names at least one server (or the
    /// pseudo-servers `network`, `runner` and `operator`, who log faults,
    /// the audit and operator actions).
    fn server_pattern(&self, s: &Spanned<String>) -> Res<String> {
        let p = s.get_ref();
        let mut names: Vec<&str> = self.fleet.servers.iter().map(|x| x.name.as_str()).collect();
        names.extend(["network", "runner", "operator"]);
        if names.iter().any(|n| glob(p, n)) {
            return Ok(p.clone());
        }
        let near = crate::suggest::nearest(p, names.iter().copied())
            .map_or(String::new(), |n| format!("did you mean {n:?}? "));
        let hint = format!(
            "{near}servers: {} (or a glob such as \"expansion-*\")",
            names.join(", ")
        );
        Err(self.err(
            s.span(),
            "server",
            format!("no server is named {p:?}"),
            hint,
        ))
    }

    /// One `where` entry: a field of the event and a value of its type.
    fn field(
        &self,
        kind: EventKind,
        key: &str,
        v: &toml::Value,
        span: Range<usize>,
    ) -> Res<(String, FieldValue)> {
        let all = fields(kind);
        let name = key.replace('-', "_");
        let event: &str = kind.into();
        let listed: Vec<String> = all.iter().map(|(n, _)| n.replace('_', "-")).collect();
        let Some((_, ty)) = all.iter().find(|(n, _)| *n == name) else {
            let near = crate::suggest::nearest(key, listed.iter().map(String::as_str))
                .map_or(String::new(), |n| format!("did you mean {n:?}? "));
            let hint = if listed.is_empty() {
                format!("{event} events have no fields")
            } else {
                format!("{near}fields of {event}: {}", listed.join(", "))
            };
            let msg = format!("{event} events have no field {key:?}");
            return Err(self.err(span, &format!("where.{key}"), msg, hint));
        };
        if !ty.accepts(v) {
            let msg = if *ty == FieldType::Table {
                format!("{key} of {event} is a table, which cannot be compared")
            } else {
                format!(
                    "{key} of {event} is {ty}, not {}",
                    crate::schema::written(v)
                )
            };
            return Err(self.err(span, &format!("where.{key}"), msg, write_as(*ty, key)));
        }
        // `accepts` admitted only strings, whole numbers and flags.
        let value = match v {
            toml::Value::Integer(i) => FieldValue::Number(*i),
            toml::Value::Boolean(b) => FieldValue::Flag(*b),
            other => FieldValue::Text(other.as_str().unwrap_or_default().to_string()),
        };
        if let FieldValue::Text(t) = &value {
            self.names_something(&name, t, key, span.clone())?;
            self.one_of_its_values(kind, &name, t, key, span)?;
        }
        Ok((name, value))
    }

    /// A text value of a field with a fixed set of values (a state, a
    /// kind, a role, a mode) must be one of them: a typo or a wrong case
    /// would match no event and pass a `never` unseen.
    fn one_of_its_values(
        &self,
        kind: EventKind,
        field: &str,
        value: &str,
        key: &str,
        span: Range<usize>,
    ) -> Res<()> {
        let Some(values) = fixed_values(kind, field) else {
            return Ok(());
        };
        if values.iter().any(|v| glob(value, v)) {
            return Ok(());
        }
        let event: &str = kind.into();
        let near = nearest(value, values.iter().copied())
            .map_or(String::new(), |n| format!("did you mean {n:?}? "));
        let hint = format!("{near}{key} of {event} is one of: {}", values.join(", "));
        let msg = format!("{key} of {event} is never {value:?}, so this could match no event");
        Err(self.err(span, &format!("where.{key}"), msg, hint))
    }

    /// A text value of a field that holds one of the fleet's own names (a
    /// server, a phone, a hunt group, a service) must match one of them: a
    /// typo would match no event and pass a `never` unseen.
    fn names_something(&self, field: &str, value: &str, key: &str, span: Range<usize>) -> Res<()> {
        if ["call", "message", "recording"].contains(&field) {
            return self.names_a_call(value, key, span);
        }
        let Some((what, names)) = self.names_of(field) else {
            return Ok(());
        };
        if names.iter().any(|n| glob(value, n)) {
            return Ok(());
        }
        let shown: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = match nearest(value, shown.iter().copied()) {
            Some(n) => format!("did you mean {n:?}? {what}s: {}", some_of(&shown)),
            None => format!("{what}s: {} (or a glob such as \"20*\")", some_of(&shown)),
        };
        let msg = format!("no {what} is named {value:?}, so this could match no event");
        Err(self.err(span, &format!("where.{key}"), msg, hint))
    }

    /// A call id (or glob) in `where` names a call the run can make: a
    /// typo, or a random call's id in a run with none, would match no
    /// event and pass a `never` unseen.
    fn names_a_call(&self, value: &str, key: &str, span: Range<usize>) -> Res<()> {
        if self.calls.names(value, self.fleet) {
            return Ok(());
        }
        let msg = format!("no call of this run has the id {value:?}, so this could match no event");
        Err(self.err(span, &format!("where.{key}"), msg, self.calls.hint()))
    }

    /// What kind of name `field` holds, and the fleet's names of that kind.
    fn names_of(&self, field: &str) -> Option<(&'static str, Vec<String>)> {
        let f = self.fleet;
        match field {
            "home" | "peer" | "target" | "from" | "to" => {
                Some(("server", f.servers.iter().map(|s| s.name.clone()).collect()))
            }
            "phone" | "trigger" | "mailbox" | "user" => Some((
                "phone",
                f.phones.iter().map(|p| p.extension.clone()).collect(),
            )),
            "group" => Some((
                "hunt group",
                f.hunt_groups.iter().map(|g| g.name.clone()).collect(),
            )),
            "service" => Some((
                "service",
                crate::Service::ALL
                    .iter()
                    .map(|s| s.as_str().into())
                    .collect(),
            )),
            _ => None,
        }
    }
}

/// The values a text field of `kind` can take, where they are a fixed set.
fn fixed_values(kind: EventKind, field: &str) -> Option<Vec<&'static str>> {
    // What the handback events log as their mode (the rules' names).
    const HANDBACK: [&str; 4] = ["primary already active", "manual", "graceful", "automatic"];
    let values = match (kind, field) {
        (EventKind::RunStarted, "mode") => vec!["sim", "live"],
        (EventKind::ServerStarted, "role") => (crate::Role::ALL.iter())
            .filter(|r| **r != crate::Role::Ucm)
            .map(|r| r.as_str())
            .collect(),
        (EventKind::LicenceState, "state") => vec!["normal", "grace", "restricted"],
        (EventKind::ServiceState, "state") => vec!["active", "standby"],
        (EventKind::CallStarted, "kind") => {
            crate::CallKind::ALL.iter().map(|k| k.as_str()).collect()
        }
        (EventKind::VoicemailHandback | EventKind::PortalHandback, "mode") => HANDBACK.to_vec(),
        _ => return None,
    };
    Some(values)
}

/// The first few names, and how many more.
fn some_of(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut s = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// How a value of `ty` is written, shown on the field `key` at fault.
fn write_as(ty: FieldType, key: &str) -> String {
    match ty {
        FieldType::Text => format!("write a string, e.g. {key} = \"20*\""),
        FieldType::Number => format!("write a whole number, e.g. {key} = 16"),
        FieldType::Flag => "write true or false".into(),
        FieldType::Table => {
            "this field cannot be matched; match on `fault` (its words) instead".into()
        }
    }
}

// ---------------------------------------------------------------------------
// States.

impl Ctx<'_> {
    pub(crate) fn state(&self, r: &RawState, span: Range<usize>) -> Res<(StateProbe, Window)> {
        let subjects = [
            r.phone.is_some(),
            r.service.is_some(),
            r.licence.is_some(),
            r.hunt_group.is_some(),
            r.calls_up.is_some(),
        ];
        if subjects.iter().filter(|x| **x).count() != 1 {
            return Err(self.err(
                span,
                "state",
                "a state names exactly one of phone, service, licence, hunt-group, calls-up".into(),
                "e.g. state = { phone = \"2011\", on = \"secondary\", at = \"10m\" }".into(),
            ));
        }
        self.no_stray_key(r, span.clone())?;
        let probe = self.probe(r, span.clone())?;
        Ok((probe, self.at_or_window(r, span)?))
    }

    /// A key that does not apply to the state's form is refused, not
    /// ignored: `max = 0` on a phone would check nothing it seems to.
    fn no_stray_key(&self, r: &RawState, span: Range<usize>) -> Res<()> {
        let (form, takes): (&str, &[&str]) = if r.phone.is_some() {
            // `on` beside `registered = false` is refused by the phone's own
            // check, which says which of the two to keep.
            let takes: &[&str] = if r.registered == Some(false) {
                &["on", "registered"]
            } else {
                &["on", "registered", "guest"]
            };
            let form = if r.registered == Some(false) {
                "an unregistered phone's"
            } else {
                "a phone's"
            };
            (form, takes)
        } else if r.service.is_some() {
            ("a service's", &["on", "is"])
        } else if r.licence.is_some() {
            ("a licence's", &["is"])
        } else if r.hunt_group.is_some() {
            ("a hunt group's", &["on", "is"])
        } else {
            ("calls-up", &["on", "min", "max"])
        };
        let given = [
            ("on", r.on.is_some()),
            ("is", r.is.is_some()),
            ("guest", r.guest.is_some()),
            ("registered", r.registered.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
        ];
        let Some((stray, _)) = given.iter().find(|(k, set)| *set && !takes.contains(k)) else {
            return Ok(());
        };
        let mut hint = format!(
            "{form} state takes {} (and at, or from and to)",
            takes.join(", ")
        );
        if *stray == "guest" && r.registered == Some(false) {
            hint = "`guest` goes with `on`: write on = \"secondary\", guest = true for a guest there, or registered = false alone for a phone registered nowhere".into();
        }
        Err(self.err(
            span,
            stray,
            format!("`{stray}` does not apply to {form} state, and would be ignored"),
            hint,
        ))
    }

    fn probe(&self, r: &RawState, span: Range<usize>) -> Res<StateProbe> {
        if let Some(p) = &r.phone {
            return self.phone_probe(r, p);
        }
        if let Some(s) = &r.service {
            let on = self.required_server(&r.on, span.clone(), "on")?;
            let state = self.one_of(&r.is, span, &["active", "standby", "down"])?;
            return self.service_probe(s, on, state);
        }
        if let Some(l) = &r.licence {
            let server = self.server(l, "licence")?;
            let state = self.one_of(&r.is, span, &["normal", "grace", "restricted"])?;
            return Ok(StateProbe::Licence { server, state });
        }
        if let Some(g) = &r.hunt_group {
            let on = self.required_server(&r.on, span.clone(), "on")?;
            let active = self.one_of(&r.is, span, &["active", "inactive"])? == "active";
            return self.hunt_group_probe(g, on, active);
        }
        self.calls_up_bound(r)?;
        let on = match &r.on {
            Some(o) => Some(self.server(o, "on")?),
            None => None,
        };
        Ok(StateProbe::CallsUp {
            on,
            min: r.min,
            max: r.max,
        })
    }

    /// `calls-up` is a count: `true`, with a bound (`false` would read as
    /// "no calls up" and check nothing).
    fn calls_up_bound(&self, r: &RawState) -> Res<()> {
        let Some(flag) = &r.calls_up else {
            return Ok(());
        };
        let hint = "write calls-up = true with min, max or both: max = 0 for no calls up, min = 1 for some";
        if !*flag.get_ref() {
            let msg = "calls-up = false checks nothing".to_string();
            return Err(self.err(flag.span(), "calls-up", msg, hint.into()));
        }
        if r.min.is_none() && r.max.is_none() {
            let msg = "calls-up needs a bound".to_string();
            return Err(self.err(flag.span(), "calls-up", msg, hint.into()));
        }
        self.ordered(flag.span(), r.min, r.max)
    }

    /// A lower bound no greater than the upper one, and bounds that can
    /// fail: `min = 0` alone holds for any count.
    fn ordered(&self, span: Range<usize>, min: Option<u32>, max: Option<u32>) -> Res<()> {
        match (min, max) {
            (Some(0), None) => Err(self.err(
                span,
                "min",
                "min = 0 with no max checks nothing: every count is at least 0".into(),
                "give min = 1 or more, or a max (max = 0 for none at all)".into(),
            )),
            (Some(a), Some(b)) if a > b => {
                let msg = format!("min {a} is more than max {b}");
                Err(self.err(span, "min", msg, "swap them".into()))
            }
            _ => Ok(()),
        }
    }

    fn phone_probe(&self, r: &RawState, p: &Spanned<String>) -> Res<StateProbe> {
        let phone = p.get_ref();
        if !self.fleet.phones.iter().any(|x| &x.extension == phone) {
            let all: Vec<&str> = self
                .fleet
                .phones
                .iter()
                .map(|x| x.extension.as_str())
                .collect();
            let hint = match nearest(phone, all.iter().copied()) {
                Some(n) => format!("did you mean {n:?}?"),
                None => format!("phones: {}", some_of(&all)),
            };
            return Err(self.err(p.span(), "phone", format!("no phone {phone:?}"), hint));
        }
        let on = match (&r.on, r.registered) {
            (Some(o), None | Some(true)) => Some(self.server(o, "on")?),
            (None, Some(false)) => None,
            (Some(_), Some(false)) => {
                return Err(self.err(
                    p.span(),
                    "on",
                    "on and registered = false contradict each other: give one, not both".into(),
                    "on = \"secondary\" checks it is registered there; registered = false that it is registered nowhere".into(),
                ));
            }
            _ => {
                return Err(self.err(
                    p.span(),
                    "on",
                    "say where the phone is: on = \"SERVER\", or registered = false".into(),
                    "on = \"secondary\" checks it is registered there; registered = false that it is registered nowhere".into(),
                ));
            }
        };
        Ok(StateProbe::Phone {
            phone: phone.clone(),
            on,
            guest: r.guest,
        })
    }

    fn service_probe(&self, s: &Spanned<String>, on: String, state: String) -> Res<StateProbe> {
        let service = s.get_ref();
        let spec = self.fleet.server(&on).map(|x| &x.services);
        let runs: Vec<&str> = spec.into_iter().flatten().map(|x| x.as_str()).collect();
        if !runs.contains(&service.as_str()) {
            let msg = format!("{on} does not run {service:?}");
            return Err(self.err(
                s.span(),
                "service",
                msg,
                format!("{on} runs: {}", runs.join(", ")),
            ));
        }
        Ok(StateProbe::Service {
            service: service.clone(),
            on,
            state,
        })
    }

    fn hunt_group_probe(&self, g: &Spanned<String>, on: String, active: bool) -> Res<StateProbe> {
        let groups = &self.fleet.hunt_groups;
        if !groups.iter().any(|h| &h.name == g.get_ref()) {
            let all: Vec<&str> = groups.iter().map(|h| h.name.as_str()).collect();
            let hint = if all.is_empty() {
                "this fleet has no hunt groups".into()
            } else {
                format!("hunt groups: {}", all.join(", "))
            };
            let msg = format!("no hunt group {:?}", g.get_ref());
            return Err(self.err(g.span(), "hunt-group", msg, hint));
        }
        // As a service check on a server that does not run it: a hunt group
        // runs only where IP Office does, so this could never change.
        if self
            .fleet
            .server(&on)
            .is_some_and(|x| !x.role.runs_ip_office())
        {
            let telephony: Vec<&str> = (self.fleet.servers.iter())
                .filter(|x| x.role.runs_ip_office())
                .map(|x| x.name.as_str())
                .collect();
            return Err(self.err(
                g.span(),
                "on",
                format!("{on} runs no IP Office, so no hunt group ever runs there"),
                format!("hunt groups run on: {}", telephony.join(", ")),
            ));
        }
        Ok(StateProbe::HuntGroup {
            group: g.get_ref().clone(),
            on,
            active,
        })
    }

    fn server(&self, s: &Spanned<String>, sub: &str) -> Res<String> {
        if self.fleet.server(s.get_ref()).is_some() {
            return Ok(s.get_ref().clone());
        }
        let names: Vec<&str> = self.fleet.servers.iter().map(|x| x.name.as_str()).collect();
        let msg = format!("unknown server {:?}", s.get_ref());
        let near = crate::suggest::nearest(s.get_ref(), names.iter().copied())
            .map_or(String::new(), |n| format!("did you mean {n:?}? "));
        let hint = format!("{near}servers: {}", names.join(", "));
        Err(self.err(s.span(), sub, msg, hint))
    }

    fn required_server(
        &self,
        s: &Option<Spanned<String>>,
        span: Range<usize>,
        sub: &str,
    ) -> Res<String> {
        match s {
            Some(s) => self.server(s, sub),
            None => Err(self.err(
                span,
                sub,
                "say on which server".into(),
                "write on = \"secondary\"".into(),
            )),
        }
    }

    fn one_of(
        &self,
        s: &Option<Spanned<String>>,
        span: Range<usize>,
        allowed: &[&str],
    ) -> Res<String> {
        let hint = format!("write is = one of {}", allowed.join(", "));
        match s {
            Some(v) if allowed.contains(&v.get_ref().as_str()) => Ok(v.get_ref().clone()),
            Some(v) => Err(self.err(
                v.span(),
                "is",
                format!("unknown state {:?}", v.get_ref()),
                hint,
            )),
            None => Err(self.err(span, "is", "say which state: `is`".into(), hint)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_values_match_strings_only() {
        let v = FieldValue::Text("20*".into());
        assert!(v.matches(&toml::Value::String("2011".into())));
        assert!(!v.matches(&toml::Value::Integer(2011)));
    }
}
