//! `fleetsim node`: one member of a fleet as its own process, and the
//! supervisor `fleetsim up --processes` keeps over such processes.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};

use fleetsim_model::{EventRecord, Fleet};
use fleetsim_net::EventLog;

use crate::BAD_INPUT;

/// Arguments of `fleetsim node`.
#[derive(clap::Args, Debug)]
pub(crate) struct NodeArgs {
    /// Fleet file, or the name of a built-in fleet.
    fleet: String,
    /// The member to run.
    #[arg(long, value_name = "NAME")]
    server: String,
    /// Where it listens [default: its own `address` in the fleet file].
    #[arg(long, value_name = "ADDR", value_parser = crate::socket_addr)]
    listen: Option<SocketAddr>,
    /// Emulated seconds per wall second.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    speed: f64,
    /// Seed of phases and retries.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Write the events as JSON lines to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Takeover policy the member decides by (see `fleetsim policies`).
    #[arg(long, value_name = "NAME", value_parser = crate::policy::parse, default_value = "server-edition")]
    policy: crate::policy::Policy,
    /// Serve the member control API (faults in force, stop) on ADDR, so a
    /// control plane can apply link faults in this process; loopback
    /// unless --token is set. Port 0: any free port (printed).
    #[arg(long, value_name = "ADDR", value_parser = crate::socket_addr)]
    control: Option<SocketAddr>,
    /// Token the member control API requires.
    #[arg(long, env = "FLEETSIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Incarnation of this process (1, then +1 per restart; set by `up --processes`).
    #[arg(long, default_value_t = 1, hide = true)]
    incarnation: u64,
    /// Also stop when stdin closes: set by `up --processes`, so a member
    /// never outlives its supervisor (even one killed by SIGKILL).
    #[arg(long, hide = true)]
    until_stdin_closes: bool,
}

