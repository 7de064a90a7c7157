//! Assertions over the event log: matching events in a window (`never`,
//! `eventually`, `count`) and tracking a state through the run (`state`).
//! A failure names the first offending event, or what was seen instead.

use std::collections::BTreeMap;

use fleetsim_model::assertion::{EventMatch, StateProbe, Window};
use fleetsim_model::fault::glob;
use fleetsim_model::schema::as_table;
use fleetsim_model::words::counted;
use fleetsim_model::{Dur, Event, EventKind, EventRecord, format_millis};

/// Whether `e` is one of the events `m` names.
pub fn matches(m: &EventMatch, e: &EventRecord) -> bool {
    if EventKind::from(&e.event) != m.event {
        return false;
    }
    if m.server.as_ref().is_some_and(|p| !glob(p, &e.server)) {
        return false;
    }
    if m.fields.is_empty() {
        return true;
    }
    let t = as_table(&e.event);
    m.fields.iter().all(|(k, v)| match t.get(k) {
        Some(x) => v.matches(x),
        // The one field a log leaves out: `already_here` of
        // failover-started, a count of 0.
        None => k == "already_here" && v.matches(&toml::Value::Integer(0)),
    })
}

/// One event in words: `8m12s secondary failover-started (home = "primary", trigger = "2011")`.
pub fn describe(e: &EventRecord) -> String {
    let fields: Vec<String> = as_table(&e.event)
        .into_iter()
        .filter(|(k, v)| k != "event" && !v.is_table())
        .map(|(k, v)| format!("{} = {v}", k.replace('_', "-")))
        .collect();
    // Exact: an event named beside a window's bounds must not round onto
    // (or across) them.
    let mut s = format!("{} {} {}", format_millis(e.t_ms), e.server, e.kind());
    if !fields.is_empty() {
        s.push_str(&format!(" ({})", fields.join(", ")));
    }
    s
}

fn in_window<'a>(
    m: &'a EventMatch,
    w: &'a Window,
    events: &'a [EventRecord],
) -> impl Iterator<Item = &'a EventRecord> {
    events
        .iter()
        .filter(move |e| w.contains(e.t_ms) && matches(m, e))
}

/// `never`: the first matching event in the window fails it.
pub fn never(m: &EventMatch, w: &Window, events: &[EventRecord]) -> (bool, String) {
    match in_window(m, w, events).next() {
        None => {
            let name: &str = m.event.into();
            let kind = events
                .iter()
                .filter(|e| EventKind::from(&e.event) == m.event)
                .count();
            (
                true,
                format!(
                    "none; {} in the whole run",
                    counted(kind, &format!("{name} event"), &format!("{name} events"))
                ),
            )
        }
        Some(e) => {
            let n = in_window(m, w, events).count();
            let more = if n > 1 {
                format!(" and {} more", n - 1)
            } else {
                String::new()
            };
            (
                false,
                format!("first offending event: {}{more}", describe(e)),
            )
        }
    }
}

/// `eventually`: at least one matching event in the window.
pub fn eventually(m: &EventMatch, w: &Window, events: &[EventRecord]) -> (bool, String) {
    match in_window(m, w, events).next() {
        Some(e) => (true, format!("first: {}", describe(e))),
        None => (false, format!("none {w}; {}", seen_instead(m, w, events))),
    }
}

/// `count`: the number of matching events in the window lies in `min..=max`.
pub fn count(
    m: &EventMatch,
    w: &Window,
    min: Option<u32>,
    max: Option<u32>,
    events: &[EventRecord],
) -> (bool, String) {
    let seen: Vec<&EventRecord> = in_window(m, w, events).collect();
    let n = seen.len() as u32;
    let ok = min.is_none_or(|a| n >= a) && max.is_none_or(|b| n <= b);
    let mut detail = format!("{n} {w}");
    if !ok {
        // The bound, which a named expectation's title does not show.
        let bound = fleetsim_model::assertion::bound(min, max);
        detail = format!("{detail}, expected {bound}");
    }
    if let (Some(first), Some(last)) = (seen.first(), seen.last()) {
        detail.push_str(&format!(
            ", first at {}, last at {}",
            format_millis(first.t_ms),
            format_millis(last.t_ms)
        ));
    }
    if n == 0 {
        detail.push_str(&format!("; {}", seen_instead(m, w, events)));
    }
    (ok, detail)
}

