//! One function per command. [`dispatch`] loads the configuration and the catalog
//! once, then calls the command; each writes to stdout and returns an exit code.

mod content;
mod lab;
mod learn;
mod simulate;

use crate::cli::{Cli, Command};
use crate::config::{Config, FlagOverrides, ProcessEnv};
use crate::content::Catalog;
use crate::learn::store::Store;
use crate::learn::time::Moment;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// What every command may need: the configuration and whether stdout is a terminal.
pub struct Ctx {
    pub config: Config,
    pub stdout_is_tty: bool,
}

impl Ctx {
    /// Whether plain output on stdout should be coloured.
    pub fn color(&self) -> bool {
        self.config.color.value.enabled(self.stdout_is_tty)
    }

    /// Loads the catalog; problems in user cards are a warning, not a failure.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let catalog = Catalog::load(&self.config.content_dirs.value)?;
        if let Some(first) = catalog.problems().first() {
            let n = catalog.problems().len();
            eprintln!(
                "swelearn: warning: {n} problem{} in content files, cards that could not be read are skipped (run `swelearn content lint`): {first}",
                if n == 1 { "" } else { "s" }
            );
        }
        Ok(catalog)
    }
}

/// Runs the command in `cli`.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // A live herd's child process: before any configuration is read or stdout
    // locked (its writer thread owns stdout).
    if let Some(Command::LiveHerdClients(args)) = &cli.command {
        crate::live::herd_split::clients_main(&args.spec)?;
        return Ok(ExitCode::SUCCESS);
    }
    let flags = FlagOverrides {
        config: cli.global.config.clone(),
        data_dir: cli.global.data_dir.clone(),
        color: cli.global.color,
        content_dirs: cli.global.content_dirs.clone(),
    };
    let config = Config::load(&flags, &ProcessEnv)?;
    let ctx = Ctx {
        config,
        stdout_is_tty: std::io::stdout().is_terminal(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match cli.command {
        None => content::study(
            &ctx,
            &crate::cli::StudyArgs {
                id: None,
                plain: false,
                width: None,
            },
            &mut out,
        )?,
        Some(Command::Study(args)) => content::study(&ctx, &args, &mut out)?,
        Some(Command::List(args)) => content::list(&ctx, &args, &mut out)?,
        Some(Command::Search(args)) => content::search(&ctx, &args, &mut out)?,
        Some(Command::Content(crate::cli::ContentCommand::Lint(args))) => {
            content::lint(&ctx, &args, &mut out)?
        }
        Some(Command::Quiz(args)) => learn::quiz(&ctx, &args, &mut out)?,
        Some(Command::Practice(args)) => learn::practice(&ctx, &args, &mut out)?,
        Some(Command::Stats(args)) => learn::stats(&ctx, &args, &mut out)?,
        Some(Command::Progress(cmd)) => learn::progress(&ctx, &cmd, &mut out)?,
        Some(Command::Lab(crate::cli::LabCommand::Serve(args))) => lab::serve(&args, &mut out)?,
        Some(Command::Simulate(cmd)) => simulate::simulate(&ctx, &cmd, &mut out)?,
        Some(Command::Config(args)) => config_command(&ctx, args.json, &mut out)?,
        Some(Command::Completions(args)) => {
            use clap::CommandFactory;
            clap_complete::generate(args.shell, &mut Cli::command(), "swelearn", &mut out);
            ExitCode::SUCCESS
        }
        Some(Command::LiveHerdClients(_)) => ExitCode::SUCCESS, // handled above
    };
    out.flush()
        .or_else(ignore_broken_pipe)
        .context("cannot write to stdout")?;
    Ok(code)
}

/// A closed pipe (`swelearn list | head`) is not an error.
pub fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

fn config_command(ctx: &Ctx, json: bool, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let c = &ctx.config;
    if json {
        serde_json::to_writer_pretty(&mut *out, c)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let exists = if c.config_file_exists {
        ""
    } else {
        " (not found: built-in defaults apply)"
    };
    writeln!(out, "config file: {}{exists}", c.config_file.display())?;
    writeln!(out, "data dir:    {}", c.data_dir.value.display())?;
    writeln!(out)?;
    let dim = crate::output::theme::dim();
    let rows: Vec<Vec<(String, ratatui::style::Style)>> = c
        .rows()
        .into_iter()
        .map(|(k, v, s)| {
            vec![
                (k.to_string(), Default::default()),
                (v, Default::default()),
                (s.to_string(), dim),
            ]
        })
        .collect();
    crate::output::plain::write_table(out, &["key", "value", "source"], &rows, ctx.color())?;
    Ok(ExitCode::SUCCESS)
}

/// The progress file inside the data directory.
pub const PROGRESS_FILE: &str = "progress.db";

/// The reader's read marks live in the progress store.
impl crate::tui::MarkStore for Store {
    fn read_marks(&self) -> anyhow::Result<std::collections::HashSet<String>> {
        Ok(Store::read_marks(self)?.into_keys().collect())
    }
    fn set_mark(&mut self, id: &str, read: bool) -> anyhow::Result<()> {
        if read {
            self.mark_read(id, now())?;
        } else {
            self.unmark_read(id)?;
        }
        Ok(())
    }
}

/// The current time with the local UTC offset (UTC when the zone is unknown).
pub fn now() -> Moment {
    let offset = jiff::Zoned::now().offset().seconds();
    Moment::now(offset)
}

impl Ctx {
    /// Path of the progress database.
    pub fn progress_path(&self) -> std::path::PathBuf {
        self.config.data_dir.value.join(PROGRESS_FILE)
    }

    /// Opens (creating if needed) the progress store.
    pub fn progress(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.progress_path())?)
    }
}
