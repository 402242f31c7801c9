//! Secrets held by the host. The embedder names the config fields that are
//! secret and the origins each may be sent to; exports only ever see a
//! placeholder in their place. The real value goes out only in request
//! header values to that secret's origins, and comes back to the component
//! nowhere: every response is scrubbed of it. So no export result, log
//! line, record or checkpoint of a component can carry a secret.

use std::sync::Arc;

use memchr::memmem::Finder;
use serde_json::Value;
use url::Url;

use crate::bindings::{Response, TransportError};

/// A config field the embedder holds secret, and the origins
/// (`scheme://host[:port]`) its value may be sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretField {
    pub name: String,
    pub origins: Vec<String>,
}

/// The top-level config fields a component's config schema (`spec`) marks
/// `writeOnly: true`: secrets a generic embedder may propose. They add to
/// what the embedder names and never remove from it.
pub fn proposed_by_spec(spec: &str) -> Vec<String> {
    let Ok(spec) = serde_json::from_str::<Value>(spec) else {
        return Vec::new();
    };
    let Some(properties) = spec["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, schema)| schema["writeOnly"] == true)
        .map(|(name, _)| name.clone())
        .collect()
}

/// A config document with its secrets sealed: the text every export is
/// given, and the secrets the instance's HTTP may reveal.
#[derive(Clone)]
pub struct Config {
    sealed: String,
    secrets: Arc<Secrets>,
}

/// The shortest secret the host accepts: it replaces a secret's value
/// wherever it occurs in the config and in responses, which would mangle
/// data for a value as short as a word (no credential is).
pub const MIN_SECRET_CHARS: usize = 8;

impl Config {
    /// Replaces the value of each field of `fields` present in `text` (a
    /// JSON object) by a placeholder, wherever in the document it occurs: a
    /// copy of the token in another field must not leak either. The error
    /// names what is wrong with the document.
    pub fn seal(text: &str, fields: &[SecretField]) -> Result<Self, String> {
        let mut document: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let mut secrets = Vec::new();
        for field in fields {
            let value = match document.get(&field.name) {
                None | Some(Value::Null) => continue,
                Some(Value::String(value)) => value.clone(),
                Some(_) => {
                    return Err(format!(
                        "field `{}` is secret: it must be a string",
                        field.name
                    ));
                }
            };
            if value.is_empty() || secrets.iter().any(|s: &Secret| s.value == value) {
                continue;
            }
            if value.chars().count() < MIN_SECRET_CHARS {
                return Err(format!(
                    "field `{}` is secret and must be at least {MIN_SECRET_CHARS} characters; no credential is shorter",
                    field.name
                ));
            }
            secrets.push(Secret::new(&field.name, value, &field.origins)?);
        }
        if secrets.is_empty() {
            return Ok(Self {
                sealed: text.to_string(),
                secrets: Arc::default(),
            });
        }
        let secrets = Secrets { secrets };
        replace_strings(&mut document, &|text| secrets.redact_text(text));
        Ok(Self {
            sealed: document.to_string(),
            secrets: Arc::new(secrets),
        })
    }

    /// The config as exports see it.
    pub fn sealed(&self) -> &str {
        &self.sealed
    }

    pub(crate) fn secrets(&self) -> Arc<Secrets> {
        Arc::clone(&self.secrets)
    }
}

/// Shows what exports see, never the values.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Config").field(&self.sealed).finish()
    }
}

/// Every string of `value`, keys included, through `change`.
fn replace_strings(value: &mut Value, change: &impl Fn(&mut String)) {
    match value {
        Value::String(text) => change(text),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, change)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (mut key, mut item) in entries {
                change(&mut key);
                replace_strings(&mut item, change);
                map.insert(key, item);
            }
        }
        _ => {}
    }
}

/// The secrets of one config, for the HTTP client.
#[derive(Default)]
pub(crate) struct Secrets {
    secrets: Vec<Secret>,
}

struct Secret {
    value: String,
    placeholder: String,
    origins: Vec<url::Origin>,
    /// The forms a server may echo the value in (as sent, JSON-escaped,
    /// percent-encoded), each found and replaced by the placeholder.
    forms: Vec<Finder<'static>>,
}

