//! The live lab: real servers and clients on loopback, built on tokio.
//!
//! - [`addr`]: loopback-only bind addresses and listeners with an explicit backlog
//! - [`limits`]: WebSocket buffer and message limits, the open-file limit report
//! - [`server`]: [`server::run`] — accept loop, connection limit, clean shutdown
//! - [`http`]: axum routes for short poll, long poll, SSE and publish
//! - [`ws`]: the WebSocket handshake (with the Origin check), echo and chat sessions
//! - [`feed`]: the numbered event log behind the HTTP endpoints
//! - [`herd`]: the thundering herd run for real, filling the model's `Report`
//! - [`herd_split`]: the live herd's clients in child processes, past one process's fd limit
//! - [`calibrate`]: a short burst measuring this machine's handshake cost
//! - [`versus`]: the live herd and the model side by side (`--compare-model`)
//! - [`balance`]: backends behind a load-balancing proxy, sessions and a failure, for real
//! - [`racer`]: short poll, long poll, SSE and WebSocket clients on one feed, for real
//! - [`counted`]: a stream wrapper that counts the bytes on the wire
//! - [`chat`]: chat rooms over broadcast channels
//! - [`backpressure`]: a producer and slow consumers for real, filling the model's `Report`
//! - [`heartbeat`]: pings, pongs and silent peers for real, filling the model's `Report`
//! - [`sockets`]: small explicit socket buffers and a byte-counting stream
//! - [`measure`]: series bins, latency histograms and resident memory for live reports
//! - [`chat_run`]: distributed chat run for real (servers, clients, broker), filling the model's `Report`
//! - [`origin`]: the WebSocket Origin allow-list
//! - [`error`]: the error type, [`LiveError`]
//!
//! Everything here binds 127.0.0.0/8 or ::1 only, and every task it spawns stops
//! when its server's shutdown future completes.

pub mod addr;
pub mod backpressure;
pub mod balance;
pub mod calibrate;
pub mod chat;
pub mod chat_run;
pub mod counted;
pub mod error;
pub mod feed;
pub mod heartbeat;
pub mod herd;
pub mod herd_split;
mod http;
pub mod limits;
pub mod measure;
pub mod origin;
pub mod racer;
pub mod server;
pub mod sockets;
pub mod versus;
mod ws;

pub use addr::{bind, loopback_addr};
pub use error::LiveError;
pub use limits::{FdReport, WsLimits};
pub use origin::OriginPolicy;
pub use server::{ServeSummary, ServerConfig, run};

/// The tokio runtime a live run drives its servers and clients on: two worker
/// threads (the machines this runs on have two cores), with I/O and timers.
pub fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)
}
