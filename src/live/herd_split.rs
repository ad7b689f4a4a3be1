//! The live herd's clients in child processes, so a run can go past one
//! process's open-file limit: the parent keeps the server (one descriptor per
//! connection) and each child runs a slice of the clients (one descriptor each,
//! under its own limit).
//!
//! A child is this executable again with the hidden command
//! `__live-herd-clients SPEC`, where SPEC is a [`ChildSpec`] in JSON: the
//! loopback server address, the child's client index range, the seed and the
//! herd's jitter, backoff, timeout and time scale. The protocol on its stdio:
//!
//! 1. the child checks its limits and prints `ready`;
//! 2. the parent writes `go NANOS`, the common start instant as nanoseconds
//!    since the Unix epoch (a few milliseconds ahead, so every child sees it
//!    before it comes); client `i` first tries at that instant plus its seeded
//!    delay, exactly as it would in the parent (see [`super::herd::schedule`]);
//! 3. the child prints one JSON [`ClientRecord`] per client as the client
//!    connects (so the parent sees the last one arrive and ends the run);
//! 4. the parent closes the child's stdin to stop the run: the child prints the
//!    records of the clients still trying, `done N` (records printed), drops its
//!    connections and exits. It also stops by itself after the run's wall-time
//!    cap plus [`CHILD_GRACE`], and when its stdin closes because the parent died.
//!
//! The parent starts children with `kill_on_drop`, so they are killed on every
//! path out of the run, and waits for each step with a timeout: a child that
//! fails, hangs or exits early ends the run with a one-line error naming it and
//! the last line it wrote on stderr.

use super::addr::loopback_addr;
use super::error::LiveError;
use super::herd::{ClientParams, ClientRecord, Clock, Recorder, Split, client, schedule};
use super::limits::{FdReport, WsLimits};
use crate::sim::scenarios::herd::{BackoffPolicy, HerdParams};
use crate::sim::time::SimDuration;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The hidden command a child runs.
pub const CHILD_COMMAND: &str = "__live-herd-clients";

/// Longest a child may take to start and say `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long after its wall-time cap a child stops by itself, and how long the
/// parent waits for children to report and exit once it stops the run.
pub const CHILD_GRACE: Duration = Duration::from_secs(10);

/// What one child process runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildSpec {
    /// The loopback server to connect to.
    pub server: SocketAddr,
    /// First client index (inclusive).
    pub from: u64,
    /// Last client index (exclusive).
    pub to: u64,
    /// The run's seed.
    pub seed: u64,
    /// Spread of first attempts, in nanoseconds of model time.
    pub jitter_ns: u64,
    /// Retry policy (CLI spelling).
    pub backoff: String,
    /// Backoff base, in nanoseconds of model time.
    pub backoff_base_ns: u64,
    /// Backoff cap, in nanoseconds of model time.
    pub backoff_cap_ns: u64,
    /// Longest attempt, in nanoseconds of model time (`None`: never give up).
    pub timeout_ns: Option<u64>,
    /// Model seconds per wall second.
    pub time_scale: f64,
    /// The run's wall-time cap, in milliseconds.
    pub max_wall_ms: u64,
}

