//! Simulated endpoints: each phone is a tokio task holding a gatekeeper list
//! (home, then its home's backup for physical IP phones) and registering over
//! gRPC `Telephony`, as a real phone does.
//!
//! Behaviour (docs/domain-coverage.md §3, SIP endpoint defaults): a registered
//! phone keeps its keepalive stream to its gatekeeper open and refreshes its
//! registration on it every registration wait (900 s); its connection is
//! probed every keepalive interval, as TCP keep-alive probes it (the fault
//! plane decides: a partition, a hang or latency past the deadline fails the
//! probe; a gray failure of the server's services does not). The gatekeeper
//! speaks on the stream unasked: a guest is sent home once failback is due,
//! a registration ends in restricted mode, and a crash breaks the stream at
//! once. When the phone finds its gatekeeper gone, it is lost and retries
//! after a random 50–90 % of the recovery wait (60 s), trying its home first,
//! then its backup. Softphones and analogue extensions have no alternate
//! gatekeeper, so they never fail over.
//!
//! IP DECT handsets follow their master base: it polls every 30 s and
//! switches to the backup only after 2 min of failed polls, and only when
//! the line backs up IP DECT phones.
//!
//! Calls: the workload ([`workload`]: random calls, and the scenario's
//! scripted ones) asks a phone to call; the phone sets the call up on its
//! gatekeeper, or logs why it could not. If the gatekeeper fails during a call,
//! media connection preservation keeps a connected two-party or conference
//! call up (at most 2 h) and the phone fails over only when it ends; any
//! other call is dropped. A phone in a call is not sent home at failback.
//!
//! # Layout
//! - [`spawn`] starts a phone; [`PhoneHandle`] stops it and sends it
//!   [`PhoneCmd`]s (call, reboot).
//! - `run`: the phone's state machine.
//! - [`workload`]: the seeded call and one-X Portal workload, and scripted calls.
//! - `observed`: what a phone records of an external member, which writes
//!   no fleetsim event log.

mod observed;
pub mod workload;

use std::time::Duration;

use fleetsim_model::{CallKind, Event, PhoneKind, PhoneSpec};
use fleetsim_net::{EventLog, Net, PathChannel, Timing, call as call_rpc, seed};
use fleetsim_proto::pb;
use fleetsim_rules::phone::{self as phone_rules, CallFate, Dropped};
use rand::Rng as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::observed::Observer;

/// What a phone needs to run.
#[derive(Clone, Debug)]
pub struct PhoneConfig {
    /// The phone.
    pub spec: PhoneSpec,
    /// Its alternate gatekeeper (the home's backup for IP phones), if any.
    pub backup: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// Timers in runtime units.
    pub timing: Timing,
    /// IP DECT master base poll interval (runtime units).
    pub dect_poll: Duration,
    /// IP DECT switch to backup after failing polls this long (runtime units).
    pub dect_switch_after: Duration,
    /// Media connection preservation limit (runtime units); `None`: off.
    pub preservation: Option<Duration>,
    /// The systems that connect trunks (an external call set up on one of
    /// them uses its own trunk).
    pub trunk_systems: Vec<String>,
    /// External members (servers fleetsim does not run): they write no
    /// event log, so the phone logs what it observes of them.
    pub external: Vec<String>,
    /// Test hook, not an emulated fault: the phone's task panics as it
    /// starts (tests of the harness's panic handling).
    #[doc(hidden)]
    pub panic_on_start: bool,
}

/// Something a phone is asked to do.
#[derive(Clone, Debug)]
pub enum PhoneCmd {
    /// Place a call.
    Call {
        /// Call id, unique in the run.
        id: String,
        /// Kind.
        kind: CallKind,
        /// Called extension (mailbox for voicemail).
        target: String,
        /// Hunt group called (hunt-group calls).
        group: String,
        /// Length (runtime units).
        duration: Duration,
        /// Length in emulated ms (what servers are told).
        duration_ms: u64,
        /// Recorded.
        recorded: bool,
    },
    /// Reboot (or log out and in): register from the top of the list.
    Reboot,
}

/// A running phone.
#[derive(Debug)]
pub struct PhoneHandle {
    token: CancellationToken,
    task: JoinHandle<()>,
    tx: Commands,
}

