//! `swelearn simulate SCENARIO`: plays the run back in the TUI on a terminal, or
//! prints the plain summary / JSON and writes the CSV and SVG files.

use super::Ctx;
use crate::cli::simulate::{SimulateCommand, run_simulate, wants_tui, write_files};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub fn simulate(ctx: &Ctx, cmd: &SimulateCommand, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let tui = wants_tui(cmd, ctx.stdout_is_tty) && std::io::stdin().is_terminal();
    if !tui {
        run_simulate(cmd, out, ctx.stdout_is_tty)?;
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = cmd.compute(true)?;
    let notes = write_files(cmd.run_args(), &outcome)?;
    crate::tui::sim::run_playback(&ctx.config, outcome.runs())?;
    for n in notes {
        writeln!(out, "{n}")?;
    }
    Ok(ExitCode::SUCCESS)
}
