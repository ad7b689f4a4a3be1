//! swelearn's integration tests, one binary: the CLI driven as a user would (`cli`)
//! and the TUI rendered into ratatui's TestBackend and snapshot-tested (`tui`).

mod cli;
mod content;
mod learn;
mod live;
mod live_balance;
mod live_bp;
mod live_chat;
mod live_herd;
mod live_racer;
mod tui;
mod tui_quiz;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a file under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A swelearn invocation with a clean, isolated environment.
pub struct Run {
    cmd: Command,
    input: Option<String>,
    _home: tempfile::TempDir,
    pub home: PathBuf,
}

impl Run {
    pub fn new(args: &[&str]) -> Run {
        let home = tempfile::tempdir().expect("temp home");
        let path = home.path().to_path_buf();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_swelearn"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &path)
            .env("XDG_CONFIG_HOME", path.join("config"))
            .env("XDG_DATA_HOME", path.join("data"));
        Run {
            cmd,
            input: None,
            _home: home,
            home: path,
        }
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Run {
        self.cmd.env(k, v);
        self
    }

    /// Feeds `input` on stdin.
    pub fn stdin(mut self, input: &str) -> Run {
        self.input = Some(input.to_string());
        self
    }

    pub fn output(mut self) -> Done {
        if let Some(input) = self.input.take() {
            use std::io::Write;
            self.cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = self.cmd.spawn().expect("spawn swelearn");
            if let Some(mut stdin) = child.stdin.take() {
                // The program may stop reading early; a closed pipe is fine.
                let _ = stdin.write_all(input.as_bytes());
            }
            return Done(child.wait_with_output().expect("wait"));
        }
        let out = self.cmd.output().expect("run swelearn");
        Done(out)
    }
}

/// A finished run.
pub struct Done(pub Output);

impl Done {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
        self.stdout()
    }
}

/// Runs swelearn with args and returns the finished run.
pub fn swelearn(args: &[&str]) -> Done {
    Run::new(args).output()
}
