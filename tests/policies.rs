//! Takeover policies: a policy written in a test changes a scenario's
//! outcome, and each built-in policy does what it claims on the shipped
//! scenarios; the command line lists, runs and compares them.

mod common;

use common::{first_event_ms, fleetsim_out, load, run_sim, run_under, temp_dir};
use fleetsim_model::Event;
use fleetsim_scenario::TakeoverPolicy;
use fleetsim_scenario::rules::{GuestObs, NoGuard, Quorum, Refusal};

/// A takeover logic under test: never accepts a guest.
#[derive(Debug)]
struct NeverTakeOver;

impl TakeoverPolicy for NeverTakeOver {
    fn name(&self) -> &str {
        "never-take-over"
    }

    fn summary(&self) -> &str {
        "refuses every guest"
    }

    fn admit_guest(&self, _: &GuestObs<'_>) -> Result<(), Refusal> {
        Err(Refusal::Custom("this policy never takes over".into()))
    }
}

#[test]
fn a_policy_written_in_a_test_changes_a_scenarios_outcome() {
    let s = load("primary-crash.toml");
    assert!(run_sim(&s).passed());
    let o = run_under(&s, NeverTakeOver);
    assert!(!o.passed(), "the takeover expectation cannot hold");
    assert_eq!(o.policy, "never-take-over");
    assert!(first_event_ms(&o, "failover-started", "secondary").is_none());
    let refused_by_policy = o.events.iter().any(|e| {
        matches!(&e.event, Event::RegistrationRefused { reason, .. } if reason == "this policy never takes over")
    });
    assert!(refused_by_policy, "the policy's own reason reaches the log");
}

/// A takeover logic with a bug in its takeover bound.
#[derive(Debug)]
struct PanicsInItsBound;

impl TakeoverPolicy for PanicsInItsBound {
    fn name(&self) -> &str {
        "panics-in-its-bound"
    }

    fn summary(&self) -> &str {
        "panics when asked how long a failover waits"
    }

    fn takeover_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        panic!("a bug in the policy's takeover bound");
    }
}

#[test]
fn a_policy_that_panics_while_the_run_is_judged_is_the_runs_error_not_the_callers() {
    let o = run_under(&load("primary-crash.toml"), PanicsInItsBound);
    assert!(!o.passed());
    // Not a run that "checked nothing": its expectations went unjudged.
    assert!(!o.checked_nothing());
    assert!(
        o.expectations
            .iter()
            .any(|e| e.detail.starts_with("not judged"))
    );
    let error = o.error.expect("the panic is the run's error");
    assert!(
        error
            .to_string()
            .contains("a bug in the policy's takeover bound"),
        "{error}"
    );
    // Where it happened, as for a panic while the fleet runs; not when:
    // the run was over (a wall-clock figure read as emulated time lied).
    assert!(error.to_string().contains("tests/policies.rs:"), "{error}");
    assert!(!error.to_string().contains("emulated)"), "{error}");
}

/// A takeover logic that waits for ever: never fails a peer over.
#[derive(Debug)]
struct WaitsForEver;

impl TakeoverPolicy for WaitsForEver {
    fn name(&self) -> &str {
        "waits-for-ever"
    }

    fn summary(&self) -> &str {
        "never declares a peer lost"
    }

    fn failover_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        std::time::Duration::MAX
    }
}

#[test]
fn a_policy_that_never_fails_over_runs_and_never_takes_over() {
    let o = run_under(&load("primary-crash.toml"), WaitsForEver);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert!(!o.passed(), "the takeover expectation cannot hold");
    assert!(first_event_ms(&o, "peer-lost", "secondary").is_none());
    // Its refusals and the way to run it again say what a reader can act on.
    let text = fleetsim_report::text::render(&o, Default::default());
    assert!(
        text.contains("failover needs more silence than any run lasts"),
        "{text}"
    );
    assert!(
        !text.contains("fleetsim run"),
        "no command can name it: {text}"
    );
    assert!(
        text.contains("the policy waits-for-ever is not a built-in"),
        "{text}"
    );
}

