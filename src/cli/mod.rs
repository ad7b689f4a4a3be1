//! The command line: clap derive types for every command and flag, with examples in
//! `--help`. `main` parses a [`Cli`] and hands it to [`crate::run`].

use crate::config::ColorChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub mod simulate;

const EXAMPLES: &str = "\
Examples:
  swelearn                              open the study reader (TUI)
  swelearn study websocket-protocol     open one card in the reader
  swelearn study short-polling --plain  print a card (also when piped)
  swelearn list --tag scaling           list cards with a tag
  swelearn search \"last-event-id\"       find cards mentioning a phrase
  swelearn quiz short-polling           answer questions on a card
  swelearn practice --minutes 10        review what is due, then new questions
  swelearn stats                        progress, forecast and streak
  swelearn simulate herd --jitter 30    a reconnect storm, played back
  swelearn content lint ~/my-cards      check your own cards
  swelearn lab serve                    a loopback WebSocket/SSE/poll server to try clients on
  swelearn config                       show the effective configuration";

/// swelearn: offline interview preparation for real-time web systems.
///
/// Study topic cards in a terminal reader, answer quizzes scheduled by spaced
/// repetition, and track progress.
/// Everything works offline: the cards are built into the binary.
#[derive(Debug, Parser)]
#[command(name = "swelearn", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags accepted by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Read configuration from FILE instead of $XDG_CONFIG_HOME/swelearn/swelearn.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep progress in DIR instead of the platform data directory [env: SWELEARN_DATA_DIR].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// When to use colour; NO_COLOR in the environment always turns it off.
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,
    /// Also load cards from DIR (repeatable; replaces [content] dirs from the config).
    #[arg(long = "content-dir", global = true, value_name = "DIR")]
    pub content_dirs: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the cards in the TUI reader, or print one with --plain.
    #[command(after_help = "\
Examples:
  swelearn study                         topic list and reader
  swelearn study server-sent-events      open a card directly
  swelearn study long-polling --plain    print it (the default when stdout is not a terminal)
  swelearn study long-polling --width 60 print it wrapped at 60 columns")]
    Study(StudyArgs),
    /// List the cards in suggested study order.
    #[command(after_help = "\
Examples:
  swelearn list
  swelearn list --tag websocket --difficulty medium
  swelearn list --json | jq -r '.[].id'")]
    List(ListArgs),
    /// Search titles, tags and text; title and tag hits rank first.
    #[command(after_help = "\
Examples:
  swelearn search backoff jitter
  swelearn search \"Sec-WebSocket-Accept\" --json")]
    Search(SearchArgs),
    /// Answer quiz questions on a card, a tag or everything; each answer is saved at once.
    #[command(after_help = "\
Questions due for review come first, then new ones, then the rest of the card.
Answers are graded (choices, numbers within a tolerance, orders); recall questions
ask you to rate yourself. Each answer schedules the next review (FSRS).

Examples:
  swelearn quiz websocket-protocol        quiz one card (TUI)
  swelearn quiz --tag scaling --count 5   five questions from cards tagged scaling
  swelearn quiz short-polling --plain     read answers from stdin, one per line
  printf '2\n' | swelearn quiz short-polling --count 1 --plain")]
    Quiz(QuizArgs),
    /// A time-boxed practice session: due reviews first, then new questions.
    #[command(after_help = "\
Examples:
  swelearn practice                       15 minutes, up to 10 new questions
  swelearn practice --minutes 5 --new 3
  swelearn practice --plain < answers.txt")]
    Practice(PracticeArgs),
    /// Progress: due counts, retention, streak, mastery per card, forecast, history.
    #[command(after_help = "\
Examples:
  swelearn stats                 charts in the TUI (plain text when piped)
  swelearn stats --json | jq .due_today
  swelearn stats --rebuild       recompute every item's schedule from the review log")]
    Stats(StatsArgs),
    /// Move or reset progress: export, import (merge) and reset.
    #[command(subcommand)]
    Progress(ProgressCommand),
    /// Run a failure-mode simulation (deterministic discrete-event model).
    #[command(subcommand)]
    Simulate(simulate::SimulateCommand),
    /// Work with card files: check your own cards.
    #[command(subcommand)]
    Content(ContentCommand),
    /// The live lab: real servers on this machine's loopback interface.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Show the effective configuration, where each value came from, and the paths.
    Config(ConfigArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  swelearn completions bash > ~/.local/share/bash-completion/completions/swelearn
  swelearn completions zsh > \"${fpath[1]}/_swelearn\"
  swelearn completions fish > ~/.config/fish/completions/swelearn.fish")]
    Completions(CompletionsArgs),
    /// Internal: runs a slice of a `simulate herd --live` run's clients for the
    /// parent process (see `swelearn::live::herd_split`).
    #[command(name = "__live-herd-clients", hide = true)]
    LiveHerdClients(LiveHerdClientsArgs),
}

