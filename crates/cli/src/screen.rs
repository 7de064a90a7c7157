//! The `watch` screen: a live drill at a glance, in the manner of SIPp's
//! statistics screen. Pure: the control API's status, the events seen so
//! far and the options in, text out, so a test reads a captured render.
//!
//! From top to bottom: per-server counters, per-peer timers counting down
//! to failover and failback, the milestones (faults, peers lost, failover,
//! failback, service moves) pinned with the sentences of the run timeline,
//! and a short tail of everything else, grouped and filterable.

use std::fmt::Write as _;

use fleetsim_model::{EventRecord, human_ms};
use fleetsim_proto::pb;
use fleetsim_report::text::{Line, Paint, explain};
use wildmatch::WildMatch;

/// Event kinds pinned as milestones: the story of a drill.
const MILESTONES: &[&str] = &[
    "fault-applied",
    "action-failed",
    "server-started",
    "server-crashed",
    "server-stopped",
    "peer-lost",
    "peer-returned",
    "failover-started",
    "failback-started",
    "service-state",
    "hunt-group-state",
    "licence-state",
    "voicemail-handback",
    "portal-handback",
];

/// Event kinds that start a drill's story: milestones are pinned from
/// the first of them on.
const STORY_STARTS: &[&str] = &[
    "fault-applied",
    "action-failed",
    "server-crashed",
    "server-stopped",
    "peer-lost",
];

/// How many milestones and tail lines the screen keeps.
const PINNED: usize = 12;
const TAIL: usize = 8;

/// What `watch` shows: events are fed in as they arrive.
#[derive(Debug, Default)]
pub(crate) struct Screen {
    events: Vec<EventRecord>,
    filter: Vec<WildMatch>,
}

impl Screen {
    /// A screen whose tail shows only events whose kind or server matches
    /// one of `filter` (globs such as `call-*` or `secondary`); all if empty.
    pub(crate) fn new(filter: &[String]) -> Screen {
        Screen {
            events: Vec::new(),
            filter: filter.iter().map(|f| WildMatch::new(f)).collect(),
        }
    }

    /// Notes one event of the fleet's log.
    pub(crate) fn push(&mut self, e: EventRecord) {
        self.events.push(e);
    }

    /// Events noted so far.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// The whole screen for `status`, whatever its length.
    #[cfg(test)]
    pub(crate) fn render(&self, s: &pb::StatusReply, p: &Paint) -> String {
        self.render_in(s, p, None)
    }

    /// The screen for `status` within a terminal of `size` (rows,
    /// columns), if known: the header, counters and timers always show;
    /// milestones (the latest first to stay) and then the tail get the rows
    /// left, and their lines are cut to the width.
    pub(crate) fn render_in(
        &self,
        s: &pb::StatusReply,
        p: &Paint,
        size: Option<(usize, usize)>,
    ) -> String {
        let mut o = String::new();
        let up = s.servers.iter().filter(|v| v.up).count();
        let _ = writeln!(
            o,
            "{} · emulated {} · {up} of {} servers up",
            p.bold(&format!("fleet {}", s.fleet)),
            fleetsim_report::text::clock(s.t_ms),
            s.servers.len(),
        );
        // A line of their own, one per fault: a narrow screen (a projector's
        // large font) cuts a long line, and this one says what is wrong.
        let _ = writeln!(o, "faults in force: {}", faults_in_force(&s.faults, p));
        let _ = writeln!(o);
        self.counters(&mut o, s, p);
        timers(&mut o, s, p);
        let lines = explain(None, &self.events, false, p);
        // The fleet coming up is no milestone: pinning starts at the first
        // fault, or at the first sign of trouble without one (an external
        // member killed by its owner, a process found dead).
        let from = lines
            .iter()
            .find(|l| STORY_STARTS.contains(&l.kind))
            .map_or(u64::MAX, |l| l.first);
        let (pinned, rest): (Vec<&Line>, Vec<&Line>) = lines
            .iter()
            .partition(|l| MILESTONES.contains(&l.kind) && l.first >= from);
        // A filter shows every line it matches, milestones too: asking
        // for `fault-applied` or `operator` finds them there.
        let rest: Vec<&Line> = match self.filter.is_empty() {
            true => rest,
            false => lines.iter().filter(|l| self.shows(l)).collect(),
        };
        let (n_pinned, n_tail) = match size {
            // No screen to fit (a pipe, a file): every milestone.
            None => (pinned.len().max(1), TAIL),
            Some((rows, _)) => fit(
                rows.saturating_sub(o.lines().count()),
                pinned.len(),
                // A filter's section shows even empty ("nothing yet").
                rest.len().max(usize::from(!self.filter.is_empty())),
            ),
        };
        // A line the milestones show is not shown again below them.
        let on_show = pick(&pinned, n_pinned).0;
        let matched = rest.len();
        let rest: Vec<&Line> = (rest.into_iter())
            .filter(|l| !on_show.iter().any(|m| std::ptr::eq(*m, *l)))
            .collect();
        let above = matched - rest.len();
        milestones(&mut o, &pinned, n_pinned);
        self.tail(&mut o, (&rest, above), n_tail);
        match size {
            Some((_, cols)) => o.lines().map(|l| cut(l, cols) + "\n").collect(),
            None => o,
        }
    }

