//! A scenario's `[[expect]]` tables checked against its fleet and faults:
//! one function per kind of expectation, each error naming its field.

use toml::Spanned;

use super::{
    Expectation, NamedExpectation, RawCallBounds, RawCapacity, RawExpect, RawFailback, RawLicence,
    RawNoFailover, RawService, RawTakeover, assertions, at_in_run, default_name, derived_name,
    observable, positive, starts_in_run, takes_registrations, unique_name,
};
use crate::assertion::{CallIds, Ctx};
use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::fault::Fault;
use crate::fleet::{Fleet, ServerSpec};

type Checked<T> = Result<T, Box<FileError>>;

/// Every expectation, named (its own name, or one derived from what it
/// checks, numbered when taken).
pub(super) fn expectations(
    src: &Source<'_>,
    fleet: &Fleet,
    faults: &[Fault],
    calls: &CallIds,
    duration: Dur,
    raw: &[Spanned<RawExpect>],
) -> Checked<Vec<NamedExpectation>> {
    use crate::limits::MAX_EXPECTATIONS;
    if let Some(e) = raw.get(MAX_EXPECTATIONS) {
        return Err(src.error(
            e.span(),
            Some(&format!("expect[{MAX_EXPECTATIONS}]")),
            format!("a scenario may have at most {MAX_EXPECTATIONS} expectations"),
            Some("split the checks over several scenarios, or use count and state".into()),
        ));
    }
    let mut out: Vec<NamedExpectation> = Vec::new();
    for (i, e) in raw.iter().enumerate() {
        let cx = Ctx {
            src,
            fleet,
            faults,
            calls,
            duration,
            field: format!("expect[{i}]"),
        };
        let expect = one(&cx, e)?;
        let name = match &e.get_ref().name {
            Some(n) => unique_name(src, n, i, &out)?,
            None => derived_name(default_name(&expect), &out),
        };
        out.push(NamedExpectation { name, expect });
    }
    Ok(out)
}

/// The one check of an `[[expect]]` table.
fn one(cx: &Ctx<'_>, e: &Spanned<RawExpect>) -> Checked<Expectation> {
    let er = e.get_ref();
    let span = || e.span();
    let each = [
        er.takeover
            .as_ref()
            .map(|t| takeover(cx, span(), t.get_ref())),
        er.no_failover
            .as_ref()
            .map(|n| no_failover(cx, n.get_ref())),
        er.failback
            .as_ref()
            .map(|f| failback(cx, span(), f.get_ref())),
        er.service.as_ref().map(|s| service(cx, s.get_ref())),
        er.licence.as_ref().map(|l| licence(cx, l.get_ref())),
        er.nothing_lost.as_ref().map(|n| nothing_lost(cx, n)),
        er.calls.as_ref().map(|c| calls(cx, c)),
        (er.split_brain.as_ref()).map(|b| {
            Ok(Expectation::SplitBrain {
                present: *b.get_ref(),
            })
        }),
        (er.capacity_overflow.as_ref()).map(|c| capacity_overflow(cx, span(), c.get_ref())),
    ];
    // Checked in order: the first check's error is the one reported.
    let mut found = Vec::new();
    for check in each.into_iter().flatten() {
        found.push(check?);
    }
    found.extend(assertions(cx, er)?);
    if found.len() != 1 {
        return Err(cx.src.error(
            e.span(),
            Some(&cx.field),
            format!(
                "an expectation needs exactly one check, this one has {}",
                found.len()
            ),
            Some(
                "use one of: takeover, no-failover, failback, service, licence, nothing-lost, calls, split-brain, capacity-overflow, never, eventually, count, state"
                    .into(),
            ),
        ));
    }
    Ok(found.remove(0))
}

/// `field` under this expectation: `expect[i].takeover.of`.
fn field(cx: &Ctx<'_>, key: &str) -> String {
    format!("{}.{key}", cx.field)
}

