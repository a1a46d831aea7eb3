//! Who is at the other end of an HTTP request, as far as a node can know: the client's
//! address, and whether the browser reached the city over https.
//!
//! Behind a reverse proxy every connection comes from the proxy, so per-address limits
//! would put every clerk and every citizen in one bucket. A proxy's `X-Forwarded-For`
//! and `X-Forwarded-Proto` are believed only when the connection comes from an address
//! the operator named (`serve --trusted-proxy`): anyone else could write them. The
//! client is then the right-most address of `X-Forwarded-For` that is not itself a
//! trusted proxy (each proxy appends the address it saw; only the ones we trust can be
//! believed about the one before them).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::Http;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies at these addresses or networks.
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|n| n.contains(&addr))
    }

    /// The client behind a connection from `peer` with these headers; `tls` when the
    /// connection itself is TLS.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap, tls: bool) -> Client {
        if !self.trusts(peer) {
            return Client {
                addr: canonical(peer),
                https: tls,
            };
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut addr = canonical(peer);
        for hop in forwarded.iter().rev() {
            let Ok(hop) = hop.parse::<IpAddr>() else {
                // Garbage where an address should be: nothing before it can be believed.
                break;
            };
            addr = canonical(hop);
            if !self.trusts(hop) {
                break;
            }
        }
        let proto = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .next_back();
        Client {
            addr,
            https: tls || proto.is_some_and(|p| p.eq_ignore_ascii_case("https")),
        }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    /// Its address: the peer's, or the one a trusted proxy forwarded.
    pub(crate) addr: IpAddr,
    /// Whether the browser speaks https to us (directly, or to a trusted proxy that
    /// says so): cookies are then `Secure`.
    pub(crate) https: bool,
}

impl FromRequestParts<Http> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(http.proxies.client(peer, &parts.headers, http.tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_a_named_proxy() {
        let proxies = TrustedProxies::new(vec![
            "10.0.0.5/32".parse().unwrap(),
            "192.168.0.0/16".parse().unwrap(),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = headers(&[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        // From anyone else the headers are anyone's words.
        let c = proxies.client(ip("198.51.100.1"), &xff, false);
        assert_eq!(c.addr, ip("198.51.100.1"));
        assert!(!c.https);
        // From the proxy: the right-most address it did not add itself.
        let c = proxies.client(ip("10.0.0.5"), &xff, false);
        assert_eq!(c.addr, ip("198.51.100.7"));
        assert!(c.https);
        // A chain of trusted proxies is walked through.
        let chain = headers(&[("x-forwarded-for", "203.0.113.9, 192.168.1.2")]);
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &chain, false).addr,
            ip("203.0.113.9")
        );
        // A mapped IPv4 peer is the IPv4 proxy.
        let c = proxies.client(ip("::ffff:10.0.0.5"), &xff, false);
        assert_eq!(c.addr, ip("198.51.100.7"));
        // Garbage stops the walk at the last good hop.
        let bad = headers(&[("x-forwarded-for", "203.0.113.9, nonsense")]);
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &bad, false).addr,
            ip("10.0.0.5")
        );
        // Nothing named: nothing believed.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), &xff, true).addr, ip("10.0.0.5"));
        assert!(none.client(ip("10.0.0.5"), &xff, true).https, "TLS itself");
    }
}
