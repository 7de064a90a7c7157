//! Hunt groups (docs/domain-coverage.md §2, §3, §5, §6): which server runs
//! a group, when the backup starts and stops running its home's groups, and
//! how the home learns it may run them again.
//!
//! A group runs on exactly one server when all is well: its home. The home
//! advertises its groups in every presence update; the server its line
//! backs up hunt groups with starts running them when the home's first
//! phone re-registers there (failover) and stops at failback (users and
//! hunt groups fail back with their phones). The home runs a group unless
//! its backup's presence reply says the backup runs it; a split network
//! therefore runs it on both sides (a split-brain finding).

use std::collections::BTreeMap;

use crate::quorum::Visibility;

/// Hunt groups running on a server: group → its home.
pub type Running = BTreeMap<String, String>;

/// A hunt group starts or stops running here (a `hunt-group-state` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HuntChange {
    /// The group.
    pub group: String,
    /// Its home system.
    pub home: String,
    /// Whether it now runs here.
    pub active: bool,
}

/// Applies `changes` to what runs here.
pub fn apply(running: &mut Running, changes: &[HuntChange]) {
    for c in changes {
        if c.active {
            running.insert(c.group.clone(), c.home.clone());
        } else {
            running.remove(&c.group);
        }
    }
}

/// The groups a server runs when it starts: its own, except that a
/// restarted home whose line backs up hunt groups waits for its backup's
/// word (the backup may be running them, failed over).
pub fn at_start(home: &str, own: &[String], first_incarnation: bool, backed_up: bool) -> Running {
    if !first_incarnation && backed_up {
        return Running::new();
    }
    own.iter().map(|g| (g.clone(), home.to_string())).collect()
}

/// Whether a server tells `peer` which of its own groups it runs, and
/// takes `peer`'s presence replies as the word on which of them run
/// there: only towards the backup its line names for hunt groups, and
/// only with groups of its own.
pub fn listens_to(own: &[String], hunt_backup: Option<&str>, peer: &str) -> bool {
    !own.is_empty() && hunt_backup == Some(peer)
}

/// What a home observes when its hunt-group backup answers its presence
/// (or does not).
#[derive(Clone, Copy, Debug)]
pub struct HuntHomeObs<'a> {
    /// This server: the groups' home.
    pub home: &'a str,
    /// Its own groups, in fleet order.
    pub own: &'a [String],
    /// The groups its backup says it runs (none when it did not answer).
    pub theirs: &'a [String],
    /// What runs here now.
    pub running: &'a Running,
    /// How much of its line peers the home sees.
    pub visibility: Visibility,
}

/// The home runs each of its groups its backup does not, and stops those
/// its backup runs (failover seen from the home's side). `may_run`: the
/// policy lets it run shared services now; a home that may not leaves
/// stopped groups stopped. Changes in fleet order.
pub fn home(o: &HuntHomeObs<'_>, may_run: bool) -> Vec<HuntChange> {
    let mut changes = Vec::new();
    for g in o.own {
        let elsewhere = o.theirs.contains(g);
        let here = o.running.contains_key(g);
        let active = if elsewhere && here {
            false
        } else if !elsewhere && !here && may_run {
            true
        } else {
            continue;
        };
        changes.push(HuntChange {
            group: g.clone(),
            home: o.home.to_string(),
            active,
        });
    }
    changes
}

/// What a backup observes when it takes over or fails back to a home.
#[derive(Clone, Copy, Debug)]
pub struct HuntBackupObs<'a> {
    /// The home.
    pub home: &'a str,
    /// Whether this server is the home's backup for hunt groups.
    pub backs_up_groups: bool,
    /// The groups the home last advertised (none if never heard).
    pub advertised: &'a [String],
    /// What runs here now.
    pub running: &'a Running,
    /// `true` at failover (the home's first phone re-registered here),
    /// `false` at failback.
    pub failover: bool,
}

/// Phone re-registration triggers hunt-group resilience: at failover the
/// backup starts every group the home advertised that is not running here;
/// at failback it stops those it runs for that home. Nothing when the line
/// does not back up hunt groups. Changes in advertised order.
pub fn backup(o: &HuntBackupObs<'_>) -> Vec<HuntChange> {
    if !o.backs_up_groups {
        return Vec::new();
    }
    o.advertised
        .iter()
        .filter(|g| match o.failover {
            true => !o.running.contains_key(*g),
            false => o.running.get(*g).is_some_and(|h| h == o.home),
        })
        .map(|g| HuntChange {
            group: g.clone(),
            home: o.home.to_string(),
            active: o.failover,
        })
        .collect()
}

/// A server standing its shared services down stops every group that can
/// run elsewhere (its home's line backs them up: `movable(home)`); a group
/// with nowhere else to run stays. Changes in group order.
pub fn stand_down(running: &Running, movable: impl Fn(&str) -> bool) -> Vec<HuntChange> {
    running
        .iter()
        .filter(|(_, home)| movable(home))
        .map(|(g, h)| HuntChange {
            group: g.clone(),
            home: h.clone(),
            active: false,
        })
        .collect()
}

/// The groups of `home` this server runs (the answer to its presence).
pub fn run_for(running: &Running, home: &str) -> Vec<String> {
    running
        .iter()
        .filter(|(_, h)| *h == home)
        .map(|(g, _)| g.clone())
        .collect()
}

/// Where a call to a group not running on the server it reached is
/// offered, in order: the group's home, then the backup its line names
/// for hunt groups; never the server itself.
pub fn runners(me: &str, home: Option<&str>, hunt_backup: Option<&str>) -> Vec<String> {
    home.into_iter()
        .chain(home.and(hunt_backup))
        .filter(|s| *s != me)
        .map(str::to_string)
        .collect()
}
