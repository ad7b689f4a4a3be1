//! The limits every lab run lives within: WebSocket buffer and message sizes
//! ([`WsLimits`], handed to tungstenite), and the operating system's caps — the
//! open-file limit ([`FdReport`], read with the `rlimit` crate) and the accept
//! backlog cap ([`somaxconn`]). Runners size themselves from these and refuse runs
//! that cannot fit.

use super::error::LiveError;
use std::fmt;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// One kibibyte, in bytes.
pub const KIB: usize = 1024;

/// Buffer and message limits of one WebSocket connection.
///
/// tungstenite's defaults (128 KiB read and write buffers, 64 MiB messages) suit
/// a few fast connections; the lab holds thousands of mostly idle ones, so it uses
/// buffers of the 4 KiB class and small messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Read buffer, allocated up front per connection, in bytes.
    pub read_buffer: usize,
    /// Bytes gathered before a write reaches the socket, in bytes.
    pub write_buffer: usize,
    /// Most bytes queued for a peer that does not read; past it a send fails.
    pub max_write_buffer: usize,
    /// Largest incoming message, in bytes; larger ones are closed with 1009.
    pub max_message: usize,
    /// Largest incoming frame payload, in bytes.
    pub max_frame: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            read_buffer: 4 * KIB,
            write_buffer: 4 * KIB,
            max_write_buffer: 256 * KIB,
            max_message: 64 * KIB,
            max_frame: 64 * KIB,
        }
    }
}

impl WsLimits {
    /// The same limits with a different largest message (and frame) size.
    pub fn with_max_message(self, bytes: usize) -> Self {
        Self {
            max_message: bytes,
            max_frame: bytes,
            // tungstenite needs room for the write buffer plus one whole message.
            max_write_buffer: self.max_write_buffer.max(self.write_buffer + 2 * bytes),
            ..self
        }
    }

    /// The tungstenite configuration these limits describe.
    pub fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer)
            .write_buffer_size(self.write_buffer)
            .max_write_buffer_size(self.max_write_buffer)
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_frame))
    }
}

/// Descriptors kept free for the listener, the runtime, stdio and files.
pub const FD_HEADROOM: u64 = 256;

/// The process's open-file limit and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdReport {
    /// The soft RLIMIT_NOFILE: the limit in force.
    pub soft: u64,
    /// The hard RLIMIT_NOFILE: the most the soft limit can be raised to.
    pub hard: u64,
    /// Descriptors open when the report was taken (0 where it cannot be counted).
    pub in_use: u64,
}

impl FdReport {
    /// Reads the limit, first raising the soft limit to the hard one when it is
    /// lower (a process may do that without privileges).
    pub fn read() -> Result<Self, LiveError> {
        let (soft, hard) =
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(LiveError::Rlimit)?;
        let soft = if soft < hard {
            rlimit::increase_nofile_limit(hard).unwrap_or(soft)
        } else {
            soft
        };
        Ok(Self {
            soft,
            hard,
            in_use: open_fds(),
        })
    }

    /// The most connections that fit when each takes `per_conn` descriptors (2 on
    /// loopback when the clients live in this process, 1 when they are outside).
    pub fn max_connections(&self, per_conn: u64) -> u64 {
        self.soft.saturating_sub(self.in_use + FD_HEADROOM) / per_conn.max(1)
    }

    /// Refuses `wanted` connections of `per_conn` descriptors each when they do not
    /// fit, naming the largest run that does.
    pub fn check(&self, wanted: u64, per_conn: u64) -> Result<(), LiveError> {
        let max = self.max_connections(per_conn);
        if wanted <= max {
            return Ok(());
        }
        Err(LiveError::FdLimit {
            wanted,
            needed: wanted.saturating_mul(per_conn.max(1)) + FD_HEADROOM,
            per_conn,
            headroom: FD_HEADROOM,
            soft: self.soft,
            in_use: self.in_use,
            max,
        })
    }
}

impl fmt::Display for FdReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raise = if self.soft >= self.hard {
            "cannot be raised"
        } else {
            "soft limit"
        };
        write!(
            f,
            "open-file limit {} ({raise}; hard {}), {} open: room for {} connections from \
             outside (1 fd each) or {} with in-process clients (2 fds each), {} kept spare",
            self.soft,
            self.hard,
            self.in_use,
            self.max_connections(1),
            self.max_connections(2),
            FD_HEADROOM
        )
    }
}

/// Descriptors this process has open (Linux: entries of /proc/self/fd; 0 elsewhere).
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count() as u64)
        .unwrap_or(0)
}

/// The kernel's cap on any listener's accept backlog (`net.core.somaxconn`), when
/// it can be read.
pub fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Whether `scale` is a usable `--time-scale` (finite, 0.001 to 10,000).
pub fn time_scale_ok(scale: f64) -> bool {
    scale.is_finite() && (0.001..=10_000.0).contains(&scale)
}

/// Refuses a `--time-scale` outside 0.001 to 10,000 with a one-line error.
pub fn check_time_scale(scale: f64) -> Result<(), super::LiveError> {
    if time_scale_ok(scale) {
        Ok(())
    } else {
        Err(super::LiveError::Config(format!(
            "--time-scale {scale} is out of range (0.001 to 10000)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_run_that_fits_is_named() {
        let r = FdReport {
            soft: 20_000,
            hard: 20_000,
            in_use: 44,
        };
        assert_eq!(r.max_connections(2), (20_000 - 44 - FD_HEADROOM) / 2);
        assert!(r.check(9_000, 2).is_ok());
        let err = r.check(10_000, 2).expect_err("too many");
        match err {
            LiveError::FdLimit { max, needed, .. } => {
                assert_eq!(max, 9_850);
                assert_eq!(needed, 20_256);
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("largest run that fits is 9850"));
        assert!(r.to_string().contains("cannot be raised"));
    }

    #[test]
    fn this_process_limit_can_be_read() {
        let r = FdReport::read().expect("rlimit");
        assert!(r.soft > 0 && r.soft <= r.hard);
        assert!(r.in_use > 0, "stdio at least");
    }

    #[test]
    fn small_messages_keep_a_write_buffer_that_fits_one() {
        let l = WsLimits::default().with_max_message(1024);
        assert_eq!(l.max_frame, 1024);
        assert!(l.max_write_buffer > l.write_buffer + l.max_message);
        let c = l.config();
        assert_eq!(c.read_buffer_size, 4 * KIB);
        assert_eq!(c.max_message_size, Some(1024));
    }
}
