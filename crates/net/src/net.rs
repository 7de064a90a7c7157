//! [`Net`]: where servers listen, phones and servers connect, and faults are
//! applied.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::io::FaultIo;

/// Which network the fleet runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In-memory duplex connections (deterministic on a paused clock).
    Sim,
    /// TCP on 127.0.0.1.
    Live,
}

/// The stream of accepted connections a server serves.
///
/// Connections are boxed on their way through the channel: its first block
/// holds 32 items whatever is queued, and an unboxed [`FaultIo`] made that
/// block kilobytes per server.
pub type Incoming = tokio_stream::adapters::Map<
    UnboundedReceiverStream<Accepted>,
    fn(Accepted) -> Result<FaultIo, io::Error>,
>;

/// A connection handed to a server's accept stream.
type Accepted = Result<Box<FaultIo>, io::Error>;

struct Listener {
    token: CancellationToken,
    /// Sim: hand the server half of a new duplex pair to the server.
    tx: Option<mpsc::UnboundedSender<Accepted>>,
}

#[derive(Default)]
struct State {
    listeners: BTreeMap<String, Listener>,
    /// Live: each server keeps its port across restarts.
    ports: BTreeMap<String, u16>,
    /// Partition: node → group; nodes not named are in group 0.
    groups: BTreeMap<String, usize>,
    /// One-way cuts: bytes from the first node to the second are lost.
    one_way: BTreeSet<(String, String)>,
    /// Nodes whose link is down: their connections stall, connects hang.
    stalled_nodes: BTreeMap<String, u32>,
    /// Servers alive but answering nothing: connects succeed, bytes stall.
    hung: BTreeMap<String, u32>,
    /// Per-node latency: (delay, jitter).
    latency: BTreeMap<String, (Duration, Duration)>,
    /// Gray failures: server → (presence dropped, telephony dropped).
    gray: BTreeMap<String, (bool, bool)>,
    /// Clock offsets of servers, in milliseconds.
    clock_offsets: BTreeMap<String, i64>,
    /// Node pairs in one box (an analogue extension and its IP500 V2):
    /// no network fault comes between them.
    colocated: BTreeSet<(String, String)>,
    /// Connections held by a fault, by link (src, dst), each with the
    /// order it was first held in: woken, in that order (so the same run
    /// wakes them alike), when a fault that could release them changes
    /// (every fault but a node's stall, which wakes only its own links).
    stalled: BTreeMap<(String, String), Vec<(u64, Waker)>>,
    /// The next hold's place in that order.
    held_seq: u64,
    /// Live: members fleetsim does not run, and the `host:port` each is
    /// reached at (resolved at every connect).
    external: BTreeMap<String, String>,
    /// Live, with an external member: local ports of fleetsim's own open
    /// connections to its servers, so that a connection its servers accept
    /// from any other port is known to come from outside.
    own_ports: BTreeSet<u16>,
    /// Live: the address servers bind (127.0.0.1 unless set), so a member
    /// run as its own process (`fleetsim node`) can listen beyond loopback.
    bind_ip: Option<std::net::IpAddr>,
    /// A member process: connections it accepts come from other processes
    /// (members, phones), whose own dialling side applies the faults.
    member_process: bool,
}

/// One of fleetsim's own servers as a connect finds it: its incarnation's
/// token and (sim) where its accepted connections go.
type Own = (CancellationToken, Option<mpsc::UnboundedSender<Accepted>>);

/// Live: dials the external member `to` at `address` (a host name is
/// resolved now), `TCP_NODELAY` on.
async fn dial_external(to: &str, address: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("{to} (external, at {address}): {e}")))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The far end of a connection a live server accepted from a client it
/// cannot name (a tool outside the fleet, or, in a member process, a peer).
const OUTSIDE: &str = "(outside the fleet)";

