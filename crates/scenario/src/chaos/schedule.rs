//! Random fault schedules: 1–5 faults from the whole vocabulary, each one
//! undone (`for`, or ending by itself), a settle tail, and the scenario
//! file text that runs them.

use fleetsim_model::{Dur, Fleet, GrayPath, PhoneKind, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A class of fault the generator may draw (`--faults LIST` names these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultClass {
    /// `crash` with `for` (undone by a restart).
    Crash,
    /// `stop` with `for` (undone by a restart).
    Stop,
    /// `reboot` (crash, restart after `for`).
    Reboot,
    /// `partition` with `for` (the partition ends).
    Partition,
    /// `one-way` with `for` (the cut is removed).
    OneWay,
    /// `latency` with `for` (latency removed).
    Latency,
    /// `stall` with `for` (released).
    Stall,
    /// `flap` (ends by itself).
    Flap,
    /// `gray` with `for` (healthy again).
    Gray,
    /// `hang` with `for` (resumes).
    Hang,
    /// `clock-offset` with `for` (back to true time).
    ClockOffset,
    /// An operator action: activate backup, manual failback, configuration
    /// change or phone reboot (nothing to undo).
    Operator,
}

impl FaultClass {
    /// Every class, in the order of docs/file-format.md.
    pub const ALL: [FaultClass; 12] = [
        FaultClass::Crash,
        FaultClass::Stop,
        FaultClass::Reboot,
        FaultClass::Partition,
        FaultClass::OneWay,
        FaultClass::Latency,
        FaultClass::Stall,
        FaultClass::Flap,
        FaultClass::Gray,
        FaultClass::Hang,
        FaultClass::ClockOffset,
        FaultClass::Operator,
    ];

    /// The name used in `--faults` (the fault action's key).
    pub fn name(self) -> &'static str {
        match self {
            FaultClass::Crash => "crash",
            FaultClass::Stop => "stop",
            FaultClass::Reboot => "reboot",
            FaultClass::Partition => "partition",
            FaultClass::OneWay => "one-way",
            FaultClass::Latency => "latency",
            FaultClass::Stall => "stall",
            FaultClass::Flap => "flap",
            FaultClass::Gray => "gray",
            FaultClass::Hang => "hang",
            FaultClass::ClockOffset => "clock-offset",
            FaultClass::Operator => "operator",
        }
    }

    /// Parses a comma-separated list of class names.
    pub fn parse_list(list: &str) -> Result<Vec<FaultClass>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let c = FaultClass::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    let all: Vec<&str> = FaultClass::ALL.iter().map(|c| c.name()).collect();
                    let near = fleetsim_model::suggest::did_you_mean(name, all.iter().copied());
                    format!(
                        "unknown fault {name:?}{near}; use any of {}",
                        all.join(", ")
                    )
                })?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.is_empty() {
            return Err("the fault list is empty".into());
        }
        Ok(out)
    }
}

/// One fault table of a generated schedule, as written in a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `crash = SERVER`.
    Crash(String),
    /// `stop = SERVER`.
    Stop(String),
    /// `reboot = SERVER` (needs `for`).
    Reboot(String),
    /// `partition = [[NODE...], ...]`.
    Partition(Vec<Vec<String>>),
    /// `one-way = { from, to }`.
    OneWay {
        /// Senders.
        from: Vec<String>,
        /// Receivers.
        to: Vec<String>,
    },
    /// `latency = { target, delay, jitter }`.
    Latency {
        /// Node.
        node: String,
        /// Delay.
        delay: Dur,
        /// Jitter.
        jitter: Dur,
    },
    /// `stall = NODE`.
    Stall(String),
    /// `flap = { target, period, duty, count }`.
    Flap {
        /// Node.
        node: String,
        /// Period.
        period: Dur,
        /// Share of each period the link is down, in per cent.
        duty_pct: u32,
        /// Periods.
        count: u32,
    },
    /// `gray = { target, drop }`.
    Gray {
        /// Server.
        server: String,
        /// Paths dropped.
        drop: Vec<GrayPath>,
    },
    /// `hang = SERVER`.
    Hang(String),
    /// `clock-offset = { target, offset }`.
    ClockOffset {
        /// Server.
        server: String,
        /// Offset in ms (negative: behind).
        offset_ms: i64,
    },
    /// `activate-backup = "voicemail-pro"`.
    ActivateBackup,
    /// `manual-failback = SERVICE`.
    ManualFailback(String),
    /// `config-change = SERVER`.
    ConfigChange(String),
    /// `reboot-phone = NODE`.
    RebootPhone(String),
}

