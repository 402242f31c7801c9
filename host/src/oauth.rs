//! Intercom's OAuth authorization-code flow, for `intercom-connector auth`:
//! send the user to the authorize URL with a random `state`, receive the
//! redirect on a loopback listener (or have the user paste the code or the
//! redirected URL, for apps whose redirect URL must be HTTPS), exchange the code at
//! `/auth/eagle/token`, and store the access token in the config file.
//! Intercom's tokens do not expire and come without a refresh token, so the
//! stored token is used exactly like one copied from the Developer Hub.

use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use url::Url;

use crate::error::{Document, Error};

/// Where Intercom shows the user the consent page, in every region.
pub const AUTHORIZE_URL: &str = "https://app.intercom.com/oauth";

/// Token endpoint path, below the API host of the app's region.
pub const TOKEN_PATH: &str = "/auth/eagle/token";

/// Listener port when neither `--port` nor a loopback `--redirect-uri` names one.
pub const DEFAULT_PORT: u16 = 8976;

/// Path of the default redirect URI `http://127.0.0.1:<port>/callback`.
const DEFAULT_CALLBACK: &str = "/callback";

/// How long one exchange with the token endpoint may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The request head a browser sends is a few hundred bytes; more is not a redirect.
const MAX_HEAD: usize = 16 * 1024;

/// Everything the flow needs. `client_secret` is only ever sent to the token
/// endpoint.
pub struct Options {
    pub client_id: String,
    pub client_secret: String,
    /// The consent page (default [`AUTHORIZE_URL`]).
    pub authorize_url: Option<Url>,
    /// The token endpoint (default: on the config's `base_url`, else on the
    /// origin the component declares for the config).
    pub token_url: Option<Url>,
    /// Sent as `redirect_uri`; must match one registered in the app (default
    /// `http://127.0.0.1:<port>/callback`). Its path is the one the listener
    /// answers.
    pub redirect_uri: Option<Url>,
    /// Port of the 127.0.0.1 listener; 0 picks a free one. Default: the
    /// redirect URI's port when it is a loopback URL, else [`DEFAULT_PORT`].
    pub port: Option<u16>,
    /// Deadline for the whole wait for the browser's redirect.
    pub timeout: Duration,
    /// No listener: the user pastes the code or the redirected URL
    /// ([`Pending::finish_pasted`]); `redirect_uri` is then required.
    pub paste: bool,
}

/// A flow waiting for the browser: the listener is bound and the authorize
/// URL (with its `state`) is ready to show.
pub struct Pending {
    /// None when the user pastes the redirect instead.
    listener: Option<TcpListener>,
    authorize_url: Url,
    redirect_uri: Url,
    state: String,
    token_url: Url,
    config: Map<String, Value>,
    options: Options,
}

/// Reads the config (a missing file is an empty one), binds the listener and
/// builds the authorize URL. Nothing is written yet. `earlier` holds the
/// settings of the `--config` sources before this file, which its own keys
/// override.
pub fn start(
    config_path: &Path,
    earlier: Map<String, Value>,
    options: Options,
) -> Result<Pending, Error> {
    let config = read_config(config_path)?;
    let mut merged = earlier;
    merged.extend(config.clone());
    let token_url = match &options.token_url {
        Some(url) => url.clone(),
        None => default_token_url(&merged, config_path)?,
    };
    let (listener, redirect_uri) = if options.paste {
        let redirect_uri = options.redirect_uri.clone().ok_or_else(|| {
            Error::Usage(
                "--paste needs --redirect-uri: the redirect URL registered in the app".into(),
            )
        })?;
        (None, redirect_uri)
    } else {
        let (listener, redirect_uri) = listen(&options)?;
        (Some(listener), redirect_uri)
    };
    let state = random_state().map_err(|e| Error::Run(format!("no randomness: {e}")))?;
    let mut authorize_url = options
        .authorize_url
        .clone()
        .unwrap_or_else(|| Url::parse(AUTHORIZE_URL).expect("constant URL"));
    authorize_url
        .query_pairs_mut()
        .append_pair("client_id", &options.client_id)
        .append_pair("state", &state)
        .append_pair("redirect_uri", redirect_uri.as_str());
    Ok(Pending {
        listener,
        authorize_url,
        redirect_uri,
        state,
        token_url,
        config,
        options,
    })
}

/// Binds the loopback listener and names the redirect URI it answers.
fn listen(options: &Options) -> Result<(TcpListener, Url), Error> {
    let port = options
        .port
        .or_else(|| options.redirect_uri.as_ref().and_then(loopback_port))
        .unwrap_or(DEFAULT_PORT);
    // Loopback only: the code must not be receivable from the network.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| Error::Run(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Run(format!("listener: {e}")))?;
    let redirect_uri = match &options.redirect_uri {
        Some(url) => url.clone(),
        None => Url::parse(&format!("http://{bound}{DEFAULT_CALLBACK}"))
            .expect("a socket address makes a valid URL"),
    };
    Ok((listener, redirect_uri))
}

