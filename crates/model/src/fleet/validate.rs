//! Validation of a fleet file as written ([`RawFleet`]) into a [`Fleet`]:
//! one check per function, each error naming the field and saying what
//! would be right.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::{
    Backup, BackupOption, Fleet, MAX_PHONES, PhoneCounts, PhoneSpec, RawFleet, RawHuntGroup,
    RawLine, RawServer, Role, ServerSpec, Service, Timers,
};
use crate::duration::Dur;
use crate::error::{FileError, Source};
use crate::settings::{HuntGroup, Resilience, default_capacity};

type Checked<T> = Result<T, Box<FileError>>;

/// A pair of servers in name order: the key of a line.
type Pair = (String, String);

fn pair(a: &str, b: &str) -> Pair {
    if a < b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

fn known(names: &[String]) -> String {
    names.join(", ")
}

/// What every per-server check may look at: the file, every server as
/// written, and what the fleet-wide checks found.
struct Context<'a> {
    src: &'a Source<'a>,
    raw: &'a [Spanned<RawServer>],
    names: Vec<String>,
    primary: String,
    secondary: Option<String>,
    lines: BTreeSet<Pair>,
}

impl Context<'_> {
    fn error(&self, span: Range<usize>, field: &str, msg: String, hint: &str) -> Box<FileError> {
        self.src.error(span, Some(field), msg, Some(hint.into()))
    }
}

/// The phones of the servers checked so far: every extension once.
#[derive(Default)]
struct Phones {
    specs: Vec<PhoneSpec>,
    extensions: BTreeMap<u64, String>,
    total: u64,
}

impl RawFleet {
    pub(crate) fn validate(self, src: &Source<'_>) -> Checked<Fleet> {
        check_sizes(src, &self)?;
        let names: Vec<String> = (self.server.iter())
            .map(|s| s.get_ref().name.get_ref().clone())
            .collect();
        let mut seen = BTreeSet::new();
        for (i, s) in self.server.iter().enumerate() {
            check_name(src, i, s.get_ref(), &mut seen)?;
        }
        let (primary, secondary) = roles(src, &self.server)?;
        let lines = lines(src, &self.line, &names, &primary, secondary.as_deref())?;
        let cx = Context {
            src,
            raw: &self.server,
            names,
            primary,
            secondary,
            lines,
        };
        let mut servers = Vec::new();
        let mut phones = Phones::default();
        for (i, s) in self.server.iter().enumerate() {
            servers.push(server(&cx, i, s.get_ref(), &mut phones, &servers)?);
        }
        let (timers, timers_span) = match &self.timers {
            Some(t) => (t.get_ref().clone(), t.span()),
            None => (Timers::default(), 0..0),
        };
        check_timers(src, &timers, timers_span)?;
        let resilience = resilience(src, self.resilience.as_ref())?;
        let hunt_groups = hunt_groups(&cx, &self.hunt_group, &servers)?;
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
            lines: cx.lines,
            phones: phones.specs,
            resilience,
            hunt_groups,
        })
    }
}

/// At least one server; no more servers or lines than fleetsim takes.
fn check_sizes(src: &Source<'_>, raw: &RawFleet) -> Checked<()> {
    use crate::limits::{MAX_LINES, MAX_SERVERS};
    if raw.server.is_empty() {
        return Err(src.error(
            0..0,
            Some("server"),
            "the fleet has no servers",
            Some("add a [[server]] table with name = \"primary\" and role = \"primary\"".into()),
        ));
    }
    if let Some(extra) = raw.server.get(MAX_SERVERS) {
        return Err(src.error(
            extra.span(),
            Some(&format!("server[{MAX_SERVERS}]")),
            format!(
                "the fleet has {} servers; fleetsim takes at most {MAX_SERVERS}",
                raw.server.len(),
            ),
            Some("a Server Edition network has at most 150 systems: use fewer servers".into()),
        ));
    }
    if let Some(extra) = raw.line.get(MAX_LINES) {
        return Err(src.error(
            extra.span(),
            Some(&format!("line[{MAX_LINES}]")),
            format!(
                "the fleet has {} lines; fleetsim takes at most {MAX_LINES}",
                raw.line.len(),
            ),
            Some("each line is a pair of connections: leave out [[line]] for the default double star, or name fewer".into()),
        ));
    }
    Ok(())
}

