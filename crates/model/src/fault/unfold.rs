//! A scenario's `[[fault]]` tables checked and unfolded (targets, `for`,
//! reboot, flap) into a time-ordered list of single faults: one function
//! per action, each error naming its field.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::{
    ACTIONS, Fault, FaultKind, RawFault, RawFlap, RawGray, RawLatency, RawOneWay, Resolver,
    check_story, is_restore, process_action, refuse_external,
};
use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::fleet::Fleet;

type Checked<T> = Result<T, Box<FileError>>;

/// Single faults with their times, as one `[[fault]]` unfolds.
type Steps = Vec<(Dur, FaultKind)>;

/// Validates the faults of a scenario and unfolds them into a time-ordered
/// list of single faults; with `story`, also checks each server's up/down
/// story (no restart of a server that is up, and so on).
pub(crate) fn resolve(
    src: &Source<'_>,
    fleet: &Fleet,
    raw: &[Spanned<RawFault>],
    duration: Dur,
    story: bool,
) -> Checked<Vec<Fault>> {
    let r = Resolver { src, fleet };
    let mut out: Vec<(Range<usize>, Fault)> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let one = One {
            r: &r,
            field: format!("fault[{i}]"),
            at: *f.get_ref().at.get_ref(),
            duration,
        };
        let steps = one.unfold(f)?;
        let total = (out.len() + steps.len()) as u64;
        if total > crate::limits::MAX_FAULT_STEPS as u64 {
            return Err(too_many_steps(src, f.span(), &one.field, total));
        }
        out.extend((steps.into_iter()).map(|(at, kind)| {
            let fault = Fault {
                at,
                kind,
                source: i,
            };
            (f.span(), fault)
        }));
    }
    // At one instant, what ends a fault comes before what starts one (a
    // restart at 7m before a crash at 7m), then file order.
    out.sort_by_key(|(_, f)| (f.at, !is_restore(&f.kind)));
    let (spans, faults): (Vec<Range<usize>>, Vec<Fault>) = out.into_iter().unzip();
    if story {
        check_story(&faults).map_err(|e| {
            let field = format!("fault[{}].{}", faults[e.index].source, e.field);
            src.error(
                spans[e.index].clone(),
                Some(&field),
                e.message,
                Some(e.hint),
            )
        })?;
    }
    Ok(faults)
}

/// The faults up to `field` unfold into `steps`, more than a scenario may.
fn too_many_steps(src: &Source<'_>, span: Range<usize>, field: &str, steps: u64) -> Box<FileError> {
    src.error(
        span,
        Some(field),
        format!(
            "the faults up to here unfold into {steps} steps, more than the {} a scenario may have",
            crate::limits::MAX_FAULT_STEPS
        ),
        Some("a flap is two steps per period per target and a glob one per server: use fewer periods, fewer faults or a smaller target".into()),
    )
}

/// One `[[fault]]` being unfolded.
struct One<'a> {
    r: &'a Resolver<'a>,
    /// `fault[i]`.
    field: String,
    at: Dur,
    /// The run's length.
    duration: Dur,
}

