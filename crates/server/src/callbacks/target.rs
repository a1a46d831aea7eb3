//! Where callbacks may go, and how hard delivery tries: the operator's [`Policy`]
//! (`onewindow serve --callback-allow …`) and the check of a registered URL against it.
//!
//! Why an allow-list and not "any URL": the server POSTs from inside the city's network,
//! so a URL a caller chooses could reach what no caller should (an internal admin page,
//! a cloud metadata address). Only hosts the operator names are ever called; a URL with
//! a user or password is refused (credentials belong in the signature, not in a URL
//! stored and shown in listings); HTTPS is required unless the operator allows plain
//! HTTP (a department's receiver on the city's own network); and the client follows no
//! redirect, so an allowed host cannot send a delivery elsewhere.

use std::time::Duration;

use tonic::Status;

use crate::status::invalid_argument;

/// The longest callback URL, in characters (the API's free-text bound).
pub const MAX_URL_CHARS: usize = 2000;

/// What the operator allows and how delivery retries.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Hosts callbacks may go to: `host`, `host:port`, `*.domain` or `*.domain:port` (a
    /// pattern without a port allows any port). Empty: no callbacks at all.
    pub allow: Vec<String>,
    /// Plain `http://` URLs are accepted too (else HTTPS only).
    pub allow_http: bool,
    /// Attempts before a delivery's events become dead letters.
    pub attempts: u32,
    /// The wait after the first failure; it doubles at each failure in a row.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// How long a receiver has to answer one delivery.
    pub timeout: Duration,
    /// Deliveries in flight at once per subscription (each carries other projects, so
    /// the order within a project holds).
    pub lanes: usize,
    /// The most events in one delivery.
    pub batch: usize,
}

impl Default for Policy {
    /// No host allowed (the operator opts in); 16 attempts from 1 s doubling up to 10
    /// minutes between them (about an hour before a letter is dead); 10 s to answer.
    fn default() -> Policy {
        Policy {
            allow: Vec::new(),
            allow_http: false,
            attempts: 16,
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            lanes: 4,
            batch: 100,
        }
    }
}

impl Policy {
    /// The wait before the next attempt after `failures` failures in a row: the backoff
    /// doubled per failure, capped, with up to a quarter more of jitter so that the
    /// receivers of a city do not all come back at the same instant.
    pub fn wait_after(&self, failures: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let base = doubled.min(self.backoff_max);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
        base + jitter
    }

    /// Checks the operator's allow-list itself: each entry a host name, an IP address
    /// (IPv6 in brackets), or `*.` and a domain, with an optional `:port`.
    ///
    /// # Errors
    /// The first entry that is none of these, and why.
    pub fn check_allow_list(&self) -> Result<(), String> {
        for p in &self.allow {
            let probe = format!("https://{}/", p.trim().trim_start_matches("*."));
            let parsed = reqwest::Url::parse(&probe)
                .map_err(|e| format!("callback host `{p}` is not a host[:port] ({e})"))?;
            if parsed.path() != "/" || !parsed.username().is_empty() || parsed.query().is_some() {
                return Err(format!("callback host `{p}` is not a host[:port]"));
            }
        }
        Ok(())
    }

    /// Checks a URL a caller registers: parsed, HTTPS (or HTTP where allowed), no
    /// credentials or fragment, its host on the allow-list.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on the `url` field saying which rule it breaks.
    pub fn check(&self, url: &str) -> Result<reqwest::Url, Status> {
        let bad = |why: String| invalid_argument(format!("url: {why}"));
        if url.is_empty() {
            return Err(bad("required".into()));
        }
        let chars = url.chars().count();
        if chars > MAX_URL_CHARS {
            return Err(bad(format!(
                "{chars} characters; a callback URL has at most {MAX_URL_CHARS}"
            )));
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            bad(format!(
                "{} is not a URL ({e}): give `https://host/path`",
                crate::input::quoted(url)
            ))
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(bad(
                    "must be https:// (this server does not send callbacks over plain HTTP)".into(),
                ))
            }
            other => {
                return Err(bad(format!(
                    "scheme {} is not allowed: https:// only",
                    crate::input::quoted(other)
                )))
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "must not carry a user or password: deliveries are signed with the subscription's secret instead".into(),
            ));
        }
        if parsed.fragment().is_some() {
            return Err(bad("must not have a fragment (`#…`)".into()));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("has no host".into()))?
            .to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(443);
        if self.allow.is_empty() {
            return Err(bad(
                "this server sends no callbacks: its operator has allowed no host (`serve --callback-allow`)".into(),
            ));
        }
        if !self.allow.iter().any(|p| allows(p, &host, port)) {
            return Err(bad(format!(
                "host {} is not on the operator's allow-list of callback hosts",
                crate::input::quoted(&format!("{host}:{port}"))
            )));
        }
        Ok(parsed)
    }
}