/// Where a phone takes its commands: boxed, because the channel's first
/// block holds 32 of them and a call is over a hundred bytes, so unboxed
/// that block alone would be kilobytes per phone.
pub type Commands = mpsc::UnboundedSender<Box<PhoneCmd>>;

impl PhoneHandle {
    /// Stops the phone.
    pub fn stop(self) {
        self.token.cancel();
        self.task.abort();
    }

    /// Asks the phone to do something (ignored once it has stopped).
    pub fn send(&self, cmd: PhoneCmd) {
        let _ = self.tx.send(Box::new(cmd));
    }

    /// A sender of commands to this phone.
    pub fn sender(&self) -> Commands {
        self.tx.clone()
    }
}

/// Starts a phone on `net`, logging to `log`.
pub fn spawn(cfg: PhoneConfig, net: Net, log: EventLog) -> PhoneHandle {
    let token = CancellationToken::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let span = tracing::info_span!("phone", phone = %cfg.spec.extension);
    // Spawned as it is: an async block awaiting `run` would hold the
    // phone's future twice over (once captured, once being polled), which
    // at thousands of phones is megabytes.
    let task = tokio::spawn(run(Box::new(cfg), net, log, token.clone(), rx).instrument(span));
    PhoneHandle { token, task, tx }
}

fn why(status: &tonic::Status) -> &'static str {
    use tonic::Code::*;
    if fleetsim_net::timed_out(status) {
        return "no answer before the deadline";
    }
    match status.code() {
        NotFound => "registration unknown to the server (expired, or the server restarted)",
        Unavailable | Unknown | Cancelled => "connection lost",
        _ => "error",
    }
}

/// Whether the error says the connection under the channel was found dead
/// (not a refusal, not a deadline): worth one immediate retry.
fn stale_connection(status: &tonic::Status) -> bool {
    use tonic::Code::*;
    !fleetsim_net::timed_out(status) && matches!(status.code(), Unavailable | Unknown)
}

struct Gatekeeper {
    name: String,
    client: Option<pb::telephony_client::TelephonyClient<PathChannel>>,
    /// The phone's path to it, for keep-alive probes.
    path: Option<PathChannel>,
    /// Keepalives on one long-lived stream per registration.
    keepalives: fleetsim_net::Session<pb::KeepaliveRequest, pb::KeepaliveReply>,
}

/// Ends a call normally on the server it runs on, which logs the end.
/// A hangup that got no answer comes back as [`Unconfirmed`].
async fn hangup(
    mut client: pb::telephony_client::TelephonyClient<PathChannel>,
    deadline: Duration,
    c: ActiveCall,
    obs: &Observer,
) -> Option<Unconfirmed> {
    let req = pb::HangupRequest {
        call: c.id.clone(),
        extension: obs.phone().to_string(),
    };
    let answered = call_rpc(deadline, client.hangup(req)).await.is_ok();
    if answered {
        obs.call_ended(&c.server, &c.id);
    }
    (!answered).then_some(Unconfirmed {
        call: c.id,
        server: c.server,
        kind: c.kind,
    })
}

/// A hangup that got no answer. The server ends the call when it next hears
/// the phone idle (a keepalive) or gone (unregister); if the phone loses the
/// server first, the phone logs the end itself. Either way the call ends once
/// in the log (the log keeps the first report).
struct Unconfirmed {
    call: String,
    server: String,
    kind: CallKind,
}

/// A call kept up by media connection preservation after its system was
/// lost: for `lasts` more, ended by the preservation limit or its own end.
struct Kept {
    lasts: Duration,
    cut_by_limit: bool,
}

/// What the loss of system `gk` (found by `status`) does to a call of
/// `kind` with `remaining` to run: kept up by media connection
/// preservation, or dropped, with the reason the log gives.
fn fate(
    cfg: &PhoneConfig,
    gk: &str,
    kind: CallKind,
    remaining: Duration,
    status: &tonic::Status,
) -> Result<Kept, String> {
    // An external call set up on a system with trunks runs over that
    // system's own trunk: it dies with it.
    let own_trunk = kind == CallKind::External && cfg.trunk_systems.iter().any(|t| t == gk);
    let fate =
        phone_rules::when_system_lost(cfg.spec.kind, kind, own_trunk, remaining, cfg.preservation);
    let dropped = match fate {
        CallFate::Preserved {
            lasts,
            cut_by_limit,
        } => {
            return Ok(Kept {
                lasts,
                cut_by_limit,
            });
        }
        CallFate::Dropped(dropped) => dropped,
    };
    let failed = format!("{gk} failed ({})", why(status));
    Err(match dropped {
        Dropped::OwnTrunk => format!("{failed}; the call's trunk was on {gk}"),
        Dropped::NotPreservable(kind) => {
            format!("{failed}; a {} call is not preserved", kind.as_str())
        }
        Dropped::PreservationOff => format!("{failed}; media connection preservation is off"),
        Dropped::Wired => {
            format!("{failed}; an analogue phone's call runs through its port on {gk}")
        }
    })
}

