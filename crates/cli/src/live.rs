//! `fleetsim up`, `ctl` and `watch`: a live fleet on 127.0.0.1 and the
//! commands that drive and watch it through the `Control` gRPC service.

use crate::screen::Screen;
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fleetsim_model::{Fleet, Source, embedded, human_ms};
use fleetsim_proto::pb;
use fleetsim_scenario::RunError;
use fleetsim_scenario::live::{
    LiveOptions, bind_control, blank_token, serve_control_on, start_live_with,
};
use fleetsim_server::StartError;
use std::sync::Arc;
use tonic::transport::Channel;

use crate::BAD_INPUT;

/// Where the control API listens by default.
const DEFAULT_CONTROL: &str = "127.0.0.1:7100";

/// Arguments of `fleetsim up`.
#[derive(clap::Args, Debug)]
pub(crate) struct UpArgs {
    /// Fleet file, or the name of a built-in fleet.
    #[arg(default_value = "reference")]
    fleet: String,
    /// First server port: server i of the fleet file listens on
    /// 127.0.0.1:BASE+i (an external member's slot is left unused; tell the
    /// member where fleetsim's servers are from this).
    #[arg(long, default_value_t = 7101)]
    base_port: u16,
    /// Address of the control API (loopback unless --token is set).
    #[arg(long, env = "FLEETSIM_CONTROL", hide_env_values = true, value_name = "ADDR", default_value = DEFAULT_CONTROL, value_parser = crate::socket_addr)]
    control: SocketAddr,
    /// Token the control API requires (and the live page, if --http).
    #[arg(long, env = "FLEETSIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve the drill so far as a live HTML page on ADDR (the report
    /// --report writes at the end, refreshed every second); loopback
    /// unless --token is set, which the page then requires as ?token=.
    #[arg(long, value_name = "ADDR", value_parser = crate::socket_addr)]
    http: Option<SocketAddr>,
    /// Emulated seconds per wall second (60: the 3-minute rule takes 3 s).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    speed: f64,
    /// Seed of phases and retries.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Calls per hour across the fleet (0: none), in the default mix of
    /// voicemail, conference, held, hunt-group and recorded calls.
    #[arg(long, default_value_t = 0)]
    calls_per_hour: u32,
    /// one-X Portal changes per hour across the fleet's users.
    #[arg(long, default_value_t = 0)]
    portal_changes_per_hour: u32,
    /// Takeover policy the servers decide by (see `fleetsim policies`).
    #[arg(long, value_name = "NAME", value_parser = crate::policy::parse, default_value = "server-edition")]
    policy: crate::policy::Policy,
    /// When the drill ends (Ctrl-C, SIGTERM or `ctl stop`), write the event log as
    /// JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// When the drill ends, write a self-contained HTML report to FILE (the
    /// faults given live shown as fault windows).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// When the drill ends, write a JUnit XML file to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run every member as its own `fleetsim node` process on 127.0.0.1
    /// (BASE+i); `ctl crash` kills one with SIGKILL, `ctl restart` starts a new one.
    #[arg(long)]
    processes: bool,
}

/// The text of a fleet file, or of a built-in fleet by name.
fn fleet_text(arg: &str) -> Result<String, String> {
    if Path::new(arg).exists() {
        return fleetsim_model::read_text(Path::new(arg)).map_err(|e| e.to_string());
    }
    embedded::fleet_file(arg)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| embedded::unknown_fleet(arg))
}

/// A fleet file, or a built-in fleet by name (`reference`, `builtin:reference`).
pub(crate) fn load_fleet(arg: &str) -> Result<Fleet, String> {
    if Path::new(arg).exists() {
        let text = fleetsim_model::read_text(Path::new(arg)).map_err(|e| e.to_string())?;
        return Fleet::from_toml(&Source {
            name: arg,
            text: &text,
        })
        .map_err(|e| e.to_string());
    }
    match embedded::fleet(arg) {
        Some(f) => f.map_err(|e| e.to_string()),
        None => Err(format!(
            "{arg}: no such file, and {}",
            embedded::unknown_fleet(arg)
        )),
    }
}

