//! Fleet files: servers, their roles and services, lines, backups, phones.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::settings::{HuntGroup, Resilience};

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
    /// Every role, in the order of the documentation.
    pub const ALL: [Role; 6] = [
        Role::Primary,
        Role::Secondary,
        Role::ExpansionLinux,
        Role::ExpansionV2,
        Role::ApplicationServer,
        Role::Ucm,
    ];

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
    /// A phone's keep-alive on its connection to its gatekeeper: a transport
    /// probe (an HTTP/2 ping) after this long without a read (unconfirmed:
    /// 30 s). An IP DECT base and a member without the keepalive stream
    /// get a keepalive message this often instead.
    pub keepalive_interval: Dur,
    /// A registered phone refreshes its registration (re-REGISTER) this
    /// often (the SIP endpoints' registration wait, 300–900 s: 900 s).
    pub registration_wait: Dur,
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
            registration_wait: Dur::secs(900),
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

    /// The phone with extension `ext`.
    pub fn phone(&self, ext: &str) -> Option<&PhoneSpec> {
        self.phones.iter().find(|p| p.extension == ext)
    }

    /// Whether a line joins servers `a` and `b`.
    pub fn has_line(&self, a: &str, b: &str) -> bool {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        self.lines.contains(&(lo.to_string(), hi.to_string()))
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

mod validate;

/// Whether `text` reads as a scenario file: top-level keys only a scenario has.
fn is_scenario(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    ["duration", "fault", "expect"]
        .iter()
        .any(|k| table.contains_key(*k))
}