impl One<'_> {
    fn error(
        &self,
        span: Range<usize>,
        key: &str,
        msg: impl Into<String>,
        hint: &str,
    ) -> Box<FileError> {
        let field = match key {
            "" => self.field.clone(),
            k => format!("{}.{k}", self.field),
        };
        self.r.src.error(span, Some(&field), msg, Some(hint.into()))
    }

    /// The fault's single steps: its one action on each target, and their
    /// undo after `for`.
    fn unfold(&self, f: &Spanned<RawFault>) -> Checked<Steps> {
        let fr = f.get_ref();
        self.check_at(fr)?;
        let (actions, mut steps) = self.actions(fr)?;
        if actions != 1 {
            return Err(self.error(
                f.span(),
                "",
                format!("a fault needs exactly one action, this one has {actions}"),
                &format!("use one of: {ACTIONS}"),
            ));
        }
        if let Some((key, span)) = process_action(fr) {
            refuse_external(self.r.src, self.r.fleet, &self.field, key, span, &steps)?;
        }
        if let Some(d) = &fr.for_ {
            let undos = self.undo_after(fr, d, &steps)?;
            steps.extend(undos);
        }
        Ok(steps)
    }

    /// A fault inside the run, so that something after it shows what it did.
    fn check_at(&self, fr: &RawFault) -> Checked<()> {
        let (at, duration) = (self.at, self.duration);
        if at < duration {
            return Ok(());
        }
        let when = if at > duration { "after" } else { "at" };
        Err(self.error(
            fr.at.span(),
            "at",
            format!(
                "fault at {at} is {when} the end of the run ({duration}): nothing after it would show what it did"
            ),
            "make the fault earlier or the duration longer",
        ))
    }

    /// Every action the fault names (it should name one), unfolded in the
    /// order of [`ACTIONS`]: how many there were, and their steps.
    fn actions(&self, fr: &RawFault) -> Checked<(usize, Steps)> {
        let mut found: Vec<Steps> = Vec::new();
        let servers = |t: &Option<Spanned<String>>, key, kind: fn(String) -> FaultKind| {
            t.as_ref().map(|t| self.on_servers(t, key, kind))
        };
        let each = [
            servers(&fr.crash, "crash", |server| FaultKind::Crash { server }),
            servers(&fr.stop, "stop", |server| FaultKind::Stop { server }),
            servers(&fr.restart, "restart", |server| FaultKind::Restart {
                server,
            }),
            fr.reboot.as_ref().map(|t| self.reboot(fr, t)),
            fr.partition.as_ref().map(|p| self.partition(p)),
            fr.one_way.as_ref().map(|o| self.one_way(o)),
            fr.heal.as_ref().map(|h| self.heal(h)),
            fr.latency.as_ref().map(|l| self.latency(l)),
            fr.stall.as_ref().map(|t| self.stall(t)),
            fr.flap.as_ref().map(|f| self.flap(f)),
            fr.gray.as_ref().map(|g| self.gray(g)),
            servers(&fr.hang, "hang", |server| FaultKind::Hang {
                server,
                on: true,
            }),
            fr.clock_offset.as_ref().map(|c| {
                let (target, offset_ms) = (&c.get_ref().target, c.get_ref().offset.0);
                self.on_servers(target, "clock-offset.target", move |server| {
                    FaultKind::ClockOffset { server, offset_ms }
                })
            }),
            fr.activate_backup
                .as_ref()
                .map(|v| self.operator("activate-backup", v)),
            fr.manual_failback
                .as_ref()
                .map(|v| self.operator("manual-failback", v)),
            servers(&fr.config_change, "config-change", |server| {
                FaultKind::ConfigChange { server }
            }),
            fr.reboot_phone.as_ref().map(|t| self.reboot_phone(t)),
        ];
        // Checked in order: the first action's error is the one reported.
        for steps in each.into_iter().flatten() {
            found.push(steps?);
        }
        Ok((found.len(), found.into_iter().flatten().collect()))
    }

    /// `kind` on every server `t` names, at the fault's time.
    fn on_servers(
        &self,
        t: &Spanned<String>,
        key: &str,
        kind: impl Fn(String) -> FaultKind,
    ) -> Checked<Steps> {
        let servers = self.r.servers(t, &format!("{}.{key}", self.field))?;
        Ok(servers.into_iter().map(|s| (self.at, kind(s))).collect())
    }

    /// A reboot: a crash whose `for` restarts the server.
    fn reboot(&self, fr: &RawFault, t: &Spanned<String>) -> Checked<Steps> {
        if fr.for_.is_none() {
            return Err(self.error(
                t.span(),
                "for",
                "a reboot needs `for`, how long the server stays down",
                "write reboot = \"primary\" with for = \"2m\"",
            ));
        }
        self.on_servers(t, "reboot", |server| FaultKind::Crash { server })
    }

    /// A partition: groups of nodes, each node in one group only, at least
    /// one group not empty.
    fn partition(&self, p: &Spanned<Vec<Vec<Spanned<String>>>>) -> Checked<Steps> {
        let field = format!("{}.partition", self.field);
        let mut placed: BTreeMap<String, usize> = BTreeMap::new();
        let mut groups = Vec::new();
        for (gi, g) in p.get_ref().iter().enumerate() {
            let mut group = Vec::new();
            for n in g {
                for node in self.r.nodes(n, &field)? {
                    if let Some(prev) = placed.insert(node.clone(), gi) {
                        return Err(self.placed_twice(n, &node, prev, gi));
                    }
                    group.push(node);
                }
            }
            groups.push(group);
        }
        if groups.iter().all(Vec::is_empty) {
            return Err(self.error(
                p.span(),
                "partition",
                "a partition needs at least one non-empty group",
                "write partition = [[\"primary\"]] to cut the primary off from everything else",
            ));
        }
        Ok(vec![(self.at, FaultKind::Partition { groups })])
    }

    fn placed_twice(
        &self,
        n: &Spanned<String>,
        node: &str,
        prev: usize,
        gi: usize,
    ) -> Box<FileError> {
        let (message, hint) = if prev == gi {
            (
                format!("{node:?} is named twice in group {gi}"),
                "name each node once",
            )
        } else {
            (
                format!("{node:?} is in group {prev} and group {gi}"),
                "a node belongs to one group only",
            )
        };
        self.error(n.span(), "partition", message, hint)
    }

    /// A one-way cut: senders and receivers, none on both sides, no more
    /// pairs than a cut holds.
    fn one_way(&self, o: &Spanned<RawOneWay>) -> Checked<Steps> {
        let ow = o.get_ref();
        let from = self.one_way_side(o, &ow.from, "from")?;
        let to = self.one_way_side(o, &ow.to, "to")?;
        // A site's phones count one each: the cut holds every pair.
        let weight = |nodes: &[String]| -> usize {
            (nodes.iter())
                .map(|n| match n.strip_prefix("phones@") {
                    Some(site) => self.r.fleet.phones_of(site).count().max(1),
                    None => 1,
                })
                .sum()
        };
        let (senders, receivers) = (weight(&from), weight(&to));
        let pairs = senders.saturating_mul(receivers);
        if pairs > crate::limits::MAX_ONE_WAY_PAIRS {
            return Err(self.error(
                o.span(),
                "one-way",
                format!(
                    "cuts {senders} senders from {receivers} receivers, {pairs} pairs; a one-way cut holds at most {}",
                    crate::limits::MAX_ONE_WAY_PAIRS
                ),
                "name fewer nodes on one side, or cut a whole site off with a partition",
            ));
        }
        if let Some(both) = from.iter().find(|n| to.contains(n)) {
            return Err(self.error(
                o.span(),
                "one-way",
                format!("{both:?} is in both `from` and `to`: a node does not send to itself over the network"),
                "name each node on one side only, e.g. one-way = { from = [\"primary\"], to = [\"secondary\"] }",
            ));
        }
        Ok(vec![(self.at, FaultKind::OneWay { from, to, on: true })])
    }

    /// One side of a one-way cut: the nodes it names, at least one.
    fn one_way_side(
        &self,
        o: &Spanned<RawOneWay>,
        side: &[Spanned<String>],
        what: &str,
    ) -> Checked<Vec<String>> {
        let field = format!("{}.one-way.{what}", self.field);
        let mut out = Vec::new();
        for n in side {
            out.extend(self.r.nodes(n, &field)?);
        }
        if out.is_empty() {
            return Err(self.error(
                o.span(),
                &format!("one-way.{what}"),
                format!("`{what}` names no node"),
                "write one-way = { from = [\"primary\"], to = [\"secondary\"] }",
            ));
        }
        Ok(out)
    }

    fn heal(&self, h: &Spanned<bool>) -> Checked<Steps> {
        if !*h.get_ref() {
            return Err(self.error(
                h.span(),
                "heal",
                "heal = false does nothing",
                "write heal = true, or remove the fault",
            ));
        }
        Ok(vec![(self.at, FaultKind::Heal)])
    }

    /// Latency on every node the target names; past the longest run a delay
    /// is a cut, so say so rather than carry a duration no timer can hold.
    fn latency(&self, l: &Spanned<RawLatency>) -> Checked<Steps> {
        let lr = l.get_ref();
        if let Some((key, d)) = [("delay", lr.delay), ("jitter", lr.jitter)]
            .into_iter()
            .find(|(_, d)| *d > crate::limits::MAX_DURATION)
        {
            return Err(self.error(
                self.r.src.value_span(l.span(), key),
                &format!("latency.{key}"),
                format!(
                    "{d} is longer than the longest run ({}); no message would ever arrive",
                    crate::limits::MAX_DURATION
                ),
                "to lose every message, use stall or a partition",
            ));
        }
        let nodes = self
            .r
            .nodes(&lr.target, &format!("{}.latency.target", self.field))?;
        let (delay, jitter) = (lr.delay, lr.jitter);
        Ok((nodes.into_iter())
            .map(|node| {
                (
                    self.at,
                    FaultKind::Latency {
                        node,
                        delay,
                        jitter,
                    },
                )
            })
            .collect())
    }

    fn stall(&self, t: &Spanned<String>) -> Checked<Steps> {
        let nodes = self.r.nodes(t, &format!("{}.stall", self.field))?;
        Ok((nodes.into_iter())
            .map(|node| (self.at, FaultKind::Stall { node, on: true }))
            .collect())
    }

    /// A flap: `count` periods of a stall for `duty` of each, ending inside
    /// the run.
    fn flap(&self, fl: &Spanned<RawFlap>) -> Checked<Steps> {
        let x = fl.get_ref();
        self.check_flap(fl)?;
        let period = x.period.get_ref().as_millis();
        let count = u64::from(*x.count.get_ref());
        let down = (period as f64 * *x.duty.get_ref()).round() as u64;
        let nodes = self
            .r
            .nodes(&x.target, &format!("{}.flap.target", self.field))?;
        let steps = nodes.len() as u64 * count * 2;
        if steps > crate::limits::MAX_FAULT_STEPS as u64 {
            return Err(too_many_steps(self.r.src, fl.span(), &self.field, steps));
        }
        let mut out = Vec::new();
        for node in nodes {
            for k in 0..count {
                let start = self.at.as_millis() + k * period;
                for (t, on) in [(start, true), (start + down, false)] {
                    let node = node.clone();
                    out.push((Dur::millis(t), FaultKind::Stall { node, on }));
                }
            }
        }
        Ok(out)
    }

    /// A flap's duty, period and count, and its last period's end in the run.
    fn check_flap(&self, fl: &Spanned<RawFlap>) -> Checked<()> {
        let x = fl.get_ref();
        let duty = *x.duty.get_ref();
        if !(duty > 0.0 && duty < 1.0) {
            return Err(self.error(
                x.duty.span(),
                "flap.duty",
                format!("duty {duty} must be more than 0 and less than 1"),
                "duty is the share of each period the link is down, e.g. 0.5",
            ));
        }
        let period = x.period.get_ref().as_millis();
        let count = *x.count.get_ref();
        if period < crate::limits::MIN_FLAP_PERIOD.as_millis() || count == 0 || count > 10_000 {
            return Err(self.error(
                fl.span(),
                "flap",
                "a flap needs a period of at least 1s and a count from 1 to 10000",
                "write flap = { target = \"primary\", period = \"1m\", duty = 0.5, count = 5 }",
            ));
        }
        let down = (period as f64 * duty).round() as u64;
        let last_end = u64::from(count - 1)
            .checked_mul(period)
            .and_then(|x| x.checked_add(self.at.as_millis()))
            .and_then(|x| x.checked_add(down));
        if last_end.is_none_or(|e| e > self.duration.as_millis()) {
            return Err(self.error(
                fl.span(),
                "flap",
                format!(
                    "the flap would run past the end of the run ({})",
                    self.duration
                ),
                "use fewer periods, a shorter period, or a longer run",
            ));
        }
        Ok(())
    }

    /// A gray failure: the paths it drops (at least one) on every server
    /// the target names.
    fn gray(&self, g: &Spanned<RawGray>) -> Checked<Steps> {
        let gr = g.get_ref();
        if gr.drop.get_ref().is_empty() {
            return Err(self.error(
                gr.drop.span(),
                "gray.drop",
                "a gray failure must drop something",
                "write drop = [\"presence\"], [\"telephony\"] or both",
            ));
        }
        let mut drop = gr.drop.get_ref().clone();
        drop.sort();
        drop.dedup();
        self.on_servers(&gr.target, "gray.target", move |server| FaultKind::Gray {
            server,
            drop: drop.clone(),
        })
    }

    /// An operator's action (`activate-backup`, `manual-failback`) on a
    /// service it applies to.
    fn operator(&self, key: &str, v: &Spanned<String>) -> Checked<Steps> {
        let allowed: &[&str] = if key == "activate-backup" {
            &["voicemail-pro"]
        } else {
            &["voicemail-pro", "one-x-portal"]
        };
        let service = v.get_ref().clone();
        if !allowed.contains(&service.as_str()) {
            let ways: Vec<String> = allowed.iter().map(|a| format!("{key} = {a:?}")).collect();
            return Err(self.error(
                v.span(),
                key,
                format!("{key} does not apply to {service:?}"),
                &format!("write {}", ways.join(" or ")),
            ));
        }
        let kind = if key == "activate-backup" {
            FaultKind::ActivateBackup { service }
        } else {
            FaultKind::ManualFailback { service }
        };
        Ok(vec![(self.at, kind)])
    }

    /// Phone reboots: extensions, or every phone of a site; never a server.
    fn reboot_phone(&self, t: &Spanned<String>) -> Checked<Steps> {
        let fleet = self.r.fleet;
        let mut phones = Vec::new();
        for node in self
            .r
            .any_nodes(t, &format!("{}.reboot-phone", self.field))?
        {
            match node.strip_prefix("phones@") {
                Some(s) => phones.extend(fleet.phones_of(s).map(|p| p.extension.clone())),
                None => phones.push(node),
            }
        }
        if let Some(server) = phones.iter().find(|p| fleet.server(p).is_some()) {
            return Err(self.error(
                t.span(),
                "reboot-phone",
                format!("{server:?} is a server, not a phone"),
                "name an extension, or phones@SERVER for all of its phones",
            ));
        }
        Ok((phones.into_iter())
            .map(|phone| (self.at, FaultKind::RebootPhone { phone }))
            .collect())
    }

    /// The undo of every step at `at + for`: a `for` that is not zero, ends
    /// inside the run, and undoes something.
    fn undo_after(&self, fr: &RawFault, d: &Spanned<Dur>, steps: &Steps) -> Checked<Steps> {
        let fail = |msg: String, hint: &str| Err(self.error(d.span(), "for", msg, hint));
        if fr.flap.is_some() {
            return fail(
                "a flap ends by itself; `for` does not apply".into(),
                "set `count` and `period` instead",
            );
        }
        if d.get_ref().0.is_zero() {
            return fail(
                "`for` is 0: the fault would be undone at the instant it is applied".into(),
                "give how long it lasts, such as for = \"2m\"",
            );
        }
        let end = Dur(self.at.0 + d.get_ref().0);
        if end > self.duration {
            return fail(
                format!(
                    "the fault would end at {end}, after the end of the run ({})",
                    self.duration
                ),
                "shorten `for` or lengthen the run",
            );
        }
        let undos: Steps = (steps.iter())
            .filter_map(|(_, k)| k.undo().map(|u| (end, u)))
            .collect();
        if undos.is_empty() {
            return fail(
                "this fault cannot be undone, so `for` does not apply".into(),
                "remove `for`",
            );
        }
        Ok(undos)
    }
}
