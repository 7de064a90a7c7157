//! Findings read from the event log: what was active on two servers at once
//! (split brain, docs/domain-coverage.md §6), the state of a service or a licence at a
//! moment, and the end-of-run loss audit.

use std::collections::{BTreeMap, BTreeSet};

use fleetsim_model::{Event, EventRecord, FaultKind, Fleet, LossAudit, human_ms};
use serde::Serialize;

/// Something active on two or more servers at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitBrain {
    /// What: `hunt-group sales`, `voicemail-pro`, `one-x-portal`.
    pub resource: String,
    /// The servers it was active on.
    pub servers: Vec<String>,
    /// When it started (emulated ms).
    pub from_ms: u64,
    /// When it ended (the end of the run if it never did).
    pub to_ms: u64,
    /// Those of `servers` hung when it began: frozen, they serve nothing,
    /// but still hold the resource as active and run it again as they
    /// resume.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hung: Vec<String>,
}

impl SplitBrain {
    /// One line for reports.
    pub fn describe(&self) -> String {
        let hung = match self.hung.as_slice() {
            [] => String::new(),
            h => format!(
                "; {} hung: frozen, it serves nothing now but still holds it as active, and runs it again as it resumes",
                h.join(" and ")
            ),
        };
        format!(
            "{} active on {} at once from {} to {} ({}){hung}",
            self.resource,
            self.servers.join(" and "),
            human_ms(self.from_ms),
            human_ms(self.to_ms),
            human_ms(self.to_ms.saturating_sub(self.from_ms))
        )
    }
}

/// Every split-brain finding of a run, in time order. Voicemail and one-X
/// count on the primary and its backup only: an application server's portal
/// serves on its own.
pub fn split_brain(fleet: &Fleet, events: &[EventRecord]) -> Vec<SplitBrain> {
    let pair = |backup: Option<&fleetsim_model::ServerSpec>| -> Vec<String> {
        let mut v = vec![fleet.primary().name.clone()];
        v.extend(backup.map(|b| b.name.clone()));
        v
    };
    let vm_pair = pair(fleet.voicemail_backup());
    let portal_pair = pair(fleet.portal_backup());
    // resource → servers it is active on now.
    let mut active: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // resource → open finding (servers, from).
    let mut open: BTreeMap<String, (BTreeSet<String>, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    let end = events.last().map_or(0, |e| e.t_ms);
    // Servers hung now, and the hung servers of each open finding.
    let mut hung_now: BTreeSet<String> = BTreeSet::new();
    let mut hung_at_open: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let mut touched: Vec<String> = Vec::new();
        match &e.event {
            Event::FaultApplied {
                spec: FaultKind::Hang { server, on },
                ..
            } => {
                if *on {
                    hung_now.insert(server.clone());
                } else {
                    hung_now.remove(server);
                }
            }
            Event::HuntGroupState {
                group, active: a, ..
            } => {
                let r = format!("hunt-group {group}");
                let set = active.entry(r.clone()).or_default();
                if *a {
                    set.insert(e.server.clone());
                } else {
                    set.remove(&e.server);
                }
                touched.push(r);
            }
            Event::ServiceState { service, state, .. }
                if (service == "voicemail-pro" && vm_pair.contains(&e.server))
                    || (service == "one-x-portal" && portal_pair.contains(&e.server)) =>
            {
                let set = active.entry(service.clone()).or_default();
                if state == "active" {
                    set.insert(e.server.clone());
                } else {
                    set.remove(&e.server);
                }
                touched.push(service.clone());
            }
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                for (r, set) in active.iter_mut() {
                    if set.remove(&e.server) {
                        touched.push(r.clone());
                    }
                }
            }
            _ => {}
        }
        for r in touched {
            let now: BTreeSet<String> = active.get(&r).cloned().unwrap_or_default();
            let was_open = open.contains_key(&r);
            if now.len() >= 2 && !was_open {
                let hung = now.intersection(&hung_now).cloned().collect();
                hung_at_open.insert(r.clone(), hung);
                open.insert(r, (now, e.t_ms));
            } else if now.len() >= 2 {
                if let Some(o) = open.get_mut(&r) {
                    o.0.extend(now);
                }
            } else if let Some((servers, from)) = open.remove(&r) {
                out.push(SplitBrain {
                    hung: hung_at_open.remove(&r).unwrap_or_default(),
                    resource: r,
                    servers: servers.into_iter().collect(),
                    from_ms: from,
                    to_ms: e.t_ms,
                });
            }
        }
    }
    for (r, (servers, from)) in open {
        out.push(SplitBrain {
            hung: hung_at_open.remove(&r).unwrap_or_default(),
            resource: r,
            servers: servers.into_iter().collect(),
            from_ms: from,
            to_ms: end,
        });
    }
    out.sort_by(|a, b| (a.from_ms, &a.resource).cmp(&(b.from_ms, &b.resource)));
    out
}

/// The state of `service` on `server` at `t_ms`: `active`, `standby` or `down`.
pub fn service_state_at(events: &[EventRecord], server: &str, service: &str, t_ms: u64) -> String {
    let mut t = crate::assertion::ServiceOn {
        service,
        on: server,
        want: "",
        now: "down".into(),
    };
    for e in events.iter().take_while(|e| e.t_ms <= t_ms) {
        t.step(e);
    }
    t.now
}