/// A server of the fleet, or an error listing them.
fn known_server<'a>(cx: &Ctx<'a>, s: &Spanned<String>, key: &str) -> Checked<&'a ServerSpec> {
    cx.fleet.server(s.get_ref()).ok_or_else(|| {
        let names: Vec<&str> = cx.fleet.servers.iter().map(|s| s.name.as_str()).collect();
        cx.src.error(
            s.span(),
            Some(&field(cx, key)),
            format!("unknown server {:?}", s.get_ref()),
            Some(format!(
                "servers of fleet {:?}: {}",
                cx.fleet.name,
                names.join(", ")
            )),
        )
    })
}

/// A takeover of `of`'s phones by its backup (or `by`), within a bound,
/// from `after` or the fault that takes `of` away from it.
fn takeover(cx: &Ctx<'_>, span: std::ops::Range<usize>, t: &RawTakeover) -> Checked<Expectation> {
    let of = known_server(cx, &t.of, "takeover.of")?;
    let by = taker(cx, t, of)?;
    // A cut counts only where it stands between `of` and the server
    // expected to take over (not a one-way cut to apps); a gray failure
    // only where it drops telephony too: silent presence alone moves no
    // phone, for they still reach their home.
    let isolating = cx.faults.iter().find(|f| {
        takes_away(&f.kind, &of.name, Some(&by))
            && match &f.kind {
                crate::FaultKind::Gray { drop, .. } => drop.contains(&crate::GrayPath::Telephony),
                _ => true,
            }
    });
    let written = after_written(cx, &t.after, "takeover.after")?;
    let (after, after_anchor) = match written {
        Some(m) => (Some(m.at), m.anchor),
        None => (isolating.map(|f| f.at), isolating.map(|f| f.source)),
    };
    let Some(after) = after else {
        return Err(cx.src.error(
            span,
            Some(&field(cx, "takeover.after")),
            format!(
                "no fault takes {:?} down, so a takeover has no start",
                of.name
            ),
            Some("add a crash or partition fault, or give `after`".into()),
        ));
    };
    starts_in_run(
        cx.src,
        span,
        after,
        cx.duration,
        &field(cx, "takeover.after"),
    )?;
    let within = positive(cx.src, &t.within, &field(cx, "takeover.within"))?;
    Ok(Expectation::Takeover {
        of: of.name.clone(),
        by,
        within,
        after,
        after_anchor,
    })
}

/// Who is expected to take over: `by`, another known server, or `of`'s
/// backup for IP phones.
fn taker(cx: &Ctx<'_>, t: &RawTakeover, of: &ServerSpec) -> Checked<String> {
    let key = "takeover.by";
    match &t.by {
        Some(b) => {
            known_server(cx, b, key)?;
            if *b.get_ref() == of.name {
                return Err(cx.src.error(
                    b.span(),
                    Some(&field(cx, key)),
                    format!("{:?} cannot take over its own phones", of.name),
                    Some("name its backup, or leave `by` out for the fleet's".into()),
                ));
            }
            // A phone's gatekeepers are its home and its home's backup:
            // no other server ever sees it re-register.
            has_a_backup(cx, of, &t.of, "takeover.of")?;
            let backup = of.backup.as_ref().map_or("", |x| x.server.as_str());
            if backup != b.get_ref() {
                return Err(cx.src.error(
                    b.span(),
                    Some(&field(cx, key)),
                    format!(
                        "{:?} is not {:?}'s backup ({backup}): its phones never re-register there, so this could never pass",
                        b.get_ref(),
                        of.name
                    ),
                    Some(format!("name {backup}, or leave `by` out")),
                ));
            }
            Ok(b.get_ref().clone())
        }
        None => of.backup_for_phones().map(str::to_string).ok_or_else(|| {
            cx.src.error(
                t.of.span(),
                Some(&field(cx, key)),
                format!("{:?} has no backup for its IP phones", of.name),
                Some("name the server with `by`, or set `backup` in the fleet".into()),
            )
        }),
    }
}

fn no_failover(cx: &Ctx<'_>, n: &RawNoFailover) -> Checked<Expectation> {
    let of = known_server(cx, &n.of, "no-failover.of")?;
    has_a_backup(cx, of, &n.of, "no-failover.of")?;
    Ok(Expectation::NoFailover {
        of: of.name.clone(),
    })
}

