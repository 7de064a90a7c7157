//! `fleetsim-turmoil-compare`: three servers heartbeating each other every
//! second, on turmoil and on fleetsim, for an emulated hour (`--emulated`
//! for another length). Prints one JSON line of both wall times and RPC
//! counts; exit code 2 on bad input, 3 when a side fails. See the
//! library's docs for what each side runs.

use std::process::ExitCode;

use clap::Parser;
use fleetsim_model::Dur;

/// Side by side with turmoil: three servers heartbeating each other every 1 s.
#[derive(Parser, Debug)]
#[command(name = "fleetsim-turmoil-compare", version, about)]
struct Args {
    /// Emulated length of each side's run ("1h", "10m"; 1s to 1d).
    #[arg(long, default_value = "1h", value_parser = emulated)]
    emulated: Dur,
}

/// `--emulated`'s parser: clap reports its error and exits 2.
fn emulated(input: &str) -> Result<Dur, String> {
    fleetsim_turmoil_compare::parse_emulated(input).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match fleetsim_turmoil_compare::compare(args.emulated) {
        Ok(c) => match serde_json::to_string(&c) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(3)
}