/// A server name: unique, and usable in events and globs.
fn check_name(
    src: &Source<'_>,
    i: usize,
    s: &RawServer,
    seen: &mut BTreeSet<String>,
) -> Checked<()> {
    let n = s.name.get_ref();
    let problem = name_problem(n).or_else(|| {
        (!seen.insert(n.clone())).then(|| {
            (
                format!("duplicate server name {n:?}"),
                "every server needs its own name",
            )
        })
    });
    match problem {
        Some((msg, hint)) => Err(src.error(
            s.name.span(),
            Some(&format!("server[{i}].name")),
            msg,
            Some(hint.into()),
        )),
        None => Ok(()),
    }
}

/// What is wrong with a server name on its own, and the hint.
fn name_problem(n: &str) -> Option<(String, &'static str)> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if n.is_empty() || !n.chars().all(allowed) {
        return Some((
            format!("invalid server name {n:?}"),
            "use letters, digits, '-' and '_' only, e.g. \"expansion-l1\"",
        ));
    }
    if n.chars().all(|c| c.is_ascii_digit()) {
        return Some((
            format!("server name {n:?} is all digits and would read as an extension"),
            "start it with a letter, e.g. \"site-2001\"",
        ));
    }
    if n.starts_with("phones") {
        return Some((
            format!("server name {n:?} is reserved"),
            "names starting with \"phones\" denote phone groups in partitions",
        ));
    }
    // The log's own sources: a server by one of these names would be
    // confused with them in every view.
    if ["runner", "network", "operator"].contains(&n) {
        return Some((
            format!("server name {n:?} is reserved"),
            "the event log uses runner, network and operator for its own events: name the server e.g. \"site-a\"",
        ));
    }
    None
}

/// Roles: exactly one primary, at most one secondary, no UCM. Returns the
/// primary's and the secondary's names.
fn roles(src: &Source<'_>, servers: &[Spanned<RawServer>]) -> Checked<(String, Option<String>)> {
    let mut primary: Option<&str> = None;
    let mut secondary: Option<&str> = None;
    for (i, s) in servers.iter().enumerate() {
        let s = s.get_ref();
        match *s.role.get_ref() {
            Role::Primary => one_of(src, i, s, &mut primary)?,
            Role::Secondary => one_of(src, i, s, &mut secondary)?,
            Role::Ucm => return Err(ucm(src, i, s)),
            _ => {}
        }
    }
    let Some(primary) = primary else {
        return Err(src.error(
            servers[0].span(),
            Some("server[].role"),
            "the fleet has no primary server; a Server Edition network has exactly one",
            Some("set role = \"primary\" on one server".into()),
        ));
    };
    Ok((primary.to_string(), secondary.map(str::to_string)))
}

/// Fills the one `slot` of server `s`'s role (primary or secondary), or
/// says which server already holds it.
fn one_of<'a>(
    src: &Source<'_>,
    i: usize,
    s: &'a RawServer,
    slot: &mut Option<&'a str>,
) -> Checked<()> {
    let role = *s.role.get_ref();
    let (limit, hint) = if role == Role::Primary {
        (
            "exactly one",
            "make this server \"secondary\" or an expansion",
        )
    } else {
        ("at most one", "make this server an \"expansion-linux\"")
    };
    if let Some(p) = slot {
        return Err(src.error(
            s.role.span(),
            Some(&format!("server[{i}].role")),
            format!(
                "a second {role} ({:?}); a network has {limit}, and {p:?} is already {role}",
                s.name.get_ref()
            ),
            Some(hint.into()),
        ));
    }
    *slot = Some(s.name.get_ref());
    Ok(())
}

fn ucm(src: &Source<'_>, i: usize, s: &RawServer) -> Box<FileError> {
    src.error(
        s.role.span(),
        Some(&format!("server[{i}].role")),
        format!(
            "server {:?}: a UCM (Unified Communications Module) is not supported in a Server Edition network",
            s.name.get_ref()
        ),
        Some("use an \"application-server\" for one-X Portal, or remove the UCM".into()),
    )
}