/// A server no system backs up can never be failed over: an expectation
/// that it is not would check nothing.
fn has_a_backup(cx: &Ctx<'_>, of: &ServerSpec, s: &Spanned<String>, key: &str) -> Checked<()> {
    if of.backup.is_some() {
        return Ok(());
    }
    let backed: Vec<&str> = (cx.fleet.servers.iter())
        .filter(|s| s.backup.is_some())
        .map(|s| s.name.as_str())
        .collect();
    Err(cx.src.error(
        s.span(),
        Some(&field(cx, key)),
        format!(
            "{:?} has no backup system, so nothing can fail it over: this would check nothing",
            of.name
        ),
        Some(format!(
            "servers of fleet {:?} with a backup: {}",
            cx.fleet.name,
            if backed.is_empty() {
                "none".to_string()
            } else {
                backed.join(", ")
            }
        )),
    ))
}

/// An `after` as written: a time in the run, or one relative to a fault
/// (`"fault 1"`, `"fault 1 + 2m"`), which then moves with that fault.
fn after_written(
    cx: &Ctx<'_>,
    after: &Option<Spanned<String>>,
    key: &str,
) -> Checked<Option<crate::assertion::Moment>> {
    after.as_ref().map(|a| cx.moment(a, key)).transpose()
}

/// Whether `k` takes `of` out of sight, and a cut (partition, one-way
/// loss) only where it stands between `of` and `backup` (a partition that
/// leaves both out, or cuts off some other server, takes nothing away).
fn takes_away(k: &crate::FaultKind, of: &str, backup: Option<&str>) -> bool {
    k.isolates(of)
        && match k {
            crate::FaultKind::OneWay { .. } | crate::FaultKind::Partition { .. } => {
                backup.is_none_or(|b| k.hides(b, of))
            }
            _ => true,
        }
}

/// Phones back on `to` within a bound, from `after` or the fault that
/// brings it back.
fn failback(cx: &Ctx<'_>, span: std::ops::Range<usize>, fb: &RawFailback) -> Checked<Expectation> {
    let server = known_server(cx, &fb.to, "failback.to")?;
    let to = fb.to.get_ref().clone();
    let backup = server.backup_for_phones();
    let away = |k: &crate::FaultKind| takes_away(k, &to, backup);
    let lost = cx.faults.iter().position(|f| away(&f.kind));
    let back = lost.and_then(|i| crate::fault::return_of(cx.faults, &away, i));
    let written = after_written(cx, &fb.after, "failback.after")?;
    let (after, after_anchor) = match written {
        Some(m) => (Some(m.at), m.anchor),
        None => (back.map(|f| f.at), back.map(|f| f.source)),
    };
    let Some(after) = after else {
        return Err(cx.src.error(
            span,
            Some(&field(cx, "failback.after")),
            format!("no fault brings {to:?} back, so a failback has no start"),
            Some("add a restart or heal fault after the failure, or give `after`".into()),
        ));
    };
    starts_in_run(
        cx.src,
        span,
        after,
        cx.duration,
        &field(cx, "failback.after"),
    )?;
    let within = positive(cx.src, &fb.within, &field(cx, "failback.within"))?;
    Ok(Expectation::Failback {
        to,
        within,
        after,
        after_anchor,
    })
}

/// A service's state on a server that runs it, at a time in the run.
fn service(cx: &Ctx<'_>, sv: &RawService) -> Checked<Expectation> {
    let on = known_server(cx, &sv.on, "service.on")?;
    observable(
        cx.src,
        cx.fleet,
        &sv.on,
        &field(cx, "service.on"),
        "services",
    )?;
    let service = sv.name.get_ref();
    if !on.services.iter().any(|x| x.as_str() == service) {
        let runs: Vec<&str> = on.services.iter().map(|x| x.as_str()).collect();
        return Err(cx.src.error(
            sv.name.span(),
            Some(&field(cx, "service.name")),
            format!("{:?} does not run {service:?}", on.name),
            Some(format!("{} runs: {}", on.name, runs.join(", "))),
        ));
    }
    let state = one_of(
        cx,
        &sv.state,
        "service.state",
        "service state",
        &["active", "standby", "down"],
    )?;
    Ok(Expectation::Service {
        service: service.clone(),
        on: on.name.clone(),
        state,
        at: at_in_run(cx.src, &sv.at, cx.duration, &field(cx, "service.at"))?,
    })
}

