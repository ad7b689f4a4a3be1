//! The live lab: real servers and clients on loopback, built on tokio.
//!
//! - [`addr`]: loopback-only bind addresses and listeners with an explicit backlog
//! - [`limits`]: WebSocket buffer and message limits, the open-file limit report
//! - [`server`]: [`server::run`] — accept loop, connection limit, clean shutdown
//! - [`http`]: axum routes for short poll, long poll, SSE and publish
//! - [`ws`]: the WebSocket handshake (with the Origin check), echo and chat sessions
//! - [`feed`]: the numbered event log behind the HTTP endpoints
//! - [`herd`]: the thundering herd run for real, filling the model's `Report`
//! - [`chat`]: chat rooms over broadcast channels
//! - [`chat_run`]: distributed chat run for real (servers, clients, broker), filling the model's `Report`
//! - [`origin`]: the WebSocket Origin allow-list
//! - [`error`]: the error type, [`LiveError`]
//!
//! Everything here binds 127.0.0.0/8 or ::1 only, and every task it spawns stops
//! when its server's shutdown future completes.

pub mod addr;
pub mod chat;
pub mod chat_run;
pub mod error;
pub mod feed;
pub mod herd;
mod http;
pub mod limits;
pub mod origin;
pub mod server;
mod ws;

pub use addr::{bind, loopback_addr};
pub use error::LiveError;
pub use limits::{FdReport, WsLimits};
pub use origin::OriginPolicy;
pub use server::{ServeSummary, ServerConfig, run};
