//! The terminal report: a timeline in emulated time where each line says what
//! happened and why, phone events grouped, then metrics and the verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use fleetsim_model::event::REGISTRATION_ENDED as ENDED;
use fleetsim_model::words::counted;
use fleetsim_model::{Event, EventRecord, FaultKind, Fleet, human_ms};
use fleetsim_scenario::{Mode, RunOutcome};

/// Rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// ANSI colours (for a terminal).
    pub color: bool,
    /// Show every phone event on its own line instead of grouping.
    pub verbose: bool,
}

/// ANSI colouring, or none.
pub struct Paint(pub bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Bold.
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Dimmed.
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    /// Red.
    pub fn red(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    /// Green.
    pub fn green(&self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    /// Yellow.
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn cyan(&self, s: &str) -> String {
        self.wrap("36", s)
    }
}

/// `h:mm:ss.mmm` (with days when needed).
pub fn clock(ms: u64) -> String {
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    if d > 0 {
        format!("{d}d+{h:02}:{m:02}:{s:02}.{milli:03}")
    } else {
        format!("{h}:{m:02}:{s:02}.{milli:03}")
    }
}

/// Compresses extension numbers into ranges: `2001–2004, 2007`.
pub fn ranges(exts: &[String]) -> String {
    let mut nums: Vec<(u64, &str)> = Vec::new();
    let mut other: Vec<&str> = Vec::new();
    for e in exts {
        match e.parse::<u64>() {
            Ok(n) => nums.push((n, e)),
            Err(_) => other.push(e),
        }
    }
    nums.sort_unstable();
    nums.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let mut j = i;
        while j + 1 < nums.len() && nums[j + 1].0 == nums[j].0 + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}–{}", nums[i].1, nums[j].1)
        } else {
            nums[i].1.to_string()
        });
        i = j + 1;
    }
    parts.extend(other.into_iter().map(str::to_string));
    parts.join(", ")
}

