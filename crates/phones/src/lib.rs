//! Simulated endpoints: each phone is a tokio task holding a gatekeeper list
//! (home, then its home's backup for physical IP phones) and registering over
//! gRPC `Telephony`, as a real phone does.
//!
//! Behaviour (DOMAIN.md §3, SIP endpoint defaults): a registered phone sends
//! a keepalive every keepalive interval; when it fails, the phone is lost and
//! retries after a random 50–90 % of the recovery wait (60 s), trying its
//! home first, then its backup. A backup that holds the phone as a guest tells
//! it to go home once failback is due. Softphones and analogue extensions have
//! no alternate gatekeeper, so they never fail over.
//!
//! # Layout
//! - [`spawn`] starts a phone; [`PhoneHandle`] stops it.
//! - `run`: the phone's state machine.

use std::time::Duration;

use fleetsim_model::{Event, PhoneSpec};
use fleetsim_net::{EventLog, Net, Timing, call, channel, seed};
use fleetsim_proto::pb;
use rand::Rng as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tracing::Instrument;

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
}

/// A running phone.
#[derive(Debug)]
pub struct PhoneHandle {
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl PhoneHandle {
    /// Stops the phone.
    pub fn stop(self) {
        self.token.cancel();
        self.task.abort();
    }
}

/// Starts a phone on `net`, logging to `log`.
pub fn spawn(cfg: PhoneConfig, net: Net, log: EventLog) -> PhoneHandle {
    let token = CancellationToken::new();
    let span = tracing::info_span!("phone", phone = %cfg.spec.extension);
    let task = tokio::spawn(run(cfg, net, log, token.clone()).instrument(span));
    PhoneHandle { token, task }
}

fn why(status: &tonic::Status) -> &'static str {
    use tonic::Code::*;
    // tonic reports its own client deadline as CANCELLED "Timeout expired".
    if status.message() == "Timeout expired" {
        return "no answer before the deadline";
    }
    match status.code() {
        DeadlineExceeded => "no answer before the deadline",
        NotFound => "registration unknown to the server (expired, or the server restarted)",
        Unavailable | Unknown | Cancelled => "connection lost",
        _ => "error",
    }
}

struct Gatekeeper {
    name: String,
    client: Option<pb::telephony_client::TelephonyClient<Channel>>,
}

async fn run(cfg: PhoneConfig, net: Net, log: EventLog, token: CancellationToken) {
    let t = cfg.timing;
    let ext = cfg.spec.extension.clone();
    let mut rng = seed::rng(cfg.seed, &["phone", &ext]);
    let mut gatekeepers = vec![Gatekeeper {
        name: cfg.spec.home.clone(),
        client: None,
    }];
    if cfg.spec.kind.fails_over()
        && let Some(b) = &cfg.backup
    {
        gatekeepers.push(Gatekeeper {
            name: b.clone(),
            client: None,
        });
    }
    // Channels are made on first use: most phones never talk to their backup.
    let client = |i: usize, gks: &mut Vec<Gatekeeper>| {
        let gk = &mut gks[i];
        gk.client
            .get_or_insert_with(|| {
                let ch = channel(&net, &ext, &token, &gk.name, t.channel());
                pb::telephony_client::TelephonyClient::new(ch)
            })
            .clone()
    };
    let recovery =
        |rng: &mut fleetsim_net::seed::Rng| t.recovery_wait.mul_f64(rng.random_range(0.5..=0.9));

    let jitter_ms = t.start_jitter.as_millis().max(1) as u64;
    let mut wait = Duration::from_millis(rng.random_range(0..jitter_ms));
    let mut current: Option<usize> = None;
    loop {
        tokio::time::sleep(wait).await;
        match current {
            None => {
                for i in 0..gatekeepers.len() {
                    let req = pb::RegisterRequest {
                        extension: ext.clone(),
                        home: cfg.spec.home.clone(),
                        kind: pb::PhoneKind::from(cfg.spec.kind) as i32,
                    };
                    if call(t.rpc_deadline, client(i, &mut gatekeepers).register(req))
                        .await
                        .is_ok()
                    {
                        current = Some(i);
                        break;
                    }
                }
                wait = match current {
                    Some(_) => t.keepalive_interval,
                    None => recovery(&mut rng),
                };
            }
            Some(i) => {
                let req = pb::KeepaliveRequest {
                    extension: ext.clone(),
                };
                match call(t.rpc_deadline, client(i, &mut gatekeepers).keepalive(req)).await {
                    Ok(r) if r.get_ref().go_home => {
                        // Failback: straight back to the top of the list.
                        current = None;
                        wait = Duration::ZERO;
                    }
                    Ok(_) => wait = t.keepalive_interval,
                    Err(status) => {
                        let gk = &gatekeepers[i].name;
                        log.emit(
                            gk,
                            Event::PhoneLost {
                                phone: ext.clone(),
                                reason: format!("keepalive to {gk} failed: {}", why(&status)),
                            },
                        );
                        current = None;
                        wait = if status.code() == tonic::Code::NotFound {
                            Duration::ZERO
                        } else {
                            recovery(&mut rng)
                        };
                    }
                }
            }
        }
    }
}
