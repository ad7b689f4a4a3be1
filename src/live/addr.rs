//! Loopback-only addresses and listeners: [`loopback_addr`] refuses every address
//! outside 127.0.0.0/8 and ::1, and [`bind`] creates a listener with an explicit
//! accept backlog on such an address. Every server in the lab binds through here.

use super::error::LiveError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpListener, TcpSocket};

/// The accept backlog the lab asks for (the kernel caps it at
/// `net.core.somaxconn`, see [`super::limits::somaxconn`]).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Checks that `addr` is a loopback address (127.0.0.0/8, ::1, or an IPv4-mapped
/// loopback address) and returns it; anything else is [`LiveError::NotLoopback`].
pub fn loopback_addr(addr: SocketAddr) -> Result<SocketAddr, LiveError> {
    if addr.ip().to_canonical().is_loopback() {
        Ok(addr)
    } else {
        Err(LiveError::NotLoopback {
            addr: addr.to_string(),
        })
    }
}

/// Parses a bind IP as a user writes it (`127.0.0.1`, `::1`, `[::1]`, `localhost`)
/// and checks it is loopback. `localhost` means 127.0.0.1 (no name lookup).
pub fn parse_loopback_ip(input: &str) -> Result<IpAddr, LiveError> {
    let text = input.trim();
    let ip = if text.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        bare.parse::<IpAddr>().map_err(|_| LiveError::BadAddress {
            input: input.to_string(),
        })?
    };
    loopback_addr(SocketAddr::new(ip, 0)).map(|a| a.ip())
}

/// Binds a TCP listener on a loopback `addr` with the given accept backlog.
///
/// `SO_REUSEADDR` is set so a restarted server can take its port back while old
/// connections sit in TIME_WAIT (on Linux it never lets two listeners share a port).
pub fn bind(addr: SocketAddr, backlog: u32) -> Result<TcpListener, LiveError> {
    let addr = loopback_addr(addr)?;
    let err = |source| LiveError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(backlog).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_pass() {
        for ok in [
            "127.0.0.1:0",
            "127.1.2.3:80",
            "[::1]:8765",
            "[::ffff:127.0.0.1]:1",
        ] {
            let a: SocketAddr = ok.parse().expect("test address");
            assert!(loopback_addr(a).is_ok(), "{ok}");
        }
        for bad in [
            "0.0.0.0:0",
            "192.168.1.2:80",
            "[::]:0",
            "10.0.0.1:1",
            "8.8.8.8:53",
        ] {
            let a: SocketAddr = bad.parse().expect("test address");
            let err = loopback_addr(a).expect_err(bad).to_string();
            assert!(err.contains("loopback"), "{err}");
        }
    }

    #[test]
    fn bind_ips_parse_as_users_write_them() {
        assert_eq!(
            parse_loopback_ip("localhost").ok(),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert!(parse_loopback_ip("[::1]").is_ok());
        assert!(matches!(
            parse_loopback_ip("0.0.0.0"),
            Err(LiveError::NotLoopback { .. })
        ));
        assert!(matches!(
            parse_loopback_ip("example.com"),
            Err(LiveError::BadAddress { .. })
        ));
    }
}