/// What woke the phone.
enum Woke {
    /// A command.
    Cmd(PhoneCmd),
    /// The system ended the current call itself (`Some`), or the call's
    /// stream closed (`None`: nothing to do, the keepalive finds out why).
    Update(Option<pb::CallUpdate>),
    /// What the gatekeeper said unasked on the keepalive stream, or why
    /// the stream ended.
    Pushed(Result<pb::KeepaliveReply, tonic::Status>),
    /// A timer: keepalive, probe, retry, or a call's end.
    Timer,
}

/// What a registered phone does when it wakes.
#[derive(Clone, Copy)]
enum Act {
    /// Reads what its gatekeeper said on the keepalive stream.
    Pushed,
    /// Sends a keepalive (registration refresh, DECT poll).
    Exchange,
    /// Probes its connection, as TCP keep-alive does.
    Probe,
}

/// A call the phone is in.
struct ActiveCall {
    id: String,
    /// The server it was set up on.
    server: String,
    kind: CallKind,
    ends: Instant,
    /// Kept up by media connection preservation after its server failed.
    preserved: bool,
    /// The preservation limit (emulated ms) when it, not the call's own
    /// length, ends the preserved call.
    cut_by_limit: Option<u64>,
    /// The call's stream from its system (closed once it breaks).
    updates: Option<tonic::Streaming<pb::CallUpdate>>,
}