/// A server's licence state at a time in the run.
fn licence(cx: &Ctx<'_>, l: &RawLicence) -> Checked<Expectation> {
    known_server(cx, &l.server, "licence.server")?;
    observable(
        cx.src,
        cx.fleet,
        &l.server,
        &field(cx, "licence.server"),
        "licence state",
    )?;
    let state = one_of(
        cx,
        &l.state,
        "licence.state",
        "licence state",
        &["normal", "grace", "restricted"],
    )?;
    Ok(Expectation::Licence {
        server: l.server.get_ref().clone(),
        state,
        at: at_in_run(cx.src, &l.at, cx.duration, &field(cx, "licence.at"))?,
    })
}

/// A state named by one of `states`.
fn one_of(
    cx: &Ctx<'_>,
    state: &Spanned<String>,
    key: &str,
    what: &str,
    states: &[&str],
) -> Checked<String> {
    let s = state.get_ref();
    if states.contains(&s.as_str()) {
        return Ok(s.clone());
    }
    let quoted: Vec<String> = states.iter().map(|s| format!("{s:?}")).collect();
    let (last, rest) = quoted.split_last().expect("states are never empty");
    Err(cx.src.error(
        state.span(),
        Some(&field(cx, key)),
        format!("unknown {what} {s:?}"),
        Some(format!("use {} or {last}", rest.join(", "))),
    ))
}

fn nothing_lost(cx: &Ctx<'_>, n: &Spanned<bool>) -> Checked<Expectation> {
    if !*n.get_ref() {
        return Err(cx.src.error(
            n.span(),
            Some(&field(cx, "nothing-lost")),
            "nothing-lost = false would expect a loss; fleetsim never expects one",
            Some("write nothing-lost = true".into()),
        ));
    }
    Ok(Expectation::NothingLost)
}

/// Bounds on dropped and preserved calls: at least one.
fn calls(cx: &Ctx<'_>, c: &Spanned<RawCallBounds>) -> Checked<Expectation> {
    let cr = c.get_ref();
    if cr.max_dropped.is_none() && cr.min_dropped.is_none() && cr.min_preserved.is_none() {
        return Err(cx.src.error(
            c.span(),
            Some(&field(cx, "calls")),
            "a calls expectation needs a bound",
            Some("write calls = { max-dropped = 0 } or { min-preserved = 1 }".into()),
        ));
    }
    if cx.calls.scripted.is_empty() && !cx.calls.random {
        return Err(cx.src.error(
            c.span(),
            Some(&field(cx, "calls")),
            "the run places no calls, so this would check nothing",
            Some("add a workload ([calls] per-hour = 600) or scripted [[call]]s".into()),
        ));
    }
    Ok(Expectation::Calls {
        max_dropped: cr.max_dropped,
        min_dropped: cr.min_dropped,
        min_preserved: cr.min_preserved,
    })
}

/// At least `min` capacity refusals on a server phones register with.
fn capacity_overflow(
    cx: &Ctx<'_>,
    span: std::ops::Range<usize>,
    c: &RawCapacity,
) -> Checked<Expectation> {
    let key = "capacity-overflow.on";
    known_server(cx, &c.on, key)?;
    observable(cx.src, cx.fleet, &c.on, &field(cx, key), "capacity")?;
    takes_registrations(cx.src, cx.fleet, &c.on, &field(cx, key))?;
    if c.min == 0 {
        return Err(cx.src.error(
            span,
            Some(&field(cx, "capacity-overflow.min")),
            "min = 0 checks nothing: any run has at least 0 refusals",
            Some("give min = 1 or more; to expect none, write never = { event = \"capacity-exceeded\" }".into()),
        ));
    }
    Ok(Expectation::CapacityOverflow {
        on: c.on.get_ref().clone(),
        min: c.min,
    })
}