impl Secret {
    fn new(name: &str, value: String, origins: &[String]) -> Result<Self, String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a placeholder: {e}"))?;
        let placeholder = format!("{{{{secret:{name}:{:032x}}}}}", u128::from_be_bytes(nonce));
        let origins = origins
            .iter()
            .filter_map(|o| Url::parse(o).ok())
            .map(|url| url.origin())
            .collect();
        let json = serde_json::to_string(&value).expect("a string serializes");
        let json = json[1..json.len() - 1].to_string();
        let mut forms = vec![value.clone()];
        for form in [
            json.replace('/', "\\/"),
            json,
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ] {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
        Ok(Self {
            forms: forms
                .iter()
                .map(|f| Finder::new(f.as_bytes()).into_owned())
                .collect(),
            value,
            placeholder,
            origins,
        })
    }
}

impl Secrets {
    pub(crate) fn none() -> Arc<Self> {
        Arc::default()
    }

    /// Puts the real values into the header values of a request to
    /// `origin`, for the secrets that may go there. Names, URLs and bodies
    /// are left as they are.
    pub(crate) fn reveal(&self, origin: &url::Origin, headers: &mut [(String, String)]) {
        for secret in self.secrets.iter().filter(|s| s.origins.contains(origin)) {
            for (_, value) in headers.iter_mut() {
                if value.contains(&secret.placeholder) {
                    *value = value.replace(&secret.placeholder, &secret.value);
                }
            }
        }
    }

    /// Scrubs every secret out of a response before the component sees it.
    pub(crate) fn redact_response(&self, response: &mut Response) {
        if self.secrets.is_empty() {
            return;
        }
        for (name, value) in &mut response.headers {
            self.redact_text(name);
            self.redact_text(value);
        }
        self.redact_bytes(&mut response.body);
    }

    /// Scrubs a failure's message, which a client may build from the request.
    pub(crate) fn redact_error(&self, error: &mut TransportError) {
        match error {
            TransportError::Connection(m)
            | TransportError::Tls(m)
            | TransportError::Denied(m)
            | TransportError::Other(m) => self.redact_text(m),
            TransportError::Timeout | TransportError::TooLarge(_) => {}
        }
    }

    fn redact_text(&self, text: &mut String) {
        let mut bytes = std::mem::take(text).into_bytes();
        self.redact_bytes(&mut bytes);
        // Whole UTF-8 sequences were replaced by whole UTF-8 sequences.
        *text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into());
    }

    fn redact_bytes(&self, bytes: &mut Vec<u8>) {
        for secret in &self.secrets {
            for form in &secret.forms {
                if form.find(bytes).is_some() {
                    *bytes = replace_all(bytes, form, secret.placeholder.as_bytes());
                }
            }
        }
    }
}

