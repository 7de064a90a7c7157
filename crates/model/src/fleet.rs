//! Fleet files: servers, their roles and services, lines, backups, phones.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::settings::{HuntGroup, Resilience, default_capacity};

/// A server's role in a Server Edition network (docs/domain-coverage.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The one mandatory server: telephony, apps and licensing.
    Primary,
    /// At most one: can take over many of the primary's functions.
    Secondary,
    /// Expansion (L): extra IP telephony.
    ExpansionLinux,
    /// Expansion (V2), IP500 V2 hardware: analogue/digital phones and trunks.
    ExpansionV2,
    /// Application server: in Server Edition, one-X Portal only.
    ApplicationServer,
    /// Unified Communications Module: not supported in Server Edition.
    Ucm,
}

impl Role {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::ExpansionLinux => "expansion-linux",
            Role::ExpansionV2 => "expansion-v2",
            Role::ApplicationServer => "application-server",
            Role::Ucm => "ucm",
        }
    }

    /// Whether the role runs IP Office telephony (and so serves phones).
    pub fn runs_ip_office(self) -> bool {
        !matches!(self, Role::ApplicationServer | Role::Ucm)
    }

    /// The services the role runs by default (docs/domain-coverage.md §1).
    pub fn default_services(self) -> Vec<Service> {
        use Service::*;
        match self {
            Role::Primary => vec![
                IpOffice,
                OneXPortal,
                VoicemailPro,
                MediaManager,
                CollaborationServer,
                Licensing,
            ],
            Role::Secondary => vec![IpOffice, OneXPortal, VoicemailPro],
            Role::ExpansionLinux | Role::ExpansionV2 => vec![IpOffice],
            // Supporting a Server Edition primary/secondary: one-X Portal only.
            Role::ApplicationServer => vec![OneXPortal],
            Role::Ucm => vec![OneXPortal, VoicemailPro],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// IP Office telephony.
    IpOffice,
    /// one-X Portal.
    OneXPortal,
    /// Voicemail Pro.
    VoicemailPro,
    /// Media Manager (call recording archive).
    MediaManager,
    /// Collaboration Server.
    CollaborationServer,
    /// Licence and subscription control for the network.
    Licensing,
}

impl Service {
    /// Every service, in the order of the enum.
    pub const ALL: [Service; 6] = [
        Service::IpOffice,
        Service::OneXPortal,
        Service::VoicemailPro,
        Service::MediaManager,
        Service::CollaborationServer,
        Service::Licensing,
    ];

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::IpOffice => "ip-office",
            Service::OneXPortal => "one-x-portal",
            Service::VoicemailPro => "voicemail-pro",
            Service::MediaManager => "media-manager",
            Service::CollaborationServer => "collaboration-server",
            Service::Licensing => "licensing",
        }
    }
}

/// The mode every server of the network runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// Server Edition.
    #[default]
    ServerEdition,
    /// Server Edition Select.
    Select,
    /// Subscription.
    Subscription,
}

/// The kind of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhoneKind {
    /// Physical H.323 IP phone.
    H323,
    /// Physical SIP phone.
    Sip,
    /// Softphone: never fails over.
    Softphone,
    /// Analogue/digital extension on an IP500 V2: never fails over.
    Analogue,
    /// IP DECT handset behind a master base: fails over with the base, when
    /// the line backs up IP DECT phones (30 s poll, switch after 2 min).
    Dect,
}

impl PhoneKind {
    /// Whether the endpoint is a physical IP phone: only those fail over
    /// (and only their re-registration triggers failover, docs/domain-coverage.md §3).
    pub fn fails_over(self) -> bool {
        matches!(self, PhoneKind::H323 | PhoneKind::Sip | PhoneKind::Dect)
    }

    /// The line option that must be set for this kind to fail over.
    pub fn backup_option(self) -> Option<BackupOption> {
        match self {
            PhoneKind::H323 | PhoneKind::Sip => Some(BackupOption::IpPhones),
            PhoneKind::Dect => Some(BackupOption::IpDect),
            PhoneKind::Softphone | PhoneKind::Analogue => None,
        }
    }

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::H323 => "h323",
            PhoneKind::Sip => "sip",
            PhoneKind::Softphone => "softphone",
            PhoneKind::Analogue => "analogue",
            PhoneKind::Dect => "dect",
        }
    }
}

/// A resilience option on a line (set at both ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupOption {
    /// Backs up my IP phones (and, with them, the users).
    IpPhones,
    /// Backs up my hunt groups.
    HuntGroups,
    /// Backs up my voicemail.
    Voicemail,
    /// Backs up my IP DECT phones.
    IpDect,
}