/// A policy that takes the default's name.
#[derive(Debug)]
struct Impostor(&'static str);

impl TakeoverPolicy for Impostor {
    fn name(&self) -> &str {
        self.0
    }

    fn summary(&self) -> &str {
        "waits an hour"
    }

    fn failover_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
}

#[test]
fn a_policy_named_as_a_built_in_not_at_all_or_not_in_one_word_is_refused_before_it_runs() {
    let s = load("primary-crash.toml");
    for name in [
        "server-edition",
        "quorum",
        "",
        "  ",
        "server-edition ",
        "no guard",
        "a\nb",
    ] {
        let opts = fleetsim_scenario::RunOptions {
            policy: std::sync::Arc::new(Impostor(name)),
            ..Default::default()
        };
        let e = fleetsim_scenario::run(&s, &opts).unwrap_err().to_string();
        assert!(e.contains("name"), "{name:?}: {e}");
    }
    // The built-ins themselves run under their own names.
    assert_eq!(run_under(&s, Quorum).policy, "quorum");
    // A type of the user's with a built-in's type name and name is no
    // built-in either.
    let opts = fleetsim_scenario::RunOptions {
        policy: std::sync::Arc::new(ServerEdition),
        ..Default::default()
    };
    let e = fleetsim_scenario::run(&s, &opts).unwrap_err().to_string();
    assert!(e.contains("has the name of a built-in policy"), "{e}");
}

/// A user's tweak of the default, under the default's type name and name.
#[derive(Debug)]
struct ServerEdition;

impl TakeoverPolicy for ServerEdition {
    fn name(&self) -> &str {
        "server-edition"
    }

    fn summary(&self) -> &str {
        "a 10-minute guard"
    }

    fn failover_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
}

/// A policy whose name is a panic.
#[derive(Debug)]
struct Nameless;

impl TakeoverPolicy for Nameless {
    fn name(&self) -> &str {
        panic!("no name yet")
    }

    fn summary(&self) -> &str {
        "cannot say its name"
    }
}

#[test]
fn a_policy_that_panics_when_asked_its_name_is_a_run_error_not_a_crash() {
    let opts = fleetsim_scenario::RunOptions {
        policy: std::sync::Arc::new(Nameless),
        ..Default::default()
    };
    let e = fleetsim_scenario::run(&load("primary-crash.toml"), &opts).unwrap_err();
    assert!(
        e.to_string().contains("panicked when asked its name"),
        "{e}"
    );
}

#[test]
fn a_live_fleet_refuses_a_policy_named_as_a_built_in_before_it_binds() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = fleetsim_scenario::live::LiveOptions {
        // Port 1 is never ours to bind: the refusal must come first.
        base_port: 1,
        speed: 60.0,
        seed: 1,
        calls: fleetsim_model::Calls::default(),
        policy: std::sync::Arc::new(Impostor("quorum")),
    };
    let fleet = load("primary-crash.toml").fleet;
    let Err(e) = rt.block_on(fleetsim_scenario::live::start_live(fleet, &opts)) else {
        panic!("an impostor policy is refused");
    };
    assert!(e.to_string().contains("built-in"), "{e}");
}

#[test]
#[should_panic(expected = "checked nothing")]
fn asserting_a_run_that_checked_nothing_fails_the_test() {
    let mut s = load("primary-crash.toml");
    s.expectations.clear();
    let o = run_sim(&s);
    assert!(o.passed() && o.checked_nothing());
    o.assert_passed();
}

/// A takeover logic that never sends a guest home.
#[derive(Debug)]
struct KeepsGuests;

impl TakeoverPolicy for KeepsGuests {
    fn name(&self) -> &str {
        "keeps-guests"
    }

    fn summary(&self) -> &str {
        "never sends a phone home"
    }

    fn send_home(&self, _: &fleetsim_scenario::rules::HomeObs<'_>) -> bool {
        false
    }
}