impl Pending {
    /// The URL the user opens to approve the app.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// The loopback address the redirect must reach, when listening.
    pub fn listening_on(&self) -> Option<String> {
        let listener = self.listener.as_ref()?;
        Some(
            listener
                .local_addr()
                .map_or_else(|_| "127.0.0.1".into(), |a| a.to_string()),
        )
    }

    /// Waits for the redirect, checks its `state`, exchanges the code and
    /// writes the token into the config file; the browser is answered with
    /// the outcome. On any failure nothing is written.
    pub fn finish(self, config_path: &Path) -> Result<(), Error> {
        let deadline = Instant::now() + self.options.timeout;
        let (mut browser, query) = self.wait_for_redirect(deadline)?;
        let outcome = self
            .code(&query)
            .and_then(|code| self.store(&code, config_path));
        let page = match &outcome {
            Ok(()) => (
                "200 OK",
                "Intercom access granted. The token is saved; you can close this tab.".to_owned(),
            ),
            Err(e) => (
                "400 Bad Request",
                format!("Authorization failed: {e}. You can close this tab."),
            ),
        };
        // The browser may have gone away; the outcome stands either way.
        let _ = respond(&mut browser, page.0, &page.1);
        outcome
    }

    /// Reads what the user pasted (one line of `input`): the redirected URL,
    /// whose `state` is checked, or the bare code shown on the redirect
    /// page. Then as [`Self::finish`]: exchange, write, nothing on failure.
    pub fn finish_pasted(self, config_path: &Path, input: impl BufRead) -> Result<(), Error> {
        let mut line = String::new();
        input
            .take(MAX_HEAD as u64)
            .read_line(&mut line)
            .map_err(|e| Error::Run(format!("reading the pasted code: {e}")))?;
        let pasted = line.trim();
        let code = if pasted.starts_with("http://") || pasted.starts_with("https://") {
            let url = Url::parse(pasted)
                .map_err(|e| Error::Usage(format!("the pasted URL is not valid: {e}")))?;
            self.code(&url)?
        } else if pasted.is_empty() {
            return Err(Error::Usage(
                "nothing was pasted; run `auth` again and paste the code or the URL".into(),
            ));
        } else {
            pasted.to_owned()
        };
        self.store(&code, config_path)
    }

    /// Exchanges `code` and writes the token into the config file.
    fn store(&self, code: &str, config_path: &Path) -> Result<(), Error> {
        let token = self.exchange(code)?;
        let mut config = self.config.clone();
        config.insert("access_token".into(), Value::String(token));
        write_config(config_path, &config)
            .map_err(|e| Error::Run(format!("{}: cannot write: {e}", config_path.display())))
    }

