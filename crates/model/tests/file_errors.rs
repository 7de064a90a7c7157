//! Every check of a fleet file and of a scenario's faults, one case each:
//! the field it names, what it says is wrong and the line it points at. A
//! valid file is the baseline; each case breaks one thing.

use fleetsim_model::embedded::EmbeddedResolver;
use fleetsim_model::{Fleet, LoadError, Scenario, Source};

/// Two servers and a phone: valid as it stands.
const BASE: &str = r#"
[[server]]
name = "primary"
role = "primary"
phones = { sip = 2 }

[[server]]
name = "secondary"
role = "secondary"
"#;

/// Parses `text` and returns its error's field, message and 1-based line.
fn error(text: &str) -> (String, String, usize) {
    let src = Source {
        name: "fleet.toml",
        text,
    };
    let e = Fleet::from_toml(&src).expect_err("the fleet should be refused");
    (
        e.field.clone().unwrap_or_default(),
        e.message.clone(),
        e.line,
    )
}

/// `BASE` plus `more`, whose first line is line `BASE`'s lines + 1.
fn with(more: &str) -> String {
    format!("{BASE}{more}")
}

fn refused(text: &str, field: &str, says: &str) {
    let (f, m, _) = error(text);
    assert_eq!(f, field, "field of: {m}");
    assert!(m.contains(says), "expected {says:?} in {m:?}");
}

#[test]
fn the_base_fleet_is_valid() {
    let f = Fleet::from_toml(&Source {
        name: "fleet.toml",
        text: BASE,
    })
    .unwrap();
    assert_eq!(f.phones.len(), 2);
    assert_eq!(f.servers[0].backup.as_ref().unwrap().server, "secondary");
}

#[test]
fn a_fleet_without_servers_is_refused() {
    refused("name = \"x\"\n", "server", "no servers");
}

#[test]
fn server_names_are_letters_digits_dash_and_underscore() {
    refused(
        &BASE.replace("\"secondary\"\nrole", "\"sec ondary\"\nrole"),
        "server[1].name",
        "invalid server name",
    );
}

#[test]
fn an_all_digit_server_name_would_read_as_an_extension() {
    refused(
        &BASE.replace("\"secondary\"\nrole", "\"2001\"\nrole"),
        "server[1].name",
        "all digits",
    );
}

#[test]
fn phone_group_and_log_source_names_are_reserved() {
    for name in ["phones-a", "runner", "network", "operator"] {
        refused(
            &BASE.replace("\"secondary\"\nrole", &format!("\"{name}\"\nrole")),
            "server[1].name",
            "is reserved",
        );
    }
}

#[test]
fn server_names_are_unique() {
    refused(
        &with("\n[[server]]\nname = \"secondary\"\nrole = \"expansion-linux\"\n"),
        "server[2].name",
        "duplicate server name",
    );
}

#[test]
fn a_network_has_one_primary_and_at_most_one_secondary() {
    refused(
        &with("\n[[server]]\nname = \"p2\"\nrole = \"primary\"\n"),
        "server[2].role",
        "a second primary",
    );
    refused(
        &with("\n[[server]]\nname = \"s2\"\nrole = \"secondary\"\n"),
        "server[2].role",
        "a second secondary",
    );
    refused(
        &BASE.replace("role = \"primary\"", "role = \"expansion-linux\""),
        "server[].role",
        "no primary",
    );
}

#[test]
fn a_ucm_is_not_supported_in_server_edition() {
    refused(
        &with("\n[[server]]\nname = \"ucm\"\nrole = \"ucm\"\n"),
        "server[2].role",
        "UCM",
    );
}

#[test]
fn a_line_joins_two_known_distinct_servers() {
    refused(
        &with("\n[[line]]\nbetween = [\"primary\"]\n"),
        "line[0].between",
        "exactly two servers",
    );
    refused(
        &with("\n[[line]]\nbetween = [\"primary\", \"nowhere\"]\n"),
        "line[0].between",
        "unknown server \"nowhere\"",
    );
    refused(
        &with("\n[[line]]\nbetween = [\"primary\", \"primary\"]\n"),
        "line[0].between",
        "to itself",
    );
}

