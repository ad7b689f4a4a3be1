//! The WebSocket handshake's Origin allow-list.
//!
//! Browsers send `Origin` on every WebSocket handshake and let any page connect
//! anywhere, so a server that trusts cookies must check it (cross-site WebSocket
//! hijacking). With an empty list every origin is allowed. With a list, a browser
//! handshake from another origin is refused with 403; a handshake without `Origin`
//! comes from a non-browser client (websocat, Python), which could send any origin
//! it likes, so it is let through. The server's own origins are always allowed so
//! its page keeps working.

use super::error::LiveError;
use std::net::SocketAddr;

/// Which origins may open WebSockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Every origin is allowed.
    pub fn any() -> Self {
        Self::default()
    }

    /// Only these origins (each like `http://localhost:8000`) are allowed.
    pub fn only<S: AsRef<str>>(origins: &[S]) -> Result<Self, LiveError> {
        let allowed = origins
            .iter()
            .map(|o| parse_origin(o.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allowed })
    }

    /// True when no list is set.
    pub fn is_any(&self) -> bool {
        self.allowed.is_empty()
    }

    /// The allowed origins, normalised.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// The same policy, with the server's own origins added when a list is set.
    pub fn with_own(mut self, local: SocketAddr) -> Self {
        if self.is_any() {
            return self;
        }
        let port = local.port();
        let own = [
            format!("http://{local}"),
            format!("http://localhost:{port}"),
        ];
        for o in own {
            if !self.allowed.contains(&o) {
                self.allowed.push(o);
            }
        }
        self
    }

    /// Whether a handshake with this `Origin` header value may proceed.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            _ if self.is_any() => true,
            None => true,
            Some(o) => {
                let o = normalise(o);
                self.allowed.contains(&o)
            }
        }
    }
}

/// Lower-cases an origin and drops a trailing `/`.
fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Checks and normalises one `--origin` value.
pub fn parse_origin(origin: &str) -> Result<String, LiveError> {
    let bad = |reason| LiveError::BadOrigin {
        origin: origin.to_string(),
        reason,
    };
    let o = normalise(origin);
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .ok_or_else(|| bad("it must start with http:// or https://"))?;
    if rest.is_empty() {
        return Err(bad("the host is missing"));
    }
    if rest.contains(['/', '?', '#']) || rest.contains(char::is_whitespace) {
        return Err(bad("an origin has no path, query or spaces"));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_allow_their_origins_and_non_browser_clients() {
        let p = OriginPolicy::only(&["http://Localhost:8000/"]).expect("origin");
        assert!(p.allows(Some("http://localhost:8000")));
        assert!(!p.allows(Some("http://evil.example")));
        assert!(!p.allows(Some("null")));
        assert!(p.allows(None));
        assert!(OriginPolicy::any().allows(Some("http://evil.example")));
        let own = p.with_own("127.0.0.1:9000".parse().expect("addr"));
        assert!(own.allows(Some("http://127.0.0.1:9000")));
        assert!(own.allows(Some("http://localhost:9000")));
    }

    #[test]
    fn origins_are_checked() {
        assert!(parse_origin("localhost:8000").is_err());
        assert!(parse_origin("http://x/path").is_err());
        assert!(parse_origin("https://").is_err());
        assert_eq!(
            parse_origin("HTTPS://Example.com").ok().as_deref(),
            Some("https://example.com")
        );
    }
}