/// Whether an allow-list `pattern` admits `host` (lower case, as the URL parser gives
/// it; an IPv6 address in brackets) on `port`.
fn allows(pattern: &str, host: &str, port: u16) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    // `host:port`, but an IPv6 address's own colons are inside brackets.
    let (name, want_port) = match pattern.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && (n.starts_with('[') || !n.contains(':')) => {
            match p.parse::<u16>() {
                Ok(p) => (n.to_string(), Some(p)),
                Err(_) => return false,
            }
        }
        _ => (pattern.clone(), None),
    };
    if want_port.is_some_and(|p| p != port) {
        return false;
    }
    match name.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => host == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], http: bool) -> Policy {
        Policy {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            allow_http: http,
            ..Policy::default()
        }
    }

    fn refused(p: &Policy, url: &str) -> String {
        p.check(url).expect_err(url).message().to_string()
    }

    #[test]
    fn only_the_operators_hosts_over_https_without_credentials() {
        let p = policy(
            &["hooks.fire.gov.cn", "*.dept.example:8443", "127.0.0.1:9000"],
            false,
        );
        assert!(p.check("https://hooks.fire.gov.cn/onewindow").is_ok());
        assert!(p.check("https://HOOKS.fire.gov.cn:444/x").is_ok());
        assert!(p.check("https://a.dept.example:8443/x").is_ok());
        assert!(refused(&p, "https://dept.example:8443/x").contains("allow-list"));
        assert!(refused(&p, "https://a.dept.example/x").contains("allow-list"));
        assert!(refused(&p, "https://evil.example/x").contains("allow-list"));
        assert!(refused(&p, "https://hooks.fire.gov.cn.evil.example/x").contains("allow-list"));
        assert!(refused(&p, "http://hooks.fire.gov.cn/x").contains("https"));
        assert!(refused(&p, "https://u:pw@hooks.fire.gov.cn/x").contains("user or password"));
        assert!(refused(&p, "https://u@hooks.fire.gov.cn/x").contains("user or password"));
        assert!(refused(&p, "ftp://hooks.fire.gov.cn/x").contains("scheme"));
        assert!(refused(&p, "not a url").contains("not a URL"));
        assert!(refused(&p, "https://hooks.fire.gov.cn/x#y").contains("fragment"));
        assert!(refused(
            &p,
            &format!("https://hooks.fire.gov.cn/{}", "a".repeat(2000))
        )
        .contains("at most"));
        let local = policy(&["127.0.0.1:9000"], true);
        assert!(local.check("http://127.0.0.1:9000/in").is_ok());
        assert!(refused(&local, "http://127.0.0.1:9001/in").contains("allow-list"));
        assert!(refused(&policy(&[], true), "http://127.0.0.1:9000/in").contains("allowed no host"));
    }

    #[test]
    fn the_operators_list_is_checked() {
        assert!(policy(
            &[
                "hooks.example",
                "*.dept.example:8443",
                "127.0.0.1:9000",
                "[::1]:9"
            ],
            false
        )
        .check_allow_list()
        .is_ok());
        for bad in [
            "https://hooks.example",
            "hooks.example/path",
            "a b",
            "host:port",
            "u@host",
        ] {
            assert!(policy(&[bad], false).check_allow_list().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_wait_doubles_and_is_capped() {
        let p = Policy {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..Policy::default()
        };
        let within = |d: Duration, lo: u64| {
            d >= Duration::from_millis(lo) && d <= Duration::from_millis(lo + lo / 4)
        };
        assert!(within(p.wait_after(1), 100));
        assert!(within(p.wait_after(2), 200));
        assert!(within(p.wait_after(4), 800));
        assert!(within(p.wait_after(9), 1000));
        assert!(within(p.wait_after(400), 1000));
    }
}