    /// The query of the first request to the redirect URI's path; other
    /// requests (a favicon, say) get a 404. Each connection is read on its
    /// own thread so an idle one (browsers pre-connect) cannot block the rest.
    fn wait_for_redirect(&self, deadline: Instant) -> Result<(TcpStream, Url), Error> {
        let listener = self
            .listener
            .as_ref()
            .ok_or_else(|| Error::Run("no listener: the code is pasted".into()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::Run(format!("listener: {e}")))?;
        let (sender, requests) = mpsc::channel();
        let path = self.redirect_uri.path().to_owned();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Run(format!(
                    "no redirect reached {} within {}s; run `auth` again (--timeout to wait longer)",
                    self.redirect_uri,
                    self.options.timeout.as_secs()
                )));
            }
            match listener.accept() {
                Ok((stream, _)) => {
                    let sender = sender.clone();
                    let wait = deadline - now;
                    std::thread::spawn(move || {
                        if let Some(request) = read_request(stream, wait) {
                            // The receiver is gone once the flow ended.
                            let _ = sender.send(request);
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::Run(format!("listener: {e}"))),
            }
            while let Ok((mut stream, target)) = requests.try_recv() {
                if target.path() == path {
                    return Ok((stream, target));
                }
                let _ = respond(&mut stream, "404 Not Found", "Not found.");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The code of a redirect whose `state` is ours.
    fn code(&self, redirect: &Url) -> Result<String, Error> {
        let param = |name: &str| {
            redirect
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        // The state is checked first: a forged redirect learns nothing.
        if param("state").as_deref() != Some(self.state.as_str()) {
            return Err(Error::Run(
                "the redirect's state does not match this authorization request (a stale or \
                 forged redirect); no code was exchanged and nothing was written"
                    .into(),
            ));
        }
        if let Some(error) = param("error") {
            let detail = param("error_description").unwrap_or_default();
            return Err(Error::Run(format!(
                "Intercom did not authorize the app: {error} {detail}"
            )));
        }
        param("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::Run("the redirect carries no code".into()))
    }

    /// `POST /auth/eagle/token` with the code, client id and secret as form
    /// fields (form encoding keeps a trailing `=` of the code intact).
    fn exchange(&self, code: &str) -> Result<String, Error> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(EXCHANGE_TIMEOUT))
            .build()
            .new_agent();
        let url = &self.token_url;
        let mut response = agent
            .post(url.as_str())
            .header("Accept", "application/json")
            .send_form([
                ("code", code),
                ("client_id", self.options.client_id.as_str()),
                ("client_secret", self.options.client_secret.as_str()),
            ])
            .map_err(|e| Error::Run(format!("token exchange at {url}: {e}")))?;
        let status = response.status();
        let body: Value = response
            .body_mut()
            .read_to_string()
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        if !status.is_success() {
            let errors = body["errors"].as_array().into_iter().flatten();
            let detail: Vec<String> = errors
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["code"].as_str().unwrap_or("error"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect();
            return Err(Error::Run(format!(
                "Intercom refused the token exchange at {url} (HTTP {}{}); check the client id \
                 and secret, and authorize again (a code works once)",
                status.as_u16(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(", {}", detail.join("; "))
                }
            )));
        }
        ["access_token", "token"]
            .iter()
            .find_map(|k| body[k].as_str().filter(|t| !t.is_empty()))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Run(format!(
                    "the token exchange at {url} answered without an access token"
                ))
            })
    }
}

/// The config as a JSON object; a missing file is an empty config.
fn read_config(path: &Path) -> Result<Map<String, Value>, Error> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        _ => crate::config::read_file(path),
    }
}

/// The token endpoint on the API host the config points at: below its
/// `base_url` (a simulator, a proxy, path and all), else its region's host.
fn default_token_url(config: &Map<String, Value>, path: &Path) -> Result<Url, Error> {
    let base = crate::config::api_base_url(config, path)?;
    Url::parse(&format!(
        "{}{TOKEN_PATH}",
        base.as_str().trim_end_matches('/')
    ))
    .map_err(|e| Error::Input {
        document: Document::Config,
        message: format!("{}: field `base_url`: {e}", path.display()),
    })
}

/// The port of a loopback redirect URI, which the listener must then use.
fn loopback_port(url: &Url) -> Option<u16> {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        .then(|| url.port_or_known_default())
        .flatten()
}

/// 128 bits from the OS CSPRNG, hex: unguessable, and URL-safe as is.
fn random_state() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{:032x}", u128::from_be_bytes(bytes)))
}

/// Reads one request head and returns its target, or `None` for anything
/// that is not a complete `GET` head in time.
fn read_request(mut stream: TcpStream, wait: Duration) -> Option<(TcpStream, Url)> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = std::str::from_utf8(&head).ok()?.lines().next()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" || !target.starts_with('/') {
        let _ = respond(&mut stream, "400 Bad Request", "Bad request.");
        return None;
    }
    let target = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    Some((stream, target))
}

/// A minimal HTML answer that closes the connection.
fn respond(stream: &mut TcpStream, status: &str, message: &str) -> std::io::Result<()> {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>intercom-connector</title>\
         </head><body><p>{escaped}</p></body></html>"
    );
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Writes the config through a sibling temporary file, owner-only (0600)
/// before the token goes in, then renamed over the config: the secret is
/// never readable by others, and a crash leaves the old config whole.
fn write_config(path: &Path, config: &Map<String, Value>) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(config)?;
    text.push('\n');
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Created 0600; the umask can only remove bits, so set the mode outright.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    file.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn token_url_follows_base_url_then_the_region() {
        let url = |json| {
            default_token_url(&config(json), Path::new("c.json"))
                .map(String::from)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            url(r#"{"region":"eu","base_url":"http://127.0.0.1:9/"}"#).unwrap(),
            "http://127.0.0.1:9/auth/eagle/token"
        );
        assert_eq!(
            url(r#"{"region":"eu","access_token":5}"#).unwrap(),
            "https://api.eu.intercom.io/auth/eagle/token"
        );
        assert_eq!(
            url(r#"{}"#).unwrap(),
            "https://api.intercom.io/auth/eagle/token"
        );
        let e = url(r#"{"region":"mars"}"#).unwrap_err();
        assert!(e.starts_with("c.json: ") && e.contains("`region`"), "{e}");
    }

    #[test]
    fn loopback_redirect_uris_name_the_port() {
        let port = |s| loopback_port(&Url::parse(s).unwrap());
        assert_eq!(port("http://127.0.0.1:4321/cb"), Some(4321));
        assert_eq!(port("http://localhost/cb"), Some(80));
        assert_eq!(port("https://example.com:4321/cb"), None);
    }

    #[test]
    fn states_are_random_hex() {
        let (a, b) = (random_state().unwrap(), random_state().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