/// Timers and thresholds; every one is a setting with docs/domain-coverage.md's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Timers {
    /// Presence update to each line peer (30 s).
    pub presence_interval: Dur,
    /// A peer invisible this long is failed over (3 min).
    pub failover_after: Dur,
    /// Phones return home once it has been visible this long (10 min).
    pub failback_after: Dur,
    /// Phone recovery re-register wait (60 s); each retry after 50–90 % of it.
    pub recovery_wait: Dur,
    /// Phone keepalive to its gatekeeper (unconfirmed: 30 s).
    pub keepalive_interval: Dur,
    /// Deadline of every RPC: the phones' fast response timeout (4 s).
    pub rpc_deadline: Dur,
    /// Spread of start times so timers do not all fire together (5 s).
    pub start_jitter: Dur,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            presence_interval: Dur::secs(30),
            failover_after: Dur::mins(3),
            failback_after: Dur::mins(10),
            recovery_wait: Dur::secs(60),
            keepalive_interval: Dur::secs(30),
            rpc_deadline: Dur::secs(4),
            start_jitter: Dur::secs(5),
        }
    }
}

/// How many phones of each kind a server homes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PhoneCounts {
    /// H.323 IP phones.
    pub h323: u32,
    /// SIP IP phones.
    pub sip: u32,
    /// Softphones.
    pub softphone: u32,
    /// Analogue/digital extensions (expansion-v2 only).
    pub analogue: u32,
    /// IP DECT handsets.
    pub dect: u32,
}

impl PhoneCounts {
    fn by_kind(&self) -> [(PhoneKind, u32); 5] {
        [
            (PhoneKind::H323, self.h323),
            (PhoneKind::Sip, self.sip),
            (PhoneKind::Softphone, self.softphone),
            (PhoneKind::Analogue, self.analogue),
            (PhoneKind::Dect, self.dect),
        ]
    }
}

/// A server entry as written in a fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawServer {
    name: Spanned<String>,
    role: Spanned<Role>,
    #[serde(default)]
    backup: Option<Spanned<String>>,
    #[serde(default)]
    backs_up: Option<Spanned<Vec<BackupOption>>>,
    #[serde(default)]
    services: Option<Spanned<Vec<Service>>>,
    #[serde(default)]
    phones: Option<Spanned<PhoneCounts>>,
    #[serde(default)]
    first_extension: Option<Spanned<u32>>,
    #[serde(default)]
    capacity: Option<Spanned<u32>>,
    #[serde(default)]
    trunks: Option<Spanned<u32>>,
    #[serde(default)]
    max_calls: Option<Spanned<u32>>,
    #[serde(default)]
    address: Option<Spanned<String>>,
    #[serde(default)]
    control: Option<Spanned<String>>,
}

/// A hunt group as written in a fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawHuntGroup {
    name: Spanned<String>,
    server: Spanned<String>,
}

/// An extra line as written in a fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLine {
    between: Spanned<Vec<Spanned<String>>>,
}

/// A fleet file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFleet {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    mode: NetworkMode,
    #[serde(default)]
    timers: Option<Spanned<Timers>>,
    #[serde(default)]
    server: Vec<Spanned<RawServer>>,
    #[serde(default)]
    line: Vec<Spanned<RawLine>>,
    #[serde(default)]
    resilience: Option<Spanned<Resilience>>,
    #[serde(default)]
    hunt_group: Vec<Spanned<RawHuntGroup>>,
}

/// Where a server turns for backup, and what the line backs up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// The backing-up server.
    pub server: String,
    /// The resilience options set on the line.
    pub options: BTreeSet<BackupOption>,
}

/// A validated server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerSpec {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Services it runs.
    pub services: Vec<Service>,
    /// Its backup system, if any.
    pub backup: Option<Backup>,
    /// Users plus extensions it can hold, failover guests included.
    pub capacity: u32,
    /// Non-IP trunks it connects (IP500 V2 only); they never fail over.
    pub trunks: u32,
    /// Concurrent calls it handles at most (`None`: no limit).
    pub max_calls: Option<u32>,
    /// An external member's `host:port`: fleetsim does not run it, but
    /// reaches it there in live mode (`None`: fleetsim runs the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where the `address` was written, to locate errors about it.
    #[serde(skip)]
    pub address_at: crate::error::Place,
    /// Live: the member control port (`host:port`) of an external member
    /// run as `fleetsim node --control`, through which `fleetsim up`
    /// attaches to it: applies faults in its process, crashes or stops it,
    /// and reads its events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
}

impl ServerSpec {
    /// Whether fleetsim does not run this server (it has an `address`).
    pub fn is_external(&self) -> bool {
        self.address.is_some()
    }