#[test]
fn only_an_application_server_takes_a_service_list_and_only_one_x_portal() {
    refused(
        &BASE.replace(
            "role = \"secondary\"",
            "role = \"secondary\"\nservices = [\"one-x-portal\"]",
        ),
        "server[1].services",
        "only an application-server takes a list",
    );
    refused(
        &with(
            "\n[[server]]\nname = \"app\"\nrole = \"application-server\"\nservices = [\"voicemail-pro\"]\n",
        ),
        "server[2].services",
        "only one-X Portal",
    );
}

#[test]
fn a_backup_is_another_known_server_running_ip_office_over_a_line() {
    let exp = "\n[[server]]\nname = \"exp\"\nrole = \"expansion-linux\"\n";
    refused(
        &with(&format!("{exp}backup = \"nowhere\"\n")),
        "server[2].backup",
        "unknown backup server",
    );
    refused(
        &with(&format!("{exp}backup = \"exp\"\n")),
        "server[2].backup",
        "cannot back itself up",
    );
    refused(
        &with(&format!(
            "{exp}backup = \"app\"\n\n[[server]]\nname = \"app\"\nrole = \"application-server\"\n"
        )),
        "server[2].backup",
        "runs no IP Office",
    );
    refused(
        &with(&format!(
            "{exp}backup = \"exp2\"\n\n[[server]]\nname = \"exp2\"\nrole = \"expansion-linux\"\n"
        )),
        "server[2].backup",
        "no line to backup",
    );
}

#[test]
fn backs_up_without_a_backup_has_no_effect() {
    refused(
        &BASE.replace(
            "role = \"secondary\"",
            "role = \"secondary\"\nbacks-up = [\"ip-phones\"]",
        ),
        "server[1].backs-up",
        "has no effect",
    );
}

#[test]
fn phones_live_on_servers_that_run_ip_office_and_analogue_ones_on_a_v2() {
    refused(
        &with(
            "\n[[server]]\nname = \"app\"\nrole = \"application-server\"\nphones = { sip = 1 }\n",
        ),
        "server[2].phones",
        "cannot home phones",
    );
    refused(
        &BASE.replace("phones = { sip = 2 }", "phones = { analogue = 2 }"),
        "server[0].phones",
        "IP500 V2 hardware",
    );
}

#[test]
fn extension_ranges_stay_in_range_and_do_not_overlap() {
    refused(
        &BASE.replace(
            "phones = { sip = 2 }",
            "phones = { sip = 2 }\nfirst-extension = 4294967295",
        ),
        "server[0].first-extension",
        "would run past",
    );
    refused(
        &BASE.replace(
            "role = \"secondary\"",
            "role = \"secondary\"\nphones = { sip = 1 }\nfirst-extension = 2002",
        ),
        "server[1].first-extension",
        "extension 2002 is already used by a phone of \"primary\"",
    );
}

#[test]
fn capacity_holds_a_servers_own_phones() {
    refused(
        &BASE.replace("phones = { sip = 2 }", "phones = { sip = 2 }\ncapacity = 1"),
        "server[0].capacity",
        "capacity 1 is less than its own 2 phones",
    );
    refused(
        &with("\n[[server]]\nname = \"v2\"\nrole = \"expansion-v2\"\nphones = { sip = 385 }\n"),
        "server[2].phones",
        "more than the default capacity",
    );
}

#[test]
fn trunks_connect_to_a_v2_and_in_plausible_numbers() {
    refused(
        &BASE.replace("phones = { sip = 2 }", "phones = { sip = 2 }\ntrunks = 4"),
        "server[0].trunks",
        "IP500 V2 hardware",
    );
    refused(
        &with("\n[[server]]\nname = \"v2\"\nrole = \"expansion-v2\"\ntrunks = 10001\n"),
        "server[2].trunks",
        "more than any IP500 V2 connects",
    );
}