    fn counters(&self, o: &mut String, s: &pb::StatusReply, p: &Paint) {
        let _ = writeln!(
            o,
            "  {:<14} {:<6} {:>10} {:>7} {:>11} {:>6}  active",
            "server", "state", "registered", "guests", "refusals/s", "calls"
        );
        for v in &s.servers {
            let state = match (v.address.is_empty(), v.up) {
                (false, _) => "extern".to_string(),
                (true, true) => "up    ".to_string(),
                (true, false) => p.red("DOWN  "),
            };
            if !v.up {
                let _ = writeln!(o, "  {:<14} {state}", v.name);
                continue;
            }
            let _ = writeln!(
                o,
                "  {:<14} {state} {:>10} {:>7} {:>11} {:>6}  {}",
                v.name,
                v.registered,
                v.guests,
                self.refusals_in_last_second(&v.name, s.t_ms),
                v.calls,
                v.active.join(", ")
            );
        }
    }

    /// Registrations `server` refused in the emulated second up to `now`.
    fn refusals_in_last_second(&self, server: &str, now: u64) -> usize {
        self.events
            .iter()
            .rev()
            .take_while(|e| e.t_ms + 1000 > now)
            .filter(|e| e.server == server && e.kind() == "registration-refused")
            .count()
    }

    /// The latest `n` of `rest`; `above` more match the filter but are
    /// shown as milestones already.
    fn tail(&self, o: &mut String, (rest, above): (&[&Line], usize), n: usize) {
        let what = if self.filter.is_empty() {
            "recent".to_string()
        } else {
            let globs: Vec<String> = self.filter.iter().map(|w| w.to_string()).collect();
            format!("recent, matching {}", globs.join(" or "))
        };
        // A filter that matches nothing yet says so, not a missing section.
        if rest.is_empty() && !self.filter.is_empty() && n > 0 {
            let none = if above > 0 {
                "nothing but the milestones above"
            } else {
                "nothing yet"
            };
            let _ = writeln!(o, "\n  {what}\n    {none}");
            return;
        }
        if rest.is_empty() || n == 0 {
            return;
        }
        let _ = writeln!(o, "\n  {what}");
        for l in &rest[rest.len().saturating_sub(n)..] {
            let _ = writeln!(o, "    {}", line(l));
        }
    }

    fn shows(&self, l: &Line) -> bool {
        self.filter.is_empty()
            || self
                .filter
                .iter()
                .any(|w| w.matches(l.kind) || w.matches(&l.server))
    }
}

/// The faults in force, one per line under the first.
fn faults_in_force(faults: &[String], p: &Paint) -> String {
    if faults.is_empty() {
        return "none".to_string();
    }
    let indent = format!("\n{}", " ".repeat("faults in force: ".len()));
    faults
        .iter()
        .map(|f| p.red(f))
        .collect::<Vec<_>>()
        .join(&indent)
}

/// Milestones that tell the drill's story; the others (a licence entering
/// grace on every server, each peer's own "lost" line) give way first when
/// the screen has too few rows. A backup declaring its home lost (it will
/// take its phones) is the story itself.
fn is_routine(l: &Line) -> bool {
    match l.kind {
        "peer-lost" => !l.text.contains("as its backup"),
        // Services and hunt groups follow a failover or failback: the
        // fault and the failover lines tell it first.
        kind => matches!(
            kind,
            "licence-state" | "peer-returned" | "service-state" | "hunt-group-state"
        ),
    }
}

