//! The HTML report: one self-contained file (inline CSS and SVG, no network,
//! no script needed) with swimlanes per server, what runs where (voicemail,
//! portal, hunt groups, licences, split-brain windows), phones registered
//! per server over time, fault windows shaded, the explained event list,
//! metrics and the verdict.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fleetsim_model::{Event, FaultKind, human_ms};
use fleetsim_scenario::{Mode, RunOutcome};

use crate::text::{Paint, clock, timeline};

/// Escapes text for HTML attributes and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

const W: f64 = 1040.0;
const LEFT: f64 = 130.0;
const LANE: f64 = 30.0;
const COLORS: [&str; 8] = [
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d",
];

/// A window of one state on one lane.
struct Span {
    from: u64,
    to: u64,
    class: &'static str,
    label: String,
}

fn x(t: u64, end: u64) -> f64 {
    LEFT + (W - LEFT - 10.0) * (t as f64 / end.max(1) as f64)
}

/// Server states over time, from the events: up, down, and covering a home.
fn lanes(o: &RunOutcome, end: u64) -> BTreeMap<String, Vec<Span>> {
    let mut lanes: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    let mut up_since: BTreeMap<String, u64> = BTreeMap::new();
    let mut down_since: BTreeMap<String, u64> = BTreeMap::new();
    let mut covering: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut failing_back: std::collections::BTreeSet<(String, String)> = Default::default();
    // Covering ended after a failback: a guest back in the
    // homeless-prevention window starts it again.
    let mut failed_back: std::collections::BTreeSet<(String, String)> = Default::default();
    let mut guests = fleetsim_scenario::findings::Whereabouts::default();
    let mut hangs = Hangs::default();
    for e in &o.events {
        if let Event::FaultApplied {
            spec: fleetsim_model::FaultKind::Hang { server, on },
            ..
        } = &e.event
        {
            hangs.apply((server, *on, e.t_ms), &mut up_since, &mut lanes);
        }
        match &e.event {
            Event::ServerStarted { .. } => {
                if let Some(d) = down_since.remove(&e.server) {
                    lanes.entry(e.server.clone()).or_default().push(Span {
                        from: d,
                        to: e.t_ms,
                        class: "down",
                        label: "down".into(),
                    });
                }
                up_since.insert(e.server.clone(), e.t_ms);
            }
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                hangs.end_with_process(&e.server, e.t_ms, &mut lanes);
                if let Some(u) = up_since.remove(&e.server) {
                    lanes.entry(e.server.clone()).or_default().push(Span {
                        from: u,
                        to: e.t_ms,
                        class: "up",
                        label: "serving".into(),
                    });
                }
                // A server that is down covers nobody: its guests are gone.
                failed_back.retain(|(s, _)| *s != e.server);
                let ends: Vec<(String, String)> = (covering.keys())
                    .filter(|(s, _)| *s == e.server)
                    .cloned()
                    .collect();
                for key in ends {
                    let from = covering.remove(&key).unwrap_or(e.t_ms);
                    lanes.entry(e.server.clone()).or_default().push(Span {
                        from,
                        to: e.t_ms,
                        class: "cover",
                        label: format!("covering {}", key.1),
                    });
                }
                down_since.insert(e.server.clone(), e.t_ms);
            }
            Event::FailoverStarted { home, .. } => {
                // Still covering since an earlier failover (guests kept
                // through a failback): one span, no longer failing back.
                let key = (e.server.clone(), home.clone());
                failing_back.remove(&key);
                failed_back.remove(&key);
                covering.entry(key).or_insert(e.t_ms);
            }
            Event::PhoneRegistered {
                guest: true, home, ..
            } => {
                let key = (e.server.clone(), home.clone());
                if failed_back.remove(&key) {
                    covering.insert(key.clone(), e.t_ms);
                    failing_back.insert(key);
                }
            }
            Event::FailbackStarted { home, .. } => {
                failing_back.insert((e.server.clone(), home.clone()));
            }
            _ => {}
        }
        guests.follow(e);
        // Covering ends once failback has begun and its last guest has left
        // (a busy phone, or one that came back in the homeless-prevention
        // window, keeps it covering).
        let done: Vec<(String, String)> = (failing_back.iter())
            .filter(|(server, home)| !guests.holds_guest_of(server, home))
            .cloned()
            .collect();
        for key in done {
            failing_back.remove(&key);
            failed_back.insert(key.clone());
            if let Some(f) = covering.remove(&key) {
                lanes.entry(key.0.clone()).or_default().push(Span {
                    from: f,
                    to: e.t_ms,
                    class: "cover",
                    label: format!("covering {}", key.1),
                });
            }
        }
    }
    for (s, u) in up_since {
        lanes.entry(s).or_default().push(Span {
            from: u,
            to: end,
            class: "up",
            label: "serving".into(),
        });
    }
    for (s, h) in hangs.since {
        lanes.entry(s).or_default().push(hung(h, end));
    }
    for (s, d) in down_since {
        lanes.entry(s).or_default().push(Span {
            from: d,
            to: end,
            class: "down",
            label: "down".into(),
        });
    }
    for ((s, home), f) in covering {
        lanes.entry(s).or_default().push(Span {
            from: f,
            to: end,
            class: "cover",
            label: format!("covering {home}"),
        });
    }
    lanes
}