/// Lines: the double star (every server to the primary and the
/// secondary), plus the extra lines written.
fn lines(
    src: &Source<'_>,
    extra: &[Spanned<RawLine>],
    names: &[String],
    primary: &str,
    secondary: Option<&str>,
) -> Checked<BTreeSet<Pair>> {
    let mut lines = BTreeSet::new();
    for n in names {
        if n != primary {
            lines.insert(pair(n, primary));
        }
        if let Some(sec) = secondary
            && n != sec
        {
            lines.insert(pair(n, sec));
        }
    }
    for (i, l) in extra.iter().enumerate() {
        lines.insert(line(src, i, l.get_ref(), names)?);
    }
    Ok(lines)
}

/// An extra line: two known servers, not the same one.
fn line(src: &Source<'_>, i: usize, l: &RawLine, names: &[String]) -> Checked<Pair> {
    let between = l.between.get_ref();
    let field = format!("line[{i}].between");
    let fail =
        |span, msg: String, hint: Option<String>| Err(src.error(span, Some(&field), msg, hint));
    if between.len() != 2 {
        return fail(
            l.between.span(),
            format!(
                "a line joins exactly two servers, this names {}",
                between.len()
            ),
            Some("write between = [\"expansion-l\", \"expansion-v2\"]".into()),
        );
    }
    if let Some(end) = between.iter().find(|end| !names.contains(end.get_ref())) {
        return fail(
            end.span(),
            format!("unknown server {:?}", end.get_ref()),
            Some(format!("known servers: {}", known(names))),
        );
    }
    if between[0].get_ref() == between[1].get_ref() {
        return fail(
            l.between.span(),
            "a line cannot join a server to itself".into(),
            None,
        );
    }
    Ok(pair(between[0].get_ref(), between[1].get_ref()))
}

/// One server: its services, backup, phones, capacity, trunks, call limit
/// and, for an external member, its addresses.
fn server(
    cx: &Context<'_>,
    i: usize,
    s: &RawServer,
    phones: &mut Phones,
    earlier: &[ServerSpec],
) -> Checked<ServerSpec> {
    let name = s.name.get_ref().clone();
    let role = *s.role.get_ref();
    let services = services(cx, i, s)?;
    let backup = backup(cx, i, s)?;
    add_phones(cx, i, s, phones)?;
    let own = phones.specs.iter().filter(|p| p.home == name).count() as u64;
    let capacity = capacity(cx, i, s, own)?;
    let trunks = trunks(cx, i, s)?;
    let max_calls = max_calls(cx, i, s)?;
    let address = check_address(cx.src, i, &name, s.address.as_ref(), earlier)?;
    let address_at = (s.address.as_ref())
        .map(|a| crate::error::Place::new(cx.src, a.span(), &format!("server[{i}].address")))
        .unwrap_or_default();
    let control = check_control(cx.src, i, &name, s.control.as_ref(), address.is_some())?;
    Ok(ServerSpec {
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
    })
}

/// Services are the role's; only an application server takes a list, and
/// beside a Server Edition primary it runs one-X Portal alone.
fn services(cx: &Context<'_>, i: usize, s: &RawServer) -> Checked<Vec<Service>> {
    let (name, role) = (s.name.get_ref(), *s.role.get_ref());
    let Some(sv) = &s.services else {
        return Ok(role.default_services());
    };
    let field = format!("server[{i}].services");
    if role != Role::ApplicationServer {
        return Err(cx.error(
            sv.span(),
            &field,
            format!(
                "server {name:?}: services are set by the role ({role}); only an application-server takes a list"
            ),
            "remove `services`",
        ));
    }
    if sv.get_ref().as_slice() != [Service::OneXPortal] {
        return Err(cx.error(
            sv.span(),
            &field,
            format!(
                "server {name:?}: an application server supporting a Server Edition primary or secondary may run only one-X Portal"
            ),
            "write services = [\"one-x-portal\"]",
        ));
    }
    Ok(sv.get_ref().clone())
}