fn milestones(o: &mut String, pinned: &[&Line], n: usize) {
    let _ = writeln!(o, "\n  milestones");
    if pinned.is_empty() {
        let _ = writeln!(o, "    none yet");
    }
    let (shown, left_out) = pick(pinned, n);
    if left_out > 0 && n >= 2 {
        let _ = writeln!(
            o,
            "    … {} not shown",
            fleetsim_model::words::counted(
                left_out,
                "earlier or routine milestone",
                "earlier or routine milestones"
            )
        );
    }
    for l in shown {
        let _ = writeln!(o, "    {}", line(l));
    }
}

/// At most `n` rows of milestones: all if they fit; else one row (given
/// two or more) says how many are left out and the rest go to the latest
/// story milestones, then the latest routine ones, shown in time order.
fn pick<'a>(pinned: &[&'a Line], n: usize) -> (Vec<&'a Line>, usize) {
    if pinned.len() <= n {
        return (pinned.to_vec(), 0);
    }
    let room = n.saturating_sub(1).max(1);
    let mut order: Vec<usize> = (0..pinned.len()).collect();
    // Story before routine, then latest first.
    order.sort_by_key(|&i| (is_routine(pinned[i]), std::cmp::Reverse(i)));
    let mut keep: Vec<usize> = order.into_iter().take(room).collect();
    keep.sort_unstable();
    let shown: Vec<&Line> = keep.into_iter().map(|i| pinned[i]).collect();
    let left_out = pinned.len() - shown.len();
    (shown, left_out)
}

/// How many milestones and tail lines fit in `free` rows (one kept for the
/// cursor): each section costs a blank line and a title; milestones first.
fn fit(free: usize, pinned: usize, tail: usize) -> (usize, usize) {
    let free = free.saturating_sub(1);
    let room = free.saturating_sub(2);
    // Up to PINNED rows even at the tail's cost; past that, the rows a
    // full tail leaves (a tall screen shows every milestone).
    let tail_needs = if tail > 0 { tail.min(TAIL) + 2 } else { 0 };
    let n_pinned = pinned
        .min(room.saturating_sub(tail_needs).max(PINNED.min(room)))
        .max(1);
    let left = free.saturating_sub(2 + n_pinned);
    let n_tail = tail.min(TAIL).min(left.saturating_sub(2));
    (n_pinned, n_tail)
}

