//! [`Net`]: where servers listen, phones and servers connect, and faults are
//! applied.

use std::collections::BTreeMap;
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
pub type Incoming = UnboundedReceiverStream<Result<FaultIo, io::Error>>;

struct Listener {
    token: CancellationToken,
    /// Sim: hand the server half of a new duplex pair to the server.
    tx: Option<mpsc::UnboundedSender<Result<FaultIo, io::Error>>>,
}

#[derive(Default)]
struct State {
    listeners: BTreeMap<String, Listener>,
    /// Live: each server keeps its port across restarts.
    ports: BTreeMap<String, u16>,
    /// Partition: node → group; nodes not named are in group 0.
    groups: BTreeMap<String, usize>,
    /// Connections stalled by a partition, woken at every change.
    stalled: Vec<Waker>,
}

pub(crate) struct Inner {
    mode: Mode,
    connect_timeout: Duration,
    state: Mutex<State>,
    partitioned: AtomicBool,
    connects: AtomicU64,
    /// Bumped at every partition change, so connects waiting across a cut
    /// re-check at once when it heals.
    epoch: tokio::sync::watch::Sender<u64>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not wedge the network: the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a partition separates `a` and `b`; if so, registers the waker.
    pub(crate) fn is_cut(&self, a: &str, b: &str, cx: &mut Context<'_>) -> bool {
        if !self.partitioned.load(Ordering::Acquire) {
            return false;
        }
        let mut st = self.lock();
        let cut = group(&st, a) != group(&st, b);
        if cut && !st.stalled.iter().any(|w| w.will_wake(cx.waker())) {
            st.stalled.push(cx.waker().clone());
        }
        cut
    }
}

fn group(st: &State, node: &str) -> usize {
    st.groups.get(node).copied().unwrap_or(0)
}

/// The network of one run. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Net {
    inner: Arc<Inner>,
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
                partitioned: AtomicBool::new(false),
                connects: AtomicU64::new(0),
                epoch: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// The mode.
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
                let listener = bind_loopback(server, port).await?;
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
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            biased;
                            () = token.cancelled() => break,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => {
                                    let _ = stream.set_nodelay(true);
                                    let io = FaultIo::new(Box::new(stream), &[&token], None);
                                    if tx.send(Ok(io)).is_err() {
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
        Ok(UnboundedReceiverStream::new(rx))
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
            let mut epoch = self.inner.epoch.subscribe();
            let target = {
                let st = self.inner.lock();
                (group(&st, from) == group(&st, to)).then(|| {
                    st.listeners
                        .get(to)
                        .map(|l| (l.token.clone(), l.tx.clone()))
                })
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
                _ = epoch.changed() => continue,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{to}: unreachable from {from}"),
                    ));
                }
            }
        };
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
        self.inner.connects.fetch_add(1, Ordering::Relaxed);
        let link = Some((self.inner.clone(), from.to_string(), to.to_string()));
        match (self.inner.mode, tx) {
            (Mode::Sim, Some(tx)) => {
                let (client, server) = tokio::io::duplex(16 * 1024);
                let server = FaultIo::new(Box::new(server), &[&token], None);
                tx.send(Ok(server)).map_err(|_| refused())?;
                Ok(FaultIo::new(Box::new(client), &[&token, from_token], link))
            }
            _ => {
                let port = self.port(to).ok_or_else(refused)?;
                let stream = TcpStream::connect(("127.0.0.1", port)).await?;
                stream.set_nodelay(true)?;
                Ok(FaultIo::new(Box::new(stream), &[&token, from_token], link))
            }
        }
    }

    /// Splits the network: each group is a set of node names (servers, phones);
    /// nodes not named form one more group. Replaces any earlier partition.
    pub fn partition(&self, groups: &[Vec<String>]) {
        let mut st = self.inner.lock();
        st.groups.clear();
        for (i, g) in groups.iter().enumerate() {
            for n in g {
                st.groups.insert(n.clone(), i + 1);
            }
        }
        self.inner
            .partitioned
            .store(!st.groups.is_empty(), Ordering::Release);
        wake_all(&mut st);
        self.inner.epoch.send_modify(|e| *e += 1);
    }

    /// Removes every partition; stalled connections resume.
    pub fn heal(&self) {
        let mut st = self.inner.lock();
        st.groups.clear();
        self.inner.partitioned.store(false, Ordering::Release);
        wake_all(&mut st);
        self.inner.epoch.send_modify(|e| *e += 1);
    }

    /// Whether `a` and `b` can reach each other now.
    pub fn reachable(&self, a: &str, b: &str) -> bool {
        let st = self.inner.lock();
        group(&st, a) == group(&st, b)
    }
}

/// Binds 127.0.0.1:`port`. A restarted server reuses its port; the previous
/// incarnation's accept task drops its listener as soon as it runs after the
/// crash, so an address still in use is retried briefly.
async fn bind_loopback(server: &str, port: u16) -> io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 && tries < 200 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{server}: cannot bind 127.0.0.1:{port}: {e}"),
                ));
            }
        }
    }
}

fn wake_all(st: &mut State) {
    for w in std::mem::take(&mut st.stalled) {
        w.wake();
    }
}
