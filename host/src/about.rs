//! `--about`, in the form Singer SDK taps print it, so tools that read an
//! SDK tap's about (Meltano, catalog generators) read this one too.

use serde_json::{Value, json};

const NAME: &str = "intercom-connector";
const DESCRIPTION: &str = "Replicates an Intercom workspace (contacts, companies, conversations and their parts, admins, teams, tags, segments, data attributes) completely and incrementally, as a Singer tap.";
/// Singer capabilities: discovery, a catalog selecting streams and fields,
/// state for incremental runs, and this output.
const CAPABILITIES: [&str; 4] = ["catalog", "discover", "state", "about"];

/// `--format` of `--about`; without it, the SDK's plain text.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
}

/// The about document for the config schema `spec` (the component's
/// `spec`), in `format`, ending in a newline.
pub fn render(spec: &str, format: Option<Format>) -> Result<String, serde_json::Error> {
    let settings = settings(serde_json::from_str(spec)?);
    Ok(match format {
        Some(Format::Json) => {
            let about = json!({
                "name": NAME,
                "description": DESCRIPTION,
                "version": env!("CARGO_PKG_VERSION"),
                "capabilities": CAPABILITIES,
                "settings": settings,
            });
            format!("{about:#}\n")
        }
        Some(Format::Markdown) => markdown(&settings),
        None => text(&settings),
    })
}

/// The config's JSON Schema with secrets marked as the SDK marks them
/// (`secret` and `writeOnly`).
fn settings(mut spec: Value) -> Value {
    if let Some(properties) = spec["properties"].as_object_mut() {
        for property in properties.values_mut() {
            if property["x-secret"] == true || property["writeOnly"] == true {
                property["secret"] = true.into();
                property["writeOnly"] = true.into();
            }
        }
    }
    spec
}

/// The settings as (name, schema, required), in the schema's order.
fn each_setting(settings: &Value) -> Vec<(&str, &Value, bool)> {
    let required = |name: &str| {
        settings["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| n == name))
    };
    settings["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| (name.as_str(), schema, required(name)))
        .collect()
}

fn text(settings: &Value) -> String {
    let mut out = format!(
        "Name: {NAME}\nDescription: {DESCRIPTION}\nVersion: {}\nCapabilities:\n",
        env!("CARGO_PKG_VERSION")
    );
    for capability in CAPABILITIES {
        out += &format!("  - {capability}\n");
    }
    out += "Settings:\n";
    for (name, schema, required) in each_setting(settings) {
        out += &format!("  - Name: {name}\n    Type: {}\n", type_name(schema));
        if required {
            out += "    Required: true\n";
        }
        if schema["secret"] == true {
            out += "    Secret: true\n";
        }
    }
    out
}

fn markdown(settings: &Value) -> String {
    let mut out = format!("# `{NAME}`\n\n{DESCRIPTION}\n\n## Capabilities\n\n");
    for capability in CAPABILITIES {
        out += &format!("* `{capability}`\n");
    }
    out += "\n## Settings\n\n| Setting | Required | Default | Description |\n|:--------|:--------:|:-------:|:------------|\n";
    for (name, schema, required) in each_setting(settings) {
        let default = match &schema["default"] {
            Value::Null => "None".to_owned(),
            value => value.to_string(),
        };
        let mut description = schema["description"].as_str().unwrap_or("").to_owned();
        if schema["secret"] == true {
            description += " (secret)";
        }
        out += &format!(
            "| {name} | {} | {default} | {} |\n",
            if required { "True" } else { "False" },
            description.replace('|', "\\|")
        );
    }
    out + &format!(
        "\nA full list of supported settings and capabilities is available by running: `{NAME} --about`\n"
    )
}

fn type_name(schema: &Value) -> String {
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => "any".to_owned(),
    }
}
