//! Every stream the connector reads, described once as data. The generic
//! engine in `sync` and `catalog` does the rest.

/// How a stream's records are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pagination {
    /// One GET returns every record under `records_key`.
    Unpaginated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    FullTable,
}

impl Replication {
    pub fn singer_name(self) -> &'static str {
        match self {
            Replication::FullTable => "FULL_TABLE",
        }
    }
}

#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    /// Path and query under the base URL.
    pub path: &'static str,
    /// Key of the records array in the response envelope.
    pub records_key: &'static str,
    pub pagination: Pagination,
    pub replication: Replication,
    pub key_properties: &'static [&'static str],
    /// JSON Schema, derived from the OpenAPI description by scripts/gen-schemas.py.
    pub schema: &'static str,
}

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "admins",
        path: "/admins",
        records_key: "admins",
        pagination: Pagination::Unpaginated,
        replication: Replication::FullTable,
        key_properties: &["id"],
        schema: include_str!("schemas/admins.json"),
    },
    StreamDef {
        name: "tags",
        path: "/tags",
        records_key: "data",
        pagination: Pagination::Unpaginated,
        replication: Replication::FullTable,
        key_properties: &["id"],
        schema: include_str!("schemas/tags.json"),
    },
    StreamDef {
        name: "teams",
        path: "/teams",
        records_key: "teams",
        pagination: Pagination::Unpaginated,
        replication: Replication::FullTable,
        key_properties: &["id"],
        schema: include_str!("schemas/teams.json"),
    },
];

pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_and_declares_its_keys() {
        for stream in STREAMS {
            let schema: serde_json::Value = serde_json::from_str(stream.schema).unwrap();
            for key in stream.key_properties {
                assert!(
                    schema["properties"][key].is_object(),
                    "{}: key {key} missing from schema",
                    stream.name
                );
            }
        }
    }
}