#[test]
fn max_calls_of_zero_would_refuse_every_call() {
    refused(
        &BASE.replace(
            "phones = { sip = 2 }",
            "phones = { sip = 2 }\nmax-calls = 0",
        ),
        "server[0].max-calls",
        "refuse every call",
    );
}

#[test]
fn hunt_groups_are_named_once_on_a_server_running_ip_office() {
    let g = "\n[[hunt-group]]\nname = \"sales\"\nserver = \"primary\"\n";
    refused(
        &with(&format!("{g}{g}")),
        "hunt-group[1].name",
        "empty or used twice",
    );
    refused(
        &with("\n[[hunt-group]]\nname = \"sales\"\nserver = \"nowhere\"\n"),
        "hunt-group[0].server",
        "unknown server",
    );
    refused(
        &with(
            "\n[[server]]\nname = \"app\"\nrole = \"application-server\"\n\n[[hunt-group]]\nname = \"sales\"\nserver = \"app\"\n",
        ),
        "hunt-group[0].server",
        "cannot hold a hunt group",
    );
}

#[test]
fn failover_after_must_outlast_two_presence_intervals() {
    refused(
        &with("\n[timers]\npresence-interval = \"90s\"\n"),
        "timers.failover-after",
        "more than twice presence-interval",
    );
}

#[test]
fn an_error_points_at_the_line_of_its_field() {
    let text = with("\n[[server]]\nname = \"p2\"\nrole = \"primary\"\n");
    let (_, _, line) = error(&text);
    // The second primary's role, the file's last line.
    assert_eq!(line, text.lines().count());
}

/// A scenario on the reference fleet with one fault table, `fault`.
fn fault_error(fault: &str) -> (String, String) {
    scenario_error(&format!("[[fault]]\n{fault}\n"))
}

/// A one-hour scenario on the reference fleet with `tables` after its
/// header: its error's field and message.
fn scenario_error(tables: &str) -> (String, String) {
    let text =
        format!("name = \"t\"\nfleet = \"fleets/reference.toml\"\nduration = \"1h\"\n\n{tables}");
    let src = Source {
        name: "scenario.toml",
        text: &text,
    };
    match Scenario::parse(&src, &EmbeddedResolver) {
        Err(LoadError::File(e)) => (e.field.clone().unwrap_or_default(), e.message.clone()),
        other => panic!("expected a file error for {tables:?}, got {other:?}"),
    }
}

fn fault_refused(fault: &str, field: &str, says: &str) {
    let (f, m) = fault_error(fault);
    assert_eq!(f, field, "field of: {m}");
    assert!(m.contains(says), "expected {says:?} in {m:?}");
}

#[test]
fn a_fault_has_exactly_one_action_inside_the_run() {
    fault_refused(
        "at = \"5m\"\ncrash = \"primary\"\nhang = \"secondary\"",
        "fault[0]",
        "exactly one action, this one has 2",
    );
    fault_refused(
        "at = \"1h\"\ncrash = \"primary\"",
        "fault[0].at",
        "at the end of the run",
    );
}

#[test]
fn for_is_positive_ends_in_the_run_and_undoes_something() {
    fault_refused(
        "at = \"5m\"\nreboot = \"primary\"",
        "fault[0].for",
        "a reboot needs `for`",
    );
    fault_refused(
        "at = \"5m\"\ncrash = \"primary\"\nfor = \"0s\"",
        "fault[0].for",
        "`for` is 0",
    );
    fault_refused(
        "at = \"50m\"\ncrash = \"primary\"\nfor = \"20m\"",
        "fault[0].for",
        "after the end of the run",
    );
    fault_refused(
        "at = \"5m\"\nheal = true\nfor = \"2m\"",
        "fault[0].for",
        "cannot be undone",
    );
    fault_refused(
        "at = \"5m\"\nflap = { target = \"primary\", period = \"1m\", duty = 0.5, count = 2 }\nfor = \"2m\"",
        "fault[0].for",
        "a flap ends by itself",
    );
}

