//! Helpers shared by every end-to-end test (one place, never copied).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetsim_model::{EventRecord, Scenario, Source, scenario::DiskResolver};
use fleetsim_scenario::{RunOptions, RunOutcome};

/// A minute of emulated time, in milliseconds.
pub const MIN: u64 = 60_000;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every scenario file in scenarios/, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// Loads a scenario file from scenarios/ by file name.
pub fn load(name: &str) -> Scenario {
    let path = root().join("scenarios").join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses scenario text whose fleet path is relative to scenarios/.
pub fn parse(text: &str) -> Scenario {
    let resolver = DiskResolver {
        base: root().join("scenarios"),
    };
    Scenario::parse(
        &Source {
            name: "inline.toml",
            text,
        },
        &resolver,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a scenario in sim mode.
pub fn run_sim(s: &Scenario) -> RunOutcome {
    fleetsim_scenario::run(s, &RunOptions::default()).unwrap()
}

/// Runs a scenario in sim mode under `policy`.
pub fn run_under(
    s: &Scenario,
    policy: impl fleetsim_scenario::TakeoverPolicy + 'static,
) -> RunOutcome {
    let opts = RunOptions {
        policy: std::sync::Arc::new(policy),
        ..RunOptions::default()
    };
    fleetsim_scenario::run(s, &opts).unwrap()
}

/// Emulated ms of the first event named `kind` (kebab-case) on `server`.
pub fn first_event_ms(o: &RunOutcome, kind: &str, server: &str) -> Option<u64> {
    o.events
        .iter()
        .find(|e| e.server == server && e.kind() == kind)
        .map(|e| e.t_ms)
}

/// Panics with the failing expectations when the run did not pass.
#[track_caller]
pub fn assert_passed(o: &RunOutcome) {
    o.assert_passed();
}

/// Panics with the emulator's error when the run had one: for runs whose
/// test checks their events itself, with no expectation of their own.
#[track_caller]
pub fn assert_ran(o: &RunOutcome) {
    assert!(o.error.is_none(), "{} failed: {:?}", o.scenario, o.error);
}

/// Panics at the first line where two runs' event logs differ.
pub fn assert_same_log(a: &RunOutcome, b: &RunOutcome) {
    let la = fleetsim_report::jsonl::events_to_string(&a.events);
    let lb = fleetsim_report::jsonl::events_to_string(&b.events);
    if la != lb {
        let (i, (x, y)) = la
            .lines()
            .zip(lb.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("(lengths differ)", "")));
        panic!(
            "{} seed {}: event logs differ at line {}:\n  {x}\n  {y}",
            a.scenario,
            a.seed,
            i + 1
        );
    }
}

/// The events matching `f`.
pub fn events(o: &RunOutcome, f: impl Fn(&EventRecord) -> bool) -> Vec<&EventRecord> {
    o.events.iter().filter(|e| f(e)).collect()
}

/// The phones that registered as guests in `[from, to)` ms, in order of
/// their first guest registration, each once.
pub fn guests_between(o: &RunOutcome, from: u64, to: u64) -> Vec<&str> {
    let mut seen = Vec::new();
    for e in o.events.iter().filter(|e| e.t_ms >= from && e.t_ms < to) {
        if let fleetsim_model::Event::PhoneRegistered {
            phone, guest: true, ..
        } = &e.event
            && !seen.contains(&phone.as_str())
        {
            seen.push(phone.as_str());
        }
    }
    seen
}

/// The fleetsim binary.
pub fn fleetsim() -> Command {
    fleetsim_in(&[])
}

/// The fleetsim binary run through `wrapper`, a command that runs the rest
/// of its line (`ip netns exec NS`, …); none: the binary itself.
pub fn fleetsim_in(wrapper: &[&str]) -> Command {
    let bin = env!("CARGO_BIN_EXE_fleetsim");
    let mut c = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    c.current_dir(root()).env("NO_COLOR", "1");
    c
}

/// Runs a scenario in live mode (loopback TCP) at `speed`.
pub fn run_live(s: &Scenario, speed: f64) -> RunOutcome {
    // Wall-clock deadlines: two live runs at once on 2 cores make each other late.
    let _one = one_live_run_at_a_time();
    let opts = RunOptions {
        mode: fleetsim_scenario::Mode::Live,
        speed,
        ..RunOptions::default()
    };
    fleetsim_scenario::run(s, &opts).unwrap()
}

/// Runs fleetsim with `args`, expects exit 0, and parses stdout as JSON.
pub fn fleetsim_json(args: &[&str]) -> serde_json::Value {
    let out = fleetsim_out(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a command line fleetsim printed (`fleetsim run …`) through `sh`,
/// exactly as a user pasting it would, with this build first on PATH.
pub fn run_as_printed(cmd: &str) -> Output {
    run_as_printed_with(cmd, &[])
}

/// [`run_as_printed`] with `env` set, and no FLEETSIM_CONTROL or
/// FLEETSIM_TOKEN unless `env` sets them (as in a fresh terminal).
pub fn run_as_printed_with(cmd: &str, env: &[(&str, &str)]) -> Output {
    assert!(
        cmd.starts_with("fleetsim "),
        "not a fleetsim command: {cmd}"
    );
    sh_with_fleetsim(cmd, env)
}

/// Runs `script` through `sh -c` (as a user's shell or a container's
/// `/bin/sh -c` would) with this build first on PATH, `env` set, and no
/// FLEETSIM_CONTROL or FLEETSIM_TOKEN unless `env` sets them.
pub fn sh_with_fleetsim(script: &str, env: &[(&str, &str)]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_fleetsim")).parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    Command::new("sh")
        .args(["-c", script])
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .env("NO_COLOR", "1")
        .env_remove("FLEETSIM_CONTROL")
        .env_remove("FLEETSIM_TOKEN")
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .unwrap()
}

/// Runs fleetsim with `args`.
pub fn fleetsim_out(args: &[&str]) -> Output {
    fleetsim().args(args).output().unwrap()
}

/// A fresh temporary directory for one test, under cargo's own temporary
/// directory of the target (`target/tmp`): emptied when the test starts
/// again and removed by `cargo clean`, so test runs leave nothing in the
/// system's temporary directory.
pub fn temp_dir(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("test-{test}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` to `name` in `dir`, returning the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes, in `dir`, a copy of the reference fleet and a scenario whose one
/// expectation fails (a takeover within 1m of a crash, which the 3-minute
/// rule forbids); returns the scenario's path.
pub fn failing_scenario(dir: &Path) -> PathBuf {
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(dir, "fleets/reference.toml", &fleet);
    write(
        dir,
        "too-tight.toml",
        "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\ntakeover = { of = \"primary\", within = \"1m\" }\n",
    )
}

/// What one run said on every channel: exit code, the text verdict line,
/// the JSON summary and the JUnit XML (two runs of the same deterministic
/// scenario, one per stdout format).
pub struct Verdicts {
    /// Exit code (the same for both runs, or the helper panics).
    pub code: i32,
    /// The text report's `Verdict:` line.
    pub text: String,
    /// The text report, whole.
    pub text_report: String,
    /// `--format json`.
    pub json: serde_json::Value,
    /// The `--junit` file.
    pub junit: String,
}

/// Runs `fleetsim run` with `args` once as text and once as JSON with
/// `--junit`, and gathers every verdict.
pub fn verdicts(dir: &Path, args: &[&str]) -> Verdicts {
    let junit = dir.join("verdicts-junit.xml");
    let text = fleetsim_out(&[&["run"], args].concat());
    let j = junit.to_str().unwrap();
    let json = fleetsim_out(&[&["run"], args, &["--format", "json", "--junit", j]].concat());
    assert_eq!(
        text.status.code(),
        json.status.code(),
        "{args:?}: text and JSON runs disagree"
    );
    let text_report = String::from_utf8_lossy(&text.stdout).into_owned();
    Verdicts {
        code: text.status.code().expect("exited"),
        text: text_report
            .lines()
            .find(|l| l.starts_with("Verdict:"))
            .unwrap_or_else(|| panic!("no verdict in:\n{text_report}"))
            .to_string(),
        text_report,
        json: serde_json::from_slice(&json.stdout).unwrap(),
        junit: std::fs::read_to_string(&junit).unwrap(),
    }
}

/// The `tests`, `failures` and `errors` counts of a JUnit file's suite.
pub fn junit_counts(xml: &str) -> (usize, usize, usize) {
    (
        junit_attr(xml, "tests"),
        junit_attr(xml, "failures"),
        junit_attr(xml, "errors"),
    )
}

/// A count attribute (`skipped`, …) of a JUnit file's suite.
pub fn junit_attr(xml: &str, name: &str) -> usize {
    let suite = xml.lines().find(|l| l.contains("<testsuite ")).unwrap();
    let start = suite.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    suite[start..].split('"').next().unwrap().parse().unwrap()
}

/// Runs `cmd` and returns its exit code, or kills it and returns `None` if
/// it is still running after `secs` seconds (a command that should have
/// refused its input but started serving instead).
pub fn exit_code_within(cmd: Command, secs: u64) -> (Option<i32>, String) {
    let (code, _, err) = outcome_within(cmd, secs);
    (code, err)
}

/// [`exit_code_within`], with what the command printed on stdout too.
pub fn outcome_within(mut cmd: Command, secs: u64) -> (Option<i32>, String, String) {
    use std::io::Read as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained as it comes, so a full pipe never holds the command up.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(child.stdout.take().map(|o| Box::new(o) as _));
    let err = drain(child.stderr.take().map(|e| Box::new(e) as _));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    (code, out.join().unwrap(), err.join().unwrap())
}

/// A free TCP port on 127.0.0.1 (free when asked; nothing holds it after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A live fleet served in-process on loopback TCP (its own thread and
/// runtime) until dropped.
pub struct LiveFleet {
    /// Each server's name and 127.0.0.1 port, in fleet order.
    pub servers: Vec<(String, u16)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveFleet {
    /// Starts `fleet` at `speed` and returns once every server is bound.
    pub fn start(fleet: fleetsim_model::Fleet, speed: f64) -> LiveFleet {
        let opts = fleetsim_scenario::live::LiveOptions {
            base_port: free_ports(fleet.servers.len() as u16),
            speed,
            seed: 1,
            calls: fleetsim_model::Calls::default(),
            policy: RunOptions::default().policy,
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (_handle, servers) = fleetsim_scenario::live::start_live(fleet, &opts)
                    .await
                    .unwrap();
                let ports = servers.into_iter().map(|s| (s.name, s.port)).collect();
                ready_tx.send(ports).unwrap();
                let _ = stopped.await;
            });
        });
        let servers = ready_rx.recv().expect("the live fleet started");
        LiveFleet {
            servers,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT` of the server `name`.
    pub fn address(&self, name: &str) -> String {
        let (_, port) = self
            .servers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no server {name} in the live fleet"));
        format!("127.0.0.1:{port}")
    }
}

impl Drop for LiveFleet {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The example member in Python (`examples/python-member/member.py`),
/// running until dropped. What it logs on stderr is kept ([`Self::log`])
/// and printed when it is dropped, so a failing test shows it.
pub struct PythonMember {
    /// Where it serves, `HOST:PORT`.
    pub address: String,
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl PythonMember {
    /// Whether `python3` can import grpcio and grpcio-tools; prints why the
    /// caller skips when it cannot.
    pub fn available(test: &str) -> bool {
        let ok = Command::new("python3")
            .args(["-c", "import grpc, grpc_tools"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!(
                "skipped {test}: python3 cannot import grpc and grpc_tools; install them with \
                 `python3 -m pip install -r examples/python-member/requirements.txt`"
            );
        }
        ok
    }

    /// Starts `member.py` with `args` (add `--listen 127.0.0.1:0` for any
    /// free port) and returns once it says where it listens.
    pub fn start(args: &[&str]) -> PythonMember {
        use std::io::BufRead as _;
        let mut child = Command::new("python3")
            .arg(root().join("examples/python-member/member.py"))
            .args(args)
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = log.clone();
        let stderr = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut log = kept.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        // Generating the stubs the first time takes a few seconds.
        let line = rx.recv_timeout(std::time::Duration::from_secs(60));
        let address = line
            .ok()
            .and_then(|l| l.rsplit_once(" listening on ").map(|(_, a)| a.to_string()));
        let mut member = PythonMember {
            address: address.clone().unwrap_or_default(),
            child,
            log,
            stderr: Some(stderr),
        };
        if address.is_none() {
            member.stop();
            panic!(
                "member.py {args:?} did not say where it listens; its stderr:\n{}",
                member.log()
            )
        }
        member
    }

    /// What it logged on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Kills it and waits until its stderr is read to the end.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.stderr.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PythonMember {
    fn drop(&mut self) {
        // Not yet stopped: start() printed nothing of its log.
        let running = self.stderr.is_some();
        self.stop();
        if running {
            eprintln!("member.py at {} logged:\n{}", self.address, self.log());
        }
    }
}

/// Parses scenario text (fleet paths relative to scenarios/) and returns
/// the error it is refused with, as shown to the user.
pub fn parse_error(text: &str) -> String {
    let resolver = DiskResolver {
        base: root().join("scenarios"),
    };
    let src = Source {
        name: "inline.toml",
        text,
    };
    match Scenario::parse(&src, &resolver) {
        Ok(_) => panic!("accepted, but should be refused:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// The first of `n` consecutive loopback ports that are free now (in a
/// range below the kernel's ephemeral ports, spread by process id so
/// concurrent test processes rarely meet).
pub fn free_ports(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let base = start + NEXT.fetch_add(n, Ordering::Relaxed) % 10_000;
        let free = (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return base;
        }
    }
}

/// Runs `s` in live mode at `speed`, server i of its fleet on `base + i`.
pub fn run_live_at(s: &Scenario, speed: f64, base: u16) -> RunOutcome {
    let opts = RunOptions {
        mode: fleetsim_scenario::Mode::Live,
        speed,
        base_port: Some(base),
        ..RunOptions::default()
    };
    fleetsim_scenario::run(s, &opts).unwrap()
}

/// One live run at a time: live runs keep wall-clock deadlines, and two at
/// once on a busy machine would make each other late.
pub fn one_live_run_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fleetsim server started by a test on its own TCP port, outside the
/// fleet under test: it stands in for an external implementation of the
/// protos. It has its own network, clock and event log (the fleet under
/// test never sees that log), and reaches the fleet's servers at
/// 127.0.0.1:(fleet base + index).
pub struct StandIn {
    /// The stand-in's own event log.
    pub log: fleetsim_net::EventLog,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    /// Starts server `name` of `fleet` (an external member there) on the
    /// port of its `address`, at `speed`, on a thread of its own.
    pub fn start(
        fleet: &fleetsim_model::Fleet,
        name: &str,
        fleet_base: u16,
        speed: f64,
    ) -> StandIn {
        let spec = fleet.server(name).expect("the stand-in is in the fleet");
        let address = spec.address.as_deref().expect("the stand-in is external");
        let port = fleetsim_model::external::parse_address(address)
            .unwrap()
            .port;
        let peers: Vec<(String, String)> = (fleet.servers.iter().enumerate())
            .filter(|(_, s)| s.name != name)
            .map(|(i, s)| {
                (
                    s.name.clone(),
                    format!("127.0.0.1:{}", fleet_base + i as u16),
                )
            })
            .collect();
        let (fleet, name) = (std::sync::Arc::new(fleet.clone()), name.to_string());
        let (log_tx, log_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let clock = fleetsim_net::Clock::start(speed);
                let log = fleetsim_net::EventLog::new(clock);
                let timing = fleetsim_net::Timing::new(&fleet.timers, &clock);
                let net = fleetsim_net::Net::new(fleetsim_net::Mode::Live, timing.rpc_deadline);
                net.set_port(&name, port);
                for (peer, at) in &peers {
                    net.set_external(peer, at);
                }
                let cfg = fleetsim_server::ServerConfig {
                    fleet,
                    name,
                    incarnation: 1,
                    seed: 1,
                    timing,
                    disk: fleetsim_server::Disk::default(),
                    panic_on_first_request: false,
                    panic_in_spawned_work: false,
                };
                let ctx = fleetsim_server::Ctx {
                    net: net.clone(),
                    log: log.clone(),
                    stats: Default::default(),
                    policy: RunOptions::default().policy,
                };
                let server = fleetsim_server::start(cfg, ctx).await.unwrap();
                log_tx.send(log).unwrap();
                let _ = stopped.await;
                server.crash(&net);
            });
        });
        StandIn {
            log: log_rx.recv().expect("the stand-in started"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Every event the stand-in logged so far.
    pub fn events(&self) -> Vec<EventRecord> {
        self.log.snapshot()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A small fleet file for `fleetsim up` tests: a primary and a secondary
/// with two SIP phones each, written in `dir`.
pub fn small_fleet_file(dir: &Path) -> PathBuf {
    write(
        dir,
        "small.toml",
        "name = \"small\"\n\n[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { sip = 2 }\n\n\
         [[server]]\nname = \"secondary\"\nrole = \"secondary\"\nphones = { sip = 2 }\n",
    )
}

/// `fleetsim up` running as a child process until dropped (killed then).
pub struct Up {
    /// What it printed up to and including "Ctrl-C stops the fleet.".
    pub banner: String,
    /// Its control API, `127.0.0.1:PORT`.
    pub control: String,
    child: std::process::Child,
    /// What it runs through (see [`fleetsim_in`]), and `ctl` with it.
    wrapper: Vec<String>,
    /// What it wrote to stderr after its banner, read as it comes.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Up {
    /// Starts `fleetsim up` on [`small_fleet_file`] in `dir` at 10×, asked
    /// to write each (flag, file) of `files` when the drill ends.
    pub fn small_writing(dir: &Path, files: &[(&str, &Path)]) -> Up {
        let mut args = vec!["--speed".to_string(), "10".into()];
        for (flag, path) in files {
            args.extend([flag.to_string(), path.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Up::start(&small_fleet_file(dir), &args, &[])
    }

    /// Starts `fleetsim up FLEET --control 127.0.0.1:P --base-port P+1
    /// ARGS…` on free ports, with `env` set, and returns once it announced
    /// the fleet (panics with its stderr if it exits first).
    pub fn start(fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Up {
        Up::start_in(&[], fleet, args, env)
    }

    /// [`Up::start`] through `wrapper` (see [`fleetsim_in`]): `ip netns
    /// exec NS` runs it on another host, and its control API is then that
    /// host's 127.0.0.1, which [`Up::fleetsim`] reaches the same way.
    pub fn start_in(wrapper: &[&str], fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Up {
        use std::io::BufRead as _;
        let port = free_ports(4);
        let control = format!("127.0.0.1:{port}");
        let base = (port + 1).to_string();
        let mut cmd = fleetsim_in(wrapper);
        cmd.arg("up")
            .arg(fleet)
            .args(["--control", &control, "--base-port", &base])
            .args(args)
            .env_remove("FLEETSIM_TOKEN")
            .env_remove("FLEETSIM_CONTROL")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // A process group of its own, as a shell gives a job: Ctrl-C at a
        // terminal goes to the whole group (see [`Up::ctrl_c`]).
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                let mut err = String::new();
                use std::io::Read as _;
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("fleetsim up ended before announcing:\n{banner}\n{err}");
            }
            banner.push_str(&line);
            if line.starts_with("Ctrl-C stops the fleet") {
                break;
            }
        }
        // Keep draining stdout and stderr so the fleet never blocks on a
        // full pipe; stderr is kept for the test to read.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut err, kept) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Up {
            banner,
            control,
            child,
            wrapper: wrapper.iter().map(|w| w.to_string()).collect(),
            stderr,
        }
    }

    /// The hint lines it printed that start with `fleetsim `, trimmed.
    pub fn hints(&self) -> Vec<String> {
        self.banner
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("fleetsim "))
            .map(str::to_string)
            .collect()
    }

    /// Runs `fleetsim ARGS…` against this fleet with a clean environment
    /// (no FLEETSIM_CONTROL or FLEETSIM_TOKEN unless `env` sets them).
    pub fn fleetsim(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let wrapper: Vec<&str> = self.wrapper.iter().map(String::as_str).collect();
        fleetsim_in(&wrapper)
            .args(args)
            .env_remove("FLEETSIM_TOKEN")
            .env_remove("FLEETSIM_CONTROL")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

impl Up {
    /// What it has written to stderr since its banner.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `secs` seconds for its stderr to hold `text`; returns it.
    pub fn stderr_when(&self, secs: u64, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let err = self.stderr();
            if err.contains(text) || std::time::Instant::now() > deadline {
                return err;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `fleetsim ctl status` of it, as printed.
    pub fn status(&self) -> String {
        let out = self.fleetsim(&["ctl", "status", "--control", &self.control], &[]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `ctl status` until `ready` holds of it (panics, showing the
    /// last status, after `secs` wall seconds).
    pub fn status_when(&self, secs: u64, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.status();
            if ready(&s) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not reached in {secs} s; last status:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The live page's URL as its banner gives it (`up --http`), e.g.
    /// `http://127.0.0.1:PORT/`; panics if it printed none.
    pub fn page_url(&self) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("live page"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no live page in the banner:\n{}", self.banner))
            .to_string()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it SIGINT, as Ctrl-C in its terminal would.
    pub fn interrupt(&self) {
        self.signal("-INT");
    }

    /// Ctrl-C at its terminal: SIGINT to its whole process group.
    pub fn ctrl_c(&self) {
        let group = format!("-{}", self.child.id());
        let sent = Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -INT -- {group}");
    }

    /// Sends it signal `sig` (as `kill` takes it: `-TERM`).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(sent.success(), "kill {sig} {pid}");
    }

    /// Its exit code, once it exits within `secs` seconds (`None`: still running).
    pub fn exit_within(&mut self, secs: u64) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` (plain `http://HOST:PORT/PATH`) over a fresh connection:
/// the status code and the body. Enough HTTP/1.1 for the live page, with
/// no client library; a test that hangs on it fails after 10 s.
pub fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole HTTP reply");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// Whole emulated minutes in the header of a `ctl status` (`emulated time 1m5s`).
pub fn emulated_minutes(status: &str) -> u64 {
    let t = status
        .split("emulated time ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    let hours = t.split_once('h').map_or(0, |(h, _)| h.parse().unwrap_or(0));
    let rest = t.split_once('h').map_or(t, |(_, r)| r);
    let minutes = rest
        .split_once('m')
        .map_or(0, |(m, _)| m.parse().unwrap_or(0));
    hours * 60 + minutes
}

/// The row of `server` in the server table of a `ctl status`.
pub fn server_row<'a>(status: &'a str, server: &str) -> &'a str {
    status
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{server} ")))
        .unwrap_or_else(|| panic!("no row for {server} in:\n{status}"))
}

/// The phones registered on `server` (as `guest` or not), each once,
/// sorted, from the events after `from_ms`.
pub fn registered(
    events: &[fleetsim_model::EventRecord],
    server: &str,
    guest: bool,
    from_ms: u64,
) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter(|e| e.server == server && e.t_ms >= from_ms)
        .filter_map(|e| match &e.event {
            fleetsim_model::Event::PhoneRegistered {
                phone, guest: g, ..
            } if *g == guest => Some(phone.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The events of a JSON-lines event log written so far (`--events` of
/// `fleetsim node` or `up`): every whole line, so a line still being
/// written is left for the next read; none if the file is not there yet.
pub fn read_event_log(path: &Path) -> Vec<EventRecord> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    whole
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// `fleetsim node FLEET --server NAME ARGS…` as a child process (its
/// events, on stdout, read and dropped); killed when dropped.
pub struct Node {
    child: std::process::Child,
}

impl Node {
    /// Starts it and returns once it says where it listens.
    pub fn start(fleet: &Path, name: &str, args: &[&str]) -> Node {
        use std::io::BufRead as _;
        let mut child = fleetsim()
            .arg("node")
            .arg(fleet)
            .args(["--server", name])
            .args(args)
            .env_remove("FLEETSIM_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(first.contains(" listens on "), "node {name} said {first:?}");
        // Keep draining its events, so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Node { child }
    }

    /// Its exit code, once it exits within `secs` seconds (`None`: still running).
    pub fn exit_within(&mut self, secs: u64) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scenario file in `dir` on the built-in reference fleet.
pub fn on_builtin_fleet(dir: &Path, name: &str, tail: &str) -> std::path::PathBuf {
    write(
        dir,
        name,
        &format!("fleet = \"builtin:reference\"\nduration = \"10m\"\n{tail}"),
    )
}