/// `s` cut to `width` visible characters, the cut marked with `…`; colour
/// escapes (`ESC[…m`) take no width and are never split.
fn cut(s: &str, width: usize) -> String {
    if visible(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let (mut shown, mut escaped, mut in_escape) = (0, false, false);
    for c in s.chars() {
        if c == '\x1b' {
            (in_escape, escaped) = (true, true);
        }
        if in_escape {
            out.push(c);
            in_escape = c != 'm';
            continue;
        }
        if shown + 1 == width {
            break;
        }
        out.push(c);
        shown += 1;
    }
    out.push('…');
    if escaped {
        out.push_str("\x1b[0m");
    }
    out
}

/// The characters of `s` a terminal shows (colour escapes take none).
fn visible(s: &str) -> usize {
    let mut in_escape = false;
    s.chars()
        .filter(|&c| {
            if c == '\x1b' {
                in_escape = true;
            }
            let shown = !in_escape;
            if in_escape && c == 'm' {
                in_escape = false;
            }
            shown
        })
        .count()
}

fn line(l: &Line) -> String {
    let t = if l.first == l.last {
        fleetsim_report::text::clock(l.first)
    } else {
        format!(
            "{}–{}",
            fleetsim_report::text::clock(l.first),
            fleetsim_report::text::clock(l.last)
        )
    };
    format!("{t:<25} {:<13} {}", l.server, l.text)
}

/// Per-peer timers of the servers up: a backup counting a silent peer down
/// to failover, and a returned home counting up to failback.
fn timers(o: &mut String, s: &pb::StatusReply, p: &Paint) {
    let mut rows = Vec::new();
    for v in s.servers.iter().filter(|v| v.up) {
        for t in &v.peers {
            if let Some(text) = timer(s, t, p) {
                rows.push(format!("    {:<14} {text}", v.name));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n  timers (as each server sees its peers)");
    for r in rows {
        let _ = writeln!(o, "{r}");
    }
}

fn timer(s: &pb::StatusReply, t: &pb::PeerTimer, p: &Paint) -> Option<String> {
    let role = if t.backing_up {
        "its backup"
    } else {
        "not its backup"
    };
    // A peer heard within a presence period or so is simply well.
    let quiet = s.failover_after_ms / 4;
    match (t.lost, t.visible_ms) {
        (false, _) if t.silent_ms <= quiet => None,
        (false, _) => {
            let left = s.failover_after_ms.saturating_sub(t.silent_ms);
            let due = if t.backing_up { "failover" } else { "lost" };
            Some(p.yellow(&format!(
                "{} silent {} — {due} in {} ({role})",
                t.peer,
                human_ms(t.silent_ms),
                human_ms(left)
            )))
        }
        (true, 0) => Some(format!(
            "{} lost, silent {} ({role})",
            t.peer,
            human_ms(t.silent_ms)
        )),
        (true, visible) => {
            let left = s.failback_after_ms.saturating_sub(visible);
            Some(p.green(&format!(
                "{} visible again {} — failback in {} ({role})",
                t.peer,
                human_ms(visible),
                human_ms(left)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetsim_model::Event;

    fn status(t_ms: u64, peers: Vec<pb::PeerTimer>) -> pb::StatusReply {
        let server = |name: &str, up: bool, registered: u32, guests: u32| pb::ServerStatus {
            name: name.into(),
            role: name.into(),
            up,
            registered,
            guests,
            ..Default::default()
        };
        let mut secondary = server("secondary", true, 22, 16);
        secondary.peers = peers;
        secondary.calls = 2;
        secondary.active = vec!["voicemail-pro".into()];
        pb::StatusReply {
            t_ms,
            fleet: "reference".into(),
            servers: vec![server("primary", false, 0, 0), secondary],
            faults: vec!["crash primary".into()],
            failover_after_ms: 180_000,
            failback_after_ms: 600_000,
            ..Default::default()
        }
    }

    fn silent(ms: u64) -> pb::PeerTimer {
        pb::PeerTimer {
            peer: "primary".into(),
            silent_ms: ms,
            backing_up: true,
            ..Default::default()
        }
    }

    fn at(t_ms: u64, server: &str, event: Event) -> EventRecord {
        EventRecord {
            t_ms,
            server: server.into(),
            event,
        }
    }

    /// The primary crashed at 5m, as its fault event.
    fn crash_at_5m() -> EventRecord {
        at(
            300_000,
            "primary",
            Event::FaultApplied {
                fault: "crash primary".into(),
                spec: fleetsim_model::FaultKind::Crash {
                    server: "primary".into(),
                },
            },
        )
    }

    fn refused(t_ms: u64, phone: &str) -> EventRecord {
        at(
            t_ms,
            "secondary",
            Event::RegistrationRefused {
                phone: phone.into(),
                home: "primary".into(),
                reason: "primary last heard 2m58s ago; failover needs 3m of silence".into(),
            },
        )
    }

    #[test]
    fn a_backup_counts_a_silent_peer_down_to_failover() {
        let screen = Screen::new(&[]);
        let text = screen.render(&status(451_000, vec![silent(151_000)]), &Paint(false));
        assert!(
            text.contains("secondary      primary silent 2m31s — failover in 29s (its backup)"),
            "{text}"
        );
    }

    #[test]
    fn a_returned_home_counts_up_to_failback() {
        let mut t = silent(1_000);
        t.lost = true;
        t.visible_ms = 360_000;
        let text = Screen::new(&[]).render(&status(2_000_000, vec![t]), &Paint(false));
        assert!(
            text.contains("primary visible again 6m — failback in 4m (its backup)"),
            "{text}"
        );
    }

    #[test]
    fn a_peer_heard_recently_shows_no_timer() {
        let text = Screen::new(&[]).render(&status(100_000, vec![silent(12_000)]), &Paint(false));
        assert!(!text.contains("timers"), "{text}");
    }

    #[test]
    fn milestones_stay_pinned_while_refusals_scroll_in_the_tail() {
        let mut screen = Screen::new(&[]);
        screen.push(crash_at_5m());
        for i in 0..40 {
            screen.push(refused(
                330_000 + i * 3_000,
                &format!("20{:02}", i % 16 + 1),
            ));
        }
        let text = screen.render(&status(450_000, vec![silent(150_000)]), &Paint(false));
        let milestones = text.split("  milestones").nth(1).unwrap();
        assert!(
            milestones.contains("0:05:00.000") && milestones.contains("FAULT: crash primary"),
            "{text}"
        );
        assert!(text.contains("refused guest registrations"), "{text}");
    }

    #[test]
    fn the_fault_and_the_failover_stay_on_screen_when_routine_milestones_flood_in() {
        let mut screen = Screen::new(&[]);
        screen.push(crash_at_5m());
        let servers = ["secondary", "expansion-l", "expansion-v2", "apps"];
        for (i, s) in servers.iter().enumerate() {
            screen.push(at(
                400_000 + i as u64,
                s,
                Event::LicenceState {
                    state: "grace".into(),
                    reason: "renewal with primary failed".into(),
                },
            ));
        }
        for (i, s) in servers.iter().enumerate() {
            screen.push(at(
                480_000 + i as u64,
                s,
                Event::PeerLost {
                    peer: "primary".into(),
                    silent_for_ms: 180_000,
                    backing_up: i == 0,
                    records_held: if i == 0 { 16 } else { 0 },
                },
            ));
        }
        for (i, s) in servers.iter().enumerate() {
            screen.push(at(
                490_000 + i as u64,
                s,
                Event::LicenceState {
                    state: "restricted".into(),
                    reason: "test".into(),
                },
            ));
        }
        screen.push(at(
            500_000,
            "secondary",
            Event::FailoverStarted {
                home: "primary".into(),
                trigger: "2001".into(),
                already_here: 0,
            },
        ));
        // A 24-row terminal: too few rows for every milestone.
        let text = screen.render_in(
            &status(501_000, vec![silent(200_000)]),
            &Paint(false),
            Some((24, 200)),
        );
        let milestones = text.split("  milestones").nth(1).unwrap();
        assert!(milestones.contains("FAULT: crash primary"), "{text}");
        assert!(milestones.contains("FAILOVER"), "{text}");
        assert!(
            milestones.contains("routine milestones not shown"),
            "{text}"
        );
        let rows = milestones
            .lines()
            .take_while(|l| !l.trim().is_empty() || l.is_empty())
            .filter(|l| l.starts_with("    "))
            .count();
        assert!(rows <= PINNED, "{rows} rows: {text}");
    }

    #[test]
    fn a_tall_screen_shows_every_milestone_and_a_backups_loss_line_is_never_routine() {
        assert_eq!(fit(60, 20, 40), (20, 8), "spare rows go to milestones");
        assert_eq!(fit(20, 20, 40), (PINNED, 3), "milestones first");
        let line = |kind, text: &str| Line {
            first: 0,
            last: 0,
            server: "secondary".into(),
            text: text.into(),
            kind,
        };
        assert!(!is_routine(&line(
            "peer-lost",
            "has not heard primary for 3m → primary is lost; as its backup it holds 16 of its phone records: each of those phones is accepted as a guest when it re-registers here, as far as the takeover rules and capacity allow"
        )));
        assert!(is_routine(&line(
            "peer-lost",
            "has not heard apps for 3m → apps is lost"
        )));
    }

    #[test]
    fn a_cut_line_keeps_its_colour_escapes_whole() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("\x1b[31mDOWN\x1b[0m tail", 4), "\x1b[31mDOW…\x1b[0m");
        // A line as wide as the screen, ending in an escape, is kept whole.
        assert_eq!(cut("ab\x1b[31mcd\x1b[0m", 4), "ab\x1b[31mcd\x1b[0m");
    }

    #[test]
    fn each_fault_in_force_has_a_line_of_its_own_under_the_header() {
        let screen = Screen::new(&[]);
        let mut s = status(100_000, vec![]);
        s.faults = vec![
            "#1 partition primary | rest".into(),
            "#2 stall phones@primary".into(),
        ];
        let text = screen.render_in(&s, &Paint(false), Some((40, 40)));
        assert!(
            text.contains(
                "faults in force: #1 partition primary |…\n                 #2 stall phones@primary\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn off_a_terminal_every_milestone_shows() {
        let mut screen = Screen::new(&[]);
        for i in 0..30 {
            screen.push(at(
                300_000 + i * 1_000,
                "primary",
                Event::FaultApplied {
                    fault: format!("fault {i}"),
                    spec: fleetsim_model::FaultKind::Heal,
                },
            ));
        }
        let text = screen.render(&status(400_000, vec![]), &Paint(false));
        assert!(
            text.contains("FAULT: fault 0") && text.contains("FAULT: fault 29"),
            "{text}"
        );
        assert!(!text.contains("not shown"), "{text}");
    }

    #[test]
    fn a_small_terminal_keeps_the_header_and_counters_and_the_latest_milestone() {
        let mut screen = Screen::new(&[]);
        for i in 0..12 {
            screen.push(at(
                300_000 + i * 30_000,
                "primary",
                Event::FaultApplied {
                    fault: format!("latency {i}00ms on primary"),
                    spec: fleetsim_model::FaultKind::Crash {
                        server: "primary".into(),
                    },
                },
            ));
        }
        for i in 0..40 {
            screen.push(refused(660_000 + i * 1_000, "2001"));
        }
        let s = status(700_000, vec![silent(150_000)]);
        let full = screen.render(&s, &Paint(false));
        let small = screen.render_in(&s, &Paint(false), Some((18, 72)));
        assert!(full.lines().count() > 18, "{full}");
        assert!(small.lines().count() < 18, "{small}");
        assert!(small.lines().all(|l| l.chars().count() <= 72), "{small}");
        let header = &full.lines().next().unwrap()[..50];
        assert!(small.starts_with(header), "{small}");
        assert!(small.contains("secondary      up"), "{small}");
        assert!(
            small.contains("latency 1100ms"),
            "the latest milestone: {small}"
        );
        assert!(
            !small.contains("latency 000ms"),
            "the oldest milestone: {small}"
        );
    }

    #[test]
    fn the_fleet_coming_up_is_no_milestone_pinning_starts_at_the_first_fault_or_loss() {
        let mut screen = Screen::new(&[]);
        screen.push(at(
            0,
            "secondary",
            Event::ServerStarted {
                role: "secondary".into(),
                incarnation: 1,
            },
        ));
        let text = screen.render(&status(1_000, vec![]), &Paint(false));
        let milestones = text.split("  milestones").nth(1).unwrap();
        assert!(milestones.starts_with("\n    none yet"), "{text}");
        assert!(text.contains("starts as secondary"), "{text}");
        // A peer lost with no fault given (an external member killed by
        // its owner) starts the story.
        screen.push(at(
            200_000,
            "primary",
            Event::PeerLost {
                peer: "secondary".into(),
                silent_for_ms: 180_500,
                backing_up: false,
                records_held: 0,
            },
        ));
        let text = screen.render(&status(201_000, vec![]), &Paint(false));
        let milestones = text.split("  milestones").nth(1).unwrap();
        assert!(milestones.contains("secondary"), "{text}");
        assert!(!milestones.contains("none yet"), "{text}");
    }

    #[test]
    fn refusals_per_second_count_the_last_emulated_second() {
        let mut screen = Screen::new(&[]);
        for t in [448_500, 449_200, 449_900, 450_000] {
            screen.push(refused(t, "2001"));
        }
        let text = screen.render(&status(450_000, vec![]), &Paint(false));
        let row = text.lines().find(|l| l.contains("secondary  ")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        // server, state, registered, guests, refusals/s, calls, active
        assert_eq!(
            cols[..6],
            ["secondary", "up", "22", "16", "3", "2"],
            "{row}"
        );
    }

    #[test]
    fn a_filter_narrows_the_tail_to_matching_events_or_servers() {
        let mut screen = Screen::new(&["call-*".to_string()]);
        screen.push(refused(400_000, "2001"));
        screen.push(at(
            401_000,
            "secondary",
            Event::CallStarted {
                call: "c1".into(),
                phone: "3001".into(),
                kind: "two-party".into(),
                recorded: false,
            },
        ));
        let text = screen.render(&status(402_000, vec![]), &Paint(false));
        assert!(text.contains("recent, matching call-*"), "{text}");
        assert!(!text.contains("refused guest"), "{text}");
        // A milestone it matches is shown once, among the milestones, and
        // the tail says so rather than "nothing yet".
        let mut faults = Screen::new(&["fault-applied".to_string()]);
        faults.push(crash_at_5m());
        let text = faults.render(&status(402_000, vec![]), &Paint(false));
        assert_eq!(text.matches("FAULT: crash primary").count(), 1, "{text}");
        let section = text
            .split("recent, matching fault-applied")
            .nth(1)
            .unwrap_or_default();
        assert!(
            section.contains("nothing but the milestones above"),
            "{text}"
        );
        // A filter nothing matches says so, on any screen size.
        let mut quiet = Screen::new(&["nothing-*".to_string()]);
        quiet.push(refused(400_000, "2001"));
        for size in [None, Some((40, 120))] {
            let text = quiet.render_in(&status(402_000, vec![]), &Paint(false), size);
            assert!(
                text.contains("recent, matching nothing-*\n    nothing yet"),
                "{text}"
            );
        }
    }
}