/// The server this one asks for backup, with the line's options.
fn backup(cx: &Context<'_>, i: usize, s: &RawServer) -> Checked<Option<Backup>> {
    let server = match &s.backup {
        Some(b) if b.get_ref() == "none" => None,
        Some(b) => Some(named_backup(cx, i, s, b)?),
        None => default_backup(cx, *s.role.get_ref()),
    };
    if let (None, Some(o)) = (&server, &s.backs_up) {
        return Err(cx.error(
            o.span(),
            &format!("server[{i}].backs-up"),
            format!(
                "server {:?} has no backup, so `backs-up` has no effect",
                s.name.get_ref()
            ),
            "set `backup` too, or remove `backs-up`",
        ));
    }
    Ok(server.map(|server| Backup {
        server,
        options: backup_options(s),
    }))
}

/// A backup named in the file: another known server that runs IP Office,
/// over a line.
fn named_backup(cx: &Context<'_>, i: usize, s: &RawServer, b: &Spanned<String>) -> Checked<String> {
    let name = s.name.get_ref();
    let target = b.get_ref();
    let fail = |msg: String, hint: String| {
        Err(cx.error(b.span(), &format!("server[{i}].backup"), msg, &hint))
    };
    let Some(t) = (cx.raw.iter().map(Spanned::get_ref)).find(|x| x.name.get_ref() == target) else {
        return fail(
            format!("server {name:?}: unknown backup server {target:?}"),
            format!("known servers: {}, or \"none\"", known(&cx.names)),
        );
    };
    if target == name {
        return fail(
            format!("server {name:?} cannot back itself up"),
            "name another server, usually the secondary".into(),
        );
    }
    if !t.role.get_ref().runs_ip_office() {
        return fail(
            format!(
                "server {name:?}: backup {target:?} is an {} and runs no IP Office",
                t.role.get_ref()
            ),
            "back up to the secondary, the primary or an expansion".into(),
        );
    }
    if !cx.lines.contains(&pair(name, target)) {
        return fail(
            format!("server {name:?}: no line to backup {target:?}; resilience runs over a line"),
            format!("add [[line]] between = [{name:?}, {target:?}]"),
        );
    }
    Ok(target.clone())
}

/// Defaults (unconfirmed, docs/domain-coverage.md §2): primary and
/// expansions ask the secondary; expansions without one ask the primary.
fn default_backup(cx: &Context<'_>, role: Role) -> Option<String> {
    match role {
        Role::Primary | Role::ExpansionLinux | Role::ExpansionV2 => {
            (cx.secondary.clone()).or_else(|| (role != Role::Primary).then(|| cx.primary.clone()))
        }
        _ => None,
    }
}

/// What the line to the backup backs up: as written, or the role's default.
fn backup_options(s: &RawServer) -> BTreeSet<BackupOption> {
    match &s.backs_up {
        Some(o) => o.get_ref().iter().copied().collect(),
        None if *s.role.get_ref() == Role::Primary => [
            BackupOption::IpPhones,
            BackupOption::HuntGroups,
            BackupOption::Voicemail,
        ]
        .into(),
        None => [BackupOption::IpPhones].into(),
    }
}