/// For a miss: the same events outside the window, or events of the same
/// kind in the window that differ in server or fields.
fn seen_instead(m: &EventMatch, w: &Window, events: &[EventRecord]) -> String {
    let outside: Vec<&EventRecord> = events.iter().filter(|e| matches(m, e)).collect();
    if let Some(first) = outside.first() {
        return format!(
            "seen instead outside the window: {}, the first {}",
            counted(outside.len(), "such event", "such events"),
            describe(first)
        );
    }
    let kind: Vec<&EventRecord> = events
        .iter()
        .filter(|e| w.contains(e.t_ms) && EventKind::from(&e.event) == m.event)
        .collect();
    let name: &str = m.event.into();
    // The nearest miss: one logged by the server asked for, if any.
    let on_server = kind
        .iter()
        .find(|e| m.server.as_ref().is_some_and(|p| glob(p, &e.server)));
    match on_server.or(kind.first()) {
        Some(first) => format!(
            "seen instead: {} {w} that differ{} in server or fields, e.g. {}",
            counted(
                kind.len(),
                &format!("{name} event"),
                &format!("{name} events")
            ),
            if kind.len() == 1 { "s" } else { "" },
            describe(first)
        ),
        None => format!("no {name} event at all {w}"),
    }
}

// ---------------------------------------------------------------------------
// States.

/// A state followed through the event log.
trait Tracker {
    /// Follows `e`; false when `e` cannot have changed the state (so its
    /// description need not be made again).
    fn apply(&mut self, e: &EventRecord) -> bool;
    fn holds(&self) -> bool;
    fn describe(&self) -> String;
}

/// `state`: the probe holds at `from` and after every change up to `to`.
pub fn state(
    probe: &StateProbe,
    w: &Window,
    events: &[EventRecord],
    cache: &StateCache,
) -> (bool, String) {
    if let StateProbe::CallsUp { on, min, max } = probe {
        let series = cache.calls_up(on.as_deref(), events);
        return calls_up_state(&series, on.as_deref(), (*min, *max), w);
    }
    let Some(mut t) = tracker(probe) else {
        return (false, "no tracker for this state".into());
    };
    let from = w.from.at.as_millis();
    let to = w.to.at.as_millis();
    let mut i = 0;
    while i < events.len() && events[i].t_ms <= from {
        t.apply(&events[i]);
        i += 1;
    }
    if !t.holds() {
        return (false, format!("at {}: {}", w.from, t.describe()));
    }
    let mut changes = 0;
    // Instants at which it broke and was back by the instant's end (a
    // phone's reboot re-registers at once): held, but said.
    let mut blips: Vec<u64> = Vec::new();
    // Described again only after an event that may have changed it: a
    // thousand assertions over a long run described it at every instant.
    let mut shown = t.describe();
    while i < events.len() && events[i].t_ms <= to {
        let now = events[i].t_ms;
        let mut touched = false;
        let mut broke = false;
        while i < events.len() && events[i].t_ms == now {
            let changed = t.apply(&events[i]);
            broke |= changed && !t.holds();
            touched |= changed;
            i += 1;
        }
        if !touched {
            continue;
        }
        if !t.holds() {
            return (
                false,
                format!("at {}: {}", format_millis(now), t.describe()),
            );
        }
        if broke {
            blips.push(now);
        }
        let described = t.describe();
        if described != shown {
            changes += 1;
            shown = described;
        }
    }
    let detail = if w.is_moment() {
        format!("at {}: {}", w.from, t.describe())
    } else {
        format!(
            "held {w} ({} inside, now {}){}",
            counted(changes, "change", "changes"),
            t.describe(),
            blipped(&blips)
        )
    };
    (true, detail)
}

/// What a held state says of the instants at which it broke and came back.
fn blipped(blips: &[u64]) -> String {
    let Some(first) = blips.first() else {
        return String::new();
    };
    format!(
        "; it broke and was back within one instant {} (first at {}: states are compared at the end of each instant)",
        counted(blips.len(), "time", "times"),
        format_millis(*first)
    )
}

