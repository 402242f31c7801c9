//! The config a command runs with, as Singer SDK taps take it: `--config`
//! given once or more, each a JSON file or `ENV` (the `TAP_INTERCOM_*`
//! environment variables), merged in order with later keys winning.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Document, Error};

/// What `--config ENV` names instead of a file.
pub const ENV: &str = "ENV";

/// Prefix of the variables `--config ENV` reads: `TAP_INTERCOM_START_DATE`
/// sets `start_date`.
pub const ENV_PREFIX: &str = "TAP_INTERCOM_";

/// The API base URL a config names (its `base_url`, else its region's host),
/// read by the host itself with the connector's one region table: the
/// operator's reading decides where the token may go, not the component's
/// declaration. `path` names the config in errors.
pub fn api_base_url(config: &Map<String, Value>, path: &Path) -> Result<url::Url, Error> {
    let invalid = |message: String| Error::Input {
        document: Document::Config,
        message: format!("{}: {message}", path.display()),
    };
    let text = |field: &str| match config.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        Some(_) => Err(invalid(format!("config: field `{field}` must be a string"))),
    };
    let base = intercom_connector::config::api_base_url(text("base_url")?, text("region")?)
        .map_err(|e| invalid(e.message))?;
    url::Url::parse(&base).map_err(|e| invalid(format!("config: field `base_url`: {e}")))
}

/// One `--config` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Env,
}

impl Source {
    pub fn parse(arg: &Path) -> Self {
        if arg == Path::new(ENV) {
            Source::Env
        } else {
            Source::File(arg.to_owned())
        }
    }
}

/// The merged config: its JSON text, and the name errors about it give
/// (the file, or the sources joined with ` + `).
pub struct MergedConfig {
    pub text: String,
    pub label: PathBuf,
}

/// A label naming every source, for messages.
pub fn label(sources: &[Source]) -> PathBuf {
    let names: Vec<String> = sources
        .iter()
        .map(|s| match s {
            Source::File(path) => path.display().to_string(),
            Source::Env => ENV.to_string(),
        })
        .collect();
    PathBuf::from(names.join(" + "))
}

/// Reads and merges `sources`. `spec` (the connector's JSON Schema of the
/// config) types the environment's values: integers, numbers and booleans
/// are parsed, arrays and objects read as JSON, the rest kept as text; a
/// variable naming no setting of the spec is ignored.
pub fn load(sources: &[Source], spec: &Value) -> Result<MergedConfig, Error> {
    if sources.is_empty() {
        return Err(Error::Input {
            document: Document::Config,
            message: "--config FILE (or --config ENV) is required".into(),
        });
    }
    let merged = merge(sources, &environment(), spec)?;
    Ok(MergedConfig {
        text: Value::Object(merged).to_string(),
        label: label(sources),
    })
}

/// For `auth`: the settings of every source but the last, and the last,
/// which must be the file the token is written into. `spec` is asked for
/// only when `ENV` is among them.
pub fn split_for_auth(
    sources: &[Source],
    spec: impl FnOnce() -> Result<Value, Error>,
) -> Result<(Map<String, Value>, &Path), Error> {
    match sources.split_last() {
        Some((Source::File(last), earlier)) => {
            let spec = if earlier.contains(&Source::Env) {
                spec()?
            } else {
                Value::Null
            };
            Ok((merge(earlier, &environment(), &spec)?, last))
        }
        Some((Source::Env, _)) => Err(Error::Usage(
            "auth writes the token into the last --config, which must be a file, not ENV".into(),
        )),
        None => Err(Error::Input {
            document: Document::Config,
            message: "--config FILE is required: auth writes the token into it".into(),
        }),
    }
}

/// The `TAP_INTERCOM_*` variables, by name past the prefix.
fn environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix(ENV_PREFIX)?.to_owned(), v)))
        .collect()
}

/// `sources` merged, with `env` the variables' names past the prefix.
fn merge(
    sources: &[Source],
    env: &[(String, String)],
    spec: &Value,
) -> Result<Map<String, Value>, Error> {
    let mut merged = Map::new();
    for source in sources {
        let settings = match source {
            Source::File(path) => read_file(path)?,
            Source::Env => from_env(env, spec)?,
        };
        merged.extend(settings);
    }
    Ok(merged)
}

/// A config file, which must hold a JSON object.
pub fn read_file(path: &Path) -> Result<Map<String, Value>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(Document::Config, path, format!("cannot read: {e}")))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid(Document::Config, path, "not a JSON object")),
        Err(e) => Err(Error::invalid(
            Document::Config,
            path,
            format!("not valid JSON: {e}"),
        )),
    }
}

/// The settings `env` names, typed by the spec.
fn from_env(env: &[(String, String)], spec: &Value) -> Result<Map<String, Value>, Error> {
    let mut settings = Map::new();
    for (name, text) in env {
        let key = name.to_ascii_lowercase();
        let Some(schema) = spec["properties"].get(&key) else {
            continue;
        };
        let value = typed(schema, text).ok_or_else(|| Error::Input {
            document: Document::Config,
            message: format!(
                "--config ENV: {ENV_PREFIX}{name} must be {}, got {text:?}",
                kind(schema)
            ),
        })?;
        settings.insert(key, value);
    }
    Ok(settings)
}

/// The JSON types a setting's schema allows, `null` aside.
fn types(schema: &Value) -> Vec<&str> {
    let all: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    all.into_iter().filter(|t| *t != "null").collect()
}

fn kind(schema: &Value) -> String {
    match types(schema).as_slice() {
        ["integer"] => "an integer".into(),
        ["number"] => "a number".into(),
        ["boolean"] => "true or false".into(),
        other => format!("JSON of type {}", other.join(" or ")),
    }
}

/// `text` as a value of the setting's type; None when it is not one.
fn typed(schema: &Value, text: &str) -> Option<Value> {
    let types = types(schema);
    if types.is_empty() || types.contains(&"string") {
        return Some(Value::String(text.to_owned()));
    }
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    let fits = types.iter().any(|t| match *t {
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    });
    fits.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({"properties": {
            "access_token": {"type": "string"},
            "start_date": {"type": "string"},
            "page_size": {"type": "integer"},
            "rate_limit_share": {"type": ["number", "null"]},
        }})
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn files_merge_in_order_and_env_is_typed_by_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, r#"{"access_token":"a","page_size":5,"region":"eu"}"#).unwrap();
        std::fs::write(&b, r#"{"access_token":"b"}"#).unwrap();
        let variables = env(&[
            ("PAGE_SIZE", "20"),
            ("RATE_LIMIT_SHARE", "0.5"),
            ("START_DATE", "2024-01-01"),
            ("UNKNOWN", "x"),
        ]);
        let sources = [
            Source::File(a.clone()),
            Source::Env,
            Source::File(b.clone()),
        ];
        let merged = merge(&sources, &variables, &spec()).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"access_token": "b", "page_size": 20, "region": "eu",
                   "rate_limit_share": 0.5, "start_date": "2024-01-01"})
        );
        let label = label(&sources).display().to_string();
        assert_eq!(label, format!("{} + ENV + {}", a.display(), b.display()));
    }

    #[test]
    fn a_mistyped_variable_names_itself_and_the_type() {
        let e = merge(&[Source::Env], &env(&[("PAGE_SIZE", "many")]), &spec()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            r#"--config ENV: TAP_INTERCOM_PAGE_SIZE must be an integer, got "many""#
        );
        assert_eq!(
            Source::parse(Path::new("ENV")),
            Source::Env,
            "ENV names the environment"
        );
    }
}