/// A fault of a generated schedule: when, what, and for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosFault {
    /// When it is applied.
    pub at: Dur,
    /// What.
    pub action: Action,
    /// `for`: when the runner undoes it (none for flaps and operator actions).
    pub for_: Option<Dur>,
}

impl ChaosFault {
    /// When the fault is over: its undo, a flap's last release, or `at`.
    pub fn end(&self) -> Dur {
        match &self.action {
            Action::Flap {
                period,
                duty_pct,
                count,
                ..
            } => {
                let p = period.as_millis();
                let down = (p as f64 * f64::from(*duty_pct) / 100.0).round() as u64;
                Dur::millis(self.at.as_millis() + u64::from(count - 1) * p + down)
            }
            _ => Dur::millis(self.at.as_millis() + self.for_.map_or(0, Dur::as_millis)),
        }
    }

    /// The server it takes down, for crash, stop and reboot.
    fn downs(&self) -> Option<&str> {
        match &self.action {
            Action::Crash(s) | Action::Stop(s) | Action::Reboot(s) => Some(s),
            _ => None,
        }
    }
}

/// A generated schedule: faults in time order, a settle tail, calls or not.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Index in the campaign.
    pub index: u32,
    /// Seed of the schedule's draw and of its run.
    pub seed: u64,
    /// The faults, in time order.
    pub faults: Vec<ChaosFault>,
    /// Emulated time after the last fault is over.
    pub tail: Dur,
    /// Whether the call workload runs.
    pub calls: bool,
}

impl Schedule {
    /// When the last fault is over (its undo), or 0 with no fault.
    pub fn last_undo(&self) -> Dur {
        self.faults
            .iter()
            .map(ChaosFault::end)
            .max()
            .unwrap_or(Dur::ZERO)
    }

    /// The run's emulated length: the last undo plus the settle tail.
    pub fn duration(&self) -> Dur {
        Dur::millis(self.last_undo().as_millis() + self.tail.as_millis())
    }
}