/// What runs where over time: one lane per service (voicemail, portal, hunt
/// group) and server it was active on, then one licence lane per server
/// that renews licences.
fn service_lanes(o: &RunOutcome, end: u64) -> Vec<((String, String), Vec<Span>)> {
    let mut active: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut spans: BTreeMap<(String, String), Vec<Span>> = BTreeMap::new();
    let mut licence: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut lic_spans: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    let close = |spans: &mut BTreeMap<(String, String), Vec<Span>>,
                 key: (String, String),
                 from: u64,
                 to: u64| {
        spans.entry(key.clone()).or_default().push(Span {
            from,
            to,
            class: "svc",
            label: format!("{} active on {}", key.0, key.1),
        });
    };
    let close_lic = |lic_spans: &mut BTreeMap<String, Vec<Span>>,
                     server: &str,
                     state: String,
                     from: u64,
                     to: u64| {
        // A state that gave way at once (a restart straight into grace)
        // held for no time: no lane for it.
        if to <= from {
            return;
        }
        let class = match state.as_str() {
            "grace" => "grace",
            "restricted" => "restricted",
            _ => "normal",
        };
        lic_spans.entry(server.to_string()).or_default().push(Span {
            from,
            to,
            class,
            label: format!("licence {state}"),
        });
    };
    for e in &o.events {
        let t = e.t_ms;
        let change: Option<(String, bool)> = match &e.event {
            Event::HuntGroupState {
                group, active: a, ..
            } => Some((format!("hunt-group {group}"), *a)),
            Event::ServiceState { service, state, .. }
                if service == "voicemail-pro" || service == "one-x-portal" =>
            {
                Some((service.clone(), state == "active"))
            }
            _ => None,
        };
        if let Some((res, on)) = change {
            let key = (res, e.server.clone());
            match (on, active.get(&key)) {
                (true, None) => {
                    active.insert(key, t);
                }
                (false, Some(&from)) => {
                    active.remove(&key);
                    close(&mut spans, key, from, t);
                }
                _ => {}
            }
        }
        match &e.event {
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                let ended: Vec<(String, String)> =
                    active.keys().filter(|k| k.1 == e.server).cloned().collect();
                for key in ended {
                    if let Some(from) = active.remove(&key) {
                        close(&mut spans, key, from, t);
                    }
                }
                if let Some((state, from)) = licence.remove(&e.server) {
                    close_lic(&mut lic_spans, &e.server, state, from, t);
                }
            }
            Event::ServerStarted { .. } => {
                let renews = o
                    .spec
                    .fleet
                    .server(&e.server)
                    .is_some_and(|s| !s.runs(fleetsim_model::Service::Licensing));
                if renews {
                    licence.insert(e.server.clone(), ("normal".into(), t));
                }
            }
            Event::LicenceState { state, .. } => {
                if let Some((old, from)) = licence.insert(e.server.clone(), (state.clone(), t)) {
                    close_lic(&mut lic_spans, &e.server, old, from, t);
                }
            }
            _ => {}
        }
    }
    for (key, from) in active {
        close(&mut spans, key, from, end);
    }
    for (server, (state, from)) in licence {
        close_lic(&mut lic_spans, &server, state, from, end);
    }
    let mut out: Vec<((String, String), Vec<Span>)> = spans.into_iter().collect();
    out.extend(
        lic_spans
            .into_iter()
            .map(|(server, v)| (("licence".to_string(), server), v)),
    );
    out
}