impl ChildSpec {
    /// The spec of clients `range` of a run.
    pub(crate) fn new(
        server: SocketAddr,
        p: &HerdParams,
        time_scale: f64,
        seed: u64,
        max_wall: Duration,
        range: Range<u64>,
    ) -> Self {
        Self {
            server,
            from: range.start,
            to: range.end,
            seed,
            jitter_ns: p.jitter.as_nanos(),
            backoff: p.backoff.as_str().to_string(),
            backoff_base_ns: p.backoff_base.as_nanos(),
            backoff_cap_ns: p.backoff_cap.as_nanos(),
            timeout_ns: p.timeout.map(SimDuration::as_nanos),
            time_scale,
            max_wall_ms: u64::try_from(max_wall.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// One running child.
struct Proc {
    range: Range<u64>,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<Lines<BufReader<ChildStdout>>>,
    stderr: Option<JoinHandle<String>>,
    reader: Option<JoinHandle<Result<u64, String>>>,
}

/// The child processes of one run.
pub(crate) struct Children {
    procs: Vec<Proc>,
}

impl Children {
    /// Starts one child per slice of `split.per_child` clients and waits until
    /// each is ready.
    pub(crate) async fn spawn(
        split: &Split,
        template: &ChildSpec,
        clients: u64,
    ) -> Result<Self, LiveError> {
        let mut procs = Vec::new();
        let mut from = 0;
        while from < clients {
            let to = (from + split.per_child).min(clients);
            let spec = ChildSpec {
                from,
                to,
                ..template.clone()
            };
            let json = serde_json::to_string(&spec)
                .map_err(|e| LiveError::Config(format!("cannot describe a client process: {e}")))?;
            let mut child = Command::new(&split.program)
                .arg(CHILD_COMMAND)
                .arg(json)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    LiveError::Config(format!(
                        "cannot start a client process ({}): {e}",
                        split.program.display()
                    ))
                })?;
            let stdout = child.stdout.take().map(|o| BufReader::new(o).lines());
            let stderr = child.stderr.take().map(|mut e| {
                tokio::spawn(async move {
                    // The last few KiB are enough for an error line.
                    let mut all = Vec::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = e.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        all.extend_from_slice(&buf[..n]);
                        if all.len() > 8192 {
                            all.drain(..all.len() - 4096);
                        }
                    }
                    String::from_utf8_lossy(&all).into_owned()
                })
            });
            procs.push(Proc {
                range: from..to,
                stdin: child.stdin.take(),
                child,
                stdout,
                stderr,
                reader: None,
            });
            from = to;
        }
        let mut children = Self { procs };
        let n = children.procs.len();
        for k in 0..n {
            let proc = &mut children.procs[k];
            let line = match proc.stdout.as_mut() {
                Some(lines) => tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await,
                None => Ok(Ok(None)),
            };
            let why = match line {
                Ok(Ok(Some(l))) if l == "ready" => continue,
                Ok(Ok(Some(l))) => format!("said {:?} instead of ready", cut(&l)),
                Ok(Ok(None)) => "exited before it was ready".to_string(),
                Ok(Err(e)) => format!("cannot be read: {e}"),
                Err(_) => format!("was not ready within {} s", READY_TIMEOUT.as_secs()),
            };
            return Err(children.failure(k, &why).await);
        }
        Ok(children)
    }

    /// Gives every child the common start instant and merges what they report
    /// into `rec`; cancels `failed` when a child breaks off.
    pub(crate) async fn go(
        &mut self,
        start: SystemTime,
        rec: Arc<Recorder>,
        failed: CancellationToken,
    ) -> Result<(), LiveError> {
        let nanos = start.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        for k in 0..self.procs.len() {
            let proc = &mut self.procs[k];
            let sent = match proc.stdin.as_mut() {
                Some(stdin) => {
                    let line = format!("go {nanos}\n");
                    match stdin.write_all(line.as_bytes()).await {
                        Ok(()) => stdin.flush().await,
                        Err(e) => Err(e),
                    }
                }
                None => Err(std::io::Error::other("no stdin")),
            };
            if let Err(e) = sent {
                return Err(self.failure(k, &format!("cannot be started: {e}")).await);
            }
            let Some(mut lines) = proc.stdout.take() else {
                continue;
            };
            let (rec, failed) = (rec.clone(), failed.clone());
            proc.reader = Some(tokio::spawn(async move {
                let result = read_records(&mut lines, &rec).await;
                if result.is_err() {
                    failed.cancel();
                }
                result
            }));
        }
        Ok(())
    }

    /// Stops the children (their stdin closes), waits for their last records
    /// and their exit (killing any that take longer than [`CHILD_GRACE`]), and
    /// checks that every client was reported.
    pub(crate) async fn finish(mut self) -> Result<(), LiveError> {
        for proc in &mut self.procs {
            proc.stdin = None;
        }
        let deadline = tokio::time::Instant::now() + CHILD_GRACE;
        let mut first_error = None;
        for k in 0..self.procs.len() {
            let proc = &mut self.procs[k];
            let expected = proc.range.end - proc.range.start;
            let why = match proc.reader.take() {
                Some(reader) => match tokio::time::timeout_at(deadline, reader).await {
                    Ok(Ok(Ok(n))) if n == expected => None,
                    Ok(Ok(Ok(n))) => Some(format!("reported {n} of its {expected} clients")),
                    Ok(Ok(Err(why))) => Some(why),
                    Ok(Err(e)) => Some(format!("could not be read: {e}")),
                    Err(_) => Some(format!(
                        "did not finish within {} s of the stop",
                        CHILD_GRACE.as_secs()
                    )),
                },
                None => Some("was never started".to_string()),
            };
            if tokio::time::timeout_at(deadline, proc.child.wait())
                .await
                .is_err()
            {
                let _ = proc.child.kill().await;
            }
            if let (Some(why), None) = (why, &first_error) {
                first_error = Some(self.failure(k, &why).await);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// A one-line error about child `k`, with the last line it wrote on stderr
    /// (it is killed first when still running).
    async fn failure(&mut self, k: usize, why: &str) -> LiveError {
        let n = self.procs.len();
        let proc = &mut self.procs[k];
        if matches!(proc.child.try_wait(), Ok(None)) {
            let _ = proc.child.kill().await;
        }
        let status = proc.child.try_wait().ok().flatten();
        let stderr = match proc.stderr.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        };
        let said = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {}", cut(l.trim())))
            .or_else(|| status.map(|s| format!(" ({s})")))
            .unwrap_or_default();
        LiveError::Config(format!(
            "client process {} of {n} (clients {}..{}) {why}{said}",
            k + 1,
            proc.range.start,
            proc.range.end
        ))
    }
}

/// At most 200 characters of `s`, on one line.
fn cut(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Merges a child's record lines into `rec` until its `done N`; `Ok(N)`.
async fn read_records(
    lines: &mut Lines<BufReader<ChildStdout>>,
    rec: &Recorder,
) -> Result<u64, String> {
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Some(n) = line.strip_prefix("done ") {
                    return n
                        .trim()
                        .parse()
                        .map_err(|_| format!("ended with {:?}", cut(&line)));
                }
                let record: ClientRecord = serde_json::from_str(&line)
                    .map_err(|e| format!("sent {:?}, not a client record ({e})", cut(&line)))?;
                rec.merge(&record);
            }
            Ok(None) => return Err("exited before reporting all its clients".to_string()),
            Err(e) => return Err(format!("could not be read: {e}")),
        }
    }
}

/// The child's side (`swelearn __live-herd-clients SPEC`): runs the clients of
/// SPEC and reports them on stdout, as described in the module documentation.
pub fn clients_main(spec: &str) -> Result<(), LiveError> {
    let spec: ChildSpec = serde_json::from_str(spec)
        .map_err(|e| LiveError::Config(format!("{CHILD_COMMAND}: bad client spec: {e}")))?;
    loopback_addr(spec.server)?;
    let backoff = BackoffPolicy::parse(&spec.backoff).ok_or_else(|| {
        LiveError::Config(format!("{CHILD_COMMAND}: unknown backoff {}", spec.backoff))
    })?;
    let scale = spec.time_scale;
    if !super::limits::time_scale_ok(scale) || spec.from > spec.to {
        return Err(LiveError::Config(format!(
            "{CHILD_COMMAND}: bad client spec (time scale {scale}, clients {}..{})",
            spec.from, spec.to
        )));
    }
    FdReport::read()?.check(spec.to - spec.from, 1)?;
    let cp = ClientParams {
        backoff,
        backoff_base: SimDuration(spec.backoff_base_ns),
        backoff_cap: SimDuration(spec.backoff_cap_ns),
        timeout: spec.timeout_ns.map(SimDuration),
    };
    let runtime = crate::live::runtime()?;

    // stdin: `go NANOS`, then end of file (or any line) stops the run.
    let stop = CancellationToken::new();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<u128>();
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut line = String::new();
            if stdin.read_line(&mut line).is_ok()
                && let Some(n) = line.trim().strip_prefix("go ").and_then(|n| n.parse().ok())
            {
                let _ = go_tx.send(n);
                line.clear();
                let _ = stdin.read_line(&mut line);
            }
            stop.cancel();
        });
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")
            .and_then(|()| out.flush())
            .map_err(LiveError::Runtime)?;
    }
    // Only now: the writer holds stdout's lock for the rest of the run.
    let (tx, rx) = std::sync::mpsc::channel::<Option<ClientRecord>>();
    let writer = std::thread::spawn(move || write_records(&rx));
    runtime.block_on(async {
        let Ok(start) = go_rx.await else {
            return; // the parent gave up before the start
        };
        let clock = Clock {
            t0: instant_of(start),
            scale,
        };
        let ws = WsLimits::default().config();
        let tasks = TaskTracker::new();
        for (i, first, rng) in schedule(spec.seed, SimDuration(spec.jitter_ns), spec.from..spec.to)
        {
            let tx = tx.clone();
            tasks.spawn(client(
                spec.server,
                cp,
                clock,
                i,
                first,
                rng,
                ws,
                stop.clone(),
                move |r| {
                    let _ = tx.send(Some(r));
                },
            ));
        }
        let cap = Duration::from_millis(spec.max_wall_ms).saturating_add(CHILD_GRACE);
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(clock.t0) + cap) => {}
        }
        stop.cancel();
        tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    });
    let _ = tx.send(None);
    let _ = writer.join();
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Writes records as JSON lines, flushing whenever none is waiting, until
/// `None`; then `done N`.
fn write_records(rx: &std::sync::mpsc::Receiver<Option<ClientRecord>>) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut n = 0u64;
    let mut next = rx.recv().ok().flatten();
    while let Some(r) = next {
        if serde_json::to_writer(&mut out, &r).is_err() || out.write_all(b"\n").is_err() {
            return;
        }
        n += 1;
        next = match rx.try_recv() {
            Ok(r) => r,
            Err(_) => {
                if out.flush().is_err() {
                    return;
                }
                rx.recv().ok().flatten()
            }
        };
    }
    let _ = writeln!(out, "done {n}").and_then(|()| out.flush());
}