    /// Whether this server runs `service`.
    pub fn runs(&self, service: Service) -> bool {
        self.services.contains(&service)
    }

    /// Whether its backup line carries `option`; returns the backup.
    pub fn backup_with(&self, option: BackupOption) -> Option<&str> {
        self.backup
            .as_ref()
            .filter(|b| b.options.contains(&option))
            .map(|b| b.server.as_str())
    }

    /// Where a phone of `kind` homed here fails over to, if anywhere.
    pub fn backup_for_kind(&self, kind: PhoneKind) -> Option<&str> {
        kind.backup_option().and_then(|o| self.backup_with(o))
    }

    /// Whether this server's backup covers its IP phones.
    pub fn backup_for_phones(&self) -> Option<&str> {
        self.backup
            .as_ref()
            .filter(|b| b.options.contains(&BackupOption::IpPhones))
            .map(|b| b.server.as_str())
    }
}

/// A validated phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhoneSpec {
    /// Extension number, unique in the fleet; also the phone's name.
    pub extension: String,
    /// Kind.
    pub kind: PhoneKind,
    /// Home system.
    pub home: String,
}

/// A validated fleet: the one description every other crate works from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Network mode shared by all servers.
    pub mode: NetworkMode,
    /// Timers and thresholds.
    pub timers: Timers,
    /// Servers in file order.
    pub servers: Vec<ServerSpec>,
    /// Lines, each pair sorted and listed once, in a stable order.
    pub lines: BTreeSet<(String, String)>,
    /// Phones, in server then extension order.
    pub phones: Vec<PhoneSpec>,
    /// Service and resilience settings.
    pub resilience: Resilience,
    /// Hunt groups, in file order.
    pub hunt_groups: Vec<HuntGroup>,
}