/// Fault windows, from the faults as they were applied: each lasts until
/// the fault that ends it (its undo, a heal, a newer fault on the same
/// target that replaces it) or the end of the run.
fn windows(o: &RunOutcome, end: u64) -> Vec<(u64, u64, String)> {
    let mut out: Vec<(u64, u64, String)> = Vec::new();
    let mut in_force: Vec<(usize, FaultKind)> = Vec::new();
    for e in &o.events {
        let Event::FaultApplied { spec, .. } = &e.event else {
            continue;
        };
        for i in fleetsim_model::fault::note_applied(&mut in_force, out.len(), spec) {
            out[i].1 = e.t_ms.max(out[i].0 + 1);
        }
        if spec.slot().is_some() && !spec.ends_a_fault() {
            out.push((e.t_ms, end, spec.describe()));
        }
    }
    out
}

/// Hangs in force per server (they may overlap), and since when each
/// server has been hung.
#[derive(Default)]
struct Hangs {
    depth: BTreeMap<String, u32>,
    since: BTreeMap<String, u64>,
}

impl Hangs {
    /// `server`'s process ended at `t`: so do its hangs.
    fn end_with_process(&mut self, server: &str, t: u64, lanes: &mut BTreeMap<String, Vec<Span>>) {
        self.depth.remove(server);
        if let Some(h) = self.since.remove(server) {
            lanes
                .entry(server.to_string())
                .or_default()
                .push(hung(h, t));
        }
    }

    /// A hang of `server` begins (`on`) or ends at `t`: the first of
    /// overlapping hangs ends its serving span and starts a hung one, the
    /// last to end starts serving again. A hang of a server that is down
    /// changes nothing.
    fn apply(
        &mut self,
        (server, on, t): (&str, bool, u64),
        up_since: &mut BTreeMap<String, u64>,
        lanes: &mut BTreeMap<String, Vec<Span>>,
    ) {
        let depth = self.depth.entry(server.to_string()).or_default();
        let span = if on {
            *depth += 1;
            if *depth > 1 {
                return;
            }
            let Some(u) = up_since.remove(server) else {
                return;
            };
            self.since.insert(server.to_string(), t);
            Span {
                from: u,
                to: t,
                class: "up",
                label: "serving".into(),
            }
        } else {
            *depth = depth.saturating_sub(1);
            if *depth > 0 {
                return;
            }
            let Some(h) = self.since.remove(server) else {
                return;
            };
            up_since.insert(server.to_string(), t);
            hung(h, t)
        };
        lanes.entry(server.to_string()).or_default().push(span);
    }
}

/// A hung span of a server's lane.
fn hung(from: u64, to: u64) -> Span {
    Span {
        from,
        to,
        class: "hung",
        label: "hung: alive, answering nothing".into(),
    }
}

/// Phones registered per server, as step series of (t, count).
fn registered(o: &RunOutcome) -> BTreeMap<String, Vec<(u64, u32)>> {
    let mut on: BTreeMap<String, String> = BTreeMap::new();
    let mut series: BTreeMap<String, Vec<(u64, u32)>> = BTreeMap::new();
    for s in &o.spec.fleet.servers {
        if s.role.runs_ip_office() {
            series.insert(s.name.clone(), vec![(0, 0)]);
        }
    }
    for e in &o.events {
        let touched: Vec<String> = match &e.event {
            Event::PhoneRegistered { phone, .. } => {
                let old = on.insert(phone.clone(), e.server.clone());
                old.into_iter()
                    .chain(std::iter::once(e.server.clone()))
                    .collect()
            }
            // Only where it is: a late REGISTER withdrawn elsewhere, or a
            // hung server that resumes and expires phones long gone to
            // their backup, takes nothing from where the phone is now.
            Event::PhoneLost { phone, .. }
            | Event::PhoneSentHome { phone, .. }
            | Event::RegistrationExpired { phone, .. }
            | Event::RegistrationEnded { phone, .. }
            | Event::PhoneUnregistered { phone, .. }
                if on.get(phone) == Some(&e.server) =>
            {
                on.remove(phone).into_iter().collect()
            }
            Event::PhoneLost { .. }
            | Event::PhoneSentHome { .. }
            | Event::RegistrationExpired { .. }
            | Event::RegistrationEnded { .. }
            | Event::PhoneUnregistered { .. } => continue,
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                on.retain(|_, s| *s != e.server);
                vec![e.server.clone()]
            }
            _ => continue,
        };
        for s in touched {
            let n = on.values().filter(|v| **v == s).count() as u32;
            series.entry(s).or_default().push((e.t_ms, n));
        }
    }
    series
}