#[test]
fn a_policy_that_never_sends_phones_home_fails_every_scenario_named_for_failback() {
    for file in [
        "primary-crash-and-return.toml",
        "h323-manual-failback.toml",
        "homeless-prevention-window.toml",
    ] {
        let o = run_under(&load(file), KeepsGuests);
        assert!(!o.passed(), "{file} passed without a phone sent home");
    }
    // Nor does one that sends them home too early pass where failback
    // must wait.
    let o = run_under(&load("primary-returns-briefly.toml"), HastyFailback);
    assert!(!o.passed(), "a failback during a 6-minute return passed");
}

/// A takeover logic that fails back after a minute of renewed presence.
#[derive(Debug)]
struct HastyFailback;

impl TakeoverPolicy for HastyFailback {
    fn name(&self) -> &str {
        "hasty-failback"
    }

    fn summary(&self) -> &str {
        "fails back after a minute"
    }

    fn failback_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
}

#[test]
fn without_the_guard_a_two_minute_reboot_fails_over_and_back() {
    let s = load("primary-reboot-2m.toml");
    let guarded = run_sim(&s);
    assert!(guarded.passed());
    assert!(first_event_ms(&guarded, "failover-started", "secondary").is_none());
    let unguarded = run_under(&s, NoGuard);
    assert!(!unguarded.passed(), "the no-failover expectation must fail");
    let over = first_event_ms(&unguarded, "failover-started", "secondary").unwrap();
    let back = first_event_ms(&unguarded, "failback-started", "secondary").unwrap();
    assert!(
        over < 7 * 60_000,
        "fails over during the reboot, at {over} ms"
    );
    assert!(back > over, "and fails back after it");
}

#[test]
fn quorum_avoids_the_split_network_split_brain() {
    let s = load("split-network.toml");
    let documented = run_sim(&s);
    assert!(!documented.metrics.split_brain.is_empty());
    let quorum = run_under(&s, Quorum);
    assert!(
        quorum.metrics.split_brain.is_empty(),
        "{:?}",
        quorum.metrics.split_brain
    );
    // The cut-off primary stood its shared services down; the majority took over.
    let stood_down = quorum.events.iter().any(|e| {
        e.server == "primary"
            && matches!(&e.event, Event::ServiceState { state, reason, .. } if state == "standby" && reason.starts_with("no quorum"))
    });
    assert!(stood_down);
    assert!(first_event_ms(&quorum, "failover-started", "secondary").is_some());
    assert_eq!(
        quorum.metrics.messages_lost + quorum.metrics.recordings_lost,
        0
    );
}

#[test]
fn quorum_takes_over_a_crashed_primary_but_later() {
    let s = load("primary-crash.toml");
    let documented = first_event_ms(&run_sim(&s), "failover-started", "secondary").unwrap();
    let o = run_under(&s, Quorum);
    assert!(o.passed(), "{:?}", o.expectations);
    let quorum = first_event_ms(&o, "failover-started", "secondary").unwrap();
    assert!(
        quorum >= documented + 30_000,
        "the fencing margin delays takeover: {documented} ms vs {quorum} ms"
    );
}

#[test]
fn fleetsim_policies_lists_each_built_in_policy_on_one_line() {
    let out = fleetsim_out(&["policies"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for p in fleetsim_scenario::rules::builtin() {
        let line = text.lines().find(|l| l.starts_with(p.name()));
        assert!(line.is_some_and(|l| l.contains(p.summary())), "{text}");
        assert!(
            line.is_some_and(|l| l.matches("(default)").count() <= 1),
            "{text}"
        );
    }
}

#[test]
fn an_unknown_policy_is_a_usage_error_that_lists_the_policies() {
    let out = fleetsim_out(&["run", "--policy", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server-edition, no-guard, quorum"), "{err}");
    let out = fleetsim_out(&["run", "--policy", "no-gaurd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean no-guard?"), "{err}");
}

#[test]
fn a_sweep_takes_policies_with_spaces_after_the_commas_but_not_one_twice() {
    let spaced = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--seeds",
        "1",
        "--policy",
        "server-edition, quorum",
    ]);
    assert_eq!(spaced.status.code(), Some(0), "{spaced:?}");
    let twice = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--seeds",
        "1",
        "--policy",
        "quorum,quorum",
    ]);
    assert_eq!(twice.status.code(), Some(2));
    let err = String::from_utf8_lossy(&twice.stderr);
    assert!(err.contains("names quorum twice"), "{err}");
}