impl State {
    /// Where a connect to `to` goes: the external member's address, or
    /// fleetsim's own server (`None` when it is not running).
    fn target(&self, to: &str) -> (Option<String>, Option<Own>) {
        let own = self
            .listeners
            .get(to)
            .map(|l| (l.token.clone(), l.tx.clone()));
        (self.external.get(to).cloned(), own)
    }

    /// Whether bytes from `src` to `dst` are lost or held now.
    fn blocked(&self, src: &str, dst: &str) -> bool {
        // A hung process answers nobody, wired or networked.
        if self.hung.contains_key(src) || self.hung.contains_key(dst) {
            return true;
        }
        // A client from outside the fleet is on no side of a partition; a
        // stalled node's link is down for it too.
        if src == OUTSIDE || dst == OUTSIDE {
            return self.stalled_nodes.contains_key(src) || self.stalled_nodes.contains_key(dst);
        }
        if self.is_colocated(src, dst) {
            return false;
        }
        group(self, src) != group(self, dst)
            || self.one_way.contains(&(src.to_string(), dst.to_string()))
            || self.stalled_nodes.contains_key(src)
            || self.stalled_nodes.contains_key(dst)
    }

    /// Whether a connect from `a` to `b` goes unanswered (a hung process
    /// still has its connections accepted by the kernel).
    fn unreachable(&self, a: &str, b: &str) -> bool {
        if self.is_colocated(a, b) {
            return false;
        }
        group(self, a) != group(self, b)
            || self.one_way.contains(&(a.to_string(), b.to_string()))
            || self.one_way.contains(&(b.to_string(), a.to_string()))
            || self.stalled_nodes.contains_key(a)
            || self.stalled_nodes.contains_key(b)
    }

    fn is_colocated(&self, a: &str, b: &str) -> bool {
        !self.colocated.is_empty()
            && (self.colocated.contains(&(a.to_string(), b.to_string()))
                || self.colocated.contains(&(b.to_string(), a.to_string())))
    }

    fn impaired(&self) -> bool {
        !(self.groups.is_empty()
            && self.one_way.is_empty()
            && self.stalled_nodes.is_empty()
            && self.hung.is_empty()
            && self.latency.is_empty())
    }
}

/// Every network and process fault in force on a [`Net`], as data: what the
/// control plane of member processes (`fleetsim up --processes`) sends each
/// member, so that its own transport and serving layers apply the same
/// faults. Durations and offsets are on the runtime clock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlane {
    /// Partition: node → group; nodes not named are in group 0.
    pub groups: BTreeMap<String, usize>,
    /// One-way cuts: bytes from the first node to the second are lost.
    pub one_way: BTreeSet<(String, String)>,
    /// Nodes whose link is down, with how many overlapping faults hold it.
    pub stalled: BTreeMap<String, u32>,
    /// Servers hung, with how many overlapping faults hold each.
    pub hung: BTreeMap<String, u32>,
    /// Per-node latency: (delay, jitter).
    pub latency: BTreeMap<String, (Duration, Duration)>,
    /// Gray failures: server → (presence dropped, telephony dropped).
    pub gray: BTreeMap<String, (bool, bool)>,
    /// Clock offsets of servers, in milliseconds.
    pub clock_offsets: BTreeMap<String, i64>,
}