/// The top of a count axis holding `most` and its tick step: whole
/// numbers of 1, 2 or 5 times a power of ten, at most five steps.
fn axis_ticks(most: u32) -> (u32, u32) {
    let most = most.max(1);
    let step = [1u32, 2, 5]
        .into_iter()
        .cycle()
        .scan(1u32, |scale, m| {
            let s = m.saturating_mul(*scale);
            if m == 5 {
                *scale = scale.saturating_mul(10);
            }
            Some(s)
        })
        .find(|s| most.div_ceil(*s) <= 5)
        .unwrap_or(most);
    (most.div_ceil(step).saturating_mul(step), step)
}

fn axis(svg: &mut String, end: u64, y: f64) {
    let step = [
        60_000u64, 300_000, 600_000, 1_800_000, 3_600_000, 21_600_000, 86_400_000,
    ]
    .into_iter()
    .find(|s| end / s <= 12)
    .unwrap_or(86_400_000 * 7);
    let mut t = 0;
    while t <= end {
        let px = x(t, end);
        let label = if t == 0 { "0".to_string() } else { human_ms(t) };
        let anchor = if t == 0 {
            "start"
        } else if px > W - 40.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<line x1="{px:.1}" y1="0" x2="{px:.1}" y2="{y:.1}" class="grid"/><text x="{px:.1}" y="{:.1}" class="tick" text-anchor="{anchor}">{label}</text>"#,
            y + 14.0
        );
        t += step;
    }
}

/// The section naming the emulator's own failure, each panic kept.
fn emulator_error(h: &mut String, err: &fleetsim_scenario::RunFailure) {
    let _ = write!(
        h,
        r#"<section><h2>Emulator error</h2><table class="expect"><tr><td><span class="badge fail">ERROR</span></td><td><b>{}</b>"#,
        escape(&err.message)
    );
    for p in err.panics.iter().filter(|_| err.panic_count > 1) {
        let _ = write!(
            h,
            r#"<br><span class="detail">{}</span>"#,
            escape(&p.to_string())
        );
    }
    let _ = write!(h, "</td></tr></table></section>");
}