/// The server's phones, numbered from its first extension, added to
/// `phones`.
fn add_phones(cx: &Context<'_>, i: usize, s: &RawServer, phones: &mut Phones) -> Checked<()> {
    let Some(counts) = &s.phones else {
        return Ok(());
    };
    let c = counts.get_ref();
    let total: u64 = c.by_kind().iter().map(|(_, n)| u64::from(*n)).sum();
    phones.total += total;
    check_phone_kinds(cx, i, s, counts, phones.total)?;
    let first =
        (s.first_extension.as_ref()).map_or((i as u64 + 2) * 1000 + 1, |f| u64::from(*f.get_ref()));
    // Errors about the range point at `first-extension`, or at the phones
    // when the range is the default.
    let span = (s.first_extension.as_ref()).map_or(counts.span(), |f| f.span());
    let field = match &s.first_extension {
        Some(_) => format!("server[{i}].first-extension"),
        None => format!("server[{i}].phones"),
    };
    let name = s.name.get_ref();
    if first + total > u64::from(u32::MAX) + 1 {
        return Err(cx.error(
            span,
            &field,
            format!(
                "server {name:?}: its {total} extensions from {first} would run past {}",
                u32::MAX
            ),
            "start the range lower",
        ));
    }
    let kinds = c
        .by_kind()
        .into_iter()
        .flat_map(|(kind, n)| (0..n).map(move |_| kind));
    for (next, kind) in (first..).zip(kinds) {
        if let Some(other) = phones.extensions.insert(next, name.clone()) {
            return Err(cx.error(
                span,
                &field,
                format!(
                    "server {name:?}: extension {next} is already used by a phone of {other:?}{}",
                    if s.first_extension.is_some() {
                        String::new()
                    } else {
                        format!(" (its phones start at the default for server[{i}]: (index + 2) * 1000 + 1 = {first})")
                    }
                ),
                "set `first-extension` on either server so the ranges do not overlap",
            ));
        }
        phones.specs.push(PhoneSpec {
            extension: next.to_string(),
            kind,
            home: name.clone(),
        });
    }
    Ok(())
}

/// Phones within the fleet's limit, on a server that can home them
/// (analogue ones on IP500 V2 hardware).
fn check_phone_kinds(
    cx: &Context<'_>,
    i: usize,
    s: &RawServer,
    counts: &Spanned<PhoneCounts>,
    fleet_total: u64,
) -> Checked<()> {
    let (name, role) = (s.name.get_ref(), *s.role.get_ref());
    let c = counts.get_ref();
    let fail = |msg: String, hint: &str| {
        Err(cx.error(counts.span(), &format!("server[{i}].phones"), msg, hint))
    };
    if fleet_total > MAX_PHONES {
        return fail(
            format!(
                "the fleet would have {fleet_total} phones; fleetsim takes at most {MAX_PHONES}"
            ),
            "use fewer phones; docs/domain-coverage.md's largest networks have a few thousand users",
        );
    }
    let total: u64 = c.by_kind().iter().map(|(_, n)| u64::from(*n)).sum();
    if total > 0 && !role.runs_ip_office() {
        return fail(
            format!("server {name:?} is an {role} and runs no IP Office, so it cannot home phones"),
            "home the phones on the primary, secondary or an expansion",
        );
    }
    if c.analogue > 0 && role != Role::ExpansionV2 {
        return fail(
            format!("server {name:?}: analogue/digital extensions need IP500 V2 hardware"),
            "home them on an \"expansion-v2\" server",
        );
    }
    Ok(())
}

/// Capacity: at least the server's own phones; without one, the role's
/// default must hold them.
fn capacity(cx: &Context<'_>, i: usize, s: &RawServer, own: u64) -> Checked<u32> {
    let (name, role) = (s.name.get_ref(), *s.role.get_ref());
    match &s.capacity {
        Some(c) if u64::from(*c.get_ref()) < own => Err(cx.error(
            c.span(),
            &format!("server[{i}].capacity"),
            format!(
                "server {name:?}: capacity {} is less than its own {own} phones",
                c.get_ref()
            ),
            &format!("raise capacity to at least {own}, or home fewer phones"),
        )),
        Some(c) => Ok(*c.get_ref()),
        None if own > u64::from(default_capacity(role)) => Err(cx.error(
            s.phones.as_ref().map_or(0..0, |p| p.span()),
            &format!("server[{i}].phones"),
            format!(
                "server {name:?}: its own {own} phones are more than the default capacity of role {} ({})",
                role.as_str(),
                default_capacity(role)
            ),
            &format!(
                "set capacity = N to your release's limit if it takes {own} or more, or home fewer phones"
            ),
        )),
        None => Ok(default_capacity(role)),
    }
}