pub(crate) struct Inner {
    mode: Mode,
    connect_timeout: Duration,
    state: Mutex<State>,
    /// Fast path: false while no network fault is in force.
    impaired: AtomicBool,
    /// Fast path for the per-RPC queries: false while no server is hung,
    /// gray or clock-offset.
    per_server: AtomicBool,
    connects: AtomicU64,
    /// Bumped at every fault change, so connects waiting across a cut
    /// re-check at once when it heals, and servers see new gray or clock faults.
    watchers: Arc<Watchers>,
    /// Woken only when a network fault comes into force with none before:
    /// what idle phones wait on to resume their keep-alive probes (while
    /// faults are in force they probe on their own timers, so further
    /// changes need not wake thousands of them).
    impairment: Arc<Watchers>,
    /// Seed of latency jitter.
    seed: AtomicU64,
    /// When the network was made: emulated time zero of the run.
    origin: tokio::time::Instant,
    /// Shared connections of sites' phones: (site, server) → channel.
    paths: Mutex<BTreeMap<(String, String), tonic::transport::Channel>>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not wedge the network: the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether bytes from `src` to `dst` are held now; if so, registers the
    /// waker so the connection resumes when the fault changes.
    pub(crate) fn is_cut(&self, src: &str, dst: &str, cx: &mut Context<'_>) -> bool {
        if !self.impaired.load(Ordering::Acquire) {
            return false;
        }
        let mut st = self.lock();
        let cut = st.blocked(src, dst);
        if cut {
            let seq = st.held_seq;
            let held = (st.stalled)
                .entry((src.to_string(), dst.to_string()))
                .or_default();
            if !held.iter().any(|(_, w)| w.will_wake(cx.waker())) {
                held.push((seq, cx.waker().clone()));
                st.held_seq += 1;
            }
        }
        cut
    }

    /// Latency of the link between `a` and `b`: (delay, jitter), summed over both ends.
    pub(crate) fn latency(&self, a: &str, b: &str) -> (Duration, Duration) {
        if !self.impaired.load(Ordering::Acquire) {
            return (Duration::ZERO, Duration::ZERO);
        }
        let st = self.lock();
        // (Outside clients meet no latency: in a member process the fleet's
        // own connections would pay it twice, once on each side.)
        if st.is_colocated(a, b) || a == OUTSIDE || b == OUTSIDE {
            return (Duration::ZERO, Duration::ZERO);
        }
        let get = |n: &str| st.latency.get(n).copied().unwrap_or_default();
        let (da, ja) = get(a);
        let (db, jb) = get(b);
        (da + db, ja + jb)
    }

    /// Whether any network fault is in force (a fast check).
    pub(crate) fn is_impaired(&self) -> bool {
        self.impaired.load(Ordering::Acquire)
    }

    /// The shared connections of sites' phones.
    pub(crate) fn paths(
        &self,
    ) -> MutexGuard<'_, BTreeMap<(String, String), tonic::transport::Channel>> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }
}

fn group(st: &State, node: &str) -> usize {
    st.groups.get(node).copied().unwrap_or(0)
}

/// Subscribers to fault changes, woken in subscription order. (tokio's
/// `watch` wakes its receivers in a random order, which would make same-instant
/// events come out in a different order from run to run.)
#[derive(Default)]
struct Watchers {
    next: AtomicU64,
    list: Mutex<BTreeMap<u64, Arc<tokio::sync::Notify>>>,
}

impl Watchers {
    fn subscribe(self: &Arc<Self>) -> Changes {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(tokio::sync::Notify::new());
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, notify.clone());
        Changes {
            id,
            notify,
            watchers: self.clone(),
        }
    }

    fn notify_all(&self) {
        for n in self.list.lock().unwrap_or_else(|e| e.into_inner()).values() {
            n.notify_one();
        }
    }
}

/// A subscription to fault changes ([`Net::changes`]).
pub struct Changes {
    id: u64,
    notify: Arc<tokio::sync::Notify>,
    watchers: Arc<Watchers>,
}

impl Changes {
    /// Waits for the next fault change after the subscription (or the last wait).
    pub async fn changed(&mut self) {
        self.notify.notified().await;
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        self.watchers
            .list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes").field("id", &self.id).finish()
    }
}

/// The network of one run. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Net {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("mode", &self.inner.mode)
            .finish()
    }
}

impl Net {
    /// A network in `mode`; connects across a partition hang for `connect_timeout`.
    pub fn new(mode: Mode, connect_timeout: Duration) -> Net {
        Net {
            inner: Arc::new(Inner {
                mode,
                connect_timeout,
                state: Mutex::new(State::default()),
                impaired: AtomicBool::new(false),
                per_server: AtomicBool::new(false),
                connects: AtomicU64::new(0),
                watchers: Arc::new(Watchers::default()),
                impairment: Arc::new(Watchers::default()),
                seed: AtomicU64::new(0),
                origin: tokio::time::Instant::now(),
                paths: Mutex::default(),
            }),
        }
    }