/// Arguments of the hidden `__live-herd-clients` command.
#[derive(Debug, Args)]
pub struct LiveHerdClientsArgs {
    /// The clients to run, as JSON (`swelearn::live::herd_split::ChildSpec`).
    #[arg(value_name = "SPEC")]
    pub spec: String,
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// The card to open (see `swelearn list`); without it, the topic list.
    pub id: Option<String>,
    /// Print the card instead of opening the TUI (automatic when stdout is not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Wrap printed output at N columns (default: the terminal width, or 80).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(20..=1000))]
    pub width: Option<u16>,
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Quiz this card (see `swelearn list`); without it, every card.
    #[arg(conflicts_with = "tag")]
    pub id: Option<String>,
    /// Quiz the cards with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Number of questions.
    #[arg(long, short = 'n', default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub count: u32,
    /// Read answers from stdin (one per line) instead of the TUI; automatic when
    /// stdin or stdout is not a terminal.
    #[arg(long)]
    pub plain: bool,
}

#[derive(Debug, Args)]
pub struct PracticeArgs {
    /// Length of the session in minutes (questions stop when their expected time is used).
    #[arg(long, short = 'm', default_value_t = 15, value_name = "M", value_parser = clap::value_parser!(u32).range(1..=240))]
    pub minutes: u32,
    /// Most new (never answered) questions to introduce.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub new: u32,
    /// Read answers from stdin instead of the TUI (automatic when not a terminal).
    #[arg(long)]
    pub plain: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON.
    #[arg(long, conflicts_with = "plain")]
    pub json: bool,
    /// Print text instead of the TUI charts (automatic when not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Recompute every item's state from the append-only review log first.
    #[arg(long)]
    pub rebuild: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProgressCommand {
    /// Write all progress (review log and read marks) to FILE as JSON (`-` for stdout).
    #[command(after_help = "Example:\n  swelearn progress export ~/swelearn-progress.json")]
    Export {
        /// Where to write.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Merge progress exported on another machine (reviews already present are skipped).
    #[command(after_help = "Example:\n  swelearn progress import ~/swelearn-progress.json")]
    Import {
        /// The export to read (`-` for stdin).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete progress (all, or one card's); asks for confirmation.
    #[command(after_help = "\
Examples:
  swelearn progress reset --card short-polling
  swelearn progress reset --yes            no question asked (for scripts)")]
    Reset {
        /// Only this card's answers and read mark.
        #[arg(long, value_name = "ID")]
        card: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only cards with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only cards of this difficulty.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub difficulty: Option<DifficultyArg>,
    /// Print JSON (an array of cards) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A difficulty on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DifficultyArg {
    Easy,
    Medium,
    Hard,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find (all must match; case-insensitive).
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Check cards and quiz banks; prints `file:line: message` per problem, exit 1 if any.
    #[command(after_help = "\
Without DIR, checks the built-in cards and the directories from the configuration.

Examples:
  swelearn content lint
  swelearn content lint ~/notes/cards ./more-cards")]
    Lint(LintArgs),
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Directories of cards (`*.md`) and quiz banks (`*.quiz.yaml`) to check.
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Serve WebSocket echo and chat rooms, an SSE stream, short and long poll on
    /// 127.0.0.1 until Ctrl-C.
    #[command(after_help = "\
Only loopback addresses are ever bound: nothing outside this machine can connect.
It prints every endpoint's URL and example commands, then serves until Ctrl-C (or
SIGTERM), when it closes WebSockets with 1001, ends streams and exits 0. The feed
behind /poll, /longpoll, /sse and /ws/feed gets a `tick N` event every --tick
seconds and whatever is POSTed to /publish.

Examples:
  swelearn lab serve                          on http://127.0.0.1:8765
  swelearn lab serve --port 0                 any free port (printed)
  swelearn lab serve --origin http://localhost:3000
                                              only that page's origin may open WebSockets
  websocat ws://127.0.0.1:8765/ws/echo        (in another terminal) echo
  websocat 'ws://127.0.0.1:8765/ws/chat/lobby?name=ann'
  curl -N http://127.0.0.1:8765/sse           watch the event stream
  curl -N -H 'Last-Event-ID: 3' http://127.0.0.1:8765/sse
  curl 'http://127.0.0.1:8765/longpoll?since=0&timeout=10'
  curl -d 'hello' http://127.0.0.1:8765/publish")]
    Serve(LabServeArgs),
}

#[derive(Debug, Args)]
pub struct LabServeArgs {
    /// Port to listen on; 0 picks any free port and prints it.
    #[arg(long, short, default_value_t = 8765, value_name = "PORT")]
    pub port: u16,
    /// Loopback address to bind: 127.0.0.1, another 127.x.y.z, ::1 or localhost;
    /// any other address is refused.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: String,
    /// Allow browser pages from ORIGIN to open WebSockets (repeatable), e.g.
    /// http://localhost:3000; others get 403. Without it any origin may. Clients
    /// that send no Origin (websocat, Python) are always let in.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// Publish a `tick N` event to the feed every SECONDS (0: never).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = lab_seconds)]
    pub tick: f64,
    /// Hold a long poll at most SECONDS before it answers with no events.
    #[arg(long, default_value_t = 25.0, value_name = "SECONDS", value_parser = lab_seconds)]
    pub hold: f64,
    /// Largest WebSocket message accepted, in KiB; larger ones are closed with 1009.
    #[arg(long, default_value_t = 64, value_name = "KIB", value_parser = clap::value_parser!(u32).range(1..=16_384))]
    pub max_message_kib: u32,
    /// Most connections open at once (default: what the open-file limit allows, up to
    /// 10000); more than the limit allows is refused.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
}

/// A number of seconds from 0 to 3600.
fn lab_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && (0.0..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} is out of range (0 to 3600 seconds)"))
    }
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
