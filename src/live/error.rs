//! Errors of the live lab: typed variants with the address, limit or value a user
//! needs to act on. `commands::lab` turns them into one-line reports.

use std::net::SocketAddr;

/// Everything that can go wrong when starting or running a loopback server.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A bind address outside the loopback range.
    #[error(
        "refusing to listen on {addr}: the lab binds loopback addresses only \
         (127.0.0.0/8 or ::1), so nothing outside this machine can reach it"
    )]
    NotLoopback {
        /// The address as given.
        addr: String,
    },
    /// A bind address that does not parse.
    #[error("`{input}` is not an IP address (use 127.0.0.1, ::1 or localhost)")]
    BadAddress {
        /// The text as given.
        input: String,
    },
    /// The listening socket could not be created, bound or put in listen mode.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The open-file limit could not be read.
    #[error("cannot read the open-file limit (RLIMIT_NOFILE): {0}")]
    Rlimit(#[source] std::io::Error),
    /// A run needs more file descriptors than the process may open.
    #[error(
        "{wanted} connections need about {needed} file descriptors ({per_conn} per connection \
         plus {headroom} spare), but the open-file limit is {soft} with {in_use} already open; \
         the largest run that fits is {max} connections"
    )]
    FdLimit {
        /// Connections asked for.
        wanted: u64,
        /// Descriptors that would need.
        needed: u64,
        /// Descriptors per connection.
        per_conn: u64,
        /// Descriptors kept spare for files, the listener and the runtime.
        headroom: u64,
        /// The soft RLIMIT_NOFILE.
        soft: u64,
        /// Descriptors open now.
        in_use: u64,
        /// The most connections that fit.
        max: u64,
    },
    /// An `--origin` value that is not a web origin.
    #[error("`{origin}` is not a web origin: {reason} (expected e.g. http://localhost:8000)")]
    BadOrigin {
        /// The value as given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration value out of range.
    #[error("{0}")]
    Config(String),
    /// The tokio runtime or a signal handler could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The Redis broker of a live run cannot be reached or used.
    #[error(
        "cannot use the Redis broker at {url}: {reason} (start one with \
         `redis-server --port 6379 --bind 127.0.0.1`, or use --broker pubsub)"
    )]
    Broker {
        /// The URL as given.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A live run could not set itself up (servers, clients, joins).
    #[error("the live run could not start: {0}")]
    Setup(String),
}
