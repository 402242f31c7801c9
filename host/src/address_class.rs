//! Which addresses are outside the public internet, and the resolver that
//! keeps requests off them: a name may resolve to a private, link-local or
//! loopback address (cloud metadata at 169.254.169.254, a router, a local
//! database, or DNS rebinding), so the check runs on every address a name
//! resolves to, the ones actually connected to.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
use url::Url;

/// The range `ip` falls in when it is not a public internet address; an
/// IPv6 form that embeds an IPv4 address (mapped, compatible, NAT64, 6to4)
/// is judged by the IPv4 address it embeds.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => non_public_v4(ip),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match a {
        0 => "0.0.0.0/8",
        10 => "10.0.0.0/8",
        100 if b & 0xc0 == 64 => "100.64.0.0/10",
        127 => "127.0.0.0/8",
        169 if b == 254 => "169.254.0.0/16",
        172 if b & 0xf0 == 16 => "172.16.0.0/12",
        192 if b == 168 => "192.168.0.0/16",
        _ if ip.is_multicast() => "224.0.0.0/4",
        _ if ip.is_broadcast() => "255.255.255.255",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        Some("::")
    } else if ip.is_loopback() {
        Some("::1")
    } else if let Some(v4) = ip.to_ipv4() {
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d).
        non_public_v4(v4)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        non_public_v4(embedded(s[6], s[7]))
    } else if s[0] == 0x2002 {
        non_public_v4(embedded(s[1], s[2]))
    } else if ip.is_unique_local() {
        Some("fc00::/7")
    } else if ip.is_unicast_link_local() {
        Some("fe80::/10")
    } else if s[0] & 0xffc0 == 0xfec0 {
        // Deprecated site-local, still routed inside some networks.
        Some("fec0::/10")
    } else if ip.is_multicast() {
        Some("ff00::/8")
    } else {
        None
    }
}

/// Resolves names with `inner`, then keeps only public addresses, except for
/// the origins in `trusted` (those the config names, such as the
/// simulator's loopback `base_url`), which may resolve to anything. Address
/// literals skip `inner` and are checked the same way.
#[derive(Debug)]
pub(crate) struct PublicOnlyResolver<R> {
    inner: R,
    trusted: Vec<url::Origin>,
}

impl<R: Resolver> PublicOnlyResolver<R> {
    pub(crate) fn new(inner: R, trusted: Vec<url::Origin>) -> Self {
        Self { inner, trusted }
    }

    fn is_trusted(&self, uri: &Uri) -> bool {
        Url::parse(&uri.to_string()).is_ok_and(|url| self.trusted.contains(&url.origin()))
    }
}

impl<R: Resolver> Resolver for PublicOnlyResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        // An address needs no lookup (the default resolver starts a thread
        // for each one, to bound it by the timeout).
        let resolved = match (literal, uri.port_u16().or_else(|| default_port(uri))) {
            (Ok(ip), Some(port)) => {
                let mut resolved = self.empty();
                resolved.push(SocketAddr::new(ip, port));
                resolved
            }
            _ => self.inner.resolve(uri, config, timeout)?,
        };
        if self.is_trusted(uri) {
            return Ok(resolved);
        }
        let mut kept = self.empty();
        for addr in public_only(host, &resolved).map_err(ureq::Error::Io)? {
            kept.push(addr);
        }
        Ok(kept)
    }
}

fn default_port(uri: &Uri) -> Option<u16> {
    match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    }
}

