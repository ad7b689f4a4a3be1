//! swelearn: offline, terminal-based interview preparation for real-time web systems.
//!
//! Module map (data flows one way: content produces plain data, views only render):
//! - [`cli`]: clap types for every command and flag
//! - [`config`]: layered configuration (defaults < file < env < flags) with sources
//! - [`content`]: cards, the embedded catalog, markdown -> document model -> lines, lint
//! - [`learn`]: quiz items and grading, FSRS scheduling, the SQLite progress store, stats
//! - [`live`]: real loopback WebSocket/HTTP servers (the lab), limits, clean shutdown
//! - [`output`]: plain-text renderers (ANSI or bare) of documents and tables
//! - [`sim`]: the deterministic discrete-event engine, scenarios and the `Report`
//! - [`tui`]: the ratatui study reader (Elm-style: state, `Action`, update, view)
//! - [`commands`]: one function per command, called by [`run`]

pub mod cli;
pub mod commands;
pub mod config;
pub mod content;
pub mod learn;
pub mod live;
pub mod output;
pub mod sim;
pub mod tui;

use std::process::ExitCode;

/// Runs one parsed command line. `Ok` carries the exit code (lint failures exit 1);
/// `Err` is reported by `main` as one line and exit code 2.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    commands::dispatch(cli)
}

/// Prints an error as one line (plus its causes) on stderr.
pub fn report_error(err: &anyhow::Error) {
    let mut msg = format!("swelearn: error: {err}");
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.contains(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    eprintln!("{msg}");
}

/// True when the error is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        let kind = c
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                c.downcast_ref::<serde_json::Error>()
                    .and_then(|e| e.io_error_kind())
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
