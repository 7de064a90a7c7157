//! The scenario file of a schedule: self-contained (the fleet inline), so
//! `fleetsim run FILE` runs exactly what the campaign ran.

use fleetsim_model::{Calls, Dur, GrayPath};
use toml::{Table, Value};

use super::Base;
use super::schedule::{Action, ChaosFault, Schedule};

fn dur(d: Dur) -> Value {
    Value::String(d.to_string())
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

fn table(pairs: Vec<(&str, Value)>) -> Value {
    Value::Table(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn signed(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    format!("{sign}{}", Dur::millis(ms.unsigned_abs()))
}

/// The (key, value) of a fault's action.
fn action(a: &Action) -> (&'static str, Value) {
    let s = |x: &str| Value::String(x.to_string());
    match a {
        Action::Crash(x) => ("crash", s(x)),
        Action::Stop(x) => ("stop", s(x)),
        Action::Reboot(x) => ("reboot", s(x)),
        Action::Partition(groups) => (
            "partition",
            Value::Array(groups.iter().map(|g| strings(g)).collect()),
        ),
        Action::OneWay { from, to } => (
            "one-way",
            table(vec![("from", strings(from)), ("to", strings(to))]),
        ),
        Action::Latency {
            node,
            delay,
            jitter,
        } => (
            "latency",
            table(vec![
                ("target", s(node)),
                ("delay", dur(*delay)),
                ("jitter", dur(*jitter)),
            ]),
        ),
        Action::Stall(x) => ("stall", s(x)),
        Action::Flap {
            node,
            period,
            duty_pct,
            count,
        } => (
            "flap",
            table(vec![
                ("target", s(node)),
                ("period", dur(*period)),
                ("duty", Value::Float(f64::from(*duty_pct) / 100.0)),
                ("count", Value::Integer(i64::from(*count))),
            ]),
        ),
        Action::Gray { server, drop } => {
            let d: Vec<String> = drop
                .iter()
                .map(|p| match p {
                    GrayPath::Presence => "presence".to_string(),
                    GrayPath::Telephony => "telephony".to_string(),
                })
                .collect();
            (
                "gray",
                table(vec![("target", s(server)), ("drop", strings(&d))]),
            )
        }
        Action::Hang(x) => ("hang", s(x)),
        Action::ClockOffset { server, offset_ms } => (
            "clock-offset",
            table(vec![
                ("target", s(server)),
                ("offset", s(&signed(*offset_ms))),
            ]),
        ),
        Action::ActivateBackup => ("activate-backup", s("voicemail-pro")),
        Action::ManualFailback(x) => ("manual-failback", s(x)),
        Action::ConfigChange(x) => ("config-change", s(x)),
        Action::RebootPhone(x) => ("reboot-phone", s(x)),
    }
}

fn fault(f: &ChaosFault) -> Value {
    let (k, v) = action(&f.action);
    let mut pairs = vec![("at", dur(f.at)), (k, v)];
    if let Some(d) = f.for_ {
        pairs.push(("for", dur(d)));
    }
    table(pairs)
}

/// The `[calls]` table of a workload (shares back from per mille).
pub(crate) fn calls_table(c: &Calls) -> Value {
    let share = |pm: u32| Value::Float(f64::from(pm) / 1000.0);
    table(vec![
        ("per-hour", Value::Integer(i64::from(c.per_hour))),
        ("mean-duration", dur(c.mean_duration)),
        ("voicemail", share(c.voicemail)),
        ("conference", share(c.conference)),
        ("held", share(c.held)),
        ("hunt-group", share(c.hunt_group)),
        ("external", share(c.external)),
        ("recorded", share(c.recorded)),
        (
            "portal-changes-per-hour",
            Value::Integer(i64::from(c.portal_changes_per_hour)),
        ),
    ])
}

/// The scenario file text of `schedule` on `base`, with a comment saying
/// where it came from.
pub fn scenario_text(base: &Base, schedule: &Schedule) -> String {
    let mut t = Table::new();
    let name = format!("chaos-{}-{}", base.name, schedule.index);
    t.insert("name".into(), Value::String(name));
    t.insert(
        "description".into(),
        Value::String(format!(
            "a schedule drawn by fleetsim chaos on {}",
            base.name
        )),
    );
    // TOML integers are signed: the seed is kept below 2^63.
    t.insert("seed".into(), Value::Integer((schedule.seed >> 1) as i64));
    t.insert("duration".into(), dur(schedule.duration()));
    t.insert("fleet".into(), Value::Table(base.fleet_table.clone()));
    if !schedule.faults.is_empty() {
        let faults = schedule.faults.iter().map(fault).collect();
        t.insert("fault".into(), Value::Array(faults));
    }
    if schedule.calls {
        t.insert("calls".into(), calls_table(&base.calls));
    }
    if let Some(r) = &base.resilience {
        t.insert("resilience".into(), Value::Table(r.clone()));
    }
    let body = toml::to_string(&t).expect("a TOML table serialises");
    format!(
        "# fleetsim chaos: schedule {} of a campaign on {} (settle tail {}).\n# Faults are undone by `for`; a flap ends by itself.\n{body}",
        schedule.index, base.name, schedule.tail
    )
}