impl Fleet {
    /// The server named `name`.
    pub fn server(&self, name: &str) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The servers `name` has a line with, in name order.
    pub fn line_peers(&self, name: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|(a, b)| {
                if a == name {
                    Some(b.clone())
                } else if b == name {
                    Some(a.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    /// The servers `name` backs up IP phones for, in name order.
    pub fn backed_up_by(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .servers
            .iter()
            .filter(|s| s.backup_for_phones() == Some(name))
            .map(|s| s.name.clone())
            .collect();
        v.sort();
        v
    }

    /// Phones homed on `server`.
    pub fn phones_of<'a>(&'a self, server: &'a str) -> impl Iterator<Item = &'a PhoneSpec> + 'a {
        self.phones.iter().filter(move |p| p.home == server)
    }

    /// The servers fleetsim does not run (each with an `address`), in file order.
    pub fn external_members(&self) -> impl Iterator<Item = &ServerSpec> {
        self.servers.iter().filter(|s| s.is_external())
    }

    /// Whether `name` is an external member.
    pub fn is_external(&self, name: &str) -> bool {
        self.server(name).is_some_and(ServerSpec::is_external)
    }

    /// The primary server (validation guarantees exactly one).
    pub fn primary(&self) -> &ServerSpec {
        self.servers
            .iter()
            .find(|s| s.role == Role::Primary)
            .expect("validated fleet has a primary")
    }

    /// The secondary server, if any.
    pub fn secondary(&self) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.role == Role::Secondary)
    }

    /// The server backing up the primary's voicemail (the secondary, when
    /// the primary's line says "backs up my voicemail").
    pub fn voicemail_backup(&self) -> Option<&ServerSpec> {
        self.primary()
            .backup_with(BackupOption::Voicemail)
            .and_then(|b| self.server(b))
            .filter(|s| s.runs(Service::VoicemailPro))
    }

    /// The server the primary's one-X Portal fails over to: the secondary,
    /// when it runs one.
    pub fn portal_backup(&self) -> Option<&ServerSpec> {
        self.secondary().filter(|s| s.runs(Service::OneXPortal))
    }

    /// Where the phone `ext` fails over to, if anywhere.
    pub fn backup_of_phone(&self, p: &PhoneSpec) -> Option<&str> {
        self.server(&p.home).and_then(|s| s.backup_for_kind(p.kind))
    }

    /// Whether `text` reads as a fleet file rather than a scenario: it has a
    /// key only fleets have (`server`, `line`, `hunt-group`, `timers`,
    /// `mode`) and none only scenarios have (`fleet`, `duration`, `fault`,
    /// `expect`, `calls`, `call`, `seed`). Text that is not TOML is neither.
    pub fn looks_like(text: &str) -> bool {
        let Ok(table) = toml::from_str::<toml::Table>(text) else {
            return false;
        };
        let fleet_only = ["server", "line", "hunt-group", "timers", "mode"];
        let scenario_only = [
            "fleet", "duration", "fault", "expect", "calls", "call", "seed",
        ];
        fleet_only.iter().any(|k| table.contains_key(*k))
            && !scenario_only.iter().any(|k| table.contains_key(*k))
    }

    /// Parses and validates a fleet file's text.
    pub fn from_toml(src: &Source<'_>) -> Result<Fleet, Box<FileError>> {
        let raw: RawFleet = toml::from_str(src.text).map_err(|e| {
            let mut err = src.toml_error(&e);
            if is_scenario(src.text) {
                err.hint = Some(format!(
                    "{} is a scenario file (it has duration, fault or expect), not a fleet file: `fleet =` names a fleet, such as \"builtin:reference\" or fleets/reference.toml",
                    src.name
                ));
            }
            err
        })?;
        raw.validate(src)
    }
}

/// The most phones one fleet may have (see [`crate::limits`]).
pub const MAX_PHONES: u64 = crate::limits::MAX_PHONES;

/// The longest timer accepted.
const MAX_TIMER: Dur = Dur::secs(366 * 86_400);

fn check_timers(
    src: &Source<'_>,
    t: &Timers,
    span: std::ops::Range<usize>,
) -> Result<(), Box<FileError>> {
    let fail = |field: &str, msg: String| {
        let key = field.rsplit('.').next().unwrap_or(field);
        Err(src.error(
            src.value_span(span.clone(), key),
            Some(field),
            msg,
            Some("see docs/file-format.md for every timer and its default".into()),
        ))
    };
    use crate::limits::{MIN_DEADLINE, MIN_INTERVAL};
    for (field, d, min) in [
        (
            "timers.presence-interval",
            t.presence_interval,
            MIN_INTERVAL,
        ),
        ("timers.failover-after", t.failover_after, MIN_INTERVAL),
        ("timers.failback-after", t.failback_after, MIN_INTERVAL),
        ("timers.recovery-wait", t.recovery_wait, MIN_INTERVAL),
        (
            "timers.keepalive-interval",
            t.keepalive_interval,
            MIN_INTERVAL,
        ),
        ("timers.rpc-deadline", t.rpc_deadline, MIN_DEADLINE),
    ] {
        if d < min {
            return fail(
                field,
                format!("{d} is shorter than the {min} fleetsim allows for this timer"),
            );
        }
        if d > MAX_TIMER {
            return fail(field, format!("{d} is longer than a year"));
        }
    }
    if t.start_jitter > MAX_TIMER {
        return fail(
            "timers.start-jitter",
            format!("{} is longer than a year", t.start_jitter),
        );
    }
    if t.failover_after.0 <= t.presence_interval.0 * 2 {
        return fail(
            "timers.failover-after",
            format!(
                "failover-after ({}) must be more than twice presence-interval ({}), or one late presence update would fail a peer over",
                t.failover_after, t.presence_interval
            ),
        );
    }
    Ok(())
}

/// The `address` of server `i`, if given: a well-formed `host:port` that no
/// earlier server uses.
fn check_address(
    src: &Source<'_>,
    i: usize,
    name: &str,
    address: Option<&Spanned<String>>,
    earlier: &[ServerSpec],
) -> Result<Option<String>, Box<FileError>> {
    let Some(a) = address else {
        return Ok(None);
    };
    let field = format!("server[{i}].address");
    let text = a.get_ref();
    if let Err(e) = crate::external::parse_address(text) {
        return Err(src.error(
            a.span(),
            Some(&field),
            format!("server {name:?}: {e}"),
            Some(
                "write host:port, e.g. address = \"127.0.0.1:9000\" (a host name is resolved when fleetsim connects)"
                    .into(),
            ),
        ));
    }
    if let Some(other) = earlier.iter().find(|s| s.address.as_ref() == Some(text)) {
        return Err(src.error(
            a.span(),
            Some(&field),
            format!(
                "server {name:?}: address {text:?} is already the address of {:?}",
                other.name
            ),
            Some("every external member listens on its own address".into()),
        ));
    }
    Ok(Some(text.clone()))
}

/// The `control` port of server `i`, if given: a well-formed `host:port`,
/// only beside an `address` (a member fleetsim runs has no control port of
/// its own).
fn check_control(
    src: &Source<'_>,
    i: usize,
    name: &str,
    control: Option<&Spanned<String>>,
    has_address: bool,
) -> Result<Option<String>, Box<FileError>> {
    let Some(c) = control else {
        return Ok(None);
    };
    let field = format!("server[{i}].control");
    let text = c.get_ref();
    if !has_address {
        return Err(src.error(
            c.span(),
            Some(&field),
            format!("server {name:?}: a control port belongs to a member run as `fleetsim node`, which has an `address`"),
            Some("add the member's address = \"host:port\", or remove control".into()),
        ));
    }
    if let Err(e) = crate::external::parse_address(text) {
        return Err(src.error(
            c.span(),
            Some(&field),
            format!("server {name:?}: control: {e}"),
            Some(
                "write host:port, e.g. control = \"127.0.0.1:9100\" (the node's --control)".into(),
            ),
        ));
    }
    Ok(Some(text.clone()))
}

fn known(names: &[String]) -> String {
    names.join(", ")
}

impl RawFleet {
    pub(crate) fn validate(self, src: &Source<'_>) -> Result<Fleet, Box<FileError>> {
        let err = |span: std::ops::Range<usize>, field: &str, msg: String, hint: Option<String>| {
            src.error(span, Some(field), msg, hint)
        };
        if self.server.is_empty() {
            return Err(src.error(
                0..0,
                Some("server"),
                "the fleet has no servers",
                Some(
                    "add a [[server]] table with name = \"primary\" and role = \"primary\"".into(),
                ),
            ));
        }
        if let Some(extra) = self.server.get(crate::limits::MAX_SERVERS) {
            return Err(src.error(
                extra.span(),
                Some(&format!("server[{}]", crate::limits::MAX_SERVERS)),
                format!(
                    "the fleet has {} servers; fleetsim takes at most {}",
                    self.server.len(),
                    crate::limits::MAX_SERVERS
                ),
                Some("a Server Edition network has at most 150 systems: use fewer servers".into()),
            ));
        }
        if let Some(extra) = self.line.get(crate::limits::MAX_LINES) {
            return Err(src.error(
                extra.span(),
                Some(&format!("line[{}]", crate::limits::MAX_LINES)),
                format!(
                    "the fleet has {} lines; fleetsim takes at most {}",
                    self.line.len(),
                    crate::limits::MAX_LINES
                ),
                Some("each line is a pair of connections: leave out [[line]] for the default double star, or name fewer".into()),
            ));
        }
        let names: Vec<String> = self
            .server
            .iter()
            .map(|s| s.get_ref().name.get_ref().clone())
            .collect();

        // Names: unique, and usable in events and globs.
        let mut seen = BTreeSet::new();
        for (i, s) in self.server.iter().enumerate() {
            let s = s.get_ref();
            let n = s.name.get_ref();
            let field = format!("server[{i}].name");
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    s.name.span(),
                    &field,
                    format!("invalid server name {n:?}"),
                    Some("use letters, digits, '-' and '_' only, e.g. \"expansion-l1\"".into()),
                ));
            }
            if n.chars().all(|c| c.is_ascii_digit()) {
                return Err(err(
                    s.name.span(),
                    &field,
                    format!("server name {n:?} is all digits and would read as an extension"),
                    Some("start it with a letter, e.g. \"site-2001\"".into()),
                ));
            }
            if n.starts_with("phones") {
                return Err(err(
                    s.name.span(),
                    &field,
                    format!("server name {n:?} is reserved"),
                    Some("names starting with \"phones\" denote phone groups in partitions".into()),
                ));
            }
            // The log's own sources: a server by one of these names would
            // be confused with them in every view.
            if ["runner", "network", "operator"].contains(&n.as_str()) {
                return Err(err(
                    s.name.span(),
                    &field,
                    format!("server name {n:?} is reserved"),
                    Some("the event log uses runner, network and operator for its own events: name the server e.g. \"site-a\"".into()),
                ));
            }
            if !seen.insert(n.clone()) {
                return Err(err(
                    s.name.span(),
                    &field,
                    format!("duplicate server name {n:?}"),
                    Some("every server needs its own name".into()),
                ));
            }
        }

        // Roles: exactly one primary, at most one secondary, no UCM.
        let mut primary: Option<&str> = None;
        let mut secondary: Option<&str> = None;
        for (i, s) in self.server.iter().enumerate() {
            let s = s.get_ref();
            let field = format!("server[{i}].role");
            match *s.role.get_ref() {
                role @ (Role::Primary | Role::Secondary) => {
                    let (slot, limit, hint) = if role == Role::Primary {
                        (
                            &mut primary,
                            "exactly one",
                            "make this server \"secondary\" or an expansion",
                        )
                    } else {
                        (
                            &mut secondary,
                            "at most one",
                            "make this server an \"expansion-linux\"",
                        )
                    };
                    if let Some(p) = slot {
                        return Err(err(
                            s.role.span(),
                            &field,
                            format!(
                                "a second {role} ({:?}); a network has {limit}, and {p:?} is already {role}",
                                s.name.get_ref()
                            ),
                            Some(hint.into()),
                        ));
                    }
                    *slot = Some(s.name.get_ref());
                }
                Role::Ucm => {
                    return Err(err(
                        s.role.span(),
                        &field,
                        format!(
                            "server {:?}: a UCM (Unified Communications Module) is not supported in a Server Edition network",
                            s.name.get_ref()
                        ),
                        Some(
                            "use an \"application-server\" for one-X Portal, or remove the UCM"
                                .into(),
                        ),
                    ));
                }
                _ => {}
            }
        }
        let Some(primary) = primary else {
            return Err(src.error(
                self.server[0].span(),
                Some("server[].role"),
                "the fleet has no primary server; a Server Edition network has exactly one",
                Some("set role = \"primary\" on one server".into()),
            ));
        };
        let primary = primary.to_string();
        let secondary = secondary.map(str::to_string);

        // Lines: double star by default, plus extras.
        let mut lines = BTreeSet::new();
        let pair = |a: &str, b: &str| {
            if a < b {
                (a.to_string(), b.to_string())
            } else {
                (b.to_string(), a.to_string())
            }
        };
        for n in &names {
            if *n != primary {
                lines.insert(pair(n, &primary));
            }
            if let Some(sec) = &secondary
                && n != sec
            {
                lines.insert(pair(n, sec));
            }
        }
        for (i, l) in self.line.iter().enumerate() {
            let between = l.get_ref().between.get_ref();
            let field = format!("line[{i}].between");
            if between.len() != 2 {
                return Err(err(
                    l.get_ref().between.span(),
                    &field,
                    format!(
                        "a line joins exactly two servers, this names {}",
                        between.len()
                    ),
                    Some("write between = [\"expansion-l\", \"expansion-v2\"]".into()),
                ));
            }
            for end in between {
                if !names.contains(end.get_ref()) {
                    return Err(err(
                        end.span(),
                        &field,
                        format!("unknown server {:?}", end.get_ref()),
                        Some(format!("known servers: {}", known(&names))),
                    ));
                }
            }
            if between[0].get_ref() == between[1].get_ref() {
                return Err(err(
                    l.get_ref().between.span(),
                    &field,
                    "a line cannot join a server to itself".into(),
                    None,
                ));
            }
            lines.insert(pair(between[0].get_ref(), between[1].get_ref()));
        }

        // Per-server services, backup and phones.
        let mut servers = Vec::new();
        let mut phones = Vec::new();
        let mut extensions: BTreeMap<u64, String> = BTreeMap::new();
        let mut total_phones: u64 = 0;
        for (i, s) in self.server.iter().enumerate() {
            let s = s.get_ref();
            let name = s.name.get_ref().clone();
            let role = *s.role.get_ref();
            let services = match &s.services {
                None => role.default_services(),
                Some(sv) => {
                    let field = format!("server[{i}].services");
                    if role != Role::ApplicationServer {
                        return Err(err(
                            sv.span(),
                            &field,
                            format!(
                                "server {name:?}: services are set by the role ({role}); only an application-server takes a list"
                            ),
                            Some("remove `services`".into()),
                        ));
                    }
                    if sv.get_ref().as_slice() != [Service::OneXPortal] {
                        return Err(err(
                            sv.span(),
                            &field,
                            format!(
                                "server {name:?}: an application server supporting a Server Edition primary or secondary may run only one-X Portal"
                            ),
                            Some("write services = [\"one-x-portal\"]".into()),
                        ));
                    }
                    sv.get_ref().clone()
                }
            };

            let backup = match &s.backup {
                Some(b) if b.get_ref() == "none" => None,
                Some(b) => {
                    let field = format!("server[{i}].backup");
                    let target = b.get_ref();
                    let Some(t) = self
                        .server
                        .iter()
                        .map(|x| x.get_ref())
                        .find(|x| x.name.get_ref() == target)
                    else {
                        return Err(err(
                            b.span(),
                            &field,
                            format!("server {name:?}: unknown backup server {target:?}"),
                            Some(format!("known servers: {}, or \"none\"", known(&names))),
                        ));
                    };
                    if *target == name {
                        return Err(err(
                            b.span(),
                            &field,
                            format!("server {name:?} cannot back itself up"),
                            Some("name another server, usually the secondary".into()),
                        ));
                    }
                    if !t.role.get_ref().runs_ip_office() {
                        return Err(err(
                            b.span(),
                            &field,
                            format!(
                                "server {name:?}: backup {target:?} is an {} and runs no IP Office",
                                t.role.get_ref()
                            ),
                            Some("back up to the secondary, the primary or an expansion".into()),
                        ));
                    }
                    if !lines.contains(&pair(&name, target)) {
                        return Err(err(
                            b.span(),
                            &field,
                            format!(
                                "server {name:?}: no line to backup {target:?}; resilience runs over a line"
                            ),
                            Some(format!("add [[line]] between = [{name:?}, {target:?}]")),
                        ));
                    }
                    Some(target.clone())
                }
                None if !role.runs_ip_office() => None,
                // Defaults (unconfirmed, docs/domain-coverage.md §2): primary and expansions
                // ask the secondary; expansions without one ask the primary.
                None => match role {
                    Role::Primary | Role::ExpansionLinux | Role::ExpansionV2 => secondary
                        .clone()
                        .or_else(|| (role != Role::Primary).then(|| primary.clone())),
                    _ => None,
                },
            };
            let backup = backup.map(|server| {
                let options = match &s.backs_up {
                    Some(o) => o.get_ref().iter().copied().collect(),
                    None if role == Role::Primary => [
                        BackupOption::IpPhones,
                        BackupOption::HuntGroups,
                        BackupOption::Voicemail,
                    ]
                    .into(),
                    None => [BackupOption::IpPhones].into(),
                };
                Backup { server, options }
            });
            if let (None, Some(o)) = (&backup, &s.backs_up) {
                return Err(err(
                    o.span(),
                    &format!("server[{i}].backs-up"),
                    format!("server {name:?} has no backup, so `backs-up` has no effect"),
                    Some("set `backup` too, or remove `backs-up`".into()),
                ));
            }

            if let Some(counts) = &s.phones {
                let field = format!("server[{i}].phones");
                let c = counts.get_ref();
                let total: u64 = c.by_kind().iter().map(|(_, n)| u64::from(*n)).sum();
                total_phones += total;
                if total_phones > MAX_PHONES {
                    return Err(err(
                        counts.span(),
                        &field,
                        format!("the fleet would have {total_phones} phones; fleetsim takes at most {MAX_PHONES}"),
                        Some("use fewer phones; docs/domain-coverage.md's largest networks have a few thousand users".into()),
                    ));
                }
                if total > 0 && !role.runs_ip_office() {
                    return Err(err(
                        counts.span(),
                        &field,
                        format!(
                            "server {name:?} is an {role} and runs no IP Office, so it cannot home phones"
                        ),
                        Some("home the phones on the primary, secondary or an expansion".into()),
                    ));
                }
                if c.analogue > 0 && role != Role::ExpansionV2 {
                    return Err(err(
                        counts.span(),
                        &field,
                        format!(
                            "server {name:?}: analogue/digital extensions need IP500 V2 hardware"
                        ),
                        Some("home them on an \"expansion-v2\" server".into()),
                    ));
                }
                let first = s
                    .first_extension
                    .as_ref()
                    .map_or((i as u64 + 2) * 1000 + 1, |f| u64::from(*f.get_ref()));
                // Errors about the range point at `first-extension`, or at
                // the phones when the range is the default.
                let range_span = (s.first_extension.as_ref()).map_or(counts.span(), |f| f.span());
                let range_field = format!("server[{i}].first-extension");
                let total: u64 = c.by_kind().into_iter().map(|(_, n)| u64::from(n)).sum();
                if first + total > u64::from(u32::MAX) + 1 {
                    return Err(err(
                        range_span,
                        &range_field,
                        format!(
                            "server {name:?}: its {total} extensions from {first} would run past {}",
                            u32::MAX
                        ),
                        Some("start the range lower".into()),
                    ));
                }
                let mut next = first;
                for (kind, n) in c.by_kind() {
                    for _ in 0..n {
                        if let Some(other) = extensions.insert(next, name.clone()) {
                            return Err(err(
                                range_span,
                                &range_field,
                                format!(
                                    "server {name:?}: extension {next} is already used by a phone of {other:?}"
                                ),
                                Some("set `first-extension` so the ranges do not overlap".into()),
                            ));
                        }
                        phones.push(PhoneSpec {
                            extension: next.to_string(),
                            kind,
                            home: name.clone(),
                        });
                        next += 1;
                    }
                }
            }
            let own = phones.iter().filter(|p| p.home == name).count() as u64;
            let capacity = match &s.capacity {
                Some(c) => {
                    if u64::from(*c.get_ref()) < own {
                        return Err(err(
                            c.span(),
                            &format!("server[{i}].capacity"),
                            format!(
                                "server {name:?}: capacity {} is less than its own {own} phones",
                                c.get_ref()
                            ),
                            Some(format!(
                                "raise capacity to at least {own}, or home fewer phones"
                            )),
                        ));
                    }
                    *c.get_ref()
                }
                None if own > u64::from(default_capacity(role)) => {
                    let span = s.phones.as_ref().map_or(0..0, |p| p.span());
                    return Err(err(
                        span,
                        &format!("server[{i}].phones"),
                        format!(
                            "server {name:?}: its own {own} phones are more than the default capacity of role {} ({})",
                            role.as_str(),
                            default_capacity(role)
                        ),
                        Some(format!(
                            "set capacity = N to your release's limit if it takes {own} or more, or home fewer phones"
                        )),
                    ));
                }
                None => default_capacity(role),
            };
            let trunks = match &s.trunks {
                Some(t) if *t.get_ref() > 0 && role != Role::ExpansionV2 => {
                    return Err(err(
                        t.span(),
                        &format!("server[{i}].trunks"),
                        format!("server {name:?}: non-IP trunks connect to IP500 V2 hardware"),
                        Some("put the trunks on an \"expansion-v2\" server".into()),
                    ));
                }
                Some(t) if *t.get_ref() > 10_000 => {
                    return Err(err(
                        t.span(),
                        &format!("server[{i}].trunks"),
                        format!(
                            "server {name:?}: {} trunks is more than any IP500 V2 connects",
                            t.get_ref()
                        ),
                        Some("an IP500 V2 connects a few dozen trunk channels".into()),
                    ));
                }
                Some(t) => *t.get_ref(),
                None => 0,
            };
            let max_calls = match &s.max_calls {
                Some(m) if *m.get_ref() == 0 => {
                    return Err(err(
                        m.span(),
                        &format!("server[{i}].max-calls"),
                        format!("server {name:?}: max-calls = 0 would refuse every call"),
                        Some(
                            "remove it for the default, or give the server's limit, e.g. 750"
                                .into(),
                        ),
                    ));
                }
                Some(m) => Some(*m.get_ref()),
                None => crate::settings::default_max_calls(role),
            };
            let address = check_address(src, i, &name, s.address.as_ref(), &servers)?;
            let address_at = (s.address.as_ref())
                .map(|a| crate::error::Place::new(src, a.span(), &format!("server[{i}].address")))
                .unwrap_or_default();
            let control = check_control(src, i, &name, s.control.as_ref(), address.is_some())?;
            servers.push(ServerSpec {
                name,
                role,
                services,
                backup,
                capacity,
                trunks,
                max_calls,
                address,
                address_at,
                control,
            });
        }

        let (timers, timers_span) = match &self.timers {
            Some(t) => (t.get_ref().clone(), t.span()),
            None => (Timers::default(), 0..0),
        };
        check_timers(src, &timers, timers_span)?;

        let resilience = match &self.resilience {
            Some(r) => {
                if let Err((field, msg, hint)) = r.get_ref().check() {
                    let key = field.rsplit('.').next().unwrap_or(field);
                    let at = src.value_span(r.span(), key);
                    return Err(src.error(at, Some(field), msg, Some(hint)));
                }
                r.get_ref().clone()
            }
            None => Resilience::default(),
        };

        let mut hunt_groups: Vec<HuntGroup> = Vec::new();
        for (i, h) in self.hunt_group.iter().enumerate() {
            let h = h.get_ref();
            let field = format!("hunt-group[{i}]");
            let name = h.name.get_ref();
            if name.is_empty() || hunt_groups.iter().any(|g| &g.name == name) {
                return Err(err(
                    h.name.span(),
                    &format!("{field}.name"),
                    format!("hunt group name {name:?} is empty or used twice"),
                    Some("give every hunt group its own name".into()),
                ));
            }
            let home = h.server.get_ref();
            let Some(spec) = servers.iter().find(|s| &s.name == home) else {
                return Err(err(
                    h.server.span(),
                    &format!("{field}.server"),
                    format!("unknown server {home:?}"),
                    Some(format!("known servers: {}", known(&names))),
                ));
            };
            if !spec.role.runs_ip_office() {
                return Err(err(
                    h.server.span(),
                    &format!("{field}.server"),
                    format!(
                        "server {home:?} is an {} and runs no IP Office, so it cannot hold a hunt group",
                        spec.role
                    ),
                    Some("store hunt groups on the primary, secondary or an expansion".into()),
                ));
            }
            hunt_groups.push(HuntGroup {
                name: name.clone(),
                home: home.clone(),
            });
        }

        Ok(Fleet {
            name: match &self.name {
                Some(n) => src.printable(n, "name")?,
                None => "fleet".into(),
            },
            description: match &self.description {
                Some(d) => src.printable(d, "description")?,
                None => String::new(),
            },
            mode: self.mode,
            timers,
            servers,
            lines,
            phones,
            resilience,
            hunt_groups,
        })
    }
}

/// Whether `text` reads as a scenario file: top-level keys only a scenario has.
fn is_scenario(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    ["duration", "fault", "expect"]
        .iter()
        .any(|k| table.contains_key(*k))
}
