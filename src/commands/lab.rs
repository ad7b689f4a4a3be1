//! `swelearn lab serve`: starts [`crate::live::run`] on a loopback port, prints
//! every endpoint with a one-line example per client, and serves until Ctrl-C or
//! SIGTERM, then reports what it served and whether every task stopped.

use crate::cli::LabServeArgs;
use crate::live::{self, FdReport, LiveError, OriginPolicy, ServerConfig, WsLimits};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Connections `lab serve` allows when `--max-connections` is not given, if the
/// open-file limit allows that many.
const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

/// Runs `lab serve`.
pub fn serve(args: &LabServeArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let ip = live::addr::parse_loopback_ip(&args.bind)?;
    let fds = FdReport::read()?;
    // Clients are other processes: one descriptor per connection here.
    let max_connections = match args.max_connections {
        Some(n) => {
            fds.check(n, 1)?;
            n
        }
        None => fds.max_connections(1).min(DEFAULT_MAX_CONNECTIONS),
    };
    let origins = OriginPolicy::only(&args.origins)?;
    let config = ServerConfig {
        ws: WsLimits::default().with_max_message(args.max_message_kib as usize * 1024),
        origins,
        max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
        long_poll_hold: Duration::from_secs_f64(args.hold),
        tick: (args.tick > 0.0).then(|| Duration::from_secs_f64(args.tick)),
        ..ServerConfig::default()
    };
    config.validate()?;

    let runtime = crate::live::runtime()?;
    let summary = runtime.block_on(async {
        // Signal handlers go in before the URL is printed, so a client that reads
        // it and sends SIGINT at once still gets a clean stop.
        let stop = stop_signal()?;
        let addr = SocketAddr::new(ip, args.port);
        let listener = live::bind(addr, live::addr::DEFAULT_BACKLOG).map_err(|e| match e {
            LiveError::Bind { ref source, .. }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                anyhow::Error::new(e).context(format!(
                    "port {} is in use (another `swelearn lab serve`?); choose one with --port, \
                     or --port 0 for any free port",
                    args.port
                ))
            }
            e => e.into(),
        })?;
        let local = listener
            .local_addr()
            .context("cannot read the bound address")?;
        banner(out, local, &config, &fds).context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
        anyhow::Ok(live::run(listener, config.clone(), stop).await?)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));

    writeln!(
        out,
        "stopped: served {} connection{} ({} WebSocket session{}), {} feed event{}",
        summary.connections,
        plural(summary.connections),
        summary.ws_sessions,
        plural(summary.ws_sessions),
        summary.events,
        plural(summary.events),
    )?;
    if summary.unfinished > 0 {
        writeln!(
            out,
            "{} task{} did not finish within {} s and were dropped",
            summary.unfinished,
            plural(summary.unfinished as u64),
            config.grace.as_secs()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed by this
/// call, not on first poll.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, LiveError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).map_err(LiveError::Runtime)?;
        let mut term = signal(SignalKind::terminate()).map_err(LiveError::Runtime)?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The endpoints, limits and one example per client.
fn banner(
    out: &mut dyn Write,
    addr: SocketAddr,
    cfg: &ServerConfig,
    fds: &FdReport,
) -> std::io::Result<()> {
    let http = format!("http://{addr}");
    let ws = format!("ws://{addr}");
    writeln!(out, "swelearn lab: serving on {http} (loopback only)")?;
    writeln!(out)?;
    writeln!(out, "  WebSocket echo  {ws}/ws/echo")?;
    writeln!(out, "  WebSocket chat  {ws}/ws/chat/ROOM?name=NAME")?;
    writeln!(out, "  WebSocket feed  {ws}/ws/feed")?;
    writeln!(out, "  SSE stream      {http}/sse")?;
    writeln!(out, "  short poll      {http}/poll?since=0")?;
    writeln!(out, "  long poll       {http}/longpoll?since=0")?;
    writeln!(out, "  publish         POST {http}/publish")?;
    writeln!(out)?;
    writeln!(out, "Try (in another terminal):")?;
    writeln!(out, "  websocat {ws}/ws/echo")?;
    writeln!(out, "  wscat -c '{ws}/ws/chat/lobby?name=ann'")?;
    writeln!(out, "  curl -N {http}/sse")?;
    writeln!(out, "  curl -d 'hello' {http}/publish")?;
    writeln!(out, "  curl '{http}/longpoll?since=0&timeout=10'")?;
    writeln!(
        out,
        "  python3 -m websockets {ws}/ws/echo        (pip install websockets)"
    )?;
    writeln!(out)?;
    let l = &cfg.ws;
    writeln!(
        out,
        "Limits: {} connections at once, accept backlog {}{}; WebSocket buffers {} KiB read / {} KiB write, messages up to {} KiB (larger: close 1009)",
        cfg.max_connections,
        live::addr::DEFAULT_BACKLOG,
        live::limits::somaxconn()
            .filter(|&m| m < live::addr::DEFAULT_BACKLOG)
            .map(|m| format!(" (capped to {m} by net.core.somaxconn)"))
            .unwrap_or_default(),
        l.read_buffer / 1024,
        l.write_buffer / 1024,
        l.max_message / 1024,
    )?;
    writeln!(out, "Files: {fds}")?;
    if cfg.origins.is_any() {
        writeln!(
            out,
            "Origins: any page may open WebSockets (--origin to restrict)"
        )?;
    } else {
        writeln!(
            out,
            "Origins: WebSockets only from {} (and clients that send no Origin)",
            cfg.origins.clone().with_own(addr).allowed().join(", ")
        )?;
    }
    writeln!(out, "Ctrl-C stops the server.")?;
    Ok(())
}