/// This process's `Instant` for a wall-clock instant given as nanoseconds since
/// the Unix epoch (the parent's and children's clocks are the same machine's).
fn instant_of(epoch_nanos: u128) -> Instant {
    let target = UNIX_EPOCH + Duration::from_nanos(u64::try_from(epoch_nanos).unwrap_or(u64::MAX));
    let (now_wall, now) = (SystemTime::now(), Instant::now());
    match target.duration_since(now_wall) {
        Ok(ahead) => now + ahead,
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_the_command_line() {
        let p = crate::sim::scenarios::herd::HerdConfig {
            clients: 120,
            timeout_s: None,
            ..Default::default()
        }
        .validate()
        .expect("valid");
        let spec = ChildSpec::new(
            "127.0.0.1:4000".parse().expect("addr"),
            &p,
            2.0,
            7,
            Duration::from_secs(60),
            50..100,
        );
        let json = serde_json::to_string(&spec).expect("json");
        assert_eq!(serde_json::from_str::<ChildSpec>(&json).ok(), Some(spec));
        assert!(clients_main("{").is_err());
    }

    #[test]
    fn a_start_instant_crosses_processes() {
        let ahead = SystemTime::now() + Duration::from_millis(500);
        let nanos = ahead
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        let wait = instant_of(nanos).saturating_duration_since(Instant::now());
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
    }
}