fn tracker(p: &StateProbe) -> Option<Box<dyn Tracker + '_>> {
    Some(match p {
        StateProbe::Phone { phone, on, guest } => Box::new(PhoneAt {
            phone,
            on: on.as_deref(),
            guest: *guest,
            held: BTreeMap::new(),
        }),
        StateProbe::Service { service, on, state } => Box::new(ServiceOn {
            service,
            on,
            want: state,
            now: ServiceOn::DOWN.into(),
        }),
        StateProbe::Licence { server, state } => Box::new(LicenceOf {
            server,
            want: state,
            now: "normal".into(),
        }),
        StateProbe::HuntGroup { group, on, active } => Box::new(GroupOn {
            group,
            on,
            want: *active,
            now: false,
        }),
        // Judged from the run's series (see `StateCache`).
        StateProbe::CallsUp { .. } => return None,
    })
}

/// Which servers hold a phone's registration, and whether as a guest.
struct PhoneAt<'a> {
    phone: &'a str,
    on: Option<&'a str>,
    guest: Option<bool>,
    held: BTreeMap<String, bool>,
}

impl Tracker for PhoneAt<'_> {
    fn apply(&mut self, e: &EventRecord) -> bool {
        match &e.event {
            Event::PhoneRegistered { phone, guest, .. } if phone == self.phone => {
                self.held.insert(e.server.clone(), *guest);
            }
            Event::PhoneUnregistered { phone, .. }
            | Event::RegistrationExpired { phone, .. }
            | Event::RegistrationEnded { phone, .. }
            | Event::PhoneSentHome { phone, .. }
                if phone == self.phone =>
            {
                self.held.remove(&e.server);
            }
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                self.held.remove(&e.server);
            }
            _ => return false,
        }
        true
    }

    fn holds(&self) -> bool {
        match self.on {
            None => self.held.is_empty(),
            Some(on) => self
                .held
                .get(on)
                .is_some_and(|g| self.guest.is_none_or(|want| *g == want)),
        }
    }

    fn describe(&self) -> String {
        if self.held.is_empty() {
            return format!("phone {} is registered nowhere", self.phone);
        }
        let on: Vec<String> = self
            .held
            .iter()
            .map(|(s, g)| format!("{s}{}", if *g { " (guest)" } else { "" }))
            .collect();
        format!("phone {} is registered on {}", self.phone, on.join(" and "))
    }
}

/// A service's state on one server.
pub(crate) struct ServiceOn<'a> {
    pub(crate) service: &'a str,
    pub(crate) on: &'a str,
    pub(crate) want: &'a str,
    pub(crate) now: String,
}

impl ServiceOn<'_> {
    const DOWN: &'static str = "down";

    /// The service's state after `e`.
    pub(crate) fn step(&mut self, e: &EventRecord) {
        if e.server != self.on {
            return;
        }
        match &e.event {
            Event::ServerStarted { .. } if self.service == "ip-office" => {
                self.now = "active".into()
            }
            Event::ServerStarted { .. }
            | Event::ServerCrashed { .. }
            | Event::ServerStopped { .. } => {
                self.now = Self::DOWN.into();
            }
            Event::ServiceState { service, state, .. } if service == self.service => {
                self.now = state.clone();
            }
            _ => {}
        }
    }
}

impl Tracker for ServiceOn<'_> {
    fn apply(&mut self, e: &EventRecord) -> bool {
        self.step(e);
        e.server == self.on
    }

    fn holds(&self) -> bool {
        self.now == self.want
    }

    fn describe(&self) -> String {
        format!("{} is {} on {}", self.service, self.now, self.on)
    }
}

/// A server's licence state.
pub(crate) struct LicenceOf<'a> {
    pub(crate) server: &'a str,
    pub(crate) want: &'a str,
    pub(crate) now: String,
}

impl LicenceOf<'_> {
    /// The licence state after `e`.
    pub(crate) fn step(&mut self, e: &EventRecord) {
        if e.server != self.server {
            return;
        }
        match &e.event {
            Event::ServerStarted { .. } => self.now = "normal".into(),
            // A server that is down runs under no licence: no state holds.
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                self.now = "down (no licence state)".into();
            }
            Event::LicenceState { state, .. } => self.now = state.clone(),
            _ => {}
        }
    }
}