/// Non-IP trunks: only on IP500 V2 hardware, and a plausible number.
fn trunks(cx: &Context<'_>, i: usize, s: &RawServer) -> Checked<u32> {
    let name = s.name.get_ref();
    let field = format!("server[{i}].trunks");
    match &s.trunks {
        Some(t) if *t.get_ref() > 0 && *s.role.get_ref() != Role::ExpansionV2 => Err(cx.error(
            t.span(),
            &field,
            format!("server {name:?}: non-IP trunks connect to IP500 V2 hardware"),
            "put the trunks on an \"expansion-v2\" server",
        )),
        Some(t) if *t.get_ref() > 10_000 => Err(cx.error(
            t.span(),
            &field,
            format!(
                "server {name:?}: {} trunks is more than any IP500 V2 connects",
                t.get_ref()
            ),
            "an IP500 V2 connects a few dozen trunk channels",
        )),
        Some(t) => Ok(*t.get_ref()),
        None => Ok(0),
    }
}

/// The call limit: not zero; the role's default when not given.
fn max_calls(cx: &Context<'_>, i: usize, s: &RawServer) -> Checked<Option<u32>> {
    match &s.max_calls {
        Some(m) if *m.get_ref() == 0 => Err(cx.error(
            m.span(),
            &format!("server[{i}].max-calls"),
            format!(
                "server {:?}: max-calls = 0 would refuse every call",
                s.name.get_ref()
            ),
            "remove it for the default, or give the server's limit, e.g. 750",
        )),
        Some(m) => Ok(Some(*m.get_ref())),
        None => Ok(crate::settings::default_max_calls(*s.role.get_ref())),
    }
}

/// `[resilience]` settings, each within its range.
fn resilience(src: &Source<'_>, r: Option<&Spanned<Resilience>>) -> Checked<Resilience> {
    let Some(r) = r else {
        return Ok(Resilience::default());
    };
    if let Err((field, msg, hint)) = r.get_ref().check() {
        let key = field.rsplit('.').next().unwrap_or(field);
        let at = src.value_span(r.span(), key);
        return Err(src.error(at, Some(field), msg, Some(hint)));
    }
    Ok(r.get_ref().clone())
}

/// Hunt groups: named once each, stored on a server that runs IP Office.
fn hunt_groups(
    cx: &Context<'_>,
    raw: &[Spanned<RawHuntGroup>],
    servers: &[ServerSpec],
) -> Checked<Vec<HuntGroup>> {
    let mut groups: Vec<HuntGroup> = Vec::new();
    for (i, h) in raw.iter().enumerate() {
        let h = h.get_ref();
        let name = h.name.get_ref();
        if name.is_empty() || groups.iter().any(|g| &g.name == name) {
            return Err(cx.error(
                h.name.span(),
                &format!("hunt-group[{i}].name"),
                format!("hunt group name {name:?} is empty or used twice"),
                "give every hunt group its own name",
            ));
        }
        check_group_home(cx, i, h, servers)?;
        groups.push(HuntGroup {
            name: name.clone(),
            home: h.server.get_ref().clone(),
        });
    }
    Ok(groups)
}

/// A hunt group's server: known, and running IP Office.
fn check_group_home(
    cx: &Context<'_>,
    i: usize,
    h: &RawHuntGroup,
    servers: &[ServerSpec],
) -> Checked<()> {
    let home = h.server.get_ref();
    let field = format!("hunt-group[{i}].server");
    let Some(spec) = servers.iter().find(|s| &s.name == home) else {
        return Err(cx.error(
            h.server.span(),
            &field,
            format!("unknown server {home:?}"),
            &format!("known servers: {}", known(&cx.names)),
        ));
    };
    if !spec.role.runs_ip_office() {
        return Err(cx.error(
            h.server.span(),
            &field,
            format!(
                "server {home:?} is an {} and runs no IP Office, so it cannot hold a hunt group",
                spec.role
            ),
            "store hunt groups on the primary, secondary or an expansion",
        ));
    }
    Ok(())
}

/// The longest timer accepted.
const MAX_TIMER: Dur = Dur::secs(366 * 86_400);

/// Every timer within its bounds, and failover-after long enough that one late presence update fails no peer over.
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
        (
            "timers.registration-wait",
            t.registration_wait,
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