/// `fleetsim up`: runs until Ctrl-C, SIGTERM or `ctl stop`.
pub(crate) fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    // A drill outlives its reader: `up | head -1` or a `tee` ended by
    // Ctrl-C must not take the fleet, or the files it writes, with it.
    crate::outlive_stdout();
    let mut fleet = match load_fleet(&args.fleet) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    if let Err(e) = crate::check_speed(args.speed) {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if let Some(note) = crate::speed_note(&fleet, args.speed) {
        errln!("{note}");
    }
    let others: Vec<(&str, SocketAddr)> =
        [("--control", Some(args.control)), ("--http", args.http)]
            .into_iter()
            .filter_map(|(flag, a)| a.map(|a| (flag, a)))
            .collect();
    // Port 0 is any free port: two of them never clash.
    if let Some(http) = args.http
        && http.port() != 0
        && http.port() == args.control.port()
        && (http.ip() == args.control.ip()
            || http.ip().is_unspecified()
            || args.control.ip().is_unspecified())
    {
        errln!(
            "error: --http {http} and --control {} are the same port: give the live page a port of its own",
            args.control
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if let Err(e) = crate::check_base_port(args.base_port, fleet.servers.len(), &others) {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let max = fleetsim_model::limits::MAX_PER_HOUR;
    if args.calls_per_hour > max || args.portal_changes_per_hour > max {
        errln!("error: --calls-per-hour and --portal-changes-per-hour are at most {max}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if args.token.as_deref().is_some_and(blank_token) {
        errln!(
            "error: the control API token is empty or blank (--token or FLEETSIM_TOKEN): give a non-empty token, or none to bind 127.0.0.1 without one"
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if !args.control.ip().is_loopback() && args.token.is_none() {
        errln!(
            "error: the control API binds {} only with a token: set --token or FLEETSIM_TOKEN, or bind 127.0.0.1",
            args.control
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if let Some(http) = args.http
        && !http.ip().is_loopback()
        && args.token.is_none()
    {
        errln!(
            "error: the live page binds {http} only with a token: set --token or FLEETSIM_TOKEN, or bind 127.0.0.1"
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if !args.processes
        && let Some(clash) = address_clash(&fleet, &args)
    {
        errln!("error: {}: {clash}", args.fleet);
        return Ok(ExitCode::from(BAD_INPUT));
    }
    // Checked before the fleet starts: a drill must not end with nowhere to
    // write, or by writing over its fleet file or another of its files.
    let outputs: Vec<(&str, &std::path::PathBuf)> = [
        ("--events", &args.events),
        ("--report", &args.report),
        ("--junit", &args.junit),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    .collect();
    let fleet_file: Vec<(&'static str, std::path::PathBuf)> = Some(Path::new(&args.fleet))
        .filter(|p| p.is_file())
        .map(|p| ("the fleet file", p.to_path_buf()))
        .into_iter()
        .collect();
    let checked = crate::files::check_distinct(&fleet_file, &outputs).and_then(|()| {
        (outputs.iter()).try_for_each(|(flag, p)| crate::files::check_writable(flag, p))
    });
    if let Err(e) = checked {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Listened for before any member process starts: a signal during a
    // slow start must not kill `up` by default and lose the drill's files
    // (it ends the drill as soon as the fleet is up).
    let mut signals = {
        let _in_runtime = rt.enter();
        StopSignals::listen()
    };
    // --processes: every member its own `fleetsim node`, started (and
    // listening) before the fleet's phones start.
    let members = if args.processes {
        remove_stale_member_dirs(&std::env::temp_dir());
        let dir = std::env::temp_dir().join(format!("fleetsim-up-{}", std::process::id()));
        let sup = match fleet_text(&args.fleet)
            .map_err(anyhow::Error::msg)
            .and_then(|text| {
                crate::node::Supervisor::new(
                    &mut fleet,
                    &text,
                    &dir,
                    args.base_port,
                    args.speed,
                    args.seed,
                )
            }) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                errln!("error: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        };
        let names: Vec<&str> = fleet.servers.iter().map(|s| s.name.as_str()).collect();
        if let Err(e) = sup.spawn_all(&names) {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
        Some(sup)
    } else {
        None
    };
    rt.block_on(async move {
        let opts = LiveOptions {
            base_port: args.base_port,
            speed: args.speed,
            seed: args.seed,
            calls: fleetsim_model::Calls {
                per_hour: args.calls_per_hour,
                portal_changes_per_hour: args.portal_changes_per_hour,
                ..fleetsim_model::Calls::default()
            },
            policy: args.policy.clone(),
        };
        // Every port is bound before the fleet is announced: the control
        // API's first, the live page's, then each server's (start_live
        // awaits each bind).
        let listener = match bind_control(args.control, args.token.as_deref()).await {
            Ok(l) => l,
            Err(e) => {
                errln!("error: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
        };
        let page = match args.http {
            Some(addr) => match crate::page::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    errln!("error: {e}");
                    return Ok(ExitCode::from(BAD_INPUT));
                }
            },
            None => None,
        };
        // The addresses as bound: port 0 becomes the one the kernel chose,
        // so the hints printed below reach it.
        let page_addr = page.as_ref().and_then(|l| l.local_addr().ok());
        let control = listener.local_addr().unwrap_or(args.control);
        // Children of this process, or `fleetsim node`s elsewhere that the
        // fleet file gives a member control port (`control`) to attach to.
        let supervised = match &members {
            Some(m) => Some(m.clone() as Arc<dyn fleetsim_scenario::live::Members>),
            None => fleetsim_scenario::member::Attached::of(&fleet, args.token.clone(), args.speed)
                .map(|a| Arc::new(a) as Arc<dyn fleetsim_scenario::live::Members>),
        };
        let (handle, servers) = match start_live_with(fleet.clone(), &opts, supervised).await {
            Ok(started) => started,
            Err(RunError::Start(StartError::Bind { server, source })) => {
                let port = fleet
                    .servers
                    .iter()
                    .position(|s| s.name == server)
                    .map_or(args.base_port, |i| args.base_port.saturating_add(i as u16));
                errln!(
                    "error: server {server} cannot listen on port {port} ({source}): stop what holds it, or give another --base-port (server i listens on BASE+i){}",
                    fleetsim_scenario::live::ephemeral_note(port)
                );
                return Ok(ExitCode::from(BAD_INPUT));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(m) = &members {
            let m = m.clone();
            // A member process that exits on its own is reported.
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    m.check();
                }
            });
        }
        outln!(
            "fleet {} is up ({} phones, speed {}×)\n",
            fleet.name,
            fleet.phones.len(),
            args.speed
        );
        outln!("  {:<14} {:<20} address", "server", "role");
        for s in &servers {
            match &s.address {
                Some(a) if args.processes => {
                    outln!("  {:<14} {:<20} {a} (its own process)", s.name, s.role)
                }
                Some(a) if let Some(c) = fleet.server(&s.name).and_then(|v| v.control.as_deref()) => {
                    outln!("  {:<14} {:<20} {a} (a node; attached through {c} once it answers there)", s.name, s.role)
                }
                Some(a) => outln!(
                    "  {:<14} {:<20} {a} (external: not run by fleetsim)",
                    s.name,
                    s.role
                ),
                None => outln!("  {:<14} {:<20} 127.0.0.1:{}", s.name, s.role, s.port),
            }
        }
        outln!(
            "\n  control API    {}{}",
            control,
            if args.token.is_some() {
                " (token required)"
            } else {
                ""
            }
        );
        if let Some(addr) = page_addr {
            outln!(
                "  live page      http://{addr}/{}",
                if args.token.is_some() {
                    " (token required: ?token=)"
                } else {
                    ""
                }
            );
        }
        // Hints repeat the flags given, so each works pasted as printed;
        // the token goes by its variable's name, never by its value.
        let conn = format!(
            "--control {}{}",
            fleetsim_report::shell_word(&control.to_string()),
            if args.token.is_some() {
                " --token \"$FLEETSIM_TOKEN\""
            } else {
                ""
            }
        );
        outln!(
            "\ntry, from another terminal{}:",
            if args.token.is_some() {
                " (with FLEETSIM_TOKEN set to the token there)"
            } else {
                ""
            }
        );
        outln!("  fleetsim watch {conn}");
        outln!("  fleetsim ctl {conn} faults");
        let ours = |s: &fleetsim_scenario::live::ServerInfo| {
            s.address.is_none()
                || args.processes
                || fleet.server(&s.name).is_some_and(|v| v.control.is_some())
        };
        if let Some(first) = servers.iter().find(|s| ours(s)) {
            let name = servers
                .iter()
                .find(|s| ours(s) && s.role == "primary")
                .unwrap_or(first)
                .name
                .as_str();
            outln!("  fleetsim ctl {conn} crash {name}");
            // An attached node is started again by its orchestrator.
            if fleet.server(name).is_none_or(|v| v.control.is_none()) {
                outln!("  fleetsim ctl {conn} restart {name}");
            }
            if first.port != 0 {
                outln!("  grpcurl -plaintext 127.0.0.1:{} list", first.port);
            }
        }
        if let Some(mut addr) = page_addr {
            // A page bound on every interface is opened at one of them: a
            // browser will not open 0.0.0.0 itself.
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            if args.token.is_some() {
                outln!("  open http://{addr}/?token=TOKEN in a browser, TOKEN being $FLEETSIM_TOKEN");
            } else {
                outln!("  open http://{addr}/ in a browser");
            }
        }
        outln!("\nCtrl-C stops the fleet.");
        let control = tokio::spawn(serve_control_on(
            handle.clone(),
            listener,
            args.token.clone(),
        ));
        if let Some(listener) = page {
            tokio::spawn(crate::page::serve(
                handle.clone(),
                listener,
                args.token.clone(),
            ));
        }
        tokio::select! {
            biased;
            how = signals.recv() => outln!("\nstopping ({how})"),
            () = handle.stop_requested() => outln!("\nstopping (ctl stop)"),
            r = control => return match r {
                Ok(Err(e)) => { errln!("error: {e}"); Ok(ExitCode::from(BAD_INPUT)) }
                _ => Ok(ExitCode::SUCCESS),
            },
        }
        // The drill's log ends before its member processes are stopped:
        // their stopping is the drill's end, not a part of it.
        handle.end().await;
        let outcome = handle.outcome();
        if let Some(m) = &members {
            m.shutdown();
        }
        write_drill_files(&args, &outcome)?;
        // Lets a `ctl stop` reply reach its caller before the process ends.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or, where there are signals, SIGTERM (what `kill`, `timeout`,
/// systemd and Kubernetes send): either ends a drill as `ctl stop` does.
/// Listened for from [`StopSignals::listen`] on, which comes before
/// anything starts: a signal sent while the fleet starts or as soon as it
/// is announced must find its handler in place, not the default action
/// that kills the process.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Installs the handlers now.
    pub(crate) fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            StopSignals { unix }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The first stop signal since [`StopSignals::listen`], by name.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            return tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Writes the files `up` was asked for, once the drill ends.
fn write_drill_files(args: &UpArgs, outcome: &fleetsim_scenario::RunOutcome) -> anyhow::Result<()> {
    if let Some(path) = &args.events {
        crate::write_events(path, outcome)?;
        crate::note_stderr(&format!("events written to {}", path.display()));
    }
    crate::write_report_files(args.report.as_deref(), args.junit.as_deref(), outcome)?;
    if let Some(path) = &args.junit {
        crate::note_stderr(&format!("JUnit written to {}", path.display()));
    }
    Ok(())
}

/// Connection options shared by `ctl` and `watch`. Global: accepted before
/// or after `ctl`'s subcommand (`ctl status --control X` as well as `ctl
/// --control X status`), and read from the environment when not given.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Conn {
    /// Address of the control API [default: 127.0.0.1:7100].
    #[arg(long, global = true, env = "FLEETSIM_CONTROL", hide_env_values = true, value_name = "ADDR", value_parser = given_addr)]
    control: Option<GivenAddr>,
    /// Token, if the fleet requires one.
    #[arg(long, global = true, env = "FLEETSIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// An address as the command line gave it (`localhost:7100`), and what it
/// resolved to: hints repeat the first, connections use the second.
#[derive(Clone, Debug)]
pub(crate) struct GivenAddr {
    given: String,
    addr: SocketAddr,
}

fn given_addr(s: &str) -> Result<GivenAddr, String> {
    Ok(GivenAddr {
        given: s.to_string(),
        addr: crate::socket_addr(s)?,
    })
}

impl Conn {
    /// The control API's address: the one given, else the default.
    fn control(&self) -> SocketAddr {
        self.control.as_ref().map_or_else(
            || DEFAULT_CONTROL.parse().expect("a valid default address"),
            |c| c.addr,
        )
    }

    /// The flags given, for hints that must work pasted as printed. The
    /// token by its variable's name, never by its value (a drill's screen
    /// may be projected): read from FLEETSIM_TOKEN it needs no flag.
    fn flags(&self) -> String {
        let control = (self.control.as_ref()).map_or(String::new(), |c| {
            format!(" --control {}", fleetsim_report::shell_word(&c.given))
        });
        let from_env = std::env::var("FLEETSIM_TOKEN").ok() == self.token;
        let token = if self.token.is_some() && !from_env {
            // Said once, where the first such hint is printed.
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                errln!(
                    "note: commands shown name the token as \"$FLEETSIM_TOKEN\": export FLEETSIM_TOKEN to run them as printed"
                );
            });
            " --token \"$FLEETSIM_TOKEN\""
        } else {
            ""
        };
        format!("{control}{token}")
    }

    /// `text` with every `fleetsim ctl` in it given this connection's flags.
    fn hint(&self, text: &str) -> String {
        text.replace("`fleetsim ctl ", &format!("`fleetsim ctl{} ", self.flags()))
    }

    /// What an answer that is not the control API's says about the address:
    /// a wrong `--control` is a usage error, not a failure of the fleet.
    fn not_control(&self, s: tonic::Status) -> anyhow::Error {
        let addr = self.control();
        let why = match s.code() {
            tonic::Code::Unimplemented => {
                "answers gRPC but not as fleetsim's control API (a fleet member's port?)"
            }
            tonic::Code::Unknown | tonic::Code::Internal => {
                "did not answer as fleetsim's control API (the live page of `up --http`, another program, or a fleet that just stopped?)"
            }
            _ if fleetsim_net::timed_out(&s) => {
                "took the connection but answered nothing within 10 s (a `fleetsim up` suspended with Ctrl-Z, or another program listening there?)"
            }
            _ => return s.into(),
        };
        crate::Usage(format!(
            "{addr} {why}; give `--control` the control address that `fleetsim up` printed"
        ))
        .into()
    }

    /// Exit code 2, with a message, when the token given is blank.
    fn refuse_blank_token(&self) -> Option<ExitCode> {
        self.token.as_deref().filter(|t| blank_token(t)).map(|_| {
            errln!(
                "error: the token is empty or blank (--token or FLEETSIM_TOKEN); give the token `fleetsim up` was started with (a `--token \"$FLEETSIM_TOKEN\"` needs FLEETSIM_TOKEN exported in this shell)"
            );
            ExitCode::from(BAD_INPUT)
        })
    }
}

type Client = pb::control_client::ControlClient<
    tonic::service::interceptor::InterceptedService<Channel, fleetsim_scenario::live::Bearer>,
>;

async fn connect(c: &Conn) -> anyhow::Result<Client> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", c.control()))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| {
            crate::Usage(format!(
                "cannot reach the control API at {} ({e}); is `fleetsim up` running there?",
                c.control()
            ))
        })?;
    let bearer = fleetsim_scenario::live::Bearer::new(c.token.as_deref()).map_err(crate::Usage)?;
    Ok(pb::control_client::ControlClient::with_interceptor(
        channel, bearer,
    ))
}

/// Subcommands of `fleetsim ctl`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum CtlCmd {
    /// Servers, phones and faults in force.
    Status,
    /// Crash a server (name, role or glob).
    Crash {
        /// Target.
        target: String,
        /// Restart it after DURATION (as `reboot`).
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Stop a server gracefully; without a target, end the drill (`up`
    /// writes its --events, --report and --junit files and exits).
    Stop {
        /// Target.
        target: Option<String>,
        /// Restart it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Restart a crashed or stopped server.
    Restart {
        /// Target.
        target: String,
    },
    /// Crash a server and restart it after DURATION.
    Reboot {
        /// Target.
        target: String,
        /// How long it stays down.
        #[arg(long = "for", default_value = "2m", allow_hyphen_values = true)]
        down_for: String,
    },
    /// Partition the network: each GROUP is comma-separated nodes; the rest is one more group.
    Partition {
        /// Groups, e.g. `primary` or `primary,phones@primary`.
        #[arg(required = true)]
        groups: Vec<String>,
        /// End it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Lose every packet from FROM to TO (comma-separated nodes); the other way still works.
    OneWay {
        /// Senders, e.g. `primary`.
        from: String,
        /// Receivers, e.g. `secondary,phones@primary`.
        to: String,
        /// End it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Delay every byte to or from a node (server, extension, phones@SERVER).
    Latency {
        /// Node.
        target: String,
        /// Delay per direction, e.g. `300ms`.
        #[arg(allow_hyphen_values = true)]
        delay: String,
        /// Up to this much more, seeded, e.g. `50ms`.
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        jitter: Option<String>,
        /// End it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Take a node's link down: bytes held (released when it ends), connects hang.
    Stall {
        /// Node.
        target: String,
        /// Release it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Take a node's link down and up again, COUNT times.
    Flap {
        /// Node.
        target: String,
        /// Length of one down-and-up cycle.
        #[arg(
            long,
            value_name = "DURATION",
            default_value = "1m",
            allow_hyphen_values = true
        )]
        period: String,
        /// Share of each period the link is down.
        #[arg(long, default_value_t = 0.5)]
        duty: f64,
        /// How many periods.
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
    /// Hang a server: alive, answers nothing.
    Hang {
        /// Target.
        target: String,
        /// Resume it after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Gray failure: health checks pass, but the paths given are silently dropped.
    Gray {
        /// Target.
        target: String,
        /// Paths dropped, comma-separated: presence, telephony.
        #[arg(long, value_name = "PATHS", default_value = "presence,telephony")]
        drop: String,
        /// Healthy again after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Step a server's clock, e.g. `+2m` or `-30s`.
    ClockOffset {
        /// Target.
        target: String,
        /// Offset from true time.
        #[arg(allow_hyphen_values = true)]
        offset: String,
        /// Back to true time after DURATION.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        for_: Option<String>,
    },
    /// Clear every link fault in force (partitions, one-way cuts, latency,
    /// stalls), and say which faults it leaves.
    Heal,
    /// The faults applied live and not yet undone, with their ids.
    Faults,
    /// Undo a fault in force by its id (see `ctl faults`), or `all` of them.
    Clear {
        /// An id from `ctl faults`, or `all`.
        #[arg(value_name = "ID|all", allow_negative_numbers = true)]
        which: String,
    },
    /// Operator: activate the backup Voicemail Pro now ("activate backup").
    ActivateBackup,
    /// Operator: hand a service back to the primary now (manual failback).
    Failback {
        /// `voicemail-pro` or `one-x-portal`.
        service: String,
    },
    /// Operator: make a configuration change on a server (refused in
    /// licence-restricted mode).
    Configure {
        /// Server.
        server: String,
    },
    /// Reboot a phone (or phones@SERVER): it registers from the top of its
    /// gatekeeper list, so a manual-failback H.323 phone goes home.
    RebootPhone {
        /// Extension or phones@SERVER.
        phone: String,
    },
    /// Any fault as written in a scenario's [[fault]] table (without `at`).
    Fault {
        /// E.g. 'latency = { target = "expansion-v2", delay = "300ms" }'.
        action: String,
    },
}

/// A TOML string.
fn q(s: &str) -> String {
    format!("{s:?}")
}

/// A comma-separated list as a TOML array of strings.
fn list(s: &str) -> String {
    let items: Vec<String> = s.split(',').map(|n| q(n.trim())).collect();
    format!("[{}]", items.join(", "))
}

/// A fault action with its `for`, if given (the undo is scheduled then).
fn lasting(action: String, for_: &Option<String>) -> String {
    match for_ {
        Some(d) => format!("{action}\nfor = {}", q(d)),
        None => action,
    }
}

/// `fleetsim ctl`.
pub(crate) fn ctl(conn: Conn, cmd: CtlCmd) -> anyhow::Result<ExitCode> {
    if let Some(code) = conn.refuse_blank_token() {
        return Ok(code);
    }
    let action = match &cmd {
        CtlCmd::Status | CtlCmd::Faults | CtlCmd::Clear { .. } => None,
        CtlCmd::Crash { target, for_ } => Some(lasting(format!("crash = {}", q(target)), for_)),
        CtlCmd::Stop {
            target: Some(target),
            for_,
        } => Some(lasting(format!("stop = {}", q(target)), for_)),
        CtlCmd::Stop { target: None, for_ } => {
            if for_.is_some() {
                errln!("error: `ctl stop` without a target ends the drill; --for needs a server");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            None
        }
        CtlCmd::Restart { target } => Some(format!("restart = {}", q(target))),
        CtlCmd::Reboot { target, down_for } => {
            Some(format!("reboot = {}\nfor = {}", q(target), q(down_for)))
        }
        CtlCmd::Partition { groups, for_ } => {
            let g: Vec<String> = groups.iter().map(|g| list(g)).collect();
            Some(lasting(format!("partition = [{}]", g.join(", ")), for_))
        }
        CtlCmd::OneWay { from, to, for_ } => Some(lasting(
            format!("one-way = {{ from = {}, to = {} }}", list(from), list(to)),
            for_,
        )),
        CtlCmd::Latency {
            target,
            delay,
            jitter,
            for_,
        } => Some(lasting(
            format!(
                "latency = {{ target = {}, delay = {}{} }}",
                q(target),
                q(delay),
                jitter
                    .as_ref()
                    .map_or(String::new(), |j| format!(", jitter = {}", q(j)))
            ),
            for_,
        )),
        CtlCmd::Stall { target, for_ } => Some(lasting(format!("stall = {}", q(target)), for_)),
        CtlCmd::Flap {
            target,
            period,
            duty,
            count,
        } => Some(format!(
            "flap = {{ target = {}, period = {}, duty = {duty:?}, count = {count} }}",
            q(target),
            q(period)
        )),
        CtlCmd::Hang { target, for_ } => Some(lasting(format!("hang = {}", q(target)), for_)),
        CtlCmd::Gray { target, drop, for_ } => Some(lasting(
            format!("gray = {{ target = {}, drop = {} }}", q(target), list(drop)),
            for_,
        )),
        CtlCmd::ClockOffset {
            target,
            offset,
            for_,
        } => Some(lasting(
            format!(
                "clock-offset = {{ target = {}, offset = {} }}",
                q(target),
                q(offset)
            ),
            for_,
        )),
        CtlCmd::Heal => None,
        CtlCmd::ActivateBackup => Some("activate-backup = \"voicemail-pro\"".into()),
        CtlCmd::Failback { service } => Some(format!("manual-failback = {}", q(service))),
        CtlCmd::Configure { server } => Some(format!("config-change = {}", q(server))),
        CtlCmd::RebootPhone { phone } => Some(format!("reboot-phone = {}", q(phone))),
        CtlCmd::Fault { action } => Some(action.clone()),
    };
    let from_flags = !matches!(cmd, CtlCmd::Fault { .. });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut client = connect(&conn).await?;
        let bad = |s| conn.not_control(s);
        match (action, cmd) {
            (None, CtlCmd::Faults) => {
                let r = client.faults(pb::FaultsRequest {}).await.map_err(bad)?;
                let r = r.into_inner();
                out!("{}", conn.hint(&render_faults(r.t_ms, &r.faults)));
                Ok(ExitCode::SUCCESS)
            }
            (None, CtlCmd::Clear { which }) => clear(&mut client, which, &conn).await,
            (None, CtlCmd::Heal) => clear(&mut client, "links".into(), &conn).await,
            (None, CtlCmd::Stop { .. }) => {
                client.stop(pb::StopRequest {}).await.map_err(bad)?;
                outln!("the drill ends: `fleetsim up` exits, writing the --events, --report and --junit files it was given, if any");
                Ok(ExitCode::SUCCESS)
            }
            (None, _) => {
                let s = client.status(pb::StatusRequest {}).await.map_err(bad)?;
                out!("{}", render_status(&s.into_inner()));
                Ok(ExitCode::SUCCESS)
            }
            (Some(action), _) => match client.fault(pb::FaultRequest { action }).await {
                Ok(r) => {
                    let r = r.into_inner();
                    for a in r.applied {
                        outln!("applied: {a}");
                    }
                    // Requests the fleet may refuse: its answer is in its log.
                    for a in r.sent {
                        outln!(
                            "sent: {a} (from the operator's console; whether the fleet took it, `fleetsim watch` and the event log say)"
                        );
                    }
                    for s in r.scheduled {
                        outln!("scheduled {s}");
                    }
                    Ok(failures(&r.failed))
                }
                // A flag form's error, without the TOML it was made into.
                Err(s) if s.code() == tonic::Code::InvalidArgument && from_flags => refused(
                    tonic::Status::invalid_argument(as_flags(s.message())),
                    &conn,
                ),
                Err(s) => refused(s, &conn),
            },
        }
    })
}

/// An error about a fault that `ctl` wrote as TOML from flags, said without
/// that TOML: its message and hint, not a line and caret the user never
/// wrote.
fn as_flags(msg: &str) -> String {
    let mut lines = msg.lines();
    let first = lines.next().unwrap_or_default();
    // "<fault>:1:15: field `fault[0].partition`: what is wrong"
    let said = first
        .strip_prefix("<fault>:")
        .and_then(|r| r.splitn(3, ':').nth(2))
        .map(str::trim_start)
        .map(
            |r| match r.strip_prefix("field `").and_then(|f| f.split_once("`: ")) {
                Some((_, m)) => m,
                None => r,
            },
        )
        .unwrap_or(first);
    let hints: String = lines
        .filter(|l| l.trim_start().starts_with("= hint:"))
        .map(|l| format!("\n  {}", in_flag_words(l.trim_start())))
        .collect();
    format!("{}{hints}", in_flag_words(said))
}

/// A fault file's wording of a fix said in `ctl`'s flags: `for = "2m"` is
/// `--for 2m`, a TOML table the `ctl` command that writes it.
fn in_flag_words(line: &str) -> String {
    if let Some(target) = line
        .split_once("flap = { target = \"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(t, _)| t)
    {
        return format!(
            "= hint: e.g. `fleetsim ctl flap {target} --period 1m --duty 0.5 --count 5` (a period of at least 1s, a count from 1 to 10000)"
        );
    }
    [
        ("such as for = \"2m\"", "such as --for 2m"),
        ("`for`", "--for"),
        (
            "write manual-failback = \"voicemail-pro\" or manual-failback = \"one-x-portal\"",
            "`fleetsim ctl failback voicemail-pro`, or `fleetsim ctl failback one-x-portal`",
        ),
        (
            "e.g. one-way = { from = [\"primary\"], to = [\"secondary\"] }",
            "e.g. `fleetsim ctl one-way primary secondary`",
        ),
        (
            "remove the key or fix its spelling; the values allowed here are listed above",
            "fix its spelling: the values allowed are listed above",
        ),
        ("or lengthen the run", "(a drill's faults end within 90d)"),
    ]
    .iter()
    .fold(line.to_string(), |l, (toml, flags)| l.replace(toml, flags))
}

/// Says on stderr what the fleet could not apply: exit 1 if anything, else 0.
fn failures(failed: &[String]) -> ExitCode {
    for f in failed {
        errln!("error: not applied: {f}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `ctl clear` and `ctl heal`: what was undone and what is left in force.
async fn clear(client: &mut Client, which: String, conn: &Conn) -> anyhow::Result<ExitCode> {
    let links = which == "links";
    match client.clear(pb::ClearRequest { which }).await {
        Ok(r) => {
            let r = r.into_inner();
            if r.cleared.is_empty() {
                outln!(
                    "{}",
                    if links {
                        "no link fault was in force"
                    } else {
                        "no fault was in force"
                    }
                );
            }
            for c in &r.cleared {
                outln!("cleared: {c}");
            }
            if r.left.is_empty() {
                outln!("no fault is in force now");
            } else {
                outln!(
                    "left in force{}:",
                    if links { ", not link faults" } else { "" }
                );
                for f in &r.left {
                    let line = fault_lines(std::slice::from_ref(f));
                    if f.kept_because.is_empty() {
                        outln!(
                            "{}    (undo: fleetsim ctl{} clear {})",
                            line.trim_end(),
                            conn.flags(),
                            f.id
                        );
                    } else {
                        outln!("{}", line.trim_end());
                    }
                }
            }
            Ok(failures(&r.failed))
        }
        Err(s) => refused(s, conn),
    }
}

/// What `ctl` makes of a refusal: bad input (exit 2) said as is; a token
/// refused passed on whole, for `main` to say how to give one; anything
/// else by its message.
fn refused(s: tonic::Status, conn: &Conn) -> anyhow::Result<ExitCode> {
    match s.code() {
        tonic::Code::InvalidArgument => {
            errln!("error: {}", conn.hint(s.message()));
            Ok(ExitCode::from(BAD_INPUT))
        }
        tonic::Code::Unauthenticated => Err(s.into()),
        tonic::Code::Unimplemented | tonic::Code::Unknown | tonic::Code::Internal => {
            Err(conn.not_control(s))
        }
        _ if fleetsim_net::timed_out(&s) => Err(conn.not_control(s)),
        _ => Err(anyhow::anyhow!("{}", s.message())),
    }
}

/// `ctl faults`: each fault in force with its id, since when and until when.
fn render_faults(t_ms: u64, faults: &[pb::FaultInForce]) -> String {
    if faults.is_empty() {
        return format!(
            "no faults in force (emulated time {})\n",
            fleetsim_report::text::clock(t_ms)
        );
    }
    // Commands that run as printed: a real id, not a placeholder.
    format!(
        "faults in force at {} (undo one with `fleetsim ctl clear {}`, every one with `fleetsim ctl clear all`):\n{}",
        fleetsim_report::text::clock(t_ms),
        faults[0].id,
        fault_lines(faults)
    )
}

/// One line per fault in force: `#ID  since HH:MM:SS  what  (until …)`,
/// and why `clear` cannot undo it where it cannot.
fn fault_lines(faults: &[pb::FaultInForce]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for f in faults {
        let _ = write!(
            o,
            "  #{:<3} since {}  {}",
            f.id,
            fleetsim_report::text::clock(f.since_ms),
            f.what
        );
        if f.until_ms > 0 {
            let _ = write!(o, "  (until {})", fleetsim_report::text::clock(f.until_ms));
        }
        if !f.kept_because.is_empty() {
            let _ = write!(o, "  (clear cannot undo it: {})", f.kept_because);
        }
        o.push('\n');
    }
    o
}

/// The status as a table: servers, where each home's phones are, faults.
fn render_status(s: &pb::StatusReply) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "fleet {} · emulated time {}\n",
        s.fleet,
        human_ms(s.t_ms)
    );
    let _ = writeln!(
        o,
        "  {:<14} {:<19} {:<6} {:>10} {:>7}  address",
        "server", "role", "state", "registered", "guests"
    );
    for v in &s.servers {
        if !v.address.is_empty() {
            let _ = writeln!(
                o,
                "  {:<14} {:<19} {:<6} {:>10} {:>7}  {} (not run by fleetsim)",
                v.name, v.role, "extern", "-", "-", v.address
            );
            continue;
        }
        let state = if v.up { "up" } else { "DOWN" };
        let _ = writeln!(
            o,
            "  {:<14} {:<19} {:<6} {:>10} {:>7}  127.0.0.1:{}{}",
            v.name,
            v.role,
            state,
            v.registered,
            v.guests,
            v.port,
            if v.incarnation > 1 {
                format!("  (restarted ×{})", v.incarnation - 1)
            } else {
                String::new()
            }
        );
    }
    // What runs where: services that can move, hunt groups, licences.
    let _ = writeln!(o, "\n  {:<14} {:<11} active", "server", "licence");
    for v in s.servers.iter().filter(|v| v.up) {
        let _ = writeln!(
            o,
            "  {:<14} {:<11} {}",
            v.name,
            v.licence,
            v.active.join(", ")
        );
    }
    // Which server each phone is on, by home, extensions as ranges.
    let mut by: BTreeMap<(&str, &str, bool), Vec<String>> = BTreeMap::new();
    for p in &s.phones {
        by.entry((p.home.as_str(), p.server.as_str(), p.guest))
            .or_default()
            .push(p.extension.clone());
    }
    let _ = writeln!(o, "\n  phones, by home:");
    let mut last_home = "";
    for ((home, server, guest), exts) in &by {
        let place = match (*server, *guest) {
            ("", _) => "unregistered".to_string(),
            (s, _) if s == *home => "at home".to_string(),
            (s, true) => format!("on {s} as guests"),
            (s, false) => format!("on {s}"),
        };
        let label = if *home == last_home { "" } else { home };
        last_home = home;
        let _ = writeln!(
            o,
            "  {label:<14} {place:<24} {}",
            fleetsim_report::text::ranges(exts)
        );
    }
    let _ = writeln!(
        o,
        "\n  faults in force: {}",
        if s.faults.is_empty() {
            "none".to_string()
        } else {
            s.faults.join("; ")
        }
    );
    o
}

/// A `--filter` that can match nothing (empty, or naming no event kind
/// and no server of the fleet) would show "nothing yet" for the whole
/// drill: a usage error naming what exists.
fn refuse_filter(filter: &[String], status: &pb::StatusReply) -> Option<ExitCode> {
    let kinds = fleetsim_model::schema::event_names();
    // The log's own sources beside the servers: faults and operator
    // actions, the network's view of phones, the runner.
    let servers: Vec<&str> = (status.servers.iter().map(|v| v.name.as_str()))
        .chain(["operator", "network", "runner"])
        .collect();
    let bad = filter.iter().find(|f| {
        let w = wildmatch::WildMatch::new(f);
        f.trim().is_empty() || !kinds.iter().chain(&servers).any(|n| w.matches(n))
    })?;
    errln!(
        "error: --filter {bad:?} matches no event and no server\n  hint: a glob (* and ?) over event names ({}) or server names ({})",
        kinds.join(", "),
        servers.join(", ")
    );
    Some(ExitCode::from(2))
}

/// `fleetsim watch`: redraws the drill's screen every second (counters,
/// timers, pinned milestones, a filtered tail); ends cleanly when the
/// fleet goes away.
pub(crate) fn watch(conn: Conn, once: bool, filter: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(code) = conn.refuse_blank_token() {
        return Ok(code);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut client = connect(&conn).await?;
        let bad = |s| conn.not_control(s);
        let mut stream = client
            .watch(pb::WatchRequest {})
            .await
            .map_err(bad)?
            .into_inner();
        // The drill so far (the stream sends it first) before the first screen.
        let first = client
            .status(pb::StatusRequest {})
            .await
            .map_err(bad)?
            .into_inner();
        if let Some(code) = refuse_filter(filter, &first) {
            return Ok(code);
        }
        let mut history = Screen::new(filter);
        while history.len() < first.events as usize {
            match stream.message().await {
                Ok(Some(line)) => match serde_json::from_str(&line.json) {
                    Ok(e) => history.push(e),
                    Err(_) => break,
                },
                _ => break,
            }
        }
        let screen = std::sync::Arc::new(std::sync::Mutex::new(history));
        let sink = screen.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stream.message().await {
                if let Ok(e) = serde_json::from_str(&line.json) {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                }
            }
        });
        let tty = std::io::stdout().is_terminal();
        let paint = fleetsim_report::text::Paint(tty && !once);
        let mut last_t = 0;
        loop {
            let s = match client.status(pb::StatusRequest {}).await {
                Ok(s) => s.into_inner(),
                Err(e) if fleetsim_net::timed_out(&e) && last_t > 0 => {
                    // Suspended, or too busy: the screen waits for it.
                    outln!(
                        "fleet at {} has not answered for 10 s (suspended with Ctrl-Z?); still waiting",
                        conn.control()
                    );
                    continue;
                }
                Err(e) if gone(&e) => {
                    outln!(
                        "fleet at {} has gone away (stopped or killed); last seen at emulated {}",
                        conn.control(),
                        fleetsim_report::text::clock(last_t)
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            last_t = s.t_ms;
            // On a terminal the screen fits it, read afresh as it may be resized.
            let size = (tty && !once)
                .then(terminal_size::terminal_size)
                .flatten()
                .map(|(w, h)| (usize::from(h.0), usize::from(w.0)));
            let text = screen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .render_in(&s, &paint, size);
            if tty && !once {
                out!("\x1b[2J\x1b[H");
            }
            out!("{text}");
            if once {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Whether a failed call means the fleet is no longer there (not merely
/// slow to answer: a suspended fleet comes back).
fn gone(e: &tonic::Status) -> bool {
    !fleetsim_net::timed_out(e)
        && matches!(
            e.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        )
}

/// An external member's `address` that is one of this drill's own on this
/// host (a server's port, the control API's, the live page's): the fleet
/// would talk to itself where it means the member.
fn address_clash(fleet: &fleetsim_model::Fleet, args: &UpArgs) -> Option<String> {
    let mut own: Vec<(u16, String)> = (fleet.servers.iter().enumerate())
        .filter(|(_, s)| s.address.is_none())
        .map(|(i, s)| {
            let port = args.base_port.saturating_add(i as u16);
            (
                port,
                format!(
                    "server {}'s port (--base-port {} + {i})",
                    s.name, args.base_port
                ),
            )
        })
        .collect();
    own.push((
        args.control.port(),
        "the control API's port (--control)".into(),
    ));
    if let Some(http) = args.http {
        own.push((http.port(), "the live page's port (--http)".into()));
    }
    let local = ["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"];
    fleet.servers.iter().find_map(|s| {
        let a = fleetsim_model::external::parse_address(s.address.as_deref()?).ok()?;
        if !local.contains(&a.host.as_str()) || a.port == 0 {
            return None;
        }
        let (_, whose) = own.iter().find(|(port, _)| *port == a.port)?;
        Some(format!(
            "server {}'s address {a} is {whose} in this drill; give the member another port, or this drill other ports",
            s.name
        ))
    })
}

/// Removes what an `up --processes` ended before it could clean up (a
/// SIGKILL, or a signal in its first milliseconds) left behind: its
/// `fleetsim-up-PID` directory with the members' fleet file, once no
/// process PID runs (Linux's /proc tells). Only that file and the then
/// empty directory go, nothing else.
fn remove_stale_member_dirs(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = (name.to_str())
            .and_then(|n| n.strip_prefix("fleetsim-up-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let dir = entry.path();
            let _ = std::fs::remove_file(dir.join("fleet.toml"));
            let _ = std::fs::remove_dir(&dir);
        }
    }
}