fn replace_all(haystack: &[u8], needle: &Finder, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = 0;
    for at in needle.find_iter(haystack) {
        out.extend_from_slice(&haystack[rest..at]);
        out.extend_from_slice(with);
        rest = at + needle.needle().len();
    }
    out.extend_from_slice(&haystack[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "dG9r/Ok+x=";

    fn sealed(text: &str) -> Config {
        let field = SecretField {
            name: "access_token".into(),
            origins: vec!["https://api.example.com".into()],
        };
        Config::seal(text, &[field]).unwrap()
    }

    fn placeholder(config: &Config) -> String {
        let document: Value = serde_json::from_str(config.sealed()).unwrap();
        document["access_token"].as_str().unwrap().to_string()
    }

    #[test]
    fn exports_see_a_placeholder_wherever_the_value_was() {
        let config = sealed(
            &serde_json::json!({
                "access_token": TOKEN,
                "copy": [format!("Bearer {TOKEN}")],
                TOKEN: 1,
                "base_url": "https://api.example.com",
            })
            .to_string(),
        );
        assert!(!config.sealed().contains(TOKEN), "{}", config.sealed());
        let placeholder = placeholder(&config);
        assert!(
            placeholder.starts_with("{{secret:access_token:"),
            "{placeholder}"
        );
        assert_eq!(placeholder.len(), "{{secret:access_token:}}".len() + 32);
        let document: Value = serde_json::from_str(config.sealed()).unwrap();
        assert_eq!(document["copy"][0], format!("Bearer {placeholder}"));
        assert_eq!(document[&placeholder], 1);
        assert_eq!(document["base_url"], "https://api.example.com");
        // Fresh for each config.
        assert_ne!(
            placeholder,
            self::placeholder(&sealed(&format!(r#"{{"access_token":"{TOKEN}"}}"#)))
        );
    }

    #[test]
    fn a_config_without_its_secret_or_with_a_wrong_one_is_handled() {
        let config = sealed(r#"{"region":"us"}"#);
        assert_eq!(config.sealed(), r#"{"region":"us"}"#);
        let field = SecretField {
            name: "access_token".into(),
            origins: vec![],
        };
        let e = Config::seal(r#"{"access_token":7}"#, std::slice::from_ref(&field)).unwrap_err();
        assert!(e.contains("`access_token` is secret"), "{e}");
        let e = Config::seal(
            r#"{"access_token":"t","region":"us"}"#,
            std::slice::from_ref(&field),
        )
        .unwrap_err();
        assert!(e.contains("at least 8 characters"), "{e}");
        let e = Config::seal("{", &[field]).unwrap_err();
        assert!(e.starts_with("not valid JSON"), "{e}");
    }

    #[test]
    fn the_value_goes_only_into_header_values_to_its_origins() {
        let config = sealed(&format!(r#"{{"access_token":"{TOKEN}"}}"#));
        let placeholder = placeholder(&config);
        let secrets = config.secrets();
        let headers = || {
            vec![
                ("authorization".to_string(), format!("Bearer {placeholder}")),
                (placeholder.clone(), "x".to_string()),
            ]
        };
        let mut to_api = headers();
        secrets.reveal(
            &Url::parse("https://api.example.com/me").unwrap().origin(),
            &mut to_api,
        );
        assert_eq!(to_api[0].1, format!("Bearer {TOKEN}"));
        assert_eq!(to_api[1].0, placeholder, "names are not substituted");
        for other in [
            "https://other.example.com",
            "http://api.example.com",
            "https://api.example.com:8443",
        ] {
            let mut elsewhere = headers();
            secrets.reveal(&Url::parse(other).unwrap().origin(), &mut elsewhere);
            assert_eq!(elsewhere, headers(), "{other}");
        }
    }

    #[test]
    fn responses_are_scrubbed_of_every_echoed_form() {
        let config = sealed(&format!(r#"{{"access_token":"{TOKEN}"}}"#));
        let placeholder = placeholder(&config);
        let secrets = config.secrets();
        let json = serde_json::to_string(TOKEN).unwrap();
        let body = format!(
            "auth: Bearer {TOKEN}\n{{\"a\":{json}}}\n{{\"b\":\"dG9r\\/Ok+x=\"}}\n/?t=dG9r%2FOk%2Bx%3D {TOKEN}{TOKEN}"
        );
        let mut response = Response {
            status: 200,
            headers: vec![("x-echo".into(), format!("Bearer {TOKEN}"))],
            body: body.into_bytes(),
        };
        secrets.redact_response(&mut response);
        let body = String::from_utf8(response.body).unwrap();
        assert!(!body.contains("dG9r"), "{body}");
        assert_eq!(body.matches(&placeholder).count(), 6, "{body}");
        assert_eq!(response.headers[0].1, format!("Bearer {placeholder}"));
        let mut error = TransportError::Other(format!("bad header {TOKEN}"));
        secrets.redact_error(&mut error);
        assert!(matches!(error, TransportError::Other(m) if !m.contains(TOKEN)));
    }

    #[test]
    fn the_spec_proposes_its_write_only_fields() {
        let spec = r#"{"properties":{"access_token":{"writeOnly":true},"region":{},"pw":{"writeOnly":false}}}"#;
        assert_eq!(proposed_by_spec(spec), ["access_token"]);
        assert!(proposed_by_spec("[]").is_empty());
    }
}
