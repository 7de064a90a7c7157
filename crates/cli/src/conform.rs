//! `fleetsim conform`: checks a live fleet member at an address against the
//! protocol contract (docs/protocol.md), one line per check.

use std::process::ExitCode;

use fleetsim_scenario::conform::{self, Target, Verdict};

use crate::{FAILED, Usage};

/// Arguments of `fleetsim conform`.
#[derive(clap::Args, Debug)]
pub(crate) struct ConformArgs {
    /// Where the member listens: HOST:PORT (host names allowed).
    address: String,
    /// The role it plays: primary, secondary, expansion-linux, expansion-v2
    /// or application-server (the fleet's one server of that role).
    #[arg(long)]
    role: Option<String>,
    /// The fleet it belongs to: a fleet file, or the name of a built-in
    /// fleet (default: the reference fleet).
    #[arg(long, value_name = "FILE")]
    fleet: Option<String>,
    /// The server of the fleet it plays.
    #[arg(long, value_name = "NAME")]
    server: Option<String>,
}

/// Runs every check; exit 0 when all pass, 1 when one fails, 2 on bad usage.
pub(crate) fn main(args: ConformArgs) -> anyhow::Result<ExitCode> {
    let fleet = match &args.fleet {
        Some(f) => crate::live::load_fleet(f).map_err(Usage)?,
        None => conform::reference_fleet(),
    };
    let target = Target::new(
        &args.address,
        fleet,
        args.server.as_deref(),
        args.role.as_deref(),
    )
    .map_err(|e| Usage(e.to_string()))?;
    outln!(
        "conform {} as {} ({}) of fleet {}",
        target.address,
        target.server,
        target.spec().role,
        target.fleet.name
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(conform::run(&target, |check| outln!("{check}")));
    outln!(
        "\n{} passed, {} failed, {} skipped",
        report.count(Verdict::Pass),
        report.count(Verdict::Fail),
        report.count(Verdict::Skip)
    );
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    })
}