impl Tracker for LicenceOf<'_> {
    fn apply(&mut self, e: &EventRecord) -> bool {
        self.step(e);
        e.server == self.server
    }

    fn holds(&self) -> bool {
        self.now == self.want
    }

    fn describe(&self) -> String {
        format!("{}'s licence is {}", self.server, self.now)
    }
}

/// Whether a hunt group runs on one server.
struct GroupOn<'a> {
    group: &'a str,
    on: &'a str,
    want: bool,
    now: bool,
}

impl Tracker for GroupOn<'_> {
    fn apply(&mut self, e: &EventRecord) -> bool {
        if e.server != self.on {
            return false;
        }
        match &e.event {
            Event::HuntGroupState { group, active, .. } if group == self.group => {
                self.now = *active
            }
            Event::ServerStarted { .. }
            | Event::ServerCrashed { .. }
            | Event::ServerStopped { .. } => {
                self.now = false;
            }
            _ => return false,
        }
        true
    }

    fn holds(&self) -> bool {
        self.now == self.want
    }

    fn describe(&self) -> String {
        let runs = if self.now { "runs" } else { "does not run" };
        format!("hunt group {} {runs} on {}", self.group, self.on)
    }
}

/// Calls up over the run, counted once for every `calls-up` check of
/// one `on`: (instant, calls up after it) at each instant a call started
/// or ended, so a thousand checks do not each replay every call.
#[derive(Default)]
pub struct StateCache {
    calls_up: std::cell::RefCell<BTreeMap<Option<String>, Series>>,
}

/// (instant, calls up after it), shared by the checks that read it.
type Series = std::rc::Rc<Vec<(u64, u32)>>;

impl StateCache {
    fn calls_up(&self, on: Option<&str>, events: &[EventRecord]) -> Series {
        let key = on.map(str::to_string);
        if let Some(s) = self.calls_up.borrow().get(&key) {
            return s.clone();
        }
        let series = std::rc::Rc::new(calls_up_series(on, events));
        self.calls_up.borrow_mut().insert(key, series.clone());
        series
    }
}

/// Calls up (set up on `on`, or anywhere) after each instant a call
/// started or ended.
/// The calls up on `server` after `events`, as they tell it.
pub(crate) fn calls_up_now(server: &str, events: &[EventRecord]) -> u32 {
    calls_up_series(Some(server), events)
        .last()
        .map_or(0, |(_, n)| *n)
}

fn calls_up_series(on: Option<&str>, events: &[EventRecord]) -> Vec<(u64, u32)> {
    // Each call up, and whether it counts (was set up on `on`).
    let mut up: BTreeMap<&str, bool> = BTreeMap::new();
    let mut here: u32 = 0;
    let mut out: Vec<(u64, u32)> = Vec::new();
    for e in events {
        let (was, now) = if let Event::CallStarted { call, .. } = &e.event {
            let counts = on.is_none_or(|on| on == e.server);
            (up.insert(call, counts), Some(counts))
        } else if let Some(call) = e.event.ended_call() {
            (up.remove(call), None)
        } else {
            continue;
        };
        here = here - u32::from(was == Some(true)) + u32::from(now == Some(true));
        match out.last_mut() {
            Some((t, n)) if *t == e.t_ms => *n = here,
            _ => out.push((e.t_ms, here)),
        }
    }
    out
}

/// A `calls-up` state over its window, from the run's series: as the
/// tracked states say it (the first instant it breaks, or how often it
/// changed inside and what it is at the end).
fn calls_up_state(
    series: &[(u64, u32)],
    on: Option<&str>,
    (min, max): (Option<u32>, Option<u32>),
    w: &Window,
) -> (bool, String) {
    let place = on.map_or("in the fleet".into(), |s| format!("on {s}"));
    let say = |n: u32| format!("{} up {place}", counted(n as usize, "call", "calls"));
    let holds = |n: u32| min.is_none_or(|a| n >= a) && max.is_none_or(|b| n <= b);
    let (from, to) = (w.from.at.as_millis(), w.to.at.as_millis());
    let start = series.partition_point(|(t, _)| *t <= from);
    let mut n = start.checked_sub(1).map_or(0, |i| series[i].1);
    if !holds(n) {
        return (false, format!("at {}: {}", w.from, say(n)));
    }
    let mut changes = 0;
    for &(t, now) in series[start..].iter().take_while(|(t, _)| *t <= to) {
        if !holds(now) {
            return (false, format!("at {}: {}", format_millis(t), say(now)));
        }
        changes += usize::from(now != n);
        n = now;
    }
    let detail = if w.is_moment() {
        format!("at {}: {}", w.from, say(n))
    } else {
        format!(
            "held {w} ({} inside, now {})",
            counted(changes, "change", "changes"),
            say(n)
        )
    };
    (true, detail)
}