/// The public addresses of `resolved`; an error (kind `PermissionDenied`,
/// reported to the guest as `denied`) when none is left.
pub(crate) fn public_only(host: &str, resolved: &[SocketAddr]) -> io::Result<Vec<SocketAddr>> {
    let kept: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| non_public_range(a.ip()).is_none())
        .collect();
    if kept.is_empty() {
        let refused: Vec<String> = resolved
            .iter()
            .map(|a| {
                let range = non_public_range(a.ip()).unwrap_or_default();
                format!("{} ({range})", a.ip())
            })
            .collect();
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{host} resolves only to addresses outside the public internet, which the config does not name: {}",
                refused.join(", ")
            ),
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, Transport};

    use super::*;

    fn range(ip: &str) -> Option<&'static str> {
        non_public_range(ip.parse().unwrap())
    }

    /// Each range's first and last address, and the public neighbours
    /// just outside it.
    #[test]
    fn every_ipv4_range_is_refused_to_its_edges() {
        for (inside, expected) in [
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.255.255.255", "0.0.0.0/8"),
            ("10.0.0.0", "10.0.0.0/8"),
            ("10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.0", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.255.255", "127.0.0.0/8"),
            ("169.254.0.0", "169.254.0.0/16"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("169.254.255.255", "169.254.0.0/16"),
            ("172.16.0.0", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.168.0.0", "192.168.0.0/16"),
            ("192.168.255.255", "192.168.0.0/16"),
            ("224.0.0.0", "224.0.0.0/4"),
            ("239.255.255.255", "224.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255"),
        ] {
            assert_eq!(range(inside), Some(expected), "{inside}");
        }
        for outside in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "223.255.255.255",
            "240.0.0.0",
            "255.255.255.254",
            "8.8.8.8",
            "93.184.215.14",
        ] {
            assert_eq!(range(outside), None, "{outside}");
        }
    }

    #[test]
    fn every_ipv6_range_is_refused_to_its_edges() {
        for (inside, expected) in [
            ("::", "::"),
            ("::1", "::1"),
            ("fc00::", "fc00::/7"),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7"),
            ("fe80::", "fe80::/10"),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10"),
            ("fec0::", "fec0::/10"),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::/10"),
            ("ff00::", "ff00::/8"),
            ("ff02::1", "ff00::/8"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8"),
        ] {
            assert_eq!(range(inside), Some(expected), "{inside}");
        }
        for outside in [
            "2001:db8::1",
            "2606:4700::1111",
            "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe00::",
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(range(outside), None, "{outside}");
        }
    }

    #[test]
    fn ipv6_forms_are_judged_by_the_ipv4_they_embed() {
        for (form, expected) in [
            ("::ffff:10.0.0.1", Some("10.0.0.0/8")),
            ("::ffff:127.0.0.1", Some("127.0.0.0/8")),
            ("::ffff:169.254.169.254", Some("169.254.0.0/16")),
            ("::ffff:0.0.0.0", Some("0.0.0.0/8")),
            ("::ffff:8.8.8.8", None),
            ("::10.0.0.1", Some("10.0.0.0/8")),
            ("::192.168.1.1", Some("192.168.0.0/16")),
            ("::0.0.0.2", Some("0.0.0.0/8")),
            ("::8.8.8.8", None),
            ("64:ff9b::10.0.0.1", Some("10.0.0.0/8")),
            ("64:ff9b::169.254.169.254", Some("169.254.0.0/16")),
            ("64:ff9b::127.0.0.1", Some("127.0.0.0/8")),
            ("64:ff9b::8.8.8.8", None),
            // 64:ff9b:1::/48 is not the well-known NAT64 prefix.
            ("64:ff9b:1::a00:1", None),
            ("2002:a00:1::", Some("10.0.0.0/8")),
            ("2002:a9fe:a9fe::1", Some("169.254.0.0/16")),
            ("2002:c0a8:101::", Some("192.168.0.0/16")),
            ("2002:7f00:1::", Some("127.0.0.0/8")),
            ("2002:e000::", Some("224.0.0.0/4")),
            ("2002:808:808::1", None),
        ] {
            assert_eq!(range(form), expected, "{form}");
        }
    }

    /// Answers every name with fixed addresses, as a hostile DNS server
    /// could.
    #[derive(Debug)]
    struct StubResolver(Vec<SocketAddr>);

    impl Resolver for StubResolver {
        fn resolve(
            &self,
            _: &Uri,
            _: &ureq::config::Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            let mut out = self.empty();
            self.0.iter().for_each(|a| out.push(*a));
            Ok(out)
        }
    }

    fn stub(addrs: &[&str]) -> StubResolver {
        StubResolver(addrs.iter().map(|a| a.parse().unwrap()).collect())
    }

    fn resolve(resolver: &impl Resolver, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        let config = ureq::config::Config::default();
        let resolved = resolver.resolve(&uri, &config, NextTimeout::default())?;
        Ok(resolved.iter().copied().collect())
    }

    fn trusted(origins: &[&str]) -> Vec<url::Origin> {
        origins
            .iter()
            .map(|o| Url::parse(o).unwrap().origin())
            .collect()
    }

    #[test]
    fn names_resolving_outside_the_public_internet_are_refused() {
        for addr in [
            "10.0.0.1:443",
            "169.254.169.254:443",
            "[::ffff:10.0.0.1]:443",
        ] {
            let resolver = PublicOnlyResolver::new(stub(&[addr]), vec![]);
            let error = resolve(&resolver, "https://rebind.example/").unwrap_err();
            let ureq::Error::Io(error) = error else {
                panic!("{error}")
            };
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
            assert!(
                error.to_string().contains(
                    "rebind.example resolves only to addresses outside the public internet"
                ),
                "{error}"
            );
        }
        // Mixed answers keep only the public addresses.
        let resolver = PublicOnlyResolver::new(
            stub(&["10.0.0.1:443", "[fe80::1]:443", "93.184.215.14:443"]),
            vec![],
        );
        assert_eq!(
            resolve(&resolver, "https://example.com/").unwrap(),
            ["93.184.215.14:443".parse().unwrap()]
        );
    }

    #[test]
    fn origins_the_config_names_may_resolve_anywhere() {
        let resolver = PublicOnlyResolver::new(
            stub(&["10.0.0.1:443"]),
            trusted(&["https://intercom.corp.example"]),
        );
        assert_eq!(
            resolve(&resolver, "https://intercom.corp.example/me").unwrap(),
            ["10.0.0.1:443".parse().unwrap()]
        );
        // Another port is another origin.
        assert!(resolve(&resolver, "https://intercom.corp.example:8443/me").is_err());
        // Literals skip the lookup and are judged the same way.
        let resolver = PublicOnlyResolver::new(stub(&[]), trusted(&["http://127.0.0.1:4010"]));
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:4010/me").unwrap(),
            ["127.0.0.1:4010".parse().unwrap()]
        );
        for url in [
            "http://127.0.0.1:4011/",
            "https://169.254.169.254/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[64:ff9b::a00:1]/",
        ] {
            assert!(resolve(&resolver, url).is_err(), "{url}");
        }
    }

    /// Counts connection attempts and makes none.
    #[derive(Debug, Clone, Default)]
    struct CountingConnector(Arc<AtomicUsize>);

    impl Connector for CountingConnector {
        type Out = NoTransport;

        fn connect(
            &self,
            _: &ConnectionDetails,
            _: Option<()>,
        ) -> Result<Option<NoTransport>, ureq::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(ureq::Error::ConnectionFailed)
        }
    }

    #[derive(Debug)]
    struct NoTransport;

    impl Transport for NoTransport {
        fn buffers(&mut self) -> &mut dyn Buffers {
            unreachable!("never connected")
        }
        fn transmit_output(&mut self, _: usize, _: NextTimeout) -> Result<(), ureq::Error> {
            unreachable!("never connected")
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, ureq::Error> {
            unreachable!("never connected")
        }
        fn is_open(&mut self) -> bool {
            false
        }
    }

    #[test]
    fn a_refused_name_is_never_connected_to() {
        for metadata in ["169.254.169.254:80", "10.0.0.1:80"] {
            let connects = CountingConnector::default();
            let agent = ureq::Agent::with_parts(
                ureq::Agent::config_builder().proxy(None).build(),
                connects.clone(),
                PublicOnlyResolver::new(stub(&[metadata]), vec![]),
            );
            let error = agent
                .get("http://metadata.example/latest")
                .call()
                .unwrap_err();
            assert!(
                matches!(&error, ureq::Error::Io(e) if e.kind() == io::ErrorKind::PermissionDenied),
                "{error}"
            );
            assert_eq!(connects.0.load(Ordering::SeqCst), 0, "{metadata}");
        }
    }
}
