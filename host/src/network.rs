//! Which origins a guest may reach: those the component declares for its
//! config that the operator's grant includes, https only, and loopback only
//! when the config names it.

use std::net::IpAddr;

use url::Url;
use wasmtime::{Result, bail};

/// What the embedder (the operator) lets a component reach. There is no
/// implicit allow-all: trusting the declaration is an explicit choice.
#[derive(Clone, Debug)]
pub enum NetworkGrant {
    /// These origins at most; a declared origin outside them ends the run.
    Origins(Vec<url::Origin>),
    /// Whatever the component declares (still vetted by the network rule).
    Declared,
}

impl NetworkGrant {
    fn includes(&self, origin: &url::Origin) -> bool {
        match self {
            NetworkGrant::Origins(granted) => granted.contains(origin),
            NetworkGrant::Declared => true,
        }
    }
}

/// The origins a guest may send requests to.
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    origins: Vec<url::Origin>,
    /// The admitted origins the config names: only they may resolve to
    /// addresses outside the public internet ([`crate::address_class`]).
    named: Vec<url::Origin>,
}

impl NetworkPolicy {
    /// No network at all, for calls that need none.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Admits the origins the component declared for `config`, each of
    /// which must be in `grant`: https ones, and loopback ones (http or
    /// https) only when the config itself names that origin, so a component
    /// cannot reach local services on its own.
    pub fn new(grant: &NetworkGrant, declared: &[String], config: &str) -> Result<Self> {
        let named = origins_named_in(config);
        let mut origins = Vec::new();
        for text in declared {
            let url = match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => url,
                _ => bail!("the component declared `{text}`, which is not an http(s) origin"),
            };
            let origin = url.origin();
            if !grant.includes(&origin) {
                bail!(
                    "the component declared `{}`, which the operator's grant does not include",
                    origin.ascii_serialization()
                );
            }
            if is_local_host(&url) {
                if !named.contains(&origin) {
                    bail!(
                        "the component declared loopback origin `{text}`, which the config does not name"
                    );
                }
            } else if url.scheme() != "https" {
                bail!("the component declared `{text}`: plain http is allowed only to loopback");
            }
            origins.push(origin);
        }
        let named = origins.iter().filter(|o| named.contains(o)).cloned();
        Ok(Self {
            named: named.collect(),
            origins,
        })
    }

    /// The parsed URL when the policy admits it; else why not.
    pub fn admit(&self, url: &str) -> std::result::Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| format!("malformed URL: {e}"))?;
        if self.origins.contains(&parsed.origin()) {
            Ok(parsed)
        } else {
            Err(format!(
                "origin {} is not in the allow-list",
                parsed.origin().ascii_serialization()
            ))
        }
    }

    /// The admitted origins that may reach private and local addresses.
    pub(crate) fn named(&self) -> &[url::Origin] {
        &self.named
    }

    pub fn origins(&self) -> Vec<String> {
        self.origins
            .iter()
            .map(|o| o.ascii_serialization())
            .collect()
    }
}

/// Whether `url` names this machine: `localhost` (and `*.localhost`, RFC
/// 6761), a loopback address (IPv4-mapped too), or the unspecified address,
/// which connects to this machine as well.
fn is_local_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_local_address(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_local_address(IpAddr::V6(ip)),
        None => false,
    }
}

/// A loopback or unspecified address, IPv4-mapped IPv6 included.
fn is_local_address(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

/// Origins of every URL-shaped string value anywhere in the config.
pub(crate) fn origins_named_in(config: &str) -> Vec<url::Origin> {
    fn walk(value: &serde_json::Value, out: &mut Vec<url::Origin>) {
        match value {
            serde_json::Value::String(s) => {
                if let Ok(url) = Url::parse(s) {
                    out.push(url.origin());
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str(config) {
        walk(&value, &mut out);
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    fn declared(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn https_origins_are_admitted_and_nothing_else() {
        let policy = NetworkPolicy::new(
            &NetworkGrant::Declared,
            &declared(&["https://api.intercom.io"]),
            "{}",
        )
        .unwrap();
        assert!(policy.admit("https://api.intercom.io/admins?x=1").is_ok());
        let refused = policy.admit("https://evil.example/").unwrap_err();
        assert!(refused.contains("not in the allow-list"), "{refused}");
        assert!(policy.admit("http://api.intercom.io/admins").is_err());
        assert!(policy.admit("not a url").unwrap_err().contains("malformed"));
    }

    #[test]
    fn a_declared_origin_outside_the_grant_is_refused() {
        let granted = |list: &[&str]| {
            NetworkGrant::Origins(
                list.iter()
                    .map(|o| Url::parse(o).unwrap().origin())
                    .collect(),
            )
        };
        let grant = granted(&["https://api.intercom.io", "https://api.eu.intercom.io"]);
        let policy =
            NetworkPolicy::new(&grant, &declared(&["https://api.intercom.io"]), "{}").unwrap();
        // The intersection: granted but undeclared stays out.
        assert_eq!(policy.origins(), ["https://api.intercom.io"]);
        let e = NetworkPolicy::new(
            &grant,
            &declared(&["https://api.intercom.io", "https://evil.example"]),
            "{}",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the component declared `https://evil.example`, which the operator's grant does not include"
        );
        let e = NetworkPolicy::new(&granted(&[]), &declared(&["https://api.intercom.io"]), "{}")
            .unwrap_err();
        assert!(e.to_string().contains("grant does not include"), "{e}");
    }

    #[test]
    fn loopback_only_when_the_config_names_it() {
        let config = r#"{"base_url":"http://127.0.0.1:4010/"}"#;
        let policy = NetworkPolicy::new(
            &NetworkGrant::Declared,
            &declared(&["http://127.0.0.1:4010"]),
            config,
        )
        .unwrap();
        assert!(policy.admit("http://127.0.0.1:4010/me").is_ok());
        assert!(policy.admit("http://127.0.0.1:4011/me").is_err());
        let e = NetworkPolicy::new(
            &NetworkGrant::Declared,
            &declared(&["http://127.0.0.1:22"]),
            config,
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not name"), "{e}");
        let e = NetworkPolicy::new(
            &NetworkGrant::Declared,
            &declared(&["http://example.com"]),
            "{}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        let e = NetworkPolicy::new(
            &NetworkGrant::Declared,
            &declared(&["file:///etc/passwd"]),
            "{}",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an http(s) origin"), "{e}");
    }

    #[test]
    fn every_spelling_of_this_machine_needs_the_config() {
        for origin in [
            "https://0.0.0.0:4010",
            "https://[::]:4010",
            "https://[::ffff:127.0.0.1]:4010",
            "https://127.1:4010",
            "https://localhost.:4010",
            "https://api.localhost",
        ] {
            let e = NetworkPolicy::new(&NetworkGrant::Declared, &declared(&[origin]), "{}")
                .unwrap_err();
            assert!(e.to_string().contains("does not name"), "{origin}: {e}");
        }
    }
}
