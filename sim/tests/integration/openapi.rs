//! Validators built from Intercom's OpenAPI 3.0 description, so tests check served
//! bodies against the official schemas rather than against a copy of them.
//!
//! OpenAPI 3.0 schemas are almost JSON Schema; the differences handled here are
//! `nullable: true` (JSON Schema spells it as a union with `null`) and references
//! to `#/components/schemas/*`, which become `$defs` of each compiled schema.

use std::fs;
use std::path::PathBuf;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

pub struct Spec {
    doc: Value,
    defs: Map<String, Value>,
}

pub struct Schema {
    label: String,
    validator: Validator,
}

impl Spec {
    /// Reads the spec from `INTERCOM_OPENAPI`, else from `../shared/intercom/`
    /// beside the workspace. When neither exists, `test` is skipped with a
    /// notice (None), except under `CI=true`, where conformance must not pass
    /// silently.
    pub fn load(test: &str) -> Option<Spec> {
        let path = std::env::var_os("INTERCOM_OPENAPI")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/intercom/api.intercom.io-2.16.yaml")
            });
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!(
                    "skipped {test}: no Intercom OpenAPI description at {} ({err}); set INTERCOM_OPENAPI",
                    path.display()
                );
                return None;
            }
            Err(err) => panic!(
                "cannot read Intercom's OpenAPI description at {} ({err}); set INTERCOM_OPENAPI \
                 or put the shared reference files in ../shared/intercom/ next to the workspace",
                path.display()
            ),
        };
        let mut doc: Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|err| panic!("{} is not valid YAML: {err}", path.display()));
        apply_errata(&mut doc);
        let defs = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .expect("the spec has components/schemas")
            .iter()
            .map(|(name, schema)| (name.clone(), convert(schema)))
            .collect();
        let mut defs = defs;
        allow_documented_deviations(&mut defs);
        Some(Spec { doc, defs })
    }

    /// The schema of the JSON body the spec declares for `method path` answering `status`.
    pub fn response(&self, path: &str, method: &str, status: u16) -> Schema {
        let label = format!("{method} {path} {status}");
        let operation = self
            .doc
            .get("paths")
            .and_then(|paths| paths.get(path))
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .unwrap_or_else(|| panic!("the spec has no operation {method} {path}"));
        let mut response = operation
            .pointer(&format!("/responses/{status}"))
            .unwrap_or_else(|| panic!("the spec declares no response for {label}"));
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = reference
                .strip_prefix('#')
                .and_then(|pointer| self.doc.pointer(pointer))
                .unwrap_or_else(|| panic!("{label}: dangling reference {reference}"));
        }
        let schema = response
            .pointer("/content/application~1json/schema")
            .unwrap_or_else(|| panic!("{label}: no application/json schema"));
        self.compile(schema, label)
    }

    /// Whether the spec declares a response for `method path` answering `status`.
    pub fn declares(&self, path: &str, method: &str, status: u16) -> bool {
        self.doc
            .pointer(&format!(
                "/paths/{}/{}/responses/{status}",
                path.replace('~', "~0").replace('/', "~1"),
                method.to_ascii_lowercase()
            ))
            .is_some()
    }

    /// A named schema of `components/schemas`, for answers an operation does not
    /// declare (Intercom's error envelope is the same everywhere).
    pub fn component(&self, name: &str) -> Schema {
        assert!(self.defs.contains_key(name), "no component schema {name}");
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        self.compile(&reference, name.to_owned())
    }

    fn compile(&self, schema: &Value, label: String) -> Schema {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.defs,
            "allOf": [convert(schema)],
        });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|err| panic!("{label}: the converted schema does not compile: {err}"));
        Schema { label, validator }
    }
}

impl Schema {
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect()
    }

    pub fn assert_valid(&self, instance: &Value) {
        let errors = self.errors(instance);
        assert!(
            errors.is_empty(),
            "body does not conform to the spec's {}:\n  {}\nbody: {instance}",
            self.label,
            errors.join("\n  ")
        );
    }
}

/// Where the spec contradicts the API it describes, as `(pointer, format the
/// API's values actually have)`: the embedded-list items and `url`s of a contact
/// are typed `format: uri`, but Intercom sends `"type": "tag"` and relative paths
/// such as `/contacts/{id}/tags`. `None` drops the format. Each pointer must
/// exist, so a corrected spec makes this list fail loudly rather than linger.
const ERRATA: &[(&str, Option<&str>)] = &[
    ("/components/schemas/addressable_list/properties/type", None),
    (
        "/components/schemas/addressable_list/properties/url",
        Some("uri-reference"),
    ),
    (
        "/components/schemas/company_data/properties/url",
        Some("uri-reference"),
    ),
    (
        "/components/schemas/contact_tags/properties/url",
        Some("uri-reference"),
    ),
    (
        "/components/schemas/contact_notes/properties/url",
        Some("uri-reference"),
    ),
    (
        "/components/schemas/contact_companies/properties/url",
        Some("uri-reference"),
    ),
];

/// Where Intercom (and the spec's own examples) send what the schema does not
/// declare: part ids are typed string but sent as integers.
fn allow_documented_deviations(defs: &mut Map<String, Value>) {
    let id = defs
        .get_mut("conversation_part")
        .and_then(|part| part.pointer_mut("/properties/id"))
        .expect("conversation_part has an id");
    assert_eq!(
        id["type"], "string",
        "the part id deviation no longer applies"
    );
    id["type"] = json!(["string", "integer"]);
}

fn apply_errata(doc: &mut Value) {
    for &(pointer, format) in ERRATA {
        let schema = doc
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("erratum target {pointer} is gone from the spec"));
        assert_eq!(
            schema.get("format").and_then(Value::as_str),
            Some("uri"),
            "erratum {pointer} no longer applies"
        );
        match format {
            Some(format) => schema.insert("format".to_owned(), Value::from(format)),
            None => schema.remove("format"),
        };
    }
}

/// OpenAPI 3.0 schema object → JSON Schema 2020-12.
fn convert(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "$ref" => rewrite_ref(value),
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| (name.clone(), convert(property)))
                    .collect(),
            ),
            "items" | "additionalProperties" | "not" => convert(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(convert)
                    .collect(),
            ),
            // Annotations without a JSON Schema meaning; examples may even hold `$ref`s.
            "nullable" | "discriminator" | "example" | "examples" | "xml" | "externalDocs" => {
                continue;
            }
            other if other.starts_with("x-") => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        // A union also covers `nullable` beside `$ref` or `enum`, which a plain
        // `"type": [.., "null"]` would not.
        json!({ "anyOf": [Value::Object(out), { "type": "null" }] })
    } else {
        Value::Object(out)
    }
}

fn rewrite_ref(reference: &Value) -> Value {
    let target = reference.as_str().unwrap_or_default();
    let name = target
        .strip_prefix("#/components/schemas/")
        .unwrap_or_else(|| panic!("unsupported schema reference {target:?}"));
    Value::String(format!("#/$defs/{name}"))
}

#[test]
fn nullable_becomes_a_union_with_null() {
    let converted = convert(&json!({
        "type": "object",
        "properties": {"app": {"$ref": "#/components/schemas/app", "nullable": true}},
    }));
    assert_eq!(
        converted["properties"]["app"],
        json!({"anyOf": [{"$ref": "#/$defs/app"}, {"type": "null"}]})
    );
}
