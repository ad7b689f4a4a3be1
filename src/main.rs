//! The `swelearn` binary: parses the command line and hands it to [`swelearn::run`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = swelearn::cli::Cli::parse();
    match swelearn::run(cli) {
        Ok(code) => code,
        // A closed pipe (`swelearn list | head`) ends output early; that is not an error.
        Err(err) if swelearn::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            swelearn::report_error(&err);
            ExitCode::from(2)
        }
    }
}