#[test]
fn the_html_report_and_junit_name_the_policy_too() {
    let dir = temp_dir("policy-reports");
    let (html, xml) = (dir.join("r.html"), dir.join("r.xml"));
    let out = fleetsim_out(&[
        "run",
        "primary-crash",
        "--policy",
        "quorum",
        "--report",
        html.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("· policy quorum ·"), "the header names it");
    let junit = std::fs::read_to_string(&xml).unwrap();
    assert!(
        junit.contains(r#"<property name="policy" value="quorum"/>"#),
        "{junit}"
    );
}

#[test]
fn a_run_under_another_policy_names_it_and_its_reproduce_line_carries_it() {
    let out = fleetsim_out(&["run", "primary-reboot-2m", "--policy", "no-guard"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().next().unwrap().contains("· policy no-guard"),
        "{text}"
    );
}

#[test]
fn a_sweep_under_two_policies_prints_them_side_by_side_with_runnable_repro_lines() {
    let out = fleetsim_out(&[
        "sweep",
        "scenarios/split-network.toml",
        "--seeds",
        "2",
        "--policy",
        "server-edition,quorum",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "quorum fails the split-brain expectation\n{text}"
    );
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("policy"))
        .unwrap();
    assert!(
        header.contains("server-edition") && header.contains("quorum"),
        "{text}"
    );
    assert!(text.contains("split-brain findings"), "{text}");
    assert!(text.contains("server-edition: all 2 runs passed"), "{text}");
    let repro = text
        .lines()
        .find(|l| l.contains("--policy quorum"))
        .expect("a reproduce line with the policy");
    let args: Vec<&str> = repro.split_whitespace().skip(1).collect();
    let rerun = fleetsim_out(&args);
    assert_eq!(
        rerun.status.code(),
        Some(1),
        "the printed command reruns the failure"
    );
}

#[test]
fn the_side_by_side_table_says_how_many_runs_reached_a_figure_and_invents_none() {
    // A crash at 27m of a 30m run leaves no time to take over: not every
    // run reaches a takeover, and the cells say in how many it did.
    let out = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--fault",
        "0",
        "--from",
        "20m",
        "--to",
        "27m",
        "--step",
        "1m",
        "--policy",
        "server-edition,quorum",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let takeover = text
        .lines()
        .find(|l| l.trim_start().starts_with("takeover"))
        .expect(&text);
    assert_eq!(takeover.matches("/8)").count(), 2, "{text}");
    // Every run an emulator error: no figures, and errors apart from failures.
    let out = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--seeds",
        "2",
        "--policy",
        "quorum,no-guard",
        "--inject-panic",
        "secondary",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    for label in ["phones moved", "calls dropped", "detection"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .expect(&text);
        assert_eq!(line.matches("no figures").count(), 2, "{line}\n{text}");
    }
    let failed = text
        .lines()
        .find(|l| l.trim_start().starts_with("runs failed"))
        .expect(&text);
    assert_eq!(failed.matches("0 of 2, 2 errors").count(), 2, "{text}");
}

#[test]
fn determinism_checks_a_run_under_another_policy_and_says_which() {
    let out = fleetsim_out(&["determinism", "split-network", "--policy", "quorum"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("policy quorum"), "{text}");
}

#[test]
fn a_failed_run_under_another_policy_names_it_when_asserted() {
    let o = run_under(&load("primary-reboot-2m.toml"), NoGuard);
    let panic = std::panic::catch_unwind(|| o.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("policy no-guard"), "{message}");
}

/// A takeover logic that never fails a peer over.
#[derive(Debug)]
struct NeverFailsOver;

impl TakeoverPolicy for NeverFailsOver {
    fn name(&self) -> &str {
        "never-fails-over"
    }

    fn summary(&self) -> &str {
        "waits for ever"
    }

    fn failover_after(&self, _: &fleetsim_scenario::rules::Timers) -> std::time::Duration {
        std::time::Duration::MAX
    }
}

#[test]
fn no_failover_under_a_policy_that_never_fails_over_says_it_proves_nothing_and_why() {
    let o = run_under(&load("primary-reboot-2m.toml"), NeverFailsOver);
    let r = (o.expectations.iter())
        .find(|e| e.name.contains("never failed over"))
        .expect("primary-reboot-2m checks no failover");
    assert!(!r.passed);
    assert!(
        r.detail.contains("waits longer than any run can last"),
        "{}",
        r.detail
    );
}

#[test]
fn a_builder_runs_under_each_built_in_by_name_and_names_its_fleet_any_usual_way() {
    let b = |fleet: &str| {
        fleetsim_scenario::ScenarioBuilder::on_builtin_fleet(fleet)
            .duration("20m")
            .crash("5m", "primary")
    };
    for policy in fleetsim_scenario::rules::builtin() {
        let name = policy.name().to_string();
        let o = b("reference").shared_policy(policy).run().unwrap();
        assert_eq!(o.policy, name);
    }
    for fleet in [
        "builtin:reference",
        "reference.toml",
        "fleets/reference.toml",
    ] {
        assert!(b(fleet).build().is_ok(), "{fleet}");
    }
    // A missing fleet file is said for on_fleet_file, not for a scenario file.
    let e = fleetsim_scenario::ScenarioBuilder::on_fleet_file("/no-such-dir/fleet.toml")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("on_fleet_file(/no-such-dir/fleet.toml)")
            && !e.contains("relative to the scenario file"),
        "{e}"
    );
}

/// A takeover logic whose `evaluate` holds failback back 5 minutes longer
/// than its `deadline` (left as the default) says.
#[derive(Debug)]
struct LateFailback;

impl TakeoverPolicy for LateFailback {
    fn name(&self) -> &str {
        "late-failback"
    }

    fn summary(&self) -> &str {
        "fails back 15 minutes after the home returns"
    }

    fn evaluate(
        &self,
        view: &mut fleetsim_scenario::rules::PeerView,
        ctx: &fleetsim_scenario::rules::PeerCtx<'_>,
    ) -> Option<fleetsim_scenario::rules::PeerDecision> {
        let early = view
            .returned_since
            .is_some_and(|since| ctx.now < since + std::time::Duration::from_secs(15 * 60));
        if early {
            return None;
        }
        fleetsim_scenario::rules::peer::evaluate(self, view, ctx)
    }
}

#[test]
fn a_policy_whose_evaluate_waits_past_its_deadline_runs_on_and_fails_back_later() {
    let s = load("primary-crash-and-return.toml");
    let o = run_under(&s, LateFailback);
    let restart = (o.events.iter())
        .filter(|e| e.server == "primary" && e.kind() == "server-started")
        .map(|e| e.t_ms)
        .max()
        .unwrap();
    let failback = first_event_ms(&o, "failback-started", "secondary")
        .expect("the failback still happens, a presence interval at a time");
    assert!(
        failback >= restart + 15 * 60_000,
        "failback at {failback} ms, restart at {restart} ms"
    );
}

/// A takeover logic that takes in every guest at once.
#[derive(Debug)]
struct OpenDoor;

impl TakeoverPolicy for OpenDoor {
    fn name(&self) -> &str {
        "open-door"
    }

    fn summary(&self) -> &str {
        "accepts every guest"
    }

    fn admit_guest(&self, _: &GuestObs<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

#[test]
fn guests_taken_in_with_no_failover_started_are_said_so_by_no_failover() {
    let o = run_under(&load("primary-gray-telephony.toml"), OpenDoor);
    let r = &o.expectations[0];
    assert!(!r.passed, "{}", r.detail);
    assert!(
        r.detail
            .contains("were taken in as guests though no failover of it started; phones moved: "),
        "{}",
        r.detail
    );
}