/// The licence state of `server` at `t_ms`: `normal`, `grace` or `restricted`.
pub fn licence_state_at(events: &[EventRecord], server: &str, t_ms: u64) -> String {
    let mut t = crate::assertion::LicenceOf {
        server,
        want: "",
        now: "normal".into(),
    };
    for e in events.iter().take_while(|e| e.t_ms <= t_ms) {
        t.step(e);
    }
    t.now
}

/// What happened to calls and to voicemail in progress over a run, counted
/// once from its events: the one count the metrics and the expectations
/// both read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Calls set up.
    pub calls_started: u32,
    /// Calls set up that the system then could not complete (a
    /// `call-failed` after their `call-started`: no trunk, no voicemail,
    /// hunt group unreachable), so never up.
    pub calls_failed: u32,
    /// Calls refused before they were set up (a `call-failed` with no
    /// `call-started`: the phone not registered or already in a call, its
    /// system refusing or not answering).
    pub calls_refused: u32,
    /// Calls dropped.
    pub calls_dropped: u32,
    /// Calls kept up by media connection preservation.
    pub calls_preserved: u32,
    /// Preserved calls the preservation limit ended.
    pub calls_preservation_expired: u32,
    /// Guests refused for capacity.
    pub capacity_refusals: u32,
    /// Messages a crash or stop of their voicemail cut before they were
    /// stored (a failback's timeout keeps what was said: not counted).
    pub messages_cut: u32,
    /// Recordings cut so, or that no voicemail took (never started).
    pub recordings_cut: u32,
}

/// Where each phone's registration is held, followed event by event:
/// phone → where it is held. A registration ends where it was held (an
/// unregister, an expiry, a loss, a phone sent home), when the phone
/// registers elsewhere, or with its server.
#[derive(Clone, Debug, Default)]
pub struct Whereabouts(BTreeMap<String, Held>);

/// Where one phone's registration is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The server holding it.
    pub server: String,
    /// The phone's home.
    pub home: String,
    /// Held as a guest.
    pub guest: bool,
}

impl Whereabouts {
    /// Where `events` leave every phone.
    pub fn of(events: &[EventRecord]) -> Whereabouts {
        let mut w = Whereabouts::default();
        for e in events {
            w.follow(e);
        }
        w
    }

    /// Follows one event.
    pub fn follow(&mut self, e: &EventRecord) {
        match &e.event {
            Event::PhoneRegistered { phone, home, guest } => {
                let held = Held {
                    server: e.server.clone(),
                    home: home.clone(),
                    guest: *guest,
                };
                self.0.insert(phone.clone(), held);
            }
            Event::PhoneUnregistered { phone, .. }
            | Event::RegistrationExpired { phone, .. }
            | Event::RegistrationEnded { phone, .. }
            | Event::PhoneLost { phone, .. }
            | Event::PhoneSentHome { phone, .. }
                if self.0.get(phone).is_some_and(|h| h.server == e.server) =>
            {
                self.0.remove(phone);
            }
            Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                self.0.retain(|_, h| h.server != e.server);
            }
            _ => {}
        }
    }

    /// Every phone held somewhere, in extension order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Held)> {
        self.0.iter()
    }

    /// Whether `server` holds a guest of `home`.
    pub fn holds_guest_of(&self, server: &str, home: &str) -> bool {
        self.0
            .values()
            .any(|h| h.guest && h.server == server && h.home == home)
    }
}

/// The [`Tally`] of `events`.
pub fn tally(events: &[EventRecord]) -> Tally {
    let mut t = Tally::default();
    let mut started = std::collections::BTreeSet::new();
    for e in events {
        match &e.event {
            Event::CallStarted { call, .. } => {
                t.calls_started += 1;
                started.insert(call.as_str());
            }
            Event::CallFailed { call, .. } if started.contains(call.as_str()) => {
                t.calls_failed += 1
            }
            Event::CallFailed { .. } => t.calls_refused += 1,
            Event::CallDropped { .. } => t.calls_dropped += 1,
            Event::CallPreserved { .. } => t.calls_preserved += 1,
            Event::CallPreservationExpired { .. } => t.calls_preservation_expired += 1,
            Event::CapacityExceeded { .. } => t.capacity_refusals += 1,
            Event::VoicemailCut {
                messages,
                recordings,
            } => {
                t.messages_cut += messages;
                t.recordings_cut += recordings;
            }
            Event::RecordingFailed { .. } => t.recordings_cut += 1,
            _ => {}
        }
    }
    t
}

/// The run's loss audit, from its `audit` event.
pub fn audit(events: &[EventRecord]) -> Option<LossAudit> {
    events.iter().rev().find_map(|e| e.event.loss_audit())
}

/// " (3 of them not completed by the system)": how many of the `started`
/// calls the system set up but could not complete, said after "N calls set
/// up" in every view; empty when none.
pub fn not_completed(started: u32, failed: u32) -> String {
    match failed {
        0 => String::new(),
        1 if started == 1 => " (not completed by the system)".into(),
        n if n == started => " (none of them completed by the system)".into(),
        n => format!(" ({n} of them not completed by the system)"),
    }
}