async fn run(
    // Boxed, as is the generator below: both live as long as the phone,
    // and inline they were a quarter of every phone task's memory.
    cfg: Box<PhoneConfig>,
    net: Net,
    log: EventLog,
    token: CancellationToken,
    rx: mpsc::UnboundedReceiver<Box<PhoneCmd>>,
) {
    if cfg.panic_on_start {
        panic!("injected panic in a phone task (test hook)");
    }
    let t = cfg.timing;
    let ext = cfg.spec.extension.clone();
    let dect = cfg.spec.kind == PhoneKind::Dect;
    let mut rng = Box::new(seed::rng(cfg.seed, &["phone", &ext]));
    let mut gatekeepers = vec![Gatekeeper {
        name: cfg.spec.home.clone(),
        client: None,
        path: None,
        keepalives: Default::default(),
    }];
    if cfg.spec.kind.fails_over()
        && let Some(b) = &cfg.backup
    {
        gatekeepers.push(Gatekeeper {
            name: b.clone(),
            client: None,
            path: None,
            keepalives: Default::default(),
        });
    }
    // A DECT base polls on its own fixed interval; IP phones retry after a
    // random 50–90 % of the recovery wait.
    let keepalive_every = if dect {
        cfg.dect_poll
    } else {
        t.keepalive_interval
    };
    // Channels are made on first use: most phones never talk to their backup.
    let ensure = |i: usize, gks: &mut Vec<Gatekeeper>| {
        let gk = &mut gks[i];
        if gk.client.is_none() {
            // The site's phones share one connection to each gatekeeper.
            let ch = net.path_channel(&ext, &cfg.spec.home, &gk.name, t.channel());
            gk.path = Some(ch.clone());
            gk.client = Some(pb::telephony_client::TelephonyClient::new(ch));
        }
    };
    let client = |i: usize, gks: &mut Vec<Gatekeeper>| {
        ensure(i, gks);
        gks[i].client.clone().expect("made above")
    };
    let recovery = |rng: &mut fleetsim_net::seed::Rng| {
        if dect {
            cfg.dect_poll
        } else {
            t.recovery_wait.mul_f64(rng.random_range(0.5..=0.9))
        }
    };
    let clock = log.clock();
    let obs = Observer::new(log.clone(), &ext, &cfg.spec.home, cfg.external.clone());
    // Accepted as a guest by the gatekeeper it is registered on.
    let mut guest = false;
    // A REGISTER that timed out may still land: withdraw it (best effort, in
    // the background, as a SIP phone sends `Expires: 0`) so the phone is not
    // held by two systems while it moves on down its list.
    let withdraw = |mut c: pb::telephony_client::TelephonyClient<PathChannel>| {
        let (token, ext, deadline) = (token.clone(), ext.clone(), t.rpc_deadline);
        tokio::spawn(async move {
            let req = pb::UnregisterRequest { extension: ext };
            tokio::select! {
                biased;
                () = token.cancelled() => {}
                _ = call_rpc(deadline, c.unregister(req)) => {}
            }
        });
    };
    // A preserved call ends where it was set up (its server is gone): at
    // its own end, or cut by the preservation limit, which says so.
    let end_preserved = |c: ActiveCall| {
        let event = match c.cut_by_limit {
            Some(limit_ms) => Event::CallPreservationExpired {
                call: c.id,
                phone: ext.clone(),
                limit_ms,
            },
            None => Event::CallEnded {
                call: c.id,
                phone: ext.clone(),
                preserved: true,
            },
        };
        log.emit(&c.server, event);
    };

    // The phone lost the server before it confirmed a hangup: the user did
    // hang up, so the call is over (the log keeps one end per call).
    let end_unconfirmed = |u: Unconfirmed| {
        log.emit(
            &u.server,
            Event::CallEnded {
                call: u.call,
                phone: ext.clone(),
                preserved: false,
            },
        );
    };

    let jitter_ms = t.start_jitter.as_millis().max(1) as u64;
    // tokio time: virtual in sim mode.
    let mut next = Instant::now() + Duration::from_millis(rng.random_range(0..jitter_ms));
    let mut current: Option<usize> = None;
    let mut call: Option<ActiveCall> = None;
    let mut failing_since: Option<Instant> = None;
    let mut unconfirmed: Option<Unconfirmed> = None;
    let mut rx = Some(rx);
    // The keep-alive probes of the phone's connection, every keepalive
    // interval from its registration (a DECT base polls with messages, and
    // a member without the keepalive stream gets one instead).
    let mut probe_at: Option<Instant> = None;
    // A probe can fail only while a network fault is in force, so only
    // then does the phone wake for its probes; the first fault wakes it.
    let mut changes = net.impairment_begins();
    loop {
        let in_preserved = call.as_ref().is_some_and(|c| c.preserved);
        let probing = match (current, probe_at) {
            (Some(i), Some(p)) if net.is_impaired() && !gatekeepers[i].keepalives.is_unary() => {
                // Probes skipped while nothing could fail them stay on
                // their grid.
                let p = phone_rules::next_on_grid(p, Instant::now(), keepalive_every);
                probe_at = Some(p);
                Some(p)
            }
            _ => None,
        };
        let due = probing.map_or(next, |p| p.min(next));
        // In a preserved call the phone does nothing but wait for its end.
        let wake = match &call {
            Some(c) if c.preserved => c.ends,
            Some(c) => due.min(c.ends),
            None => due,
        };
        // A DECT base learns of its system only by polling it.
        let watched = current.filter(|_| !in_preserved && !dect);
        let updates = call.as_mut().and_then(|c| c.updates.as_mut());
        let woke = tokio::select! {
            biased;
            // News of the current call first: a command that arrives with it
            // then sees the phone as it now is.
            u = async {
                match updates {
                    Some(s) => s.message().await.ok().flatten(),
                    None => std::future::pending().await,
                }
            } => Woke::Update(u),
            cmd = async {
                match rx.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            } => match cmd {
                Some(c) => Woke::Cmd(*c),
                None => {
                    rx = None;
                    continue;
                }
            },
            // What the gatekeeper says unasked on the keepalive stream
            // (sent home, registration ended), or the stream breaking.
            r = async {
                match watched {
                    Some(i) => gatekeepers[i].keepalives.pushed().await,
                    None => std::future::pending().await,
                }
            } => Woke::Pushed(r),
            () = async {
                match (watched, probe_at) {
                    (Some(_), Some(_)) => changes.changed().await,
                    _ => std::future::pending().await,
                }
            } => continue,
            () = tokio::time::sleep_until(wake) => Woke::Timer,
        };
        let now = Instant::now();
        let mut pushed = None;
        let cmd = match woke {
            Woke::Cmd(c) => Some(c),
            Woke::Update(Some(u)) => {
                // The system ended the call and logged why: the phone is free.
                if let Some(c) = call.take() {
                    obs.call_ended_by_system(&c.server, &c.id, &u.ended);
                }
                continue;
            }
            Woke::Update(None) => {
                if let Some(c) = call.as_mut() {
                    c.updates = None;
                }
                continue;
            }
            Woke::Pushed(r) => {
                pushed = Some(r);
                None
            }
            Woke::Timer => None,
        };
        match cmd {
            Some(PhoneCmd::Call {
                id,
                kind,
                target,
                group,
                duration,
                duration_ms,
                recorded,
            }) => {
                let failed = |server: &str, reason: String| {
                    log.emit(
                        server,
                        Event::CallFailed {
                            call: id.clone(),
                            phone: ext.clone(),
                            reason,
                        },
                    );
                };
                // A phone in a call (a preserved one too: its user can only
                // talk and hang up) is busy before it is anything else.
                if let Some(c) = &call {
                    failed(&c.server, "the phone is already in a call".into());
                    continue;
                }
                let Some(i) = current else {
                    failed(&cfg.spec.home, "the phone is not registered".into());
                    continue;
                };
                let req = pb::CallRequest {
                    call: id.clone(),
                    extension: ext.clone(),
                    kind: pb::CallKind::from(kind) as i32,
                    target,
                    group,
                    duration_ms,
                    recorded,
                };
                match Box::pin(call_rpc(
                    t.rpc_deadline,
                    client(i, &mut gatekeepers).call(req),
                ))
                .await
                {
                    Ok(stream) => {
                        obs.call_started(&gatekeepers[i].name, &id, kind, recorded);
                        call = Some(ActiveCall {
                            id,
                            server: gatekeepers[i].name.clone(),
                            kind,
                            ends: Instant::now() + duration,
                            preserved: false,
                            cut_by_limit: None,
                            updates: Some(stream.into_inner()),
                        });
                    }
                    // A refusal says why in its message; other errors by code.
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        failed(&gatekeepers[i].name, status.message().to_string())
                    }
                    Err(status) => failed(&gatekeepers[i].name, why(&status).into()),
                }
                continue;
            }
            Some(PhoneCmd::Reboot) => {
                let on = current.map_or(cfg.spec.home.clone(), |i| gatekeepers[i].name.clone());
                // A phone registered nowhere (its server is gone) was lost
                // already: its reboot loses nothing more.
                let registered = current.is_some();
                if let Some(mut c) = call.take() {
                    if c.preserved {
                        // Its server is gone: the reboot simply ends it
                        // (before any limit did).
                        if now < c.ends {
                            c.cut_by_limit = None;
                        }
                        end_preserved(c);
                    } else if let Some(i) = current {
                        // The user hangs up as the phone restarts.
                        let gk = client(i, &mut gatekeepers);
                        let lost = Box::pin(hangup(gk, t.rpc_deadline, c, &obs)).await;
                        unconfirmed = lost.or(unconfirmed.take());
                    }
                }
                if let Some(i) = current.take() {
                    gatekeepers[i].keepalives.reset();
                    let req = pb::UnregisterRequest {
                        extension: ext.clone(),
                    };
                    let done = Box::pin(call_rpc(
                        t.rpc_deadline,
                        client(i, &mut gatekeepers).unregister(req),
                    ))
                    .await;
                    if done.is_ok() {
                        obs.unregistered(&gatekeepers[i].name, guest);
                    }
                }
                if let Some(u) = unconfirmed.take() {
                    end_unconfirmed(u);
                }
                if registered {
                    log.emit(
                        &on,
                        Event::PhoneLost {
                            phone: ext.clone(),
                            reason: "rebooted: registers from the top of its gatekeeper list"
                                .into(),
                        },
                    );
                }
                failing_since = None;
                next = Instant::now();
                continue;
            }
            None => {}
        }

        // A call reaches its end (after what the gatekeeper just said).
        if pushed.is_none()
            && let Some(c) = &call
            && now >= c.ends
        {
            let c = call.take().expect("checked above");
            if c.preserved {
                // The preserved call is over: now the phone fails over.
                end_preserved(c);
                current = None;
                next = Instant::now();
            } else if let Some(i) = current {
                let gk = client(i, &mut gatekeepers);
                unconfirmed = Box::pin(hangup(gk, t.rpc_deadline, c, &obs))
                    .await
                    .or(unconfirmed.take());
                if unconfirmed.is_some() {
                    // Tell the server the phone is idle at its next keepalive.
                    next = next.min(Instant::now() + keepalive_every);
                }
            }
            continue;
        }
        let act = if pushed.is_some() {
            Act::Pushed
        } else if phone_rules::acts_now(now, next, in_preserved) {
            Act::Exchange
        } else if probing.is_some_and(|p| now >= p) {
            Act::Probe
        } else {
            continue;
        };

        match current {
            None => {
                'list: for i in 0..gatekeepers.len() {
                    // A connection found dead is opened afresh once, as a
                    // phone sends a new REGISTER: only a refusal, a deadline
                    // or a second failure moves it down the list.
                    for _attempt in 0..2 {
                        let req = pb::RegisterRequest {
                            extension: ext.clone(),
                            home: cfg.spec.home.clone(),
                            kind: pb::PhoneKind::from(cfg.spec.kind) as i32,
                        };
                        let mut gk = client(i, &mut gatekeepers);
                        match Box::pin(call_rpc(t.rpc_deadline, gk.register(req))).await {
                            Ok(reply) => {
                                // A new registration: a new keepalive stream.
                                gatekeepers[i].keepalives.reset();
                                probe_at = (!dect).then(|| Instant::now() + keepalive_every);
                                guest = reply.get_ref().guest;
                                obs.registered(&gatekeepers[i].name, guest);
                                current = Some(i);
                                break 'list;
                            }
                            Err(status) if stale_connection(&status) => continue,
                            Err(status) => {
                                obs.register_failed(&gatekeepers[i].name, &status);
                                // It may still land: withdraw it.
                                if fleetsim_net::timed_out(&status) {
                                    withdraw(client(i, &mut gatekeepers));
                                }
                                break;
                            }
                        }
                    }
                }
                next = Instant::now()
                    + match current {
                        // The keepalive stream opens at once, so the
                        // gatekeeper can speak on it (a member without it
                        // gets its first keepalive a keepalive interval on).
                        Some(i) if !dect && !gatekeepers[i].keepalives.is_unary() => Duration::ZERO,
                        Some(_) => keepalive_every,
                        None => recovery(&mut rng),
                    };
            }
            Some(i) => {
                ensure(i, &mut gatekeepers);
                let gk = &mut gatekeepers[i];
                let c = gk.client.as_ref().expect("made above");
                let reply = match act {
                    Act::Pushed => pushed.take().expect("acting on it"),
                    Act::Probe => {
                        // The next probe on the grid from registration.
                        let p = phone_rules::next_on_grid(
                            probe_at.unwrap_or(now),
                            now,
                            keepalive_every,
                        );
                        probe_at = Some(if p <= now { p + keepalive_every } else { p });
                        let path = gk.path.as_ref().expect("made with the client");
                        match Box::pin(path.probe(t.rpc_deadline)).await {
                            Ok(()) => continue,
                            Err(status) => Err(status),
                        }
                    }
                    Act::Exchange => {
                        let req = pb::KeepaliveRequest {
                            extension: ext.clone(),
                            in_call: call.is_some(),
                        };
                        // Boxed, as every RPC here: the phone's own future
                        // stays small, and thousands of phones wait in it.
                        // The client is cloned only to open a stream (or
                        // fall back to unary).
                        Box::pin(gk.keepalives.exchange(
                            req,
                            t.rpc_deadline,
                            |rx| {
                                let mut s = c.clone();
                                async move { s.keepalive_stream(rx).await }
                            },
                            |req| {
                                let mut u = c.clone();
                                async move { u.keepalive(req).await }
                            },
                        ))
                        .await
                    }
                };
                match reply {
                    Ok(r) if r.go_home => {
                        obs.sent_home(&gatekeepers[i].name);
                        // Failback: straight back to the top of the list.
                        failing_since = None;
                        gatekeepers[i].keepalives.reset();
                        current = None;
                        next = Instant::now();
                    }
                    Ok(_) => {
                        // The server heard the phone idle: it ended any call
                        // whose hangup it missed.
                        if call.is_none()
                            && let Some(u) = unconfirmed.take()
                        {
                            obs.call_ended(&u.server, &u.call);
                        }
                        failing_since = None;
                        // A DECT base polls; a phone on the keepalive
                        // stream refreshes its registration now and then
                        // (sooner with a hangup to confirm), its connection
                        // probed meanwhile.
                        let refresh =
                            dect || gatekeepers[i].keepalives.is_unary() || unconfirmed.is_some();
                        next = Instant::now()
                            + if refresh {
                                keepalive_every
                            } else {
                                t.registration_wait
                            };
                    }
                    Err(status) => {
                        let gk = gatekeepers[i].name.clone();
                        let now = Instant::now();
                        // A DECT base keeps polling its system until the
                        // switch time has passed.
                        if dect && status.code() != tonic::Code::NotFound {
                            let since = *failing_since.get_or_insert(now);
                            let failing_for = now.saturating_duration_since(since);
                            if phone_rules::dect_keeps_polling(failing_for, cfg.dect_switch_after) {
                                next = now + cfg.dect_poll;
                                continue;
                            }
                        }
                        failing_since = None;
                        if let Some(u) = unconfirmed.take() {
                            // The hangup found no system, and now the phone
                            // knows it lost it: the loss cut the call first,
                            // unless preservation kept it to its end. A
                            // system that ended the registration is up, and
                            // ended the call with it.
                            let ended_here = status.code() == tonic::Code::FailedPrecondition;
                            match fate(&cfg, &gk, u.kind, Duration::ZERO, &status) {
                                _ if ended_here => end_unconfirmed(u),
                                Ok(_) => end_unconfirmed(u),
                                Err(reason) => log.emit(
                                    &u.server,
                                    Event::CallDropped {
                                        call: u.call,
                                        phone: ext.clone(),
                                        reason,
                                    },
                                ),
                            }
                        }
                        if let Some(c) = call.as_mut() {
                            let remaining = c.ends.saturating_duration_since(now);
                            match fate(&cfg, &gk, c.kind, remaining, &status) {
                                Ok(Kept {
                                    lasts,
                                    cut_by_limit,
                                }) => {
                                    c.preserved = true;
                                    if cut_by_limit {
                                        c.cut_by_limit = Some(clock.to_emulated_ms(lasts));
                                        c.ends = now + lasts;
                                    }
                                    let until_ms = clock.now_ms()
                                        + clock
                                            .to_emulated_ms(c.ends.saturating_duration_since(now));
                                    log.emit(
                                        &gk,
                                        Event::CallPreserved {
                                            call: c.id.clone(),
                                            phone: ext.clone(),
                                            until_ms,
                                        },
                                    );
                                }
                                Err(reason) => {
                                    log.emit(
                                        &gk,
                                        Event::CallDropped {
                                            call: c.id.clone(),
                                            phone: ext.clone(),
                                            reason,
                                        },
                                    );
                                    call = None;
                                }
                            }
                        }
                        let reason = if dect && status.code() != tonic::Code::NotFound {
                            // Without the IP DECT option on its line the
                            // base has no backup: it keeps polling its own.
                            let then = if gatekeepers.len() > 1 {
                                "it switches to the backup".to_string()
                            } else {
                                format!("no IP DECT backup on its line, it keeps polling {gk}")
                            };
                            format!(
                                "the base polled {gk} for {} without an answer ({}): {then}",
                                fleetsim_model::human_ms(
                                    clock.to_emulated_ms(cfg.dect_switch_after)
                                ),
                                why(&status)
                            )
                        } else if status.code() == tonic::Code::FailedPrecondition {
                            // The system ended the registration and says why.
                            format!(
                                "{gk}{}{}",
                                fleetsim_model::event::REGISTRATION_ENDED,
                                status.message()
                            )
                        } else {
                            format!("keepalive to {gk} failed: {}", why(&status))
                        };
                        log.emit(
                            &gk,
                            Event::PhoneLost {
                                phone: ext.clone(),
                                reason,
                            },
                        );
                        // Its stream goes with the registration.
                        gatekeepers[i].keepalives.reset();
                        current = None;
                        next = if status.code() == tonic::Code::NotFound {
                            now
                        } else {
                            now + recovery(&mut rng)
                        };
                    }
                }
            }
        }
    }
}