    /// Sets the seed of latency jitter (the scenario's seed).
    pub fn set_seed(&self, seed: u64) {
        self.inner.seed.store(seed, Ordering::Relaxed);
    }

    /// Emulated time since the network was made (the run's time zero).
    pub fn elapsed(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    /// The mode this network runs in.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Connections made so far.
    pub fn connects(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }

    /// Live: the port `server` listens on (once bound).
    pub fn port(&self, server: &str) -> Option<u16> {
        self.inner.lock().ports.get(server).copied()
    }

    /// Live: fix the port `server` will bind (before its first bind).
    pub fn set_port(&self, server: &str, port: u16) {
        self.inner.lock().ports.insert(server.to_string(), port);
    }

    /// Live: servers bind `ip` instead of 127.0.0.1 (before their first bind).
    pub fn set_bind_ip(&self, ip: std::net::IpAddr) {
        self.inner.lock().bind_ip = Some(ip);
    }

    /// Live: `server` is a member fleetsim does not run, reached at
    /// `address` (`host:port`, resolved at every connect). Connects to it
    /// dial that address through the fault plane; with exactly one external
    /// member, connections fleetsim's servers accept from outside fleetsim
    /// are its, and the fault plane applies to them too.
    pub fn set_external(&self, server: &str, address: &str) {
        self.inner
            .lock()
            .external
            .insert(server.to_string(), address.to_string());
    }

    /// Starts listening as `server` for the incarnation `token`. When the
    /// token fires, every connection of the incarnation is reset; call
    /// [`Net::unbind`] so new connects are refused.
    pub async fn bind(&self, server: &str, token: &CancellationToken) -> io::Result<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        match self.inner.mode {
            Mode::Sim => {
                self.inner.lock().listeners.insert(
                    server.to_string(),
                    Listener {
                        token: token.clone(),
                        tx: Some(tx),
                    },
                );
            }
            Mode::Live => {
                let port = self.port(server).unwrap_or(0);
                let ip = self.inner.lock().bind_ip;
                let ip = ip.unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
                let listener = bind_loopback(server, ip, port).await?;
                let port = listener.local_addr()?.port();
                {
                    let mut st = self.inner.lock();
                    st.ports.insert(server.to_string(), port);
                    st.listeners.insert(
                        server.to_string(),
                        Listener {
                            token: token.clone(),
                            tx: None,
                        },
                    );
                }
                let token = token.clone();
                let (net, server) = (self.clone(), server.to_string());
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            biased;
                            () = token.cancelled() => break,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, peer)) => {
                                    let _ = stream.set_nodelay(true);
                                    let link = net.inbound_link(&server, peer.port());
                                    let io = FaultIo::new(Box::new(stream), &[&token], link);
                                    if tx.send(Ok(Box::new(io))).is_err() {
                                        break;
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "accept failed"),
                            },
                        }
                    }
                    // Dropping the listener closes the port: connects are refused.
                });
            }
        }
        let unbox: fn(Accepted) -> Result<FaultIo, io::Error> = |a| a.map(|io| *io);
        Ok(tokio_stream::StreamExt::map(
            UnboundedReceiverStream::new(rx),
            unbox,
        ))
    }

    /// Stops listening as `server`: new connects are refused.
    pub fn unbind(&self, server: &str) {
        self.inner.lock().listeners.remove(server);
    }

    /// Connects `from` (whose incarnation is `from_token`) to server `to`.
    pub async fn connect(
        &self,
        from: &str,
        from_token: &CancellationToken,
        to: &str,
    ) -> io::Result<FaultIo> {
        let deadline = tokio::time::Instant::now() + self.inner.connect_timeout;
        let target = loop {
            // Subscribe before looking, so a heal in between is not missed.
            let mut changes = self.changes();
            let target = {
                let st = self.inner.lock();
                (!st.unreachable(from, to)).then(|| st.target(to))
            };
            if let Some(t) = target {
                break t;
            }
            // Across a partition a SYN goes unanswered: wait for a heal, the
            // connect timeout, or the caller's own end.
            tokio::select! {
                biased;
                () = from_token.cancelled() => {
                    return Err(io::Error::new(io::ErrorKind::ConnectionAborted, format!("{from} stopped")));
                }
                () = changes.changed() => continue,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{to}: unreachable from {from}"),
                    ));
                }
            }
        };
        let (external, target) = target;
        if let Some(address) = external {
            return self.connect_external(from, from_token, to, &address).await;
        }
        self.dial(to, target, Some(from_token), Some(self.link(from, to)))
            .await
    }

    /// Connects a shared path to server `to` (many phones' streams, each
    /// faulted on its own by [`crate::PathChannel`]): the connection itself
    /// crosses every partition and fails only when `to` is not running or
    /// its incarnation ends.
    pub async fn connect_path(&self, to: &str) -> io::Result<FaultIo> {
        let (external, target) = self.inner.lock().target(to);
        if let Some(address) = external {
            let stream = dial_external(to, &address).await?;
            return Ok(FaultIo::new(Box::new(stream), &[], None));
        }
        self.dial(to, target, None, None).await
    }

    /// Opens the connection to fleetsim's own server `to` (its listener
    /// `target`), reset when its incarnation or `from_token` ends, faulted
    /// as `link` says.
    async fn dial(
        &self,
        to: &str,
        target: Option<Own>,
        from_token: Option<&CancellationToken>,
        link: Option<crate::io::Link>,
    ) -> io::Result<FaultIo> {
        let refused = || {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{to}: not running"),
            )
        };
        let Some((token, tx)) = target else {
            return Err(refused());
        };
        if token.is_cancelled() {
            return Err(refused());
        }
        let tokens: Vec<&CancellationToken> = std::iter::once(&token).chain(from_token).collect();
        match (self.inner.mode, tx) {
            (Mode::Sim, Some(tx)) => {
                let (client, server) = tokio::io::duplex(16 * 1024);
                let server = FaultIo::new(Box::new(server), &[&token], None);
                tx.send(Ok(Box::new(server))).map_err(|_| refused())?;
                Ok(FaultIo::new(Box::new(client), &tokens, link))
            }
            _ => {
                let port = self.port(to).ok_or_else(refused)?;
                let (stream, own) = self.connect_own(port).await?;
                stream.set_nodelay(true)?;
                Ok(FaultIo::new(Box::new(stream), &tokens, link).keeping(own))
            }
        }
    }

    /// The fault plane's view of a new connection from `from` to `to`.
    fn link(&self, from: &str, to: &str) -> crate::io::Link {
        let n = self.inner.connects.fetch_add(1, Ordering::Relaxed);
        crate::io::Link {
            net: self.inner.clone(),
            from: from.to_string(),
            to: to.to_string(),
            rng: std::sync::Mutex::new(crate::seed::rng(
                self.inner.seed(),
                &[from, to, &n.to_string()],
            )),
        }
    }

    /// Live: dials the external member `to` at `address` (a host name is
    /// resolved now). Its process is not fleetsim's, so only `from`'s end
    /// resets the connection; partitions, cuts and latency apply as to any link.
    async fn connect_external(
        &self,
        from: &str,
        from_token: &CancellationToken,
        to: &str,
        address: &str,
    ) -> io::Result<FaultIo> {
        let link = self.link(from, to);
        let stream = tokio::select! {
            biased;
            () = from_token.cancelled() => {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, format!("{from} stopped")));
            }
            s = dial_external(to, address) => s?,
        };
        Ok(FaultIo::new(Box::new(stream), &[from_token], Some(link)))
    }

    /// Live: connects to one of fleetsim's own servers on `port`. With an
    /// external member in the fleet, the local port is noted before the
    /// connect (and forgotten when the returned guard drops), so the
    /// server's accept loop can tell this connection from the member's.
    async fn connect_own(&self, port: u16) -> io::Result<(TcpStream, Option<OwnPort>)> {
        if self.inner.lock().external.is_empty() {
            return Ok((TcpStream::connect(("127.0.0.1", port)).await?, None));
        }
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((std::net::Ipv4Addr::LOCALHOST, 0).into())?;
        let guard = OwnPort::note(&self.inner, socket.local_addr()?.port());
        let stream = socket
            .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
            .await?;
        Ok((stream, Some(guard)))
    }

    /// Live: the fault plane's view of a connection `server` accepted from
    /// local port `peer_port`: none for one of fleetsim's own connections
    /// (its far end applies the faults); the external member's, when the
    /// fleet has exactly one; else a client outside the fleet's, which a
    /// hang or a stall of `server` holds as it holds everyone.
    fn inbound_link(&self, server: &str, peer_port: u16) -> Option<crate::io::Link> {
        let member = {
            let st = self.inner.lock();
            if st.own_ports.contains(&peer_port) {
                return None;
            }
            match st.external.keys().next() {
                Some(m) if !st.member_process && st.external.len() == 1 => m.clone(),
                // grpcurl, `fleetsim conform`, or (in a member process) a
                // peer that applies its faults on its own side: a hung or
                // stalled server answers none of them either.
                _ => OUTSIDE.to_string(),
            }
        };
        Some(self.link(server, &member))
    }

    /// Applies a change to the fault state, then wakes every stalled
    /// connection and waiting connect so they re-check.
    fn change(&self, f: impl FnOnce(&mut State)) {
        self.change_links(None, f);
    }

    /// [`Net::change`], waking of the held connections only those on a
    /// link of `node` when given: no other link's state moved, and waking
    /// every held connection at each of thousands of per-phone stalls made
    /// them quadratic.
    fn change_links(&self, node: Option<&str>, f: impl FnOnce(&mut State)) {
        let mut st = self.inner.lock();
        f(&mut st);
        let impaired = st.impaired();
        let began = impaired && !self.inner.impaired.swap(impaired, Ordering::AcqRel);
        let per_server = !(st.hung.is_empty() && st.gray.is_empty() && st.clock_offsets.is_empty());
        self.inner.per_server.store(per_server, Ordering::Release);
        match node {
            Some(node) => wake_links_of(&mut st, node),
            None => wake_all(&mut st),
        }
        drop(st);
        self.inner.watchers.notify_all();
        if began {
            self.inner.impairment.notify_all();
        }
    }

    /// Marks this network as one member process's (`fleetsim node`): what
    /// its servers accept is never attributed to a peer, since the phones
    /// and the other members dial from other processes and each applies the
    /// faults on its own side.
    pub fn set_member_process(&self) {
        self.inner.lock().member_process = true;
    }

    /// Every fault in force now, as data.
    pub fn fault_plane(&self) -> FaultPlane {
        let st = self.inner.lock();
        FaultPlane {
            groups: st.groups.clone(),
            one_way: st.one_way.clone(),
            stalled: st.stalled_nodes.clone(),
            hung: st.hung.clone(),
            latency: st.latency.clone(),
            gray: st.gray.clone(),
            clock_offsets: st.clock_offsets.clone(),
        }
    }

    /// Replaces every fault in force by `plane` (a member process told by
    /// its control plane); stalled connections re-check at once.
    pub fn set_fault_plane(&self, plane: FaultPlane) {
        self.change(|st| {
            st.groups = plane.groups;
            st.one_way = plane.one_way;
            st.stalled_nodes = plane.stalled;
            st.hung = plane.hung;
            st.latency = plane.latency;
            st.gray = plane.gray;
            st.clock_offsets = plane.clock_offsets;
        });
    }

    /// Splits the network: each group is a set of node names (servers, phones);
    /// nodes not named form one more group. Replaces any earlier partition.
    pub fn partition(&self, groups: &[Vec<String>]) {
        self.change(|st| {
            st.groups.clear();
            for (i, g) in groups.iter().enumerate() {
                for n in g {
                    st.groups.insert(n.clone(), i + 1);
                }
            }
        });
    }

    /// Loses (`on`) or restores bytes from each of `from` to each of `to`.
    pub fn one_way(&self, from: &[String], to: &[String], on: bool) {
        self.change(|st| {
            for a in from {
                for b in to {
                    let pair = (a.clone(), b.clone());
                    if on {
                        st.one_way.insert(pair);
                    } else {
                        st.one_way.remove(&pair);
                    }
                }
            }
        });
    }

    /// Removes every partition and one-way cut; stalled connections resume.
    pub fn heal(&self) {
        self.change(|st| {
            st.groups.clear();
            st.one_way.clear();
        });
    }

    /// Takes `node`'s link down (`on`) or up again.
    pub fn stall(&self, node: &str, on: bool) {
        self.change_links(Some(node), |st| {
            if on {
                *st.stalled_nodes.entry(node.to_string()).or_default() += 1;
            } else {
                release(&mut st.stalled_nodes, node);
            }
        });
    }

    /// Hangs server `server` (`on`): connects succeed, nothing is answered.
    pub fn hang(&self, server: &str, on: bool) {
        self.change(|st| {
            if on {
                *st.hung.entry(server.to_string()).or_default() += 1;
            } else {
                release(&mut st.hung, server);
            }
        });
    }

    /// Delays bytes to and from `node` by `delay` plus up to `jitter`
    /// (both zero: no latency).
    pub fn latency(&self, node: &str, delay: Duration, jitter: Duration) {
        self.change(|st| {
            if delay.is_zero() && jitter.is_zero() {
                st.latency.remove(node);
            } else {
                st.latency.insert(node.to_string(), (delay, jitter));
            }
        });
    }

    /// Whether `server` is hung (alive, answering nothing).
    pub fn is_hung(&self, server: &str) -> bool {
        if !self.inner.per_server.load(Ordering::Acquire) {
            return Default::default();
        }
        self.inner.lock().hung.contains_key(server)
    }

    /// Ends every per-server fault on `server` (its process is gone: a crash
    /// or stop ends a hang or a gray failure).
    pub fn forget_server(&self, server: &str) {
        self.change(|st| {
            st.hung.remove(server);
            st.gray.remove(server);
        });
    }

    /// Sets which paths of `server` a gray failure silently drops.
    pub fn set_gray(&self, server: &str, presence: bool, telephony: bool) {
        self.change(|st| {
            if presence || telephony {
                st.gray.insert(server.to_string(), (presence, telephony));
            } else {
                st.gray.remove(server);
            }
        });
    }

    /// Whether `server` silently drops (presence, telephony).
    pub fn gray(&self, server: &str) -> (bool, bool) {
        if !self.inner.per_server.load(Ordering::Acquire) {
            return Default::default();
        }
        self.inner
            .lock()
            .gray
            .get(server)
            .copied()
            .unwrap_or_default()
    }

    /// Steps `server`'s clock to `offset_ms` from true time.
    pub fn set_clock_offset(&self, server: &str, offset_ms: i64) {
        self.change(|st| {
            if offset_ms == 0 {
                st.clock_offsets.remove(server);
            } else {
                st.clock_offsets.insert(server.to_string(), offset_ms);
            }
        });
    }

    /// `server`'s clock offset in milliseconds.
    pub fn clock_offset(&self, server: &str) -> i64 {
        if !self.inner.per_server.load(Ordering::Acquire) {
            return Default::default();
        }
        self.inner
            .lock()
            .clock_offsets
            .get(server)
            .copied()
            .unwrap_or(0)
    }

    /// Whether any network fault is in force: only then can a message be
    /// held or late.
    pub fn is_impaired(&self) -> bool {
        self.inner.is_impaired()
    }

    /// A subscription that fires when a network fault comes into force
    /// while none was ([`Net::is_impaired`] turns true).
    pub fn impairment_begins(&self) -> Changes {
        self.inner.impairment.subscribe()
    }

    /// A subscription that fires whenever a fault is applied or undone.
    pub fn changes(&self) -> Changes {
        self.inner.watchers.subscribe()
    }

    /// Declares `a` and `b` one box: no network fault comes between them
    /// (an analogue extension is wired to its IP500 V2, not networked).
    pub fn colocate(&self, a: &str, b: &str) {
        self.inner
            .lock()
            .colocated
            .insert((a.to_string(), b.to_string()));
    }

    /// Whether bytes from `src` to `dst` are lost or held now.
    pub fn blocked(&self, src: &str, dst: &str) -> bool {
        self.inner.lock().blocked(src, dst)
    }

    /// Whether `a` and `b` can reach each other now.
    pub fn reachable(&self, a: &str, b: &str) -> bool {
        !self.inner.lock().unreachable(a, b)
    }
}