#[test]
fn a_partition_places_each_node_once_and_is_not_empty() {
    fault_refused(
        "at = \"5m\"\npartition = [[\"primary\", \"primary\"]]",
        "fault[0].partition",
        "named twice in group 0",
    );
    fault_refused(
        "at = \"5m\"\npartition = [[\"primary\"], [\"primary\"]]",
        "fault[0].partition",
        "is in group 0 and group 1",
    );
    fault_refused(
        "at = \"5m\"\npartition = [[]]",
        "fault[0].partition",
        "at least one non-empty group",
    );
}

#[test]
fn a_one_way_cut_names_both_sides_and_no_node_on_both() {
    fault_refused(
        "at = \"5m\"\none-way = { from = [], to = [\"primary\"] }",
        "fault[0].one-way.from",
        "`from` names no node",
    );
    fault_refused(
        "at = \"5m\"\none-way = { from = [\"primary\"], to = [\"primary\"] }",
        "fault[0].one-way",
        "in both `from` and `to`",
    );
}

#[test]
fn heal_false_and_a_latency_past_any_run_do_nothing() {
    fault_refused("at = \"5m\"\nheal = false", "fault[0].heal", "does nothing");
    fault_refused(
        "at = \"5m\"\nlatency = { target = \"primary\", delay = \"500d\" }",
        "fault[0].latency.delay",
        "no message would ever arrive",
    );
}

#[test]
fn a_flap_has_a_duty_a_period_a_count_and_ends_in_the_run() {
    let flap = |x: &str| format!("at = \"5m\"\nflap = {{ target = \"primary\", {x} }}");
    fault_refused(
        &flap("period = \"1m\", duty = 1.0, count = 2"),
        "fault[0].flap.duty",
        "must be more than 0 and less than 1",
    );
    fault_refused(
        &flap("period = \"1m\", duty = 0.5, count = 0"),
        "fault[0].flap",
        "a count from 1 to 10000",
    );
    fault_refused(
        &flap("period = \"10m\", duty = 0.5, count = 10"),
        "fault[0].flap",
        "past the end of the run",
    );
}

#[test]
fn a_gray_failure_drops_something() {
    fault_refused(
        "at = \"5m\"\ngray = { target = \"primary\", drop = [] }",
        "fault[0].gray.drop",
        "must drop something",
    );
}

#[test]
fn operator_actions_name_a_service_they_apply_to() {
    fault_refused(
        "at = \"5m\"\nactivate-backup = \"one-x-portal\"",
        "fault[0].activate-backup",
        "does not apply to \"one-x-portal\"",
    );
    fault_refused(
        "at = \"5m\"\nmanual-failback = \"media-manager\"",
        "fault[0].manual-failback",
        "does not apply",
    );
}

#[test]
fn a_phone_reboot_names_phones_not_servers() {
    fault_refused(
        "at = \"5m\"\nreboot-phone = \"primary\"",
        "fault[0].reboot-phone",
        "is a server, not a phone",
    );
}

/// `[[expect]]` with `check`, after a crash of the primary at 5m.
fn expect_refused(check: &str, field: &str, says: &str) {
    let (f, m) = scenario_error(&format!(
        "[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n\n[[expect]]\n{check}\n"
    ));
    assert_eq!(f, field, "field of: {m}");
    assert!(m.contains(says), "expected {says:?} in {m:?}");
}

#[test]
fn an_expectation_has_exactly_one_check() {
    expect_refused(
        "nothing-lost = true\nsplit-brain = false",
        "expect[0]",
        "exactly one check, this one has 2",
    );
}

#[test]
fn a_takeover_needs_a_taker_and_a_start() {
    expect_refused(
        "takeover = { of = \"secondary\", within = \"5m\" }",
        "expect[0].takeover.by",
        "has no backup for its IP phones",
    );
    expect_refused(
        "takeover = { of = \"expansion-l\", by = \"secondary\", within = \"5m\" }",
        "expect[0].takeover.after",
        "no fault takes \"expansion-l\" down",
    );
    expect_refused(
        "takeover = { of = \"primary\", within = \"5m\", after = \"1h\" }",
        "expect[0].takeover.after",
        "not before the end of the run",
    );
}

