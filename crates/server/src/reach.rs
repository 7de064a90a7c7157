//! Finding a called phone before a call to it is set up: on its home, then
//! its home's backup, asked over the lines of the star. A system with no
//! line to those (one expansion calling another) asks through a hub, the
//! primary or, while the primary is gone, the secondary, as calls between
//! expansions are routed.

use std::sync::Arc;
use std::time::Duration;

use fleetsim_model::Role;
use fleetsim_net::call;
use fleetsim_proto::pb;

use crate::state::Shared;

/// What one system said about a called phone.
enum Asked {
    /// Registered there (or a member that cannot say, which lets the call
    /// through).
    Registered,
    /// It answered: not registered there.
    NotHere,
    /// It did not answer within the deadline.
    Silent,
    /// This system has no line to it.
    NoLine,
}

/// A called phone not found over this system's own lines.
#[derive(Default)]
struct Missing {
    /// What each system asked said, home first ("its home primary did not
    /// answer").
    why: Vec<String>,
    /// The systems that did not answer.
    silent: Vec<String>,
    /// The systems this one has no line to, as "its home expansion-l".
    beyond: Vec<String>,
    /// The phone's home is one of them.
    home_beyond: bool,
}

impl Shared {
    /// Finds the called phone `ext` for a call set up here; why not, when
    /// no system holds it.
    pub(crate) async fn reach(self: &Arc<Self>, ext: &str) -> Result<(), String> {
        let mut missing = match self.look_up(ext, self.timing.rpc_deadline).await {
            Ok(()) => return Ok(()),
            Err(m) => m,
        };
        if !missing.beyond.is_empty() {
            match self.reach_through_hub(ext, &missing).await {
                Ok(()) => return Ok(()),
                // Said in the order of the phone's systems: its home first.
                Err(w) if missing.home_beyond => missing.why.insert(0, w),
                Err(w) => missing.why.push(w),
            }
        }
        Err(format!(
            "the called phone {ext} is not reachable: {}",
            missing.why.join("; ")
        ))
    }

    /// Answers a hub's `Reach` with `relay`: the phone found over this
    /// system's own lines, or why not, within the asker's deadline: its
    /// home and its backup get under half of it each.
    pub(crate) async fn reach_for_peer(self: &Arc<Self>, ext: &str) -> pb::ReachReply {
        match self.look_up(ext, self.timing.rpc_deadline * 9 / 20).await {
            Ok(()) => pb::ReachReply {
                registered: true,
                why: String::new(),
            },
            Err(mut m) => {
                let me = &self.name;
                (m.why).extend(m.beyond.iter().map(|s| format!("{me} has no line to {s}")));
                pb::ReachReply {
                    registered: false,
                    why: m.why.join("; "),
                }
            }
        }
    }

    /// Asks the called phone's home, then its backup, over this system's
    /// own lines, each within `deadline`.
    async fn look_up(self: &Arc<Self>, ext: &str, deadline: Duration) -> Result<(), Missing> {
        let Some(spec) = self.fleet.phone(ext) else {
            return Ok(());
        };
        let mut systems = vec![(true, spec.home.as_str())];
        systems.extend(self.fleet.backup_of_phone(spec).map(|b| (false, b)));
        let mut missing = Missing::default();
        for (home, srv) in systems {
            let which = if home { "its home" } else { "its backup" };
            match self.ask(srv, ext, deadline).await {
                Asked::Registered => return Ok(()),
                Asked::NotHere => (missing.why).push(format!("not registered on {which} {srv}")),
                Asked::Silent => {
                    missing.why.push(format!("{which} {srv} did not answer"));
                    missing.silent.push(srv.to_string());
                }
                Asked::NoLine => {
                    missing.home_beyond |= home;
                    missing.beyond.push(format!("{which} {srv}"));
                }
            }
        }
        Err(missing)
    }

    /// Whether `ext` is registered on `srv`, asked over the line to it.
    async fn ask(self: &Arc<Self>, srv: &str, ext: &str, deadline: Duration) -> Asked {
        if srv == self.name {
            return match self.is_registered(ext) {
                true => Asked::Registered,
                false => Asked::NotHere,
            };
        }
        if !self.fleet.has_line(&self.name, srv) {
            return Asked::NoLine;
        }
        let req = pb::ReachRequest {
            extension: ext.to_string(),
            relay: false,
        };
        let mut client = self.line_client(srv);
        match call(deadline, client.reach(req)).await {
            Ok(reply) if reply.get_ref().registered => Asked::Registered,
            Ok(_) => Asked::NotHere,
            // A member that cannot say lets the call through.
            Err(status) if status.code() == tonic::Code::Unimplemented => Asked::Registered,
            Err(_) => Asked::Silent,
        }
    }

    /// Asks each hub in turn (but one that just did not answer) to find
    /// `ext` over its lines, for the systems beyond this one's; the first
    /// hub that answers decides.
    async fn reach_through_hub(self: &Arc<Self>, ext: &str, m: &Missing) -> Result<(), String> {
        let deadline = self.timing.rpc_deadline;
        let hubs = self.hubs();
        for hub in hubs.iter().filter(|h| !m.silent.contains(h)) {
            let req = pb::ReachRequest {
                extension: ext.to_string(),
                relay: true,
            };
            let mut client = self.line_client(hub);
            match call(deadline, client.reach(req)).await {
                Ok(reply) if reply.get_ref().registered => return Ok(()),
                Ok(reply) => return Err(format!("through {hub}, {}", reply.get_ref().why)),
                Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(()),
                Err(_) => {}
            }
        }
        let (me, beyond) = (&self.name, m.beyond.join(" or "));
        Err(match hubs.is_empty() {
            true => format!("{me} has no line to {beyond}, nor to a hub"),
            false => format!(
                "{me} has no line to {beyond}, and no hub answered ({})",
                hubs.join(", ")
            ),
        })
    }

    /// The hubs of the star this system has a line to: the primary first,
    /// then the secondary, which have a line to every system.
    fn hubs(&self) -> Vec<String> {
        let hub = |role| {
            (self.fleet.servers.iter())
                .find(|s| s.role == role && s.name != self.name)
                .map(|s| s.name.clone())
                .filter(|name| self.fleet.has_line(&self.name, name))
        };
        [Role::Primary, Role::Secondary]
            .into_iter()
            .filter_map(hub)
            .collect()
    }
}