/// A run of similar phone events, printed as one line.
pub(crate) struct Group {
    key: (String, &'static str, String),
    first: u64,
    last: u64,
    phones: Vec<String>,
    /// Each event's note, its own phone's number said as "the phone" (a
    /// reason naming its phone is one reason for the group).
    notes: Vec<String>,
}

impl Group {
    fn new(key: (String, &'static str, String), t_ms: u64) -> Group {
        Group {
            key,
            first: t_ms,
            last: t_ms,
            phones: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds `phone`'s event at `t_ms`, with its note.
    /// Its phones, each once, in order.
    fn distinct(&self) -> Vec<String> {
        let mut d = self.phones.clone();
        d.sort();
        d.dedup();
        d
    }

    fn push(&mut self, t_ms: u64, phone: String, note: &str) {
        self.last = t_ms;
        self.notes.push(own_phone_said(note, &phone));
        self.phones.push(phone);
    }

    /// The group's note: one; or, when they differ only by a duration, the
    /// shortest … the longest ("last heard 1m2s … 2m54s ago"); else the
    /// first and the latest words that differ.
    fn notes(&self) -> String {
        let (Some(first), Some(last)) = (self.notes.first(), self.notes.last()) else {
            return String::new();
        };
        if self.notes.iter().all(|n| n == first) {
            return first.clone();
        }
        duration_span(&self.notes).unwrap_or_else(|| words_between(first, last))
    }
}

/// `note` with the word `phone` (the event's own extension) said as "the
/// phone".
fn own_phone_said(note: &str, phone: &str) -> String {
    note.split(' ')
        .map(|w| {
            let bare = w.trim_end_matches([',', ';', ':', ')', '.']);
            if bare == phone {
                format!("the phone{}", &w[bare.len()..])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Notes alike but for one word, a duration in each: said with the
/// shortest and the longest.
fn duration_span(notes: &[String]) -> Option<String> {
    let split: Vec<Vec<&str>> = notes.iter().map(|n| n.split(' ').collect()).collect();
    let len = split[0].len();
    if split.iter().any(|w| w.len() != len) {
        return None;
    }
    let differ: Vec<usize> = (0..len)
        .filter(|&i| split.iter().any(|w| w[i] != split[0][i]))
        .collect();
    let [i] = differ[..] else { return None };
    let ms: Vec<(u64, &str)> = split
        .iter()
        .map(|w| {
            let bare = w[i].trim_end_matches([',', ';', ':', ')', '.']);
            fleetsim_model::parse_duration(bare)
                .ok()
                .map(|d| (d.as_millis(), bare))
        })
        .collect::<Option<_>>()?;
    let tail = &split[0][i][ms[0].1.len()..];
    let (lo, hi) = (ms.iter().min()?, ms.iter().max()?);
    let mut words: Vec<String> = split[0].iter().map(|w| w.to_string()).collect();
    words[i] = format!("{} … {}{tail}", lo.1, hi.1);
    Some(words.join(" "))
}

/// The first and the latest note, by the words that differ, once: "a 1m …
/// 2m59s b".
fn words_between(first: &str, last: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (first.split(' ').collect(), last.split(' ').collect());
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let most = a.len().min(b.len()) - pre;
    let suf = (a.iter().rev().zip(b.iter().rev()))
        .take(most)
        .take_while(|(x, y)| x == y)
        .count();
    let words = |w: &[&str]| w.join(" ");
    let (mid_a, mid_b) = (words(&a[pre..a.len() - suf]), words(&b[pre..b.len() - suf]));
    if mid_a.is_empty() || mid_b.is_empty() {
        // One says more than the other: both, whole.
        return format!("{first} … {last}");
    }
    [
        words(&a[..pre]),
        format!("{mid_a} … {mid_b}"),
        words(&a[a.len() - suf..]),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

/// Registrations their phone withdrew, having given up waiting for the
/// answer (its next event on that server is its unregister, with no reboot
/// between), and those unregisters: by index in `events`.
fn withdrawn(events: &[EventRecord]) -> BTreeSet<usize> {
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        let at = e.server.as_str();
        match &e.event {
            Event::PhoneRegistered { phone, .. } => {
                open.insert((phone, at), i);
            }
            Event::PhoneUnregistered { phone, .. } => {
                if let Some(r) = open.remove(&(phone.as_str(), at)) {
                    out.extend([r, i]);
                }
            }
            Event::FaultApplied {
                spec: FaultKind::RebootPhone { phone },
                ..
            } => open.retain(|(p, _), _| p != phone),
            Event::PhoneLost { phone, .. }
            | Event::CallStarted { phone, .. }
            | Event::RegistrationExpired { phone, .. }
            | Event::PhoneSentHome { phone, .. } => {
                open.remove(&(phone.as_str(), at));
            }
            _ => {}
        }
    }
    out
}

/// The IP DECT handsets of `fleet` (none when it is not known).
fn dect_handsets(fleet: Option<&Fleet>) -> BTreeSet<&str> {
    (fleet.iter().flat_map(|f| &f.phones))
        .filter(|p| p.kind == fleetsim_model::PhoneKind::Dect)
        .map(|p| p.extension.as_str())
        .collect()
}

/// A registration or unregister of [`withdrawn`]'s: its own group.
fn late_key(sub: String) -> String {
    match sub.as_str() {
        "home" => "home-late".into(),
        "unregistered" => "withdrawn".into(),
        _ => match sub.strip_prefix("guest:") {
            Some(home) => format!("guest-late:{home}"),
            None => sub,
        },
    }
}

fn phone_key(e: &EventRecord) -> Option<(String, String, String)> {
    match &e.event {
        Event::PhoneRegistered { phone, home, guest } => Some((
            phone.clone(),
            if *guest {
                format!("guest:{home}")
            } else {
                "home".into()
            },
            String::new(),
        )),
        Event::RegistrationRefused {
            phone,
            home,
            reason,
        } => {
            // Refusals of one home group together; the first and latest reasons are shown.
            Some((phone.clone(), format!("refused:{home}"), reason.clone()))
        }
        // An operator rebooting a site's phones is one action, one line.
        Event::FaultApplied {
            spec: fleetsim_model::FaultKind::RebootPhone { phone },
            ..
        } => Some((phone.clone(), "rebooted".into(), String::new())),
        // An operator's reboot is not a failure: a line of its own.
        Event::PhoneLost { phone, reason } if reason.starts_with("rebooted") => {
            Some((phone.clone(), "left".into(), reason.clone()))
        }
        // A DECT base switching is no phone's own retry.
        Event::PhoneLost { phone, reason } if reason.starts_with("the base polled") => {
            let sub = if reason.ends_with("it switches to the backup") {
                "base-switched"
            } else {
                "base-stays"
            };
            Some((phone.clone(), sub.into(), reason.clone()))
        }
        Event::RegistrationEnded { phone, reason, .. } => {
            Some((phone.clone(), "ended".into(), reason.clone()))
        }
        Event::PhoneLost { phone, reason } => Some((phone.clone(), "lost".into(), reason.clone())),
        Event::PhoneUnregistered { phone, .. } => {
            Some((phone.clone(), "unregistered".into(), String::new()))
        }
        Event::RegistrationExpired {
            phone,
            silent_for_ms,
            ..
        } => Some((phone.clone(), "expired".into(), human_ms(*silent_for_ms))),
        Event::PhoneSentHome { phone, home } => {
            Some((phone.clone(), format!("home:{home}"), String::new()))
        }
        Event::CapacityExceeded {
            phone,
            home,
            capacity,
        } => Some((
            phone.clone(),
            format!("capacity:{home}"),
            capacity.to_string(),
        )),
        // Calls are many: one line per kind of call event and server.
        Event::CallStarted { phone, .. } => Some((phone.clone(), "call".into(), String::new())),
        Event::CallEnded {
            phone,
            preserved: false,
            ..
        } => Some((phone.clone(), "call-ended".into(), String::new())),
        Event::CallEnded {
            phone,
            preserved: true,
            ..
        } => Some((phone.clone(), "preserved-ended".into(), String::new())),
        // One line per reason: the reason names the kind of call.
        Event::CallDropped { phone, reason, .. } => Some((
            phone.clone(),
            format!("call-dropped:{reason}"),
            reason.clone(),
        )),
        Event::CallPreserved { phone, .. } => {
            Some((phone.clone(), "call-preserved".into(), String::new()))
        }
        Event::CallPreservationExpired {
            phone, limit_ms, ..
        } => Some((
            phone.clone(),
            "preservation-expired".into(),
            human_ms(*limit_ms),
        )),
        Event::CallFailed { phone, reason, .. } => Some((
            phone.clone(),
            format!("call-failed:{reason}"),
            reason.clone(),
        )),
        Event::TrunkSeized { from, busy, .. } => {
            Some((from.clone(), "trunk-seized".into(), busy.to_string()))
        }
        Event::TrunkReleased { call, reason, .. } => Some((
            call.split('-').nth(1).unwrap_or(call).to_string(),
            format!("trunk-released:{reason}"),
            reason.clone(),
        )),
        Event::VoicemailLeft { mailbox, .. } => {
            Some((mailbox.clone(), "vm-left".into(), String::new()))
        }
        Event::RecordingMade {
            recording,
            archived,
        } => Some((
            recording.split('-').nth(1).unwrap_or(recording).to_string(),
            if *archived {
                "rec-archived"
            } else {
                "rec-kept"
            }
            .into(),
            String::new(),
        )),
        Event::RecordingFailed { call, reason } => Some((
            call.split('-').nth(1).unwrap_or(call).to_string(),
            format!("rec-failed:{reason}"),
            reason.clone(),
        )),
        Event::PortalChange { user, accepted } => Some((
            user.clone(),
            if *accepted {
                "portal-change"
            } else {
                "portal-refused"
            }
            .into(),
            String::new(),
        )),
        _ => None,
    }
}

/// "1 call", "3 calls": how many events the group holds, of `what`.
fn count(g: &Group, what: &str) -> String {
    let n = g.phones.len();
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Whether a group's line counts its events (calls, trunk seizures,
/// messages, recordings, portal changes) rather than its phones.
fn count_events(sub: &str) -> bool {
    [
        "call",
        "preserved-",
        "preservation-",
        "trunk-",
        "vm-",
        "rec-",
        "portal-",
    ]
    .iter()
    .any(|p| sub.starts_with(p))
}

fn describe_group(g: &Group) -> String {
    // IP DECT handsets move with their base, on its clock, not with the
    // IP phones: their refusals and acceptances are lines of their own.
    let Some(sub) = g.key.2.strip_prefix("dect-") else {
        return describe_plain(g, &g.key.2);
    };
    let s = if g.distinct().len() == 1 { "" } else { "s" };
    describe_plain(g, sub).replacen(
        &format!(" phone{s} of "),
        &format!(" IP DECT handset{s} of "),
        1,
    )
}

fn describe_plain(g: &Group, sub: &str) -> String {
    let distinct = g.distinct();
    let n = distinct.len();
    // A line counting events (calls, trunks, messages) has said how many
    // times already; one counting phones says it after the phones.
    let counts_events = count_events(sub);
    let phones = if g.phones.len() > n && !counts_events {
        format!("{}; {} times in all", ranges(&distinct), g.phones.len())
    } else {
        ranges(&distinct)
    };
    let s = if n == 1 { "" } else { "s" };
    let (their, guests) = if n == 1 {
        ("its", "a guest")
    } else {
        ("their", "guests")
    };
    let free = if n == 1 {
        "only now is that phone free to register again, where it can reach a gatekeeper (its backup, if it fails over)"
    } else {
        "only now are those phones free to register again, where they can reach a gatekeeper (their backup, if they fail over)"
    };
    if let Some(home) = sub.strip_prefix("guest:") {
        format!("accepted {n} phone{s} of {home} as {guests} ({phones}): no licences used")
    } else if let Some((_, home)) = sub
        .strip_prefix("guest-window:")
        .and_then(|r| r.split_once(':'))
    {
        format!(
            "accepted {n} phone{s} of {home} as {guests} ({phones}) in the homeless-prevention window of its failback at {}: {home} is not lost here, but a phone that cannot reach it may register here; no licences used",
            g.notes()
        )
    } else if let Some(home) = sub.strip_prefix("guest-late:") {
        format!(
            "accepted {n} phone{s} of {home} as {guests} too late ({phones}): each phone had given up waiting for the answer and withdraws it"
        )
    } else if sub == "home-late" {
        format!(
            "registered {n} phone{s} of its own too late ({phones}): each phone had given up waiting for the answer and withdraws it"
        )
    } else if sub == "withdrawn" {
        format!(
            "dropped {n} registration{s} withdrawn by {their} phone{s} ({phones}): answered after the phone had given up waiting"
        )
    } else if sub == "home" {
        format!("{n} phone{s} registered at {their} home system ({phones})")
    } else if let Some(home) = sub.strip_prefix("refused:") {
        let guest = if home == g.key.0 { "" } else { "guest " };
        format!(
            "refused {guest}registrations of {n} phone{s} of {home} ({phones}): {}",
            g.notes()
        )
    } else if sub == "rebooted" && n == 1 {
        format!("ACTION: phone {phones} is rebooted")
    } else if sub == "rebooted" {
        format!("ACTION: {n} phones are rebooted ({phones})")
    } else if sub == "left" {
        // The phone left; it did not find its gatekeeper gone.
        format!(
            "{n} phone{s} left this gatekeeper ({phones}): {}",
            g.notes()
        )
    } else if sub == "base-switched" {
        format!(
            "{n} IP DECT handset{s} follow{} {their} base away from this gatekeeper ({phones}): {}; the base polls the backup at each poll interval",
            if n == 1 { "s" } else { "" },
            g.notes()
        )
    } else if sub == "base-stays" {
        format!(
            "{n} IP DECT handset{s} lose{} this gatekeeper with {their} base ({phones}): {}; the handsets stay unregistered until it answers",
            if n == 1 { "s" } else { "" },
            g.notes()
        )
    } else if sub == "ended" {
        format!(
            "ended the registration{s} of {n} phone{s} ({phones}): {}; each retries after 50–90 % of the recovery wait",
            g.notes()
        )
    } else if sub == "lost" {
        format!(
            "{n} phone{s} found this gatekeeper gone ({phones}): {}; each retries after 50–90 % of the recovery wait",
            g.notes()
        )
    } else if let Some(home) = sub.strip_prefix("home:") {
        format!("sent {n} guest{s} home to {home} ({phones})")
    } else if let Some(home) = sub.strip_prefix("capacity:") {
        format!(
            "refused {n} guest{s} of {home} ({phones}): capacity of {} users and extensions reached, guests included → no resilience for them",
            g.notes()
        )
    } else if sub == "call" {
        format!("{} set up (from {phones})", count(g, "call"))
    } else if sub == "call-ended" {
        format!("{} ended normally", count(g, "call"))
    } else if sub == "preserved-ended" {
        format!("{} ended ({phones}); {free}", count(g, "preserved call"))
    } else if sub.starts_with("call-dropped:") {
        format!("{} dropped ({phones}): {}", count(g, "call"), g.notes())
    } else if sub == "preservation-expired" {
        format!(
            "{} ended by the media connection preservation limit of {} ({phones}), not by {their} users; {free}",
            count(g, "preserved call"),
            g.notes()
        )
    } else if sub == "call-preserved" {
        format!(
            "{} kept up by media connection preservation ({phones}): the phone stays in the call, talk and hang up only, and registers again (on its backup, if it fails over) only when the call ends, or when the preservation limit (2 h by default; `preservation-limit`) cuts it",
            count(g, "call")
        )
    } else if sub.starts_with("call-failed:") {
        format!("{} failed ({phones}): {}", count(g, "call"), g.notes())
    } else if sub == "trunk-seized" {
        // Each seizure notes the trunks then busy: the most is what the
        // trunks bore.
        let most = g.notes.iter().filter_map(|b| b.parse::<u32>().ok()).max();
        format!(
            "{} for external calls set up on {phones}, at most {} trunk{} busy at once (trunks never fail over)",
            count(g, "trunk seizure"),
            most.unwrap_or(0),
            if most == Some(1) { "" } else { "s" }
        )
    } else if sub.starts_with("trunk-released:") {
        format!("{} freed: {}", count(g, "trunk"), g.notes())
    } else if sub == "vm-left" {
        let mailboxes = if n == 1 { "mailbox" } else { "mailboxes" };
        format!(
            "stored {} ({mailboxes} {phones})",
            count(g, "voicemail message")
        )
    } else if sub == "rec-archived" {
        format!(
            "{} made and archived by Media Manager",
            count(g, "call recording")
        )
    } else if sub == "rec-kept" {
        format!(
            "{} made and kept here by this voicemail (not the primary's) until collected by the primary's Media Manager",
            count(g, "call recording")
        )
    } else if sub.starts_with("rec-failed:") {
        format!(
            "{} not recorded (from {phones}): {}",
            count(g, "call"),
            g.notes()
        )
    } else if sub == "portal-change" {
        format!(
            "{} accepted (users {phones})",
            count(g, "one-X Portal change")
        )
    } else if sub == "portal-refused" {
        format!(
            "{} failed: no portal answered (users {phones})",
            count(g, "one-X Portal change")
        )
    } else if sub == "unregistered" {
        format!(
            "dropped {n} registration{s} at the phone's request ({phones}): a reboot, or a REGISTER answered too late and withdrawn"
        )
    } else if sub == "expired" {
        format!(
            "dropped {n} registration{s} no longer refreshed ({phones}): no keepalive for {}",
            g.notes()
        )
    } else {
        format!("{n} phone event{s} ({phones})")
    }
}

/// One phone event on its own line, with the time since that phone's
/// previous event (which, between tries, is its 50–90 % recovery wait).
fn verbose_phone(e: &EventRecord, since: Option<u64>) -> String {
    let after = since.map_or(String::new(), |ms| {
        format!(" — {} after its previous event", human_ms(ms))
    });
    match &e.event {
        Event::PhoneRegistered {
            phone,
            home,
            guest: true,
        } => {
            format!("phone {phone} (home {home}) accepted as a guest{after}")
        }
        Event::PhoneRegistered { phone, .. } => format!("phone {phone} registered at home{after}"),
        Event::RegistrationRefused { phone, reason, .. } => {
            format!("phone {phone} refused: {reason}{after}")
        }
        Event::PhoneLost { phone, reason } => {
            format!("phone {phone} lost its gatekeeper: {reason}{after}")
        }
        Event::PhoneSentHome { phone, home } => {
            format!("phone {phone} sent home to {home} (failback){after}")
        }
        Event::PhoneUnregistered { phone, .. } => {
            format!("phone {phone} unregistered{after}")
        }
        Event::RegistrationEnded { phone, reason, .. } => {
            format!("registration of {phone} ended here: {reason}")
        }
        Event::RegistrationExpired {
            phone,
            silent_for_ms,
            ..
        } => {
            format!(
                "registration of {phone} dropped: no keepalive for {}",
                human_ms(*silent_for_ms)
            )
        }
        _ => String::new(),
    }
}

/// What the timeline has seen so far that explains a later event: the
/// fleet, the faults applied, when each server's incarnation started.
struct Seen<'a> {
    /// The fleet, when known (a live `watch` sees only the events).
    fleet: Option<&'a Fleet>,
    faults: Vec<(u64, &'a FaultKind)>,
    /// The faults in force now, by when they were applied.
    in_force: Vec<(u64, FaultKind)>,
    started: BTreeMap<&'a str, u64>,
    /// Servers started again (incarnation 2 on), when last.
    restarted: BTreeMap<&'a str, u64>,
    /// (backup, home): when failback to the home last started there, until
    /// the backup loses the home again.
    failed_back: BTreeMap<(&'a str, &'a str), u64>,
}

impl<'a> Seen<'a> {
    fn new(fleet: Option<&'a Fleet>) -> Seen<'a> {
        Seen {
            fleet,
            faults: Vec::new(),
            in_force: Vec::new(),
            started: BTreeMap::new(),
            restarted: BTreeMap::new(),
            failed_back: BTreeMap::new(),
        }
    }

    fn note(&mut self, e: &'a EventRecord) {
        match &e.event {
            Event::FaultApplied { spec, .. } => {
                self.faults.push((e.t_ms, spec));
                fleetsim_model::fault::note_applied(&mut self.in_force, e.t_ms, spec);
            }
            Event::ServerStarted { incarnation, .. } => {
                self.started.insert(&e.server, e.t_ms);
                if *incarnation > 1 {
                    self.restarted.insert(&e.server, e.t_ms);
                }
            }
            Event::FailbackStarted { home, .. } => {
                self.failed_back.insert((&e.server, home), e.t_ms);
            }
            Event::PeerLost { peer, .. } => {
                self.failed_back.remove(&(e.server.as_str(), peer.as_str()));
            }
            _ => {}
        }
    }

    /// When `home` failed back on `server`, if `t` falls in the
    /// homeless-prevention window that opened (5 min unless the fleet says).
    fn in_homeless_window(&self, server: &str, home: &str, t: u64) -> Option<u64> {
        let window = self
            .fleet
            .map_or(5 * 60_000, |f| f.resilience.homeless_prevention.as_millis());
        let f = *self.failed_back.get(&(server, home))?;
        (t >= f && t - f < window).then_some(f)
    }

    /// The clock offsets set on `server` up to `now`: (when, offset).
    fn clock_steps(&self, server: &str, now: u64) -> Vec<(u64, i64)> {
        self.faults
            .iter()
            .filter(|(t, _)| *t <= now)
            .filter_map(|(t, f)| match f {
                FaultKind::ClockOffset {
                    server: s,
                    offset_ms,
                } if fleetsim_model::fault::glob(s, server) => Some((*t, *offset_ms)),
                _ => None,
            })
            .collect()
    }

    /// The fault that took `peer` out of `observer`'s sight, last heard at
    /// `heard`: among the faults still in force (not a partition that
    /// ended before the hang that did it), the first that could hide it
    /// after then (a crash, not the partition that came on top of it), or
    /// else the latest before (a stall, whose held bytes were still heard
    /// a moment after it began); failing those, any fault applied.
    fn fault_between(&self, observer: &str, peer: &str, heard: u64) -> Option<(u64, FaultKind)> {
        let hides = |f: &FaultKind| f.hides(observer, peer);
        let now = self.in_force.iter().map(|(t, f)| (*t, f));
        let all = self.faults.iter().map(|(t, f)| (*t, *f));
        let pick = |list: Vec<(u64, &FaultKind)>| {
            let after = list.iter().find(|(t, f)| *t >= heard && hides(f));
            after
                .or_else(|| list.iter().rev().find(|(_, f)| hides(f)))
                .map(|(t, f)| (*t, (*f).clone()))
        };
        pick(now.collect()).or_else(|| pick(all.collect()))
    }
}

/// The fault as a noun: "before the crash".
fn fault_noun(f: &FaultKind) -> &'static str {
    match f {
        FaultKind::Crash { .. } => "crash",
        FaultKind::Stop { .. } => "stop",
        FaultKind::Partition { .. } => "partition",
        FaultKind::OneWay { .. } => "one-way loss",
        FaultKind::Stall { .. } => "stall",
        FaultKind::Hang { .. } => "hang",
        FaultKind::Gray { .. } => "gray failure",
        _ => "fault",
    }
}

/// When the peer was last heard, relative to the fault that hid it: the
/// 3-minute rule counts from there, not from the fault.
fn last_heard(seen: &Seen<'_>, e: &EventRecord, peer: &str, silent_ms: u64) -> String {
    // The silence is read on the observer's own clock: a clock step moves
    // it, so the true moment it last heard the peer is worked back.
    let steps = seen.clock_steps(&e.server, e.t_ms);
    let by_clock = by_own_clock(&steps);
    let Some(heard) = true_moment(&steps, e.t_ms, silent_ms) else {
        return format!("has not heard {peer} for {}{by_clock}", human_ms(silent_ms));
    };
    // A step back puts last heard in the future, so the count restarts.
    if let Some(i) = steps.iter().position(|(at, _)| *at == heard)
        && steps[i].1 < i.checked_sub(1).map_or(0, |j| steps[j].1)
    {
        return format!(
            "has not heard {peer} for {}{by_clock}, counted from the step back (its last presence then lay in its clock's future)",
            human_ms(silent_ms)
        );
    }
    if let Some(&start) = seen.started.get(e.server.as_str())
        && heard.abs_diff(start) <= 1
    {
        return format!(
            "has not heard {peer} since this server started {} ago",
            human_ms(silent_ms)
        );
    }
    let base = format!("has not heard {peer} for {}{by_clock}", human_ms(silent_ms));
    let Some((at, f)) = seen.fault_between(&e.server, peer, heard) else {
        return format!("{base}{}", in_true_time(&steps, e.t_ms, silent_ms));
    };
    let noun = fault_noun(&f);
    let when = if heard <= at {
        format!("{} before the {noun}", human_ms(at - heard))
    } else {
        format!("{} after the {noun} began", human_ms(heard - at))
    };
    format!(
        "{base} (last heard {when}, so lost {} after it)",
        human_ms(e.t_ms.saturating_sub(at))
    )
}

/// The true time at which a server's clock read what it reads `ago_ms`
/// before `now`, its clock stepped by `steps` ((when, offset) in time
/// order, offset 0 before the first): `None` when a step back makes two
/// moments read the same, or none does.
fn true_moment(steps: &[(u64, i64)], now: u64, ago_ms: u64) -> Option<u64> {
    let offset_at = |t: u64| {
        steps
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map_or(0, |(_, o)| *o)
    };
    let target = now as i128 + i128::from(offset_at(now)) - i128::from(ago_ms);
    // Each stretch of constant offset, [from, to), holds one candidate.
    let mut bounds: Vec<(u64, u64, i64)> = Vec::new();
    let mut from = 0;
    let mut offset = 0;
    for &(at, o) in steps.iter().filter(|(at, _)| *at <= now) {
        bounds.push((from, at, offset));
        (from, offset) = (at, o);
    }
    bounds.push((from, now + 1, offset));
    let found: Vec<u64> = bounds
        .iter()
        .filter_map(|&(a, b, o)| {
            let x = target - i128::from(o);
            (x >= i128::from(a) && x < i128::from(b)).then_some(x as u64)
        })
        .collect();
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// " by its own clock (set +2m at 6m)" after a silence counted on a clock
/// stepped by `steps`; nothing when it never was.
fn by_own_clock(steps: &[(u64, i64)]) -> String {
    steps_said(steps).map_or(String::new(), |s| format!(" by its own clock ({s})"))
}

/// "set +1m30s at 5m40s, then back to true time at 15m40s": the steps of a
/// server's clock, if any.
fn steps_said(steps: &[(u64, i64)]) -> Option<String> {
    let said: Vec<String> = (steps.iter())
        .map(|(at, o)| match o {
            0 => format!("back to true time at {}", human_ms(*at)),
            o => {
                let sign = if *o < 0 { "-" } else { "+" };
                format!("{sign}{} at {}", human_ms(o.unsigned_abs()), human_ms(*at))
            }
        })
        .collect();
    (!said.is_empty()).then(|| format!("set {}", said.join(", then ")))
}

/// ": 30s in true time" when a stepped clock counted `silent_ms` of silence
/// that truly lasted otherwise (the true moment known); else nothing.
fn in_true_time(steps: &[(u64, i64)], now: u64, silent_ms: u64) -> String {
    match true_moment(steps, now, silent_ms) {
        Some(h) if now - h != silent_ms => format!(": {} in true time", human_ms(now - h)),
        _ => String::new(),
    }
}

fn peer_lost(e: &EventRecord, seen: &Seen<'_>, p: &Paint) -> String {
    let Event::PeerLost {
        peer,
        silent_for_ms,
        backing_up,
        records_held,
    } = &e.event
    else {
        return String::new();
    };
    let base = format!(
        "{} → {peer} is lost",
        last_heard(seen, e, peer, *silent_for_ms)
    );
    if *backing_up && *records_held > 0 {
        let stay = seen
            .fleet
            .map(|f| never_move(f, &e.server, peer))
            .unwrap_or_default();
        p.bold(&format!(
            "{base}; as its backup it holds {records_held} of its phone records: each of those phones is accepted as a guest when it re-registers here, as far as the takeover rules and capacity allow{stay}"
        ))
    } else if *backing_up {
        let why = match seen.fleet {
            Some(fleet) => no_records(fleet, &e.server, peer, p),
            None => "it is its backup but holds no records of its phones".to_string(),
        };
        format!("{base}; {why}")
    } else {
        p.dim(&format!("{base} (not its backup: takes nothing over)"))
    }
}

/// "; 2 of its phones never move here (2017–2018): softphones have no
/// alternate gatekeeper", for the phones of `peer` that `backup` does not
/// take over, by why; empty when every one moves.
fn never_move(fleet: &Fleet, backup: &str, peer: &str) -> String {
    use fleetsim_model::PhoneKind;
    let Some(home) = fleet.server(peer) else {
        return String::new();
    };
    let mut why: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ph in fleet.phones_of(peer) {
        let reason = match ph.kind {
            PhoneKind::Softphone => "softphones have no alternate gatekeeper",
            PhoneKind::Analogue => "analogue extensions are wired to it",
            k if home.backup_for_kind(k) == Some(backup) => continue,
            PhoneKind::Dect => "its line does not back up IP DECT phones",
            _ => "its line does not back up IP phones",
        };
        why.entry(reason).or_default().push(ph.extension.clone());
    }
    let n: usize = why.values().map(Vec::len).sum();
    if n == 0 {
        return String::new();
    }
    let all: Vec<String> = why.values().flatten().cloned().collect();
    let reasons: Vec<&str> = why.keys().copied().collect();
    let verb = if n == 1 { "moves" } else { "move" };
    format!(
        "; {n} of its phones never {verb} here ({}): {}",
        ranges(&all),
        reasons.join("; ")
    )
}

/// Why a backup holds no records of a lost peer's phones: it has none that
/// fail over here (nothing to fail over), or the records are gone.
fn no_records(fleet: &Fleet, backup: &str, peer: &str, p: &Paint) -> String {
    let phones: Vec<_> = fleet.phones_of(peer).collect();
    let physical = phones.iter().any(|ph| ph.kind.fails_over());
    let backed_up = fleet.server(peer).is_some_and(|s| {
        phones
            .iter()
            .any(|ph| s.backup_for_kind(ph.kind) == Some(backup))
    });
    if !physical {
        format!(
            "it is its backup, but {peer} has no physical IP phone (softphones and analogue extensions never fail over): none re-registers here, so nothing fails over"
        )
    } else if !backed_up {
        format!(
            "it is its backup, but the line backs up none of {peer}'s phones: none re-registers here, so nothing fails over"
        )
    } else {
        p.red("it is the backup but holds no records of its phones: resilience lost")
    }
}

fn describe(e: &EventRecord, seen: &Seen<'_>, p: &Paint) -> String {
    match &e.event {
        Event::RunStarted { scenario, seed, mode } => format!("run of {scenario} starts (seed {seed}, {mode} mode)"),
        Event::FaultApplied { fault, .. } if e.server == "operator" => {
            p.yellow(&format!("ACTION: {fault}"))
        }
        Event::FaultApplied { fault, .. } => p.red(&format!("FAULT: {fault}")),
        Event::ServerStarted { role, incarnation } => {
            if *incarnation == 1 {
                format!("starts as {role}")
            } else {
                p.yellow(&format!("restarts as {role} (incarnation {incarnation}), memory empty"))
            }
        }
        Event::ServerCrashed { registered_phones } => {
            p.red(&format!("is down: connections reset, memory gone; {registered_phones} phones lose their registration"))
        }
        Event::ServerStopped { registered_phones } => p.red(&format!(
            "stopped cleanly: requests in flight answered, memory gone; {registered_phones} phones lose their registration"
        )),
        Event::PeerLost { .. } => peer_lost(e, seen, p),
        Event::PeerReturned { peer, silent_for_ms } => {
            // A server counts silence from its own start: it cannot know
            // what came before.
            let heard = e.t_ms.saturating_sub(*silent_for_ms);
            let since_start = seen
                .restarted
                .get(e.server.as_str())
                .is_some_and(|&start| heard.abs_diff(start) <= 1);
            if since_start {
                format!(
                    "hears {peer} for the first time since this server restarted {} ago",
                    human_ms(*silent_for_ms)
                )
            } else {
                let steps = seen.clock_steps(&e.server, e.t_ms);
                format!(
                    "hears {peer} again after {} of silence{}{}",
                    human_ms(*silent_for_ms),
                    by_own_clock(&steps),
                    in_true_time(&steps, e.t_ms, *silent_for_ms)
                )
            }
        }
        Event::RecordsReplicated { home, phones } => {
            p.dim(&format!("holds copies of {phones} phone records of {home} (in memory only)"))
        }
        Event::FailoverStarted {
            home,
            trigger,
            already_here: 0,
        } => p.bold(&format!(
            "FAILOVER of {home} begins: physical IP phone {trigger} re-registered here"
        )),
        Event::FailoverStarted {
            home, already_here, ..
        } => {
            let guests = match already_here {
                1 => "1 of its phones here already as a guest".to_string(),
                n => format!("{n} of its phones here already as guests"),
            };
            p.bold(&format!(
                "FAILOVER of {home} begins: it was lost with {guests} (registered in its homeless-prevention window after a failback, or kept by manual failback)"
            ))
        }
        Event::FailbackStarted { home, visible_for_ms, guests } => p.bold(&format!(
            "FAILBACK to {home}: visible again for {}{} (the failback time) → {} here: each goes home once idle, unless it is an H.323 phone under manual failback",
            human_ms(*visible_for_ms),
            by_own_clock(&seen.clock_steps(&e.server, e.t_ms)),
            fleetsim_model::words::counted(*guests as usize, "guest", "guests")
        )),
        Event::RunEnded {} => "run ends".to_string(),
        Event::LicenceState { state, reason } => {
            let text = format!("licence state {}: {reason}", state.to_uppercase());
            match state.as_str() {
                "restricted" => p.red(&text),
                "grace" => p.yellow(&text),
                _ => text,
            }
        }
        Event::ServiceState { service, state, reason } => {
            let text = format!("{service} {state}: {reason}");
            if state == "active" { text } else { p.dim(&text) }
        }
        Event::ConfigChange { accepted: true, reason } => format!("configuration changed ({reason})"),
        Event::ConfigChange { accepted: false, reason } => p.red(&format!("configuration change REFUSED: {reason}")),
        Event::HuntGroupState { group, home, active } => {
            if home == &e.server && *active {
                format!("hunt group {group} runs here (stored here, advertised to every peer)")
            } else if home == &e.server {
                format!("hunt group {group} stops running here (its backup runs it, or this server stood down)")
            } else if *active {
                p.bold(&format!("runs hunt group {group} of {home} (line option: backs up my hunt groups)"))
            } else {
                format!("hands hunt group {group} back to {home} with its phones")
            }
        }
        Event::VoicemailHandback { messages, cut_calls, mode } => p.bold(&format!(
            "voicemail FAILBACK ({mode}): {} left here during failover synced to the primary{}",
            counted(*messages as usize, "message", "messages"),
            if *cut_calls > 0 { format!("; {} cut by the timeout, kept as recorded", counted(*cut_calls as usize, "voicemail call", "voicemail calls")) } else { String::new() }
        )),
        Event::VoicemailSynced { to, messages } => format!(
            "{} left here during failover, kept until now, synced to {to}'s voicemail",
            counted(*messages as usize, "message", "messages")
        ),
        Event::RecordingsCollected { from, recordings } => format!(
            "Media Manager collected {} kept by {from}'s voicemail",
            counted(*recordings as usize, "recording", "recordings")
        ),
        Event::PortalHandback { changes_dropped, mode } => p.bold(&format!(
            "one-X Portal FAILBACK ({mode}): {} made during failover {} dropped",
            counted(*changes_dropped as usize, "change", "changes"),
            if *changes_dropped == 1 { "is" } else { "are" }
        )),
        Event::VoicemailCut { messages, recordings } => {
            let n = |k: u32, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
            p.red(&format!(
                "the crash or stop cut {} being left and {} being made; none is kept",
                n(*messages, "message"),
                n(*recordings, "recording")
            ))
        }
        Event::ActionFailed {
            action,
            target,
            reason,
        } => p.yellow(&format!(
            "operator action {action:?} did not reach {target}: {reason}"
        )),
        Event::Audit { .. } => {
            let a = e.event.loss_audit().unwrap_or_default();
            let text = format!("audit: {}", a.describe());
            if a.nothing_lost() { text } else { p.red(&text) }
        }
        _ => String::new(),
    }
}

/// One line of the explained timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// First event's emulated time.
    pub first: u64,
    /// Last event's emulated time (groups span a window).
    pub last: u64,
    /// The server it concerns (`(fleet)` for fleet-wide phone groups).
    pub server: String,
    /// What happened and why.
    pub text: String,
    /// The event kind (of the first event).
    pub kind: &'static str,
}

/// The explained timeline: each event with the rule behind it; events
/// between two major events form a segment, in which similar phone events
/// are grouped into one line, ordered by time.
pub fn timeline(o: &RunOutcome, verbose: bool, p: &Paint) -> Vec<Line> {
    explain(Some(&o.spec.fleet), &o.events, verbose, p)
}

/// [`timeline`] of any events, for a run still going (a live drill); the
/// fleet, when known, sharpens a few explanations.
pub fn explain(
    fleet: Option<&Fleet>,
    events: &[EventRecord],
    verbose: bool,
    p: &Paint,
) -> Vec<Line> {
    let mut out = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut pending: Vec<Line> = Vec::new();
    let mut last_try: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = Seen::new(fleet);
    let flush =
        |groups: &mut Vec<Group>, pending: &mut Vec<Line>, out: &mut Vec<Line>, seen: &Seen<'_>| {
            for g in groups.drain(..) {
                let mut text = describe_group(&g);
                if g.key.2 == "rebooted" {
                    text = p.yellow(&text);
                }
                // A refusal says how long the home was silent by the refusing
                // server's clock: say so when that clock was stepped.
                if g.key.2.trim_start_matches("dect-").starts_with("refused:")
                    && let Some(steps) = steps_said(&seen.clock_steps(&g.key.0, g.last))
                {
                    text.push_str(&format!("; silence counted by its own clock ({steps})"));
                }
                pending.push(Line {
                    first: g.first,
                    last: g.last,
                    server: g.key.0.clone(),
                    text,
                    kind: g.key.1,
                });
            }
            pending.sort_by_key(|l| l.first);
            out.append(pending);
        };
    let late = withdrawn(events);
    let dect = dect_handsets(fleet);
    for (i, e) in events.iter().enumerate() {
        seen.note(e);
        // Its `capacity-exceeded`, at the same moment, says it (else each
        // refusal read twice).
        if matches!(&e.event, Event::RegistrationRefused { reason, .. } if reason.starts_with("capacity of "))
        {
            continue;
        }
        // Its system's `registration-ended` says it: the phone finding its
        // registration ended is the same story.
        if matches!(&e.event, Event::PhoneLost { reason, .. } if reason.contains(ENDED)) {
            continue;
        }
        if let Some((phone, sub, note)) = phone_key(e) {
            let sub = if late.contains(&i) {
                late_key(sub)
            } else {
                sub
            };
            // A guest taken in the homeless-prevention window says so, and
            // which failback opened it (one group per window).
            let window = (sub.strip_prefix("guest:"))
                .and_then(|home| seen.in_homeless_window(&e.server, home, e.t_ms));
            let (sub, note) = match window {
                Some(f) => (
                    sub.replacen("guest:", &format!("guest-window:{f}:"), 1),
                    clock(f),
                ),
                None => (sub, note),
            };
            let sub = if (sub.starts_with("refused:") || sub.starts_with("guest:"))
                && dect.contains(phone.as_str())
            {
                format!("dect-{sub}")
            } else {
                sub
            };
            // An operator's reboot ends the story of the lines before it.
            if sub == "rebooted" && !groups.iter().any(|g| g.key.2 == "rebooted") {
                flush(&mut groups, &mut pending, &mut out, &seen);
            }
            // Registrations at home are one story across the fleet.
            let server = if sub == "home" {
                "(fleet)".to_string()
            } else {
                e.server.clone()
            };
            let key = (server, e.kind(), sub);
            if verbose {
                // One line per phone event, saying how long since its last
                // try; a call's events as a group of one.
                let since = last_try.get(&phone).map(|t| e.t_ms - t);
                let mut text = verbose_phone(e, since);
                if text.is_empty() {
                    let mut one = Group::new(key, e.t_ms);
                    one.push(e.t_ms, phone, &note);
                    text = describe_group(&one);
                } else {
                    last_try.insert(phone, e.t_ms);
                }
                pending.push(Line {
                    first: e.t_ms,
                    last: e.t_ms,
                    server: e.server.clone(),
                    text,
                    kind: e.kind(),
                });
                continue;
            }
            let i = match groups.iter().position(|g| g.key == key) {
                Some(i) => i,
                None => {
                    groups.push(Group::new(key, e.t_ms));
                    groups.len() - 1
                }
            };
            groups[i].push(e.t_ms, phone, &note);
            continue;
        }
        let major = matches!(
            e.event,
            Event::FaultApplied { .. }
                | Event::ServerCrashed { .. }
                | Event::ServerStopped { .. }
                | Event::FailbackStarted { .. }
                | Event::RunEnded {}
                | Event::PeerLost {
                    backing_up: true,
                    ..
                }
        );
        if major {
            flush(&mut groups, &mut pending, &mut out, &seen);
        }
        pending.push(Line {
            first: e.t_ms,
            last: e.t_ms,
            server: e.server.clone(),
            text: describe(e, &seen, p),
            kind: e.kind(),
        });
        if major {
            flush(&mut groups, &mut pending, &mut out, &seen);
        }
    }
    flush(&mut groups, &mut pending, &mut out, &seen);
    out
}

/// Renders the whole report.
pub fn render(o: &RunOutcome, opts: TextOptions) -> String {
    let p = Paint(opts.color);
    let mut out = String::new();
    let mode = match o.mode {
        Mode::Sim => "sim",
        Mode::Live => "live",
    };
    let speedup = if o.wall_ms > 0.0 {
        o.duration_ms as f64 / o.wall_ms
    } else {
        0.0
    };
    let policy = o.policy_words(" · ");
    let _ = writeln!(
        out,
        "{} · seed {}{policy} · {mode} · {} emulated in {:.2} s wall ({:.0}× real time)",
        p.bold(&o.scenario),
        o.seed,
        human_ms(o.duration_ms),
        o.wall_ms / 1000.0,
        speedup
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", p.bold("Timeline (emulated time)"));

    for l in timeline(o, opts.verbose, &p) {
        let t = if l.first == l.last {
            clock(l.first)
        } else {
            format!("{}–{}", clock(l.first), clock(l.last))
        };
        let _ = writeln!(out, "  {:<25} {:<13} {}", p.cyan(&t), l.server, l.text);
    }

    let m = &o.metrics;
    let opt = |v: Option<u64>| v.map_or("—".to_string(), human_ms);
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", p.bold("Metrics"));
    if let Some(s) = &m.subject {
        let _ = writeln!(
            out,
            "  detection    {:>10}  fault on {s} → its backup declares it lost",
            opt(m.detection_ms)
        );
        let partial = m.takeover_incomplete();
        let _ = writeln!(
            out,
            "  takeover     {:>10}  fault → every IP phone of {s} on its backup{}",
            if partial {
                "incomplete".to_string()
            } else {
                opt(m.takeover_ms)
            },
            if partial {
                // Its own phones: other servers' guests are no part of it.
                let own: std::collections::BTreeSet<&str> = (o.events.iter())
                    .filter_map(|e| match &e.event {
                        Event::PhoneRegistered {
                            phone,
                            home,
                            guest: true,
                        } if home == s => Some(phone.as_str()),
                        _ => None,
                    })
                    .collect();
                format!(" ({} of its phones moved, not all)", own.len())
            } else {
                String::new()
            }
        );
    }
    if m.phones_with_outage == 0 {
        let _ = writeln!(out, "  phone outage {:>10}  (no phone had one)", "—");
    } else {
        let _ = writeln!(
            out,
            "  phone outage {:>10}  max   (each phone's outages added up; {} had one)",
            human_ms(m.max_phone_outage_ms),
            counted(m.phones_with_outage as usize, "phone", "phones")
        );
        for (v, what) in [
            (m.p99_phone_outage_ms, "p99"),
            (m.p50_phone_outage_ms, "p50"),
        ] {
            let _ = writeln!(out, "               {:>10}  {what}", human_ms(v));
        }
    }
    let _ = writeln!(
        out,
        "  phones       {} moved, {} failed back, {} unregistered {}",
        m.phones_moved,
        m.phones_failed_back,
        m.phones_unregistered_at_end,
        o.at_the_end()
    );
    if m.calls_started > 0 || m.calls_refused > 0 {
        let expired = match m.calls_preservation_expired {
            0 => String::new(),
            n => format!(
                " ({n} of them ended by the {} preservation limit)",
                o.spec.fleet.resilience.preservation_limit
            ),
        };
        let failed = fleetsim_scenario::findings::not_completed(m.calls_started, m.calls_failed);
        let refused = match m.calls_refused {
            0 => String::new(),
            n => format!("; {n} refused before set-up"),
        };
        let _ = writeln!(
            out,
            "  calls        {} set up{failed}, {} dropped, {} kept up by media connection preservation{expired}{refused}",
            m.calls_started, m.calls_dropped, m.calls_preserved
        );
    }
    let cut = m.messages_cut + m.recordings_cut;
    if m.messages_left > 0 || m.messages_lost > 0 || m.recordings_lost > 0 || cut > 0 {
        use fleetsim_model::words::counted;
        let n = |k: u32, one: &str, many: &str| counted(k as usize, one, many);
        let lost = format!(
            "{} lost, {} lost",
            n(m.messages_lost, "message", "messages"),
            n(m.recordings_lost, "recording", "recordings")
        );
        let lost = if m.unaudited {
            "losses not audited (the messages are in member processes, whose disks a live drill does not read)".to_string()
        } else if m.messages_lost + m.recordings_lost > 0 {
            p.red(&lost)
        } else {
            lost
        };
        // Cut by the failure itself (like a dropped call), not lost from storage.
        let cut = if cut > 0 {
            format!(
                "; not stored: {} cut by a crash or stop of their voicemail, {} cut so or never started (no voicemail took them)",
                n(m.messages_cut, "message", "messages"),
                n(m.recordings_cut, "recording", "recordings")
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  voicemail    {} left; {lost}{cut}",
            n(m.messages_left, "message", "messages")
        );
    }
    if m.capacity_refusals > 0 {
        let _ = writeln!(
            out,
            "  capacity     {} refused: server full, no resilience",
            fleetsim_model::words::counted(
                m.capacity_refusals as usize,
                "guest registration",
                "guest registrations"
            )
        );
    }
    for f in &m.split_brain {
        let _ = writeln!(out, "  {}  {}", p.red("split brain"), f.describe());
    }
    let _ = writeln!(out, "  traffic      {}, {} events", rpcs_words(o), m.events);

    let _ = writeln!(out);
    let _ = writeln!(out, "{}", p.bold("Expectations"));
    if o.expectations.is_empty() {
        let _ = writeln!(out, "  {}", crate::NOTHING_CHECKED);
    }
    for e in &o.expectations {
        let mark = if e.passed {
            p.green("PASS")
        } else {
            p.red("FAIL")
        };
        // A detail of several lines keeps its indent on each.
        let detail = e.detail.replace('\n', "\n        ");
        let _ = writeln!(out, "  {mark}  {}\n        {detail}", e.name);
    }
    let _ = writeln!(out);
    if let Some(err) = &o.error {
        emulator_error(&mut out, err, &p);
    }
    if !o.passed() {
        let _ = writeln!(out, "Reproduce: {}", crate::again(o));
    }
    let passed = o.expectations.iter().filter(|e| e.passed).count();
    let verdict = if let Some(err) = &o.error {
        p.red(&format!(
            "ERROR: the emulator failed ({} panic{}); the expectations cannot be trusted",
            err.panic_count,
            if err.panic_count == 1 { "" } else { "s" }
        ))
    } else if o.expectations.is_empty() {
        p.green(&format!("PASSED ({})", crate::NOTHING_CHECKED))
    } else if crate::nothing_checked(o) {
        p.red(&format!("FAILED (--strict: {})", crate::NOTHING_CHECKED))
    } else if o.passed() {
        p.green(&format!(
            "PASSED ({passed}/{} expectations)",
            o.expectations.len()
        ))
    } else {
        p.red(&format!(
            "FAILED ({passed}/{} expectations hold)",
            o.expectations.len()
        ))
    };
    let _ = writeln!(out, "Verdict: {verdict}");
    out
}

/// The section naming the emulator's own failure: every panic kept.
fn emulator_error(out: &mut String, err: &fleetsim_scenario::RunFailure, p: &Paint) {
    let _ = writeln!(out, "{}", p.bold("Emulator error"));
    let _ = writeln!(out, "  {}  {}", p.red("ERROR"), err.message);
    // One panic is the message already; more are listed each.
    for panic in err.panics.iter().filter(|_| err.panic_count > 1) {
        let _ = writeln!(out, "        {panic}");
    }
    let more = err.panic_count.saturating_sub(err.panics.len());
    if more > 0 {
        let _ = writeln!(out, "        … and {more} more");
    }
    let _ = writeln!(out);
}

/// The RPC count in words, or why there is none.
pub(crate) fn rpcs_words(o: &RunOutcome) -> String {
    match o.rpcs_counted() {
        Some(n) => format!("{n} RPCs"),
        None => "RPCs not counted (members served in other processes)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_true_moment_a_stepped_clock_read_is_worked_back_when_it_is_one() {
        const M: u64 = 60_000;
        // No step: now minus the silence.
        assert_eq!(true_moment(&[], 10 * M, 3 * M), Some(7 * M));
        // Set forward 2m at 6m: 3m30s of its silence at 6m began at 4m30s.
        assert_eq!(
            true_moment(&[(6 * M, 2 * M as i64)], 6 * M, 210_000),
            Some(270_000)
        );
        // Set back 10m at 6m: what it read 3m before 9m, it read at 6m too
        // (the step) and never before: one moment.
        assert_eq!(
            true_moment(&[(6 * M, -10 * M as i64)], 9 * M, 3 * M),
            Some(6 * M)
        );
        // Set back 1m at 6m: two moments read the same.
        assert_eq!(true_moment(&[(6 * M, -(M as i64))], 9 * M, 150_000), None);
    }

    #[test]
    fn ranges_compress_consecutive_extensions() {
        let v: Vec<String> = ["2003", "2001", "2002", "2007", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ranges(&v), "2001–2003, 2007, x");
    }

    #[test]
    fn a_group_whose_reason_changed_shows_the_span_of_its_durations_or_the_words_that_differ() {
        let g = |notes: &[(&str, &str)]| {
            let mut g = Group::new((String::new(), "x", String::new()), 0);
            for (phone, note) in notes {
                g.push(0, phone.to_string(), note);
            }
            g.notes()
        };
        // Durations: the shortest and the longest, whatever their order.
        assert_eq!(
            g(&[
                ("1", "no keepalive for 1m13s"),
                ("2", "no keepalive for 1m17s"),
                ("3", "no keepalive for 1m5s"),
            ]),
            "no keepalive for 1m5s … 1m17s"
        );
        assert_eq!(
            g(&[
                ("1", "primary last heard 1m ago; failover needs 3m"),
                ("2", "primary last heard 2m59s ago; failover needs 3m"),
            ]),
            "primary last heard 1m … 2m59s ago; failover needs 3m"
        );
        // A reason naming its own phone is one reason.
        assert_eq!(
            g(&[
                ("2012", "no record of 2012 from primary: resilience lost"),
                ("2009", "no record of 2009 from primary: resilience lost"),
            ]),
            "no record of the phone from primary: resilience lost"
        );
        assert_eq!(g(&[("1", "same"), ("2", "same")]), "same");
        assert_eq!(g(&[("1", "a b"), ("2", "c")]), "a b … c");
        assert_eq!(g(&[("1", "x y"), ("2", "x y z")]), "x y … x y z");
    }

    #[test]
    fn clock_shows_hours_and_days() {
        assert_eq!(clock(300_000), "0:05:00.000");
        assert_eq!(clock(86_400_000 + 1), "1d+00:00:00.001");
    }
}