/// `fleetsim node`: serves one member until SIGTERM or Ctrl-C.
pub(crate) fn node(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let fleet = match crate::live::load_fleet(&args.fleet) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let Some(spec) = fleet.server(&args.server).cloned() else {
        let names = fleet.servers.iter().map(|s| s.name.as_str());
        errln!(
            "error: {}: no server {:?} in fleet {}{}; its servers: {}",
            args.fleet,
            args.server,
            fleet.name,
            fleetsim_model::suggest::did_you_mean(&args.server, names.clone()),
            names.collect::<Vec<_>>().join(", ")
        );
        return Ok(ExitCode::from(BAD_INPUT));
    };
    if let Err(e) = crate::check_speed(args.speed) {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let place = |flag: Option<SocketAddr>, file: Option<&str>, field: &str| {
        flag_or_file(flag, file).map_err(|e| {
            errln!("error: {}: server {}: {field}{e}", args.fleet, args.server);
        })
    };
    let Ok(listen) = place(args.listen, spec.address.as_deref(), "") else {
        return Ok(ExitCode::from(BAD_INPUT));
    };
    let Some(listen) = listen else {
        errln!(
            "error: {}: server {} has no `address` to listen on: give --listen ADDR",
            args.fleet,
            args.server
        );
        return Ok(ExitCode::from(BAD_INPUT));
    };
    // The member control port: --control, else the fleet file's `control`.
    let Ok(control) = place(args.control, spec.control.as_deref(), "control: ") else {
        return Ok(ExitCode::from(BAD_INPUT));
    };
    let mut out: Box<dyn std::io::Write + Send> = match &args.events {
        Some(p) => Box::new(std::fs::File::create(p)?),
        None => Box::new(std::io::stdout()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let clock = fleetsim_net::Clock::start(args.speed);
        let log = EventLog::new(clock);
        let timing = fleetsim_net::Timing::new(&fleet.timers, &clock);
        let net = fleetsim_net::Net::new(fleetsim_net::Mode::Live, timing.connect_timeout);
        net.set_seed(args.seed);
        net.set_bind_ip(listen.ip());
        net.set_port(&args.server, listen.port());
        net.set_member_process();
        let stop = Arc::new(tokio::sync::Notify::new());
        let control = match control {
            Some(addr) => {
                match fleetsim_scenario::live::bind_control(addr, args.token.as_deref()).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        errln!("error: {e}");
                        return Ok(ExitCode::from(BAD_INPUT));
                    }
                }
            }
            None => None,
        };
        let control_addr = control.as_ref().and_then(|l| l.local_addr().ok());
        let mut member_svc = None;
        if let Some(l) = control {
            let svc = fleetsim_scenario::member::MemberSvc::new(
                (net.clone(), log.clone()),
                (&args.server, args.speed, args.incarnation),
                stop.clone(),
            );
            member_svc = Some(svc.clone());
            let token = args.token.clone();
            tokio::spawn(async move {
                if let Err(e) = fleetsim_scenario::member::serve_member(svc, l, token).await {
                    errln!("error: {e}");
                }
            });
        }
        // Every other member is reached where its `address` says.
        for s in fleet.servers.iter().filter(|s| s.name != args.server) {
            match &s.address {
                Some(a) => net.set_external(&s.name, a),
                None => errln!(
                    "warning: {}: server {} has no `address`; {} cannot reach it",
                    args.fleet, s.name, args.server
                ),
            }
        }
        let mut events = log.subscribe();
        let cfg = fleetsim_server::ServerConfig {
            fleet: Arc::new(fleet.clone()),
            name: args.server.clone(),
            incarnation: args.incarnation,
            seed: args.seed,
            timing,
            disk: fleetsim_server::Disk::default(),
            panic_on_first_request: false,
            panic_in_spawned_work: false,
        };
        let ctx = fleetsim_server::Ctx {
            net: net.clone(),
            log: log.clone(),
            stats: Default::default(),
            policy: args.policy.clone(),
        };
        let server = match fleetsim_server::start(cfg, ctx).await {
            Ok(s) => s,
            Err(fleetsim_server::StartError::Bind { source, .. }) => {
                // The transport's words name the server already.
                let why = source.to_string();
                let why = why.strip_prefix(&format!("{}: ", args.server)).unwrap_or(&why);
                // Started by `up --processes`, the port is up's to move.
                let fix = if args.until_stdin_closes {
                    "stop what holds the port (`up` says how to move every member's)"
                } else {
                    "stop what holds the port, or give another --listen"
                };
                errln!("error: server {} cannot start: {why}; {fix}", args.server);
                return Ok(ExitCode::from(BAD_INPUT));
            }
            Err(e) => {
                errln!("error: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        };
        if let Some(svc) = &member_svc {
            svc.watch_peers(server.peer_watch());
        }
        let port = net.port(&args.server).unwrap_or(listen.port());
        let mut signals = crate::live::StopSignals::listen();
        outln!(
            "node {} of fleet {} listens on {}{}",
            args.server,
            fleet.name,
            SocketAddr::new(listen.ip(), port),
            control_addr.map_or(String::new(), |a| format!(" (member control on {a})"))
        );
        let (orphaned_tx, mut orphaned) = tokio::sync::oneshot::channel::<()>();
        if args.until_stdin_closes {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = orphaned_tx.send(());
            });
        }
        // Stopped by a signal, the node logs its own stop; stopped over its
        // control port, the control plane logs it.
        let mut by_signal = false;
        loop {
            tokio::select! {
                biased;
                _ = signals.recv() => { by_signal = true; break }
                () = stop.notified() => break,
                _ = &mut orphaned, if args.until_stdin_closes => break,
                e = events.recv() => match e {
                    Ok(rec) => {
                        if reader_gone(write_event(&mut out, &rec).and_then(|()| Ok(out.flush()?)))? {
                            // The member goes on serving: its log is not its work.
                            errln!("note: the reader of the events has gone; {} goes on serving without writing them", args.server);
                            out = Box::new(std::io::sink());
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        errln!("warning: {n} events were not written (the writer fell behind)");
                    }
                    Err(_) => break,
                },
            }
        }
        let registered_phones = server.stop(&net);
        if by_signal {
            log.emit(
                &args.server,
                fleetsim_model::Event::ServerStopped { registered_phones },
            );
        }
        // What was logged before the end, written before the process goes.
        while let Ok(rec) = events.try_recv() {
            if reader_gone(write_event(&mut out, &rec))? {
                break;
            }
        }
        let _ = reader_gone(out.flush().map_err(Into::into))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Whether a write failed only because its reader has gone (a closed
/// pipe: `fleetsim node … | head`); any other failure is an error.
fn reader_gone(written: anyhow::Result<()>) -> anyhow::Result<bool> {
    match written {
        Ok(()) => Ok(false),
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Writes `rec` as one JSON line.
fn write_event(out: &mut dyn std::io::Write, rec: &EventRecord) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string(rec)?)?;
    Ok(())
}

/// Where to listen: the flag's address, else the fleet file's `host:port`
/// (an IP address as it is; a host name, such as a pod's DNS name, on
/// every interface at its port), else nowhere.
fn flag_or_file(
    flag: Option<SocketAddr>,
    file: Option<&str>,
) -> Result<Option<SocketAddr>, String> {
    let Some(a) = file.filter(|_| flag.is_none()) else {
        return Ok(flag);
    };
    match a.parse::<SocketAddr>() {
        Ok(ip) => Ok(Some(ip)),
        Err(_) => fleetsim_model::external::parse_address(a)
            .map(|p| Some(SocketAddr::from(([0, 0, 0, 0], p.port))))
            .map_err(|e| e.to_string()),
    }
}

/// The fleet's log, once it has started, and the members' events before.
#[derive(Debug, Default)]
struct Sink {
    log: Option<EventLog>,
    pending: Vec<EventRecord>,
}

/// One member process and what is known of it.
#[derive(Debug)]
struct Proc {
    /// Its stdin stays open (held by the child handle) while this process
    /// lives; the member stops when it closes.
    child: Option<Child>,
    incarnation: u64,
    /// Its member control port (faults in force, graceful stop).
    control: Option<SocketAddr>,
    /// Asked to stop: its exit is expected.
    stopping: bool,
}

/// The member processes of `fleetsim up --processes`: each member of the
/// fleet runs as `fleetsim node` on 127.0.0.1; their events are read from
/// their stdout into the fleet's log, and one that exits unexpectedly is
/// reported.
#[derive(Debug)]
pub(crate) struct Supervisor {
    /// The fleet file with every member's `address` filled in.
    file: PathBuf,
    /// The directory made for it, removed with it when the supervisor goes.
    dir: PathBuf,
    speed: f64,
    seed: u64,
    procs: Mutex<BTreeMap<String, Proc>>,
    /// Where the members' events go.
    sink: Arc<Mutex<Sink>>,
    /// The token every member's control port requires: made afresh for the
    /// drill and handed to the members in their environment, so no other
    /// local user can crash, stop or fault a member past `up`'s own token.
    token: String,
}

/// A token no one else can guess: 128 bits from the OS's randomness (the
/// keys of std's `RandomState` are drawn from it once per process). Not
/// the seeded RNG on purpose: a secret must not be reproducible, and it is
/// live mode's alone (`up --processes`), never part of a run's events.
fn member_token() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let half = |i: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

impl Supervisor {
    /// Writes the fleet file `text` (of `fleet`) with member i at
    /// 127.0.0.1:BASE+i to a file in `dir`, and sets those addresses in `fleet`.
    pub(crate) fn new(
        fleet: &mut Fleet,
        text: &str,
        dir: &Path,
        base_port: u16,
        speed: f64,
        seed: u64,
    ) -> anyhow::Result<Supervisor> {
        if let Some(s) = fleet.external_members().next() {
            anyhow::bail!(
                "{} is an external member already (address = {:?}): --processes runs every member itself",
                s.name,
                s.address.as_deref().unwrap_or_default()
            );
        }
        let address = |i: usize| format!("127.0.0.1:{}", base_port.saturating_add(i as u16));
        for (i, s) in fleet.servers.iter_mut().enumerate() {
            s.address = Some(address(i));
        }
        // Each `[[server]]` table gets its address as its first key.
        let mut copy = String::new();
        let mut i = 0;
        for line in text.lines() {
            copy.push_str(line);
            copy.push('\n');
            if line.trim() == "[[server]]" {
                copy.push_str(&format!("address = {:?}\n", address(i)));
                i += 1;
            }
        }
        anyhow::ensure!(
            i == fleet.servers.len(),
            "cannot write the members' addresses into the fleet file"
        );
        std::fs::create_dir_all(dir)?;
        let file = dir.join("fleet.toml");
        std::fs::write(&file, copy)?;
        Ok(Supervisor {
            file,
            dir: dir.to_path_buf(),
            speed,
            seed,
            procs: Mutex::new(BTreeMap::new()),
            sink: Arc::default(),
            token: member_token(),
        })
    }

    /// The events of member processes go to `log` from now on.
    fn set_log(&self, log: EventLog) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        for rec in std::mem::take(&mut sink.pending) {
            log.emit(&rec.server, rec.event);
        }
        sink.log = Some(log);
    }

    /// Starts `name`'s process and waits until it says where it listens.
    pub(crate) fn spawn(&self, name: &str) -> Result<(), String> {
        self.spawn_all(&[name])
    }

    /// Starts a process for each of `names` at once, then waits until each
    /// says where it listens: members that start together hear each other's
    /// first presence (one by one, a member's first presence to a member not
    /// yet started would be lost).
    pub(crate) fn spawn_all(&self, names: &[&str]) -> Result<(), String> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let mut started = Vec::new();
        for name in names {
            let incarnation = procs.get(*name).map_or(1, |p| p.incarnation + 1);
            started.push((*name, incarnation, self.launch(name, incarnation)?));
        }
        for (name, incarnation, mut child) in started {
            let control = self.listening(name, &mut child)?;
            let p = Proc {
                child: Some(child),
                incarnation,
                control,
                stopping: false,
            };
            procs.insert(name.to_string(), p);
        }
        Ok(())
    }

    /// Starts `fleetsim node` for `name`.
    fn launch(&self, name: &str, incarnation: u64) -> Result<Child, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        // A group of its own: a Ctrl-C at the terminal reaches `up` alone,
        // which ends the drill and then its members, as `ctl stop` does
        // (members stopping by themselves first logged a stop of each).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg("node")
            .arg(&self.file)
            .args(["--server", name])
            .args(["--speed", &self.speed.to_string()])
            .args(["--seed", &self.seed.to_string()])
            .args(["--incarnation", &incarnation.to_string()])
            .args(["--control", "127.0.0.1:0"])
            .arg("--until-stdin-closes")
            // In the environment, not the arguments: `ps` shows arguments.
            .env("FLEETSIM_TOKEN", &self.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a process for {name}: {e}"))
    }

    /// Reads the first line of `name`'s process (where it listens, and its
    /// member control port), then hands its events to the fleet's log as
    /// it writes them.
    fn listening(&self, name: &str, child: &mut Child) -> Result<Option<SocketAddr>, String> {
        let mut out = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        if out.read_line(&mut first).unwrap_or(0) == 0 || !first.contains(" listens on ") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the process for {name} ended before it listened (its own error is above; if its port is in use, give another --base-port: member i listens on BASE+i)"
            ));
        }
        let control = first
            .split_once("(member control on ")
            .and_then(|(_, rest)| rest.trim_end().strip_suffix(')'))
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let (sink, member) = (self.sink.clone(), name.to_string());
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                let Ok(rec) = serde_json::from_str::<EventRecord>(&line) else {
                    continue;
                };
                let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
                match &sink.log {
                    // Stamped again on the fleet's clock: a restarted
                    // member's clock starts from zero.
                    Some(log) => log.emit(&rec.server, rec.event),
                    None => sink.pending.push(rec),
                }
            }
            tracing::debug!(member, "member process output ended");
        });
        Ok(control)
    }

    /// Reports each member process that exited without being crashed or
    /// stopped by `ctl`, once (see [`Supervisor::reap`]).
    pub(crate) fn check(&self) {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for (name, p) in procs.iter_mut() {
            self.reap(name, p);
        }
    }

    /// Whether `name`'s process runs. One found ended that was neither
    /// crashed nor stopped by `ctl` is reported: on stderr, and in the
    /// fleet's log as a crash (it went without a word to its phones).
    fn reap(&self, name: &str, p: &mut Proc) -> bool {
        let Some(c) = &mut p.child else {
            return false;
        };
        let status = match c.try_wait() {
            Ok(None) => return true,
            Ok(Some(status)) => status.to_string(),
            Err(e) => e.to_string(),
        };
        p.child = None;
        if !p.stopping {
            errln!("member {name} exited unexpectedly ({status})");
            let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(log) = &sink.log {
                let registered_phones =
                    fleetsim_scenario::live::registered_when_last_heard(&log.snapshot(), name);
                log.emit(
                    name,
                    fleetsim_model::Event::ServerCrashed { registered_phones },
                );
            }
        }
        false
    }

    /// Kills `name`'s process with SIGKILL (`Child::kill` on Unix: a real
    /// kill -9) and waits for it.
    fn kill(&self, name: &str) -> Result<(), String> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let p = procs
            .get_mut(name)
            .ok_or_else(|| format!("{name} is not a member process"))?;
        let mut c = p
            .child
            .take()
            .ok_or_else(|| format!("{name} is already down"))?;
        c.kill().map_err(|e| format!("cannot kill {name}: {e}"))?;
        let _ = c.wait();
        Ok(())
    }

    /// Ends every member process (SIGKILL) and waits for each.
    pub(crate) fn shutdown(&self) {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for p in procs.values_mut() {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
        // Only what was made here: the file, then the directory if empty.
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl fleetsim_scenario::live::Members for Supervisor {
    fn runs(&self, name: &str) -> bool {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.contains_key(name)
    }

    fn is_up(&self, name: &str) -> bool {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.get_mut(name).is_some_and(|p| self.reap(name, p))
    }

    fn incarnation(&self, name: &str) -> u64 {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs.get(name).map_or(0, |p| p.incarnation)
    }

    fn crash(&self, name: &str) -> fleetsim_scenario::live::Call<'_, Result<(), String>> {
        Box::pin(std::future::ready(self.kill(name)))
    }

    fn started(&self, _net: &fleetsim_net::Net, log: &EventLog) {
        self.set_log(log.clone());
    }

    fn control(&self, name: &str) -> Option<String> {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        procs
            .get(name)
            .filter(|p| p.child.is_some())
            .and_then(|p| p.control)
            .map(|a| a.to_string())
    }

    fn will_stop(&self, name: &str) {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = procs.get_mut(name) {
            p.stopping = true;
        }
    }

    fn token(&self) -> Option<&str> {
        Some(&self.token)
    }

    fn restart(&self, name: &str) -> Result<(), String> {
        if self.is_up(name) {
            return Err(format!(
                "{name} is running; only a crashed member can restart"
            ));
        }
        self.spawn(name)
    }
}