/// Binds `ip`:`port` (127.0.0.1 but for `fleetsim node`). A restarted server reuses its port; the previous
/// incarnation's accept task drops its listener as soon as it runs after the
/// crash, so an address still in use is retried briefly.
async fn bind_loopback(server: &str, ip: std::net::IpAddr, port: u16) -> io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind((ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 && tries < 200 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "{server}: cannot bind {}: {e}",
                        std::net::SocketAddr::new(ip, port)
                    ),
                ));
            }
        }
    }
}

/// A local port of one of fleetsim's own live connections, noted while the
/// connection is open.
pub(crate) struct OwnPort {
    net: Arc<Inner>,
    port: u16,
}

impl OwnPort {
    fn note(net: &Arc<Inner>, port: u16) -> OwnPort {
        net.lock().own_ports.insert(port);
        OwnPort {
            net: net.clone(),
            port,
        }
    }
}

impl Drop for OwnPort {
    fn drop(&mut self) {
        self.net.lock().own_ports.remove(&self.port);
    }
}

/// Ends one of possibly several overlapping faults on `key`.
fn release(counts: &mut BTreeMap<String, u32>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

fn wake_all(st: &mut State) {
    wake_in_order(
        std::mem::take(&mut st.stalled)
            .into_values()
            .flatten()
            .collect(),
    );
}

/// Wakes the held connections on a link to or from `node`.
fn wake_links_of(st: &mut State, node: &str) {
    let mut woken = Vec::new();
    st.stalled.retain(|(src, dst), held| {
        let mine = src == node || dst == node;
        if mine {
            woken.append(held);
        }
        !mine
    });
    wake_in_order(woken);
}

/// Wakes `held` in the order the connections were first held.
fn wake_in_order(mut held: Vec<(u64, Waker)>) {
    held.sort_unstable_by_key(|(seq, _)| *seq);
    for (_, w) in held {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;

    use super::{Mode, Net};

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Holds a connection of `phone` to `server` on `net`, as a read would.
    fn hold(net: &Net, phone: &str, server: &str) -> Arc<Count> {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        assert!(
            net.inner
                .is_cut(phone, server, &mut Context::from_waker(&waker))
        );
        count
    }

    #[test]
    fn a_phones_stall_wakes_only_connections_on_its_own_links() {
        let net = Net::new(Mode::Sim, Duration::from_secs(1));
        net.stall("2001", true);
        net.stall("2002", true);
        let (a, b) = (hold(&net, "2001", "primary"), hold(&net, "2002", "primary"));

        net.stall("2001", false);
        assert_eq!(a.0.load(Ordering::SeqCst), 1, "2001's connection re-checks");
        assert_eq!(b.0.load(Ordering::SeqCst), 0, "2002's link did not move");

        net.heal();
        assert_eq!(
            b.0.load(Ordering::SeqCst),
            1,
            "any other change wakes every hold"
        );
    }
}