/// The seed of schedule `index` of a campaign seeded `seed` (SplitMix64).
pub fn schedule_seed(seed: u64, index: u32) -> u64 {
    let mut z = seed.wrapping_add(
        u64::from(index)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws schedule `index` of a campaign: the same (fleet, classes, seed,
/// index) always give the same schedule.
pub fn generate(fleet: &Fleet, classes: &[FaultClass], seed: u64, index: u32) -> Schedule {
    let seed = schedule_seed(seed, index);
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        fleet,
    };
    let n = g.rng.random_range(1..=5);
    let mut faults: Vec<ChaosFault> = Vec::new();
    for _ in 0..n {
        let class = classes[g.rng.random_range(0..classes.len())];
        let f = g.fault(class);
        faults.push(keep_story(f, &faults));
    }
    keep_hangs_up(&mut faults);
    faults.sort_by_key(|f| f.at);
    let tail = Dur::secs(g.rng.random_range(30 * 60..=45 * 60));
    Schedule {
        index,
        seed,
        faults,
        tail: tail.max(settle_floor(fleet)),
        calls: g.rng.random_bool(0.8),
    }
}

/// Moves a crash, stop or reboot after every earlier down window of its
/// server, so a server goes down only when up.
fn keep_story(mut f: ChaosFault, earlier: &[ChaosFault]) -> ChaosFault {
    let Some(server) = f.downs() else { return f };
    let clear = earlier
        .iter()
        .filter(|e| e.downs() == Some(server))
        .map(|e| e.end().as_millis() + 10_000)
        .max();
    if let Some(t) = clear
        && t > f.at.as_millis()
    {
        f.at = Dur::millis(t);
    }
    f
}

/// The shortest settle tail in which every phone can be home again: the
/// fleet's failback wait, its home seen again (two presence periods), the
/// phones' keepalive and deadline, and a recovery wait. A fleet with a long
/// `failback-after` gets a tail past the drawn 30–45 minutes.
pub(crate) fn settle_floor(fleet: &Fleet) -> Dur {
    let t = &fleet.timers;
    Dur(t.failback_after.0
        + t.presence_interval.0 * 2
        + t.keepalive_interval.0
        + t.rpc_deadline.0
        + t.recovery_wait.0)
}

/// Moves each hang out of its server's down windows (to 10 s after the
/// restart), so a hang never falls on a server that is down and does nothing.
fn keep_hangs_up(faults: &mut [ChaosFault]) {
    let downs: Vec<(String, u64, u64)> = faults
        .iter()
        .filter_map(|f| {
            Some((
                f.downs()?.to_string(),
                f.at.as_millis(),
                f.end().as_millis(),
            ))
        })
        .collect();
    for f in faults.iter_mut() {
        let Action::Hang(server) = &f.action else {
            continue;
        };
        // Down windows never overlap (keep_story), so one pass in time order
        // settles each hang.
        let mut windows: Vec<_> = downs.iter().filter(|(s, ..)| s == server).collect();
        windows.sort_by_key(|(_, from, _)| *from);
        for (_, from, to) in windows {
            if (*from..=*to).contains(&f.at.as_millis()) {
                f.at = Dur::millis(to + 10_000);
            }
        }
    }
}

struct Gen<'a> {
    rng: ChaCha8Rng,
    fleet: &'a Fleet,
}

impl Gen<'_> {
    fn secs(&mut self, lo: u64, hi: u64) -> Dur {
        Dur::secs(self.rng.random_range(lo..=hi))
    }

    fn pick<'s>(&mut self, v: &'s [String]) -> &'s str {
        &v[self.rng.random_range(0..v.len())]
    }

    fn servers(&self) -> Vec<String> {
        self.fleet.servers.iter().map(|s| s.name.clone()).collect()
    }

    fn server(&mut self) -> String {
        let all = self.servers();
        self.pick(&all).to_string()
    }

    /// Every site with phones, as `phones@SERVER`.
    fn sites(&self) -> Vec<String> {
        self.fleet
            .servers
            .iter()
            .filter(|s| {
                self.fleet
                    .phones_of(&s.name)
                    .any(|p| p.kind != PhoneKind::Analogue)
            })
            .map(|s| format!("phones@{}", s.name))
            .collect()
    }

    /// Every phone's extension, in fleet order.
    fn extensions(&self) -> Vec<String> {
        self.fleet
            .phones
            .iter()
            .map(|p| p.extension.clone())
            .collect()
    }

    /// A server (mostly), a site's phones, or one extension a network
    /// fault can reach (not an analogue one, wired to its port).
    fn node(&mut self) -> String {
        let sites = self.sites();
        let phones: Vec<String> = (self.fleet.phones.iter())
            .filter(|p| p.kind != PhoneKind::Analogue)
            .map(|p| p.extension.clone())
            .collect();
        match self.rng.random_range(0..10) {
            0..7 => self.server(),
            7..9 if !sites.is_empty() => self.pick(&sites).to_string(),
            _ if !phones.is_empty() => self.pick(&phones).to_string(),
            _ => self.server(),
        }
    }

    fn fault(&mut self, class: FaultClass) -> ChaosFault {
        let at = self.secs(60, 30 * 60);
        let for_ = Some(self.secs(10, 20 * 60));
        let action = self.action(class);
        let for_ = match &action {
            Action::Reboot(_) => Some(self.secs(30, 5 * 60)),
            Action::Flap { .. }
            | Action::ActivateBackup
            | Action::ManualFailback(_)
            | Action::ConfigChange(_)
            | Action::RebootPhone(_) => None,
            _ => for_,
        };
        ChaosFault { at, action, for_ }
    }

    fn action(&mut self, class: FaultClass) -> Action {
        match class {
            FaultClass::Crash => Action::Crash(self.server()),
            FaultClass::Stop => Action::Stop(self.server()),
            FaultClass::Reboot => Action::Reboot(self.server()),
            FaultClass::Partition => Action::Partition(self.groups()),
            FaultClass::OneWay => self.one_way(),
            FaultClass::Latency => Action::Latency {
                node: self.node(),
                delay: Dur::millis(self.rng.random_range(100..=6_000)),
                jitter: Dur::millis(self.rng.random_range(0..=500)),
            },
            FaultClass::Stall => Action::Stall(self.node()),
            FaultClass::Flap => Action::Flap {
                node: self.node(),
                period: self.secs(20, 180),
                duty_pct: self.rng.random_range(20..=80),
                count: self.rng.random_range(2..=10),
            },
            FaultClass::Gray => {
                let drop = match self.rng.random_range(0..3) {
                    0 => vec![GrayPath::Presence],
                    1 => vec![GrayPath::Telephony],
                    _ => vec![GrayPath::Presence, GrayPath::Telephony],
                };
                Action::Gray {
                    server: self.server(),
                    drop,
                }
            }
            FaultClass::Hang => Action::Hang(self.server()),
            FaultClass::ClockOffset => {
                let ms = self.rng.random_range(10_000..=15 * 60_000i64);
                Action::ClockOffset {
                    server: self.server(),
                    offset_ms: if self.rng.random_bool(0.5) { ms } else { -ms },
                }
            }
            FaultClass::Operator => self.operator(),
        }
    }

    /// One or two groups of servers (each with its site's phones or not).
    fn groups(&mut self) -> Vec<Vec<String>> {
        let mut servers = self.servers();
        // A seeded shuffle.
        for i in (1..servers.len()).rev() {
            let j = self.rng.random_range(0..=i);
            servers.swap(i, j);
        }
        let cut = self.rng.random_range(1..servers.len().max(2));
        let two = servers.len() - cut >= 2 && self.rng.random_bool(0.3);
        let mut groups = vec![servers[..cut].to_vec()];
        if two {
            let end = cut + self.rng.random_range(1..servers.len() - cut);
            groups.push(servers[cut..end].to_vec());
        }
        for g in &mut groups {
            if self.rng.random_bool(0.5) {
                let sites: Vec<String> = g
                    .iter()
                    .filter(|s| self.fleet.phones_of(s).next().is_some())
                    .map(|s| format!("phones@{s}"))
                    .collect();
                g.extend(sites);
            }
        }
        groups
    }

    fn one_way(&mut self) -> Action {
        let from = self.server();
        let others: Vec<String> = self.servers().into_iter().filter(|s| *s != from).collect();
        let to = if others.is_empty() || self.rng.random_bool(0.2) {
            let sites = self.sites();
            if sites.is_empty() {
                others.clone()
            } else {
                sites
            }
        } else {
            others
        };
        // A lone server with no phones has nothing to cut itself off from:
        // it is stalled instead.
        if to.is_empty() {
            return Action::Stall(from);
        }
        let to = vec![self.pick(&to).to_string()];
        Action::OneWay {
            from: vec![from],
            to,
        }
    }

    fn operator(&mut self) -> Action {
        let ip_office: Vec<String> = self
            .fleet
            .servers
            .iter()
            .filter(|s| s.role != Role::ApplicationServer)
            .map(|s| s.name.clone())
            .collect();
        match self.rng.random_range(0..5) {
            0 => Action::ActivateBackup,
            1 => Action::ManualFailback("voicemail-pro".into()),
            2 => Action::ManualFailback("one-x-portal".into()),
            3 if !ip_office.is_empty() => Action::ConfigChange(self.pick(&ip_office).to_string()),
            _ if !self.fleet.phones.is_empty() => {
                let phones = self.extensions();
                Action::RebootPhone(self.pick(&phones).to_string())
            }
            _ => Action::ActivateBackup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Fleet {
        crate::chaos::Base::reference().fleet
    }

    #[test]
    fn the_same_seed_draws_the_same_schedules() {
        let f = fleet();
        for i in 0..20 {
            assert_eq!(
                generate(&f, &FaultClass::ALL, 7, i),
                generate(&f, &FaultClass::ALL, 7, i)
            );
        }
    }

    #[test]
    fn another_seed_draws_other_schedules() {
        let f = fleet();
        let a: Vec<Schedule> = (0..10)
            .map(|i| generate(&f, &FaultClass::ALL, 1, i))
            .collect();
        let b: Vec<Schedule> = (0..10)
            .map(|i| generate(&f, &FaultClass::ALL, 2, i))
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn every_schedule_has_one_to_five_faults_each_undone_then_a_settle_tail() {
        let f = fleet();
        for i in 0..200 {
            let s = generate(&f, &FaultClass::ALL, 3, i);
            assert!((1..=5).contains(&s.faults.len()));
            assert!(s.tail >= Dur::mins(30) && s.tail <= Dur::mins(45));
            for fault in &s.faults {
                let undone_by_itself = matches!(
                    fault.action,
                    Action::Flap { .. }
                        | Action::ActivateBackup
                        | Action::ManualFailback(_)
                        | Action::ConfigChange(_)
                        | Action::RebootPhone(_)
                );
                assert_eq!(fault.for_.is_none(), undone_by_itself, "{fault:?}");
                assert!(fault.end() <= s.last_undo());
            }
        }
    }

    #[test]
    fn every_drawn_schedule_is_a_valid_scenario() {
        let base = crate::chaos::Base::reference();
        for i in 0..300 {
            let s = generate(&base.fleet, &FaultClass::ALL, 5, i);
            if let Err(e) = base.scenario(&s) {
                panic!("schedule {i} is invalid: {e}\n{s:?}");
            }
        }
    }

    #[test]
    fn a_drawn_hang_never_falls_on_a_server_that_is_down() {
        let base = crate::chaos::Base::reference();
        let classes = FaultClass::parse_list("crash, stop, reboot, hang").unwrap();
        let mut hangs = 0;
        for i in 0..300 {
            let s = generate(&base.fleet, &classes, 11, i);
            hangs += s
                .faults
                .iter()
                .filter(|f| matches!(f.action, Action::Hang(_)))
                .count();
            if let Err(e) = base.scenario(&s) {
                panic!("schedule {i} is invalid: {e}\n{s:?}");
            }
        }
        assert!(hangs > 100, "only {hangs} hangs drawn");
    }

    #[test]
    fn a_fleet_slow_to_fail_back_gets_a_settle_tail_long_enough_for_it() {
        let mut f = fleet();
        f.timers.failback_after = Dur::mins(120);
        for i in 0..20 {
            let s = generate(&f, &FaultClass::ALL, 3, i);
            assert!(s.tail > Dur::mins(120), "{:?}", s.tail);
            // The faults are drawn as on any fleet.
            assert_eq!(s.faults, generate(&fleet(), &FaultClass::ALL, 3, i).faults);
        }
    }

    #[test]
    fn only_the_listed_fault_classes_are_drawn() {
        let f = fleet();
        let classes = FaultClass::parse_list("crash, hang").unwrap();
        for i in 0..50 {
            for fault in generate(&f, &classes, 5, i).faults {
                assert!(matches!(fault.action, Action::Crash(_) | Action::Hang(_)));
            }
        }
        assert!(FaultClass::parse_list("crash,meteor").is_err());
    }
}