/// The whole report as one HTML document.
pub fn render(o: &RunOutcome) -> String {
    let end = o.duration_ms.max(1);
    let passed = o.passed();
    let mut h = String::new();
    let title = escape(&o.scenario);
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>fleetsim · {title}</title><style>{CSS}</style></head><body><main>"#
    );
    let mode = match o.mode {
        Mode::Sim => "sim",
        Mode::Live => "live",
    };
    let verdict = if o.error.is_some() {
        r#"<span class="badge fail">ERROR</span>"#
    } else if passed && o.expectations.is_empty() {
        // Nothing failed because nothing was checked: no green badge.
        r#"<span class="badge none">NOTHING CHECKED</span>"#
    } else if passed {
        r#"<span class="badge pass">PASSED</span>"#
    } else {
        r#"<span class="badge fail">FAILED</span>"#
    };
    let _ = write!(
        h,
        r#"<header><h1>{title} {verdict}</h1><p class="desc">{}</p><p class="meta">seed {}{} · {mode} mode · {} emulated in {:.2} s wall · fleet {} ({} servers, {} phones)</p></header>"#,
        escape(&o.spec.description),
        o.seed,
        escape(&o.policy_words(" · ")),
        human_ms(o.duration_ms),
        o.wall_ms / 1000.0,
        escape(&o.spec.fleet.name),
        o.spec.fleet.servers.len(),
        o.spec.fleet.phones.len()
    );

    // Metrics cards.
    let m = &o.metrics;
    let opt = |v: Option<u64>| v.map_or("—".to_string(), human_ms);
    let _ = write!(h, r#"<section class="cards">"#);
    // As the text report: detection and takeover only when a fault made a
    // server someone's subject, "—" when no phone had an outage.
    let mut cards = Vec::new();
    if let Some(s) = m.subject.as_deref() {
        cards.push((
            "detection",
            opt(m.detection_ms),
            format!("fault on {s} → its backup declares it lost"),
        ));
        cards.push((
            "takeover",
            if m.takeover_incomplete() {
                "incomplete".to_string()
            } else {
                opt(m.takeover_ms)
            },
            if m.takeover_incomplete() {
                format!(
                    "fault → every IP phone of {s} on its backup: {} moved, not all",
                    fleetsim_model::words::counted(m.phones_moved as usize, "phone", "phones")
                )
            } else {
                format!("fault → every IP phone of {s} on its backup")
            },
        ));
    }
    cards.push(if m.phones_with_outage == 0 {
        (
            "longest phone outage",
            "—".to_string(),
            "no phone had one".to_string(),
        )
    } else {
        (
            "longest phone outage",
            human_ms(m.max_phone_outage_ms),
            format!(
                "each phone's outages added up · p99 {} · p50 {}",
                human_ms(m.p99_phone_outage_ms),
                human_ms(m.p50_phone_outage_ms)
            ),
        )
    });
    cards.push((
        "phones moved",
        m.phones_moved.to_string(),
        format!(
            "{} failed back · {} unregistered {}",
            m.phones_failed_back,
            m.phones_unregistered_at_end,
            o.at_the_end()
        ),
    ));
    for (label, value, hint) in cards {
        let _ = write!(
            h,
            r#"<div class="card"><div class="label">{label}</div><div class="value">{}</div><div class="hint">{}</div></div>"#,
            escape(&value),
            escape(&hint)
        );
    }
    let _ = write!(h, "</section>");
    if m.calls_started > 0
        || m.calls_refused > 0
        || m.messages_left > 0
        || !m.split_brain.is_empty()
    {
        let _ = write!(h, r#"<section class="cards">"#);
        for (label, value, hint) in [
            (
                "calls dropped",
                m.calls_dropped.to_string(),
                format!(
                    "of {} set up{} · {} preserved ({} ended by the preservation limit) · {} refused before set-up",
                    m.calls_started,
                    fleetsim_scenario::findings::not_completed(m.calls_started, m.calls_failed),
                    m.calls_preserved,
                    m.calls_preservation_expired,
                    m.calls_refused
                ),
            ),
            (
                "voicemail lost",
                if m.unaudited {
                    "not audited".to_string()
                } else {
                    m.messages_lost.to_string()
                },
                format!(
                    "of {} left · {} cut while being left",
                    fleetsim_model::words::counted(m.messages_left as usize, "message", "messages"),
                    m.messages_cut
                ),
            ),
            (
                "recordings lost",
                if m.unaudited {
                    "not audited".to_string()
                } else {
                    m.recordings_lost.to_string()
                },
                format!(
                    "end-of-run audit · {} cut or never started",
                    m.recordings_cut
                ),
            ),
            (
                "split-brain findings",
                m.split_brain.len().to_string(),
                "active on two servers at once".to_string(),
            ),
        ] {
            let _ = write!(
                h,
                r#"<div class="card"><div class="label">{label}</div><div class="value">{}</div><div class="hint">{}</div></div>"#,
                escape(&value),
                escape(&hint)
            );
        }
        let _ = write!(h, "</section>");
    }

    if let Some(err) = &o.error {
        emulator_error(&mut h, err);
    }

    // Expectations.
    let _ = write!(h, r#"<section><h2>Expectations</h2><table class="expect">"#);
    for e in &o.expectations {
        let (c, t) = if e.passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = write!(
            h,
            r#"<tr class="{c}ed"><td><span class="badge {c}">{t}</span></td><td><b>{}</b><br><span class="detail">{}</span></td></tr>"#,
            escape(&e.name),
            escape(&e.detail)
        );
    }
    if o.expectations.is_empty() {
        let _ = write!(h, "<tr><td>{}</td></tr>", crate::NOTHING_CHECKED);
    }
    let _ = write!(h, "</table></section>");

    // Swimlanes.
    let servers: Vec<&fleetsim_model::ServerSpec> = o.spec.fleet.servers.iter().collect();
    let lane_map = lanes(o, end);
    let wins = windows(o, end);
    let height = LANE * servers.len() as f64 + 10.0;
    let _ = write!(
        h,
        r#"<section><h2>Servers over time</h2><svg class="chart" viewBox="0 0 {W} {:.0}" role="img" aria-label="server swimlanes">"#,
        height + 24.0
    );
    for (from, to, label) in &wins {
        let (a, b) = (x(*from, end), x(*to, end));
        let _ = write!(
            h,
            r#"<rect x="{a:.1}" y="0" width="{:.1}" height="{height:.1}" class="fault"><title>{}</title></rect>"#,
            (b - a).max(2.0),
            escape(label)
        );
    }
    axis(&mut h, end, height);
    for (i, s) in servers.iter().enumerate() {
        let y = LANE * i as f64 + 4.0;
        let _ = write!(
            h,
            r#"<text x="4" y="{:.1}" class="lane">{}</text><text x="4" y="{:.1}" class="role">{}</text>"#,
            y + 12.0,
            escape(&s.name),
            y + 24.0,
            s.role
        );
        for sp in lane_map.get(&s.name).into_iter().flatten() {
            let (a, b) = (x(sp.from, end), x(sp.to, end));
            let (yy, hh) = if sp.class == "cover" {
                (y + 17.0, 7.0)
            } else {
                (y + 4.0, 12.0)
            };
            let _ = write!(
                h,
                r#"<rect x="{a:.1}" y="{yy:.1}" width="{:.1}" height="{hh}" class="{}" rx="2"><title>{} · {}–{}</title></rect>"#,
                (b - a).max(1.0),
                sp.class,
                escape(&sp.label),
                clock(sp.from),
                clock(sp.to)
            );
        }
        for e in o.events.iter().filter(|e| e.server == s.name) {
            if let Event::PeerLost {
                peer, backing_up, ..
            } = &e.event
            {
                let px = x(e.t_ms, end);
                let class = if *backing_up { "lost backing" } else { "lost" };
                let _ = write!(
                    h,
                    r#"<circle cx="{px:.1}" cy="{:.1}" r="3" class="{class}"><title>{} lost {} at {}</title></circle>"#,
                    y + 10.0,
                    escape(&s.name),
                    escape(peer),
                    clock(e.t_ms)
                );
            }
        }
    }
    let _ = write!(h, "</svg>");
    let _ = write!(
        h,
        r#"<p class="legend"><span class="sw up"></span>serving <span class="sw down"></span>down <span class="sw hung"></span>hung (alive, answering nothing) <span class="sw cover"></span>covering a failed system (guests) <span class="sw lostdot"></span>this server declared a peer it backs up lost <span class="sw lostother"></span>declared a peer lost that it does not back up (takes nothing over) <span class="sw fault"></span>fault window</p></section>"#
    );

    // What runs where: services that move, hunt groups, licences, and the
    // split-brain windows across them.
    let svc = service_lanes(o, end);
    if !svc.is_empty() {
        let sh = LANE * svc.len() as f64 + 10.0;
        let _ = write!(
            h,
            r#"<section><h2>What runs where</h2><svg class="chart" viewBox="0 0 {W} {:.0}" role="img" aria-label="services, hunt groups and licences over time">"#,
            sh + 24.0
        );
        for (from, to, label) in &wins {
            let (a, b) = (x(*from, end), x(*to, end));
            let _ = write!(
                h,
                r#"<rect x="{a:.1}" y="0" width="{:.1}" height="{sh:.1}" class="fault"><title>{}</title></rect>"#,
                (b - a).max(2.0),
                escape(label)
            );
        }
        axis(&mut h, end, sh);
        for (i, ((resource, server), spans)) in svc.iter().enumerate() {
            let y = LANE * i as f64 + 4.0;
            let _ = write!(
                h,
                r#"<text x="4" y="{:.1}" class="lane small">{}</text><text x="4" y="{:.1}" class="role">on {}</text>"#,
                y + 12.0,
                escape(resource),
                y + 24.0,
                escape(server)
            );
            // The split-brain windows of this resource, behind its bars.
            for f in o
                .metrics
                .split_brain
                .iter()
                .filter(|f| f.resource == *resource && f.servers.iter().any(|s| s == server))
            {
                let (a, b) = (x(f.from_ms, end), x(f.to_ms, end));
                let _ = write!(
                    h,
                    r#"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="20" class="split"><title>split brain: {}</title></rect>"#,
                    y,
                    (b - a).max(2.0),
                    escape(&f.describe())
                );
            }
            for sp in spans {
                let (a, b) = (x(sp.from, end), x(sp.to, end));
                let _ = write!(
                    h,
                    r#"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="12" class="{}" rx="2"><title>{} · {}–{}</title></rect>"#,
                    y + 4.0,
                    (b - a).max(1.0),
                    sp.class,
                    escape(&sp.label),
                    clock(sp.from),
                    clock(sp.to)
                );
            }
        }
        let _ = write!(h, "</svg>");
        let _ = write!(
            h,
            r#"<p class="legend"><span class="sw svc"></span>active <span class="sw normal"></span>licence normal <span class="sw grace"></span>grace <span class="sw restricted"></span>restricted <span class="sw split"></span>split brain (active on two servers at once)</p><p class="legend">Voicemail, one-X Portal and hunt groups can move to a backup, so each server they ran on has a lane; licences are per server. Media Manager, Collaboration Server and licensing never move: they run on the primary and are down while it is (its swimlane above).</p>"#
        );
        for f in &o.metrics.split_brain {
            let _ = write!(
                h,
                r#"<p class="finding">split brain: {}</p>"#,
                escape(&f.describe())
            );
        }
        let _ = write!(h, "</section>");
    }

    // Phones registered per server.
    let series = registered(o);
    let most = series
        .values()
        .flat_map(|v| v.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(1);
    // The axis runs to a round number, ticked at whole phones.
    let (max, step) = axis_ticks(most);
    let ch = 200.0;
    let _ = write!(
        h,
        r#"<section><h2>Phones registered per server</h2><svg class="chart" viewBox="0 0 {W} {:.0}" role="img" aria-label="phones registered per server">"#,
        ch + 24.0
    );
    for (from, to, label) in &wins {
        let (a, b) = (x(*from, end), x(*to, end));
        let _ = write!(
            h,
            r#"<rect x="{a:.1}" y="0" width="{:.1}" height="{ch:.1}" class="fault"><title>{}</title></rect>"#,
            (b - a).max(2.0),
            escape(label)
        );
    }
    axis(&mut h, end, ch);
    for v in (0..=max).step_by(step as usize) {
        let y = ch - 4.0 - (ch - 12.0) * f64::from(v) / f64::from(max);
        let _ = write!(
            h,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{v}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let mut legend = String::new();
    for (i, (server, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let yv = |n: u32| ch - 4.0 - (ch - 12.0) * f64::from(n) / f64::from(max);
        let mut d = String::new();
        let mut last = 0;
        for (t, n) in pts {
            let px = x(*t, end);
            if d.is_empty() {
                let _ = write!(d, "M{px:.1},{:.1}", yv(*n));
            } else {
                let _ = write!(d, " H{px:.1} V{:.1}", yv(*n));
            }
            last = *n;
        }
        let _ = write!(d, " H{:.1}", x(end, end));
        let _ = write!(
            h,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"><title>{} ({} at the end)</title></path>"#,
            escape(server),
            last
        );
        let _ = write!(
            legend,
            r#"<span class="sw" style="background:{color}"></span>{} "#,
            escape(server)
        );
    }
    let _ = write!(h, r#"</svg><p class="legend">{legend}</p></section>"#);

    // The explained event list.
    let _ = write!(
        h,
        r#"<section><h2>What happened, and why</h2><table class="events"><thead><tr><th>emulated time</th><th>server</th><th>event</th></tr></thead><tbody>"#
    );
    for l in timeline(o, false, &Paint(false)) {
        let t = if l.first == l.last {
            clock(l.first)
        } else {
            format!("{}–{}", clock(l.first), clock(l.last))
        };
        let _ = write!(
            h,
            r#"<tr class="k-{}"><td class="t">{}</td><td class="s">{}</td><td>{}</td></tr>"#,
            l.kind,
            escape(&t),
            escape(&l.server),
            escape(&l.text)
        );
    }
    let _ = write!(h, "</tbody></table></section>");
    let again = match crate::reproduce(o) {
        Some(cmd) => format!("reproduce with <code>{}</code>", escape(&cmd)),
        None => format!("reproduce: {}", escape(&crate::again(o))),
    };
    let _ = write!(
        h,
        r#"<footer>fleetsim · {} events · {} · {again}</footer></main></body></html>"#,
        o.events.len(),
        crate::text::rpcs_words(o),
    );
    h.push('\n');
    h
}

const CSS: &str = r#"
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--up:#86efac;--down:#fca5a5;--cover:#2563eb;--fault:rgba(239,68,68,.10)}
*{box-sizing:border-box}body{margin:0;background:#f8fafc;color:var(--fg);font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px}header h1{margin:0 0 4px;font-size:24px}
.desc{margin:0 0 4px;color:var(--fg)}.meta{margin:0;color:var(--muted)}
h2{font-size:16px;margin:0 0 10px}section{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin-top:16px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;background:none;border:0;padding:0}
.card{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.card .value{font-size:26px;font-weight:650;margin:2px 0}.card .hint{color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:2px 8px;border-radius:999px;font-size:12px;font-weight:700;vertical-align:middle}.pass{background:#dcfce7;color:#166534}.fail{background:#fee2e2;color:#991b1b}.expect tr.failed td{background:#fef2f2}.expect tr.failed td:first-child{box-shadow:inset 4px 0 #dc2626}.expect tr.failed .detail{color:#991b1b}.badge.fail{background:#dc2626;color:#fff}.none{background:#e5e7eb;color:#374151}
table{border-collapse:collapse;width:100%}td,th{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.detail{color:var(--muted)}.events td.t{white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}.events td.s{white-space:nowrap}
.events tr.k-fault-applied td{background:#fef2f2;font-weight:600}.events tr.k-failover-started td,.events tr.k-failback-started td{background:#eff6ff;font-weight:600}
svg.chart{width:100%;height:auto;display:block}.grid{stroke:var(--line)}.tick{font-size:11px;fill:var(--muted)}
.lane{font-size:12px;font-weight:600;fill:var(--fg)}.role{font-size:10px;fill:var(--muted)}
rect.up{fill:var(--up)}rect.svc{fill:#60a5fa}rect.normal{fill:#bbf7d0}rect.grace{fill:#fcd34d}rect.restricted{fill:#f87171}rect.split{fill:rgba(220,38,38,.18);stroke:#dc2626;stroke-dasharray:4 3}.lane.small{font-size:11px}.finding{color:#b91c1c;margin:4px 0 0;font-weight:600}
.sw.svc{background:#60a5fa}.sw.normal{background:#bbf7d0}.sw.grace{background:#fcd34d}.sw.restricted{background:#f87171}.sw.split{background:rgba(220,38,38,.3)}rect.down{fill:var(--down)}rect.hung{fill:#a78bfa}.sw.hung{background:#a78bfa}rect.cover{fill:var(--cover)}rect.fault{fill:var(--fault)}
circle.lost{fill:#9ca3af}circle.backing{fill:#b91c1c}
.legend{color:var(--muted);font-size:12px;margin:8px 0 0}.sw{display:inline-block;width:12px;height:12px;border-radius:3px;margin:0 4px 0 12px;vertical-align:-2px}
.sw.up{background:var(--up)}.sw.down{background:var(--down)}.sw.cover{background:var(--cover)}.sw.fault{background:rgba(239,68,68,.25)}.sw.lostdot{background:#b91c1c;border-radius:50%}.sw.lostother{background:#9ca3af;border-radius:50%}
footer{color:var(--muted);margin:18px 0;font-size:12px}code{background:#f1f5f9;padding:1px 5px;border-radius:4px}
@media (max-width:800px){.cards{grid-template-columns:repeat(2,1fr)}}
"#;

#[cfg(test)]
mod tests {
    use super::{axis_ticks, escape};

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&apos;");
        assert_eq!(escape("x\u{1}y"), "x?y");
    }

    #[test]
    fn a_count_axis_is_ticked_at_whole_round_numbers() {
        assert_eq!(axis_ticks(1), (1, 1));
        assert_eq!(axis_ticks(5), (5, 1));
        assert_eq!(axis_ticks(6), (6, 2));
        assert_eq!(axis_ticks(22), (25, 5));
        assert_eq!(axis_ticks(3000), (3000, 1000));
        assert_eq!(axis_ticks(3001), (4000, 1000));
        assert!(axis_ticks(u32::MAX).1 > 0);
    }
}