/// The first fault that starts something too near the run's end for a
/// failover it caused to show, said as the reason the check proves nothing.
fn too_late(events: &[EventRecord], needs: Dur) -> Option<String> {
    let end = events.last().map_or(0, |e| e.t_ms);
    let late = events.iter().find(|e| match &e.event {
        Event::FaultApplied { spec, .. } => {
            !spec.is_operator_action() && !spec.ends_a_fault() && end - e.t_ms < needs.as_millis()
        }
        _ => false,
    })?;
    // A policy that never takes over (its wait outlasts any run): no run
    // is long enough, so say that instead of asking for a longer one.
    if needs.as_millis() > fleetsim_model::limits::MAX_DURATION.as_millis() {
        return Some(format!(
            "the takeover policy waits longer than any run can last ({}) before a failover, so no failover can show after {} and \"no failover\" proves nothing under it",
            fleetsim_model::limits::MAX_DURATION,
            describe(late)
        ));
    }
    Some(format!(
        "the run ends {} after {}, before a failover it caused could show ({needs}: the silence a failover waits for and the phones' recovery wait and deadline), so \"no failover\" proves nothing: make the fault earlier or the run longer",
        format_millis(end - late.t_ms),
        describe(late)
    ))
}

/// Events that show a fault did something: a server went down, a peer or a
/// phone lost its counterpart, a registration failed or a call was dropped.
/// Not a failed call or operator action (a busy phone, a call with no
/// trunk, an action refused fail without any fault), nor a phone lost to
/// an operator's reboot.
fn disturbs(e: &Event) -> bool {
    match e {
        Event::PhoneLost { reason, .. } => !reason.starts_with("rebooted"),
        _ => matches!(
            e,
            Event::ServerCrashed { .. }
                | Event::ServerStopped { .. }
                | Event::PeerLost { .. }
                | Event::RegistrationRefused { .. }
                | Event::RegistrationExpired { .. }
                | Event::RegistrationEnded { .. }
                | Event::CallDropped { .. }
        ),
    }
}

/// Whether `e` concerns server `of`: logged by it, or about it as a peer
/// or as a phone's home.
fn concerns(e: &EventRecord, of: &str) -> bool {
    e.server == of
        || match &e.event {
            Event::PeerLost { peer, .. } => peer == of,
            Event::RegistrationRefused { home, .. } => home == of,
            _ => false,
        }
}

/// The positive witness of a `no-failover` of `of`: the first event after
/// the first fault that shows the fault took effect (one concerning `of`
/// if there is one), or why there is none. A run that ends less than
/// `needs` (the silence a failover waits for, and the phones' time to
/// re-register) after any fault it starts could not have shown that
/// fault's failover, so it proves nothing either.
pub fn fault_witness(events: &[EventRecord], needs: Dur, of: &str) -> Result<String, String> {
    let Some(first) = events.iter().position(|e| match &e.event {
        Event::FaultApplied { spec, .. } => !spec.is_operator_action(),
        _ => false,
    }) else {
        return Err("no fault was applied, so \"no failover\" proves nothing: add the fault whose effect must not cause a failover".into());
    };
    if let Some(late) = too_late(events, needs) {
        return Err(late);
    }
    let fault = describe(&events[first]);
    let after = &events[first..];
    let near = after.iter().find(|e| disturbs(&e.event) && concerns(e, of));
    match near.or_else(|| after.iter().find(|e| disturbs(&e.event))) {
        Some(e) if concerns(e, of) => Ok(format!("the fault took effect: {}", describe(e))),
        Some(e) => Ok(format!(
            "the fault took effect elsewhere, touching nothing of {of} (this checks that {of} is left alone): {}",
            describe(e)
        )),
        None => Err(format!(
            "no fault took visible effect (no server went down, no peer or phone was lost, no registration failed, no call was dropped) after {fault}, so \"no failover\" proves nothing"
        )),
    }
}
