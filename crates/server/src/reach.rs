//! Finding a called phone before a call to it is set up: on its home, then
//! its home's backup, asked over the lines of the star. A system with no
//! line to those (one expansion calling another) asks through a hub, the
//! primary or, while the primary is gone, the secondary, as calls between
//! expansions are routed.

use std::sync::Arc;

use fleetsim_model::Role;
use fleetsim_net::call;
use fleetsim_proto::pb;

use crate::state::Shared;

/// What one system said about a called phone.
enum Asked {
    /// Registered there (or a member that cannot say, which lets the call
    /// through).
    Registered,
    /// Not registered there, or no answer: why.
    Not(String),
    /// This system has no line to it.
    NoLine,
}

/// A called phone not found over this system's own lines.
#[derive(Default)]
struct Missing {
    /// What each system asked said.
    why: Vec<String>,
    /// The systems this one has no line to.
    beyond: Vec<String>,
}

impl Shared {
    /// Finds the called phone `ext` for a call set up here; why not, when
    /// no system holds it.
    pub(crate) async fn reach(self: &Arc<Self>, ext: &str) -> Result<(), String> {
        let missing = match self.look_up(ext).await {
            Ok(()) => return Ok(()),
            Err(m) => m,
        };
        let mut why = missing.why;
        if !missing.beyond.is_empty() {
            // A hub that just failed to answer is not asked again.
            let silent: Vec<String> = why
                .iter()
                .filter_map(|w| w.strip_suffix(" did not answer").map(str::to_string))
                .collect();
            match self.reach_through_hub(ext, &missing.beyond, &silent).await {
                Ok(()) => return Ok(()),
                Err(w) => why.push(w),
            }
        }
        Err(format!(
            "the called phone {ext} is not reachable: {}",
            why.join(", ")
        ))
    }

    /// Answers a hub's `Reach` with `relay`: the phone found over this
    /// system's own lines, or why not.
    pub(crate) async fn reach_for_peer(self: &Arc<Self>, ext: &str) -> pb::ReachReply {
        match self.look_up(ext).await {
            Ok(()) => pb::ReachReply {
                registered: true,
                why: String::new(),
            },
            Err(mut m) => {
                let me = &self.name;
                m.why
                    .extend(m.beyond.iter().map(|s| format!("{me} has no line to {s}")));
                pb::ReachReply {
                    registered: false,
                    why: m.why.join(", "),
                }
            }
        }
    }

    /// Asks the called phone's home, then its backup, over this system's
    /// own lines.
    async fn look_up(self: &Arc<Self>, ext: &str) -> Result<(), Missing> {
        let Some(spec) = self.fleet.phone(ext) else {
            return Ok(());
        };
        let mut systems = vec![spec.home.as_str()];
        systems.extend(self.fleet.backup_of_phone(spec));
        let mut missing = Missing::default();
        for srv in systems {
            match self.ask(srv, ext).await {
                Asked::Registered => return Ok(()),
                Asked::Not(why) => missing.why.push(why),
                Asked::NoLine => missing.beyond.push(srv.to_string()),
            }
        }
        Err(missing)
    }

    /// Whether `ext` is registered on `srv`, asked over the line to it.
    async fn ask(self: &Arc<Self>, srv: &str, ext: &str) -> Asked {
        if srv == self.name {
            return match self.is_registered(ext) {
                true => Asked::Registered,
                false => Asked::Not(format!("not registered on {srv}")),
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
        match call(self.timing.rpc_deadline, client.reach(req)).await {
            Ok(reply) if reply.get_ref().registered => Asked::Registered,
            Ok(_) => Asked::Not(format!("not registered on {srv}")),
            // A member that cannot say lets the call through.
            Err(status) if status.code() == tonic::Code::Unimplemented => Asked::Registered,
            Err(_) => Asked::Not(format!("{srv} did not answer")),
        }
    }

    /// Asks each hub in turn (but those in `silent`, which just did not
    /// answer) to find `ext` over its lines, for the systems `beyond` this
    /// one's lines; the first hub that answers decides.
    async fn reach_through_hub(
        self: &Arc<Self>,
        ext: &str,
        beyond: &[String],
        silent: &[String],
    ) -> Result<(), String> {
        let hubs = self.hubs();
        for hub in hubs.iter().filter(|h| !silent.contains(h)) {
            let req = pb::ReachRequest {
                extension: ext.to_string(),
                relay: true,
            };
            let mut client = self.line_client(hub);
            match call(self.timing.rpc_deadline, client.reach(req)).await {
                Ok(reply) if reply.get_ref().registered => return Ok(()),
                Ok(reply) => return Err(format!("asked through {hub}: {}", reply.get_ref().why)),
                Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(()),
                Err(_) => {}
            }
        }
        Err(match hubs.is_empty() {
            true => format!(
                "{} has no line to {}, nor to a hub",
                self.name,
                beyond.join(" or ")
            ),
            false => format!(
                "{} has no line to {} and no hub answered ({})",
                self.name,
                beyond.join(" or "),
                hubs.join(", ")
            ),
        })
    }

    /// This system's line peers, the primary first, then the secondary.
    fn hubs(&self) -> Vec<String> {
        let rank = |name: &String| match self.fleet.server(name).map(|s| s.role) {
            Some(Role::Primary) => 0,
            Some(Role::Secondary) => 1,
            _ => 2,
        };
        let mut hubs = self.fleet.line_peers(&self.name);
        hubs.sort_by_key(rank);
        hubs
    }
}