#[test]
fn a_failback_needs_a_return() {
    expect_refused(
        "failback = { to = \"primary\", within = \"15m\" }",
        "expect[0].failback.after",
        "no fault brings \"primary\" back",
    );
}

#[test]
fn service_and_licence_states_are_the_documented_ones() {
    expect_refused(
        "service = { name = \"voicemail-pro\", on = \"secondary\", state = \"on\", at = \"10m\" }",
        "expect[0].service.state",
        "unknown service state \"on\"",
    );
    expect_refused(
        "service = { name = \"media-manager\", on = \"secondary\", state = \"active\", at = \"10m\" }",
        "expect[0].service.name",
        "does not run \"media-manager\"",
    );
    expect_refused(
        "licence = { server = \"secondary\", state = \"expired\", at = \"10m\" }",
        "expect[0].licence.state",
        "unknown licence state \"expired\"",
    );
}

#[test]
fn checks_that_check_nothing_are_refused() {
    expect_refused(
        "nothing-lost = false",
        "expect[0].nothing-lost",
        "would expect a loss",
    );
    expect_refused("calls = {}", "expect[0].calls", "needs a bound");
    expect_refused(
        "capacity-overflow = { on = \"secondary\", min = 0 }",
        "expect[0].capacity-overflow.min",
        "checks nothing",
    );
}

#[test]
fn no_failover_of_a_server_no_system_backs_up_is_refused_as_checking_nothing() {
    let (f, m) = scenario_error(
        "[[fault]]\nat = \"5m\"\ncrash = \"secondary\"\n\n[[expect]]\nno-failover = { of = \"secondary\" }\n",
    );
    assert_eq!(f, "expect[0].no-failover.of", "{m}");
    assert!(
        m.contains("\"secondary\" has no backup system") && m.contains("would check nothing"),
        "{m}"
    );
}

/// The hint of the error `text` (a whole scenario) gives.
fn scenario_hint(text: &str) -> String {
    let src = Source {
        name: "scenario.toml",
        text,
    };
    match Scenario::parse(&src, &EmbeddedResolver) {
        Err(LoadError::File(e)) => format!("{}: {}", e.message, e.hint.clone().unwrap_or_default()),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn hints_name_what_a_file_can_hold_and_the_key_meant() {
    let head = "fleet = \"builtin:reference\"\nduration = \"30m\"\n";
    let h = scenario_hint(&format!("name = \"x\"\n{head}seed = -1\n"));
    assert!(
        h.contains("from 0 to 9223372036854775807") && !h.contains("--seed"),
        "{h}"
    );
    let h = scenario_hint(&format!(
        "name = \"x\"\n{head}seed = 18446744073709551615\n"
    ));
    assert!(h.contains("with --seed"), "{h}");
    let h = scenario_hint(
        "[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { h323 = 18446744073709551615 }\n",
    );
    assert!(!h.contains("--seed"), "{h}");
    let h = scenario_hint(&format!(
        "name = \"x\"\n{head}[[expect]]\ncount = {{ event = \"phone-registered\", on = \"secondary\", min = 1 }}\n"
    ));
    assert!(h.contains("did you mean `server`?"), "{h}");
    let h = scenario_hint(&format!("name = \"\"\n{head}"));
    assert!(h.contains("the scenario's name is empty"), "{h}");
}

#[test]
fn an_assertion_on_a_pseudo_server_that_never_logs_its_event_is_refused() {
    let (f, m) = scenario_error(
        "[[expect]]\nnever = { event = \"failover-started\", server = \"network\" }\n",
    );
    assert_eq!(f, "expect[0].never.server", "{m}");
    assert!(m.contains("never logs failover-started events"), "{m}");
    // The runner does log its audit.
    let text = "name = \"t\"\nfleet = \"fleets/reference.toml\"\nduration = \"1h\"\n\n[[expect]]\neventually = { event = \"audit\", server = \"runner\" }\n";
    let src = Source {
        name: "scenario.toml",
        text,
    };
    assert!(Scenario::parse(&src, &EmbeddedResolver).is_ok());
}
