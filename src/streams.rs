//! Every stream the connector reads, described once as data. The generic
//! engine in `sync`, `pager` and `catalog` does the rest.

/// Where a stream's records come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `GET path`, records under `records_key`, following `pages.next` when
    /// the response has one.
    List {
        path: &'static str,
        records_key: &'static str,
    },
    /// `POST path` search, ascending by the replication key, filtered on the
    /// server from the bookmark.
    Search {
        path: &'static str,
        records_key: &'static str,
        dates: DateMatching,
    },
    /// The companies scroll: `GET path[?scroll_param=…]` until an empty page.
    Scroll { path: &'static str },
    /// One `GET` per parent record; `path` has `{id}` for the parent id and
    /// the records sit at `records_at` (a JSON pointer).
    PerParent {
        path: &'static str,
        records_at: &'static str,
        /// Where the response says how many records exist in all, when it may
        /// return fewer.
        total_at: Option<&'static str>,
    },
}

/// How a search endpoint compares a date to a filter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateMatching {
    /// Contacts since 2.14: by calendar day in the workspace's time zone, so
    /// `>` starts the day after the value's day.
    CalendarDay,
    /// Conversations: by second, with `>` documented as "greater or equal".
    Seconds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    FullTable,
    /// Replicates records whose `key` (a UNIX-seconds field) is at or after
    /// the bookmark.
    Incremental {
        key: &'static str,
    },
}

impl Replication {
    pub fn singer_name(self) -> &'static str {
        match self {
            Replication::FullTable => "FULL_TABLE",
            Replication::Incremental { .. } => "INCREMENTAL",
        }
    }

    pub fn key(self) -> Option<&'static str> {
        match self {
            Replication::FullTable => None,
            Replication::Incremental { key } => Some(key),
        }
    }
}

/// Which parent records a child stream reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parent {
    /// Parents changed since the child's bookmark; every child record of
    /// such a parent is replicated.
    Changed(&'static str),
    /// Every parent; child records are filtered on their own replication
    /// key and deduplicated by primary key.
    Every(&'static str),
}

impl Parent {
    pub fn name(self) -> &'static str {
        match self {
            Parent::Changed(name) | Parent::Every(name) => name,
        }
    }
}

/// Extra shaping beyond the schema-driven timestamp conversion.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shaping {
    /// Adds `_sdc_record_hash`, a SHA-256 of these fields' values.
    pub record_hash: Option<&'static [&'static str]>,
    /// Embedded lists that Intercom truncates (`has_more`), completed from
    /// `GET /contacts/{id}/<list>`.
    pub complete_lists: &'static [&'static str],
    /// Fields copied from the parent record, as (field in child, field in parent).
    pub parent_fields: &'static [(&'static str, &'static str)],
    /// Fields dropped because another stream carries them.
    pub drop: &'static [&'static str],
}

#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    pub source: Source,
    pub replication: Replication,
    pub key_properties: &'static [&'static str],
    pub parent: Option<Parent>,
    pub shaping: Shaping,
    /// JSON Schema, derived from the OpenAPI description by scripts/gen-schemas.py.
    pub schema: &'static str,
}

const NO_SHAPING: Shaping = Shaping {
    record_hash: None,
    complete_lists: &[],
    parent_fields: &[],
    drop: &[],
};

const UPDATED_AT: Replication = Replication::Incremental { key: "updated_at" };

/// The identifying fields of a data attribute: its model and full name.
const ATTRIBUTE_IDENTITY: Shaping = Shaping {
    record_hash: Some(&["model", "full_name", "name"]),
    ..NO_SHAPING
};

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "admins",
        source: Source::List {
            path: "/admins",
            records_key: "admins",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        parent: None,
        shaping: NO_SHAPING,
        schema: include_str!("schemas/admins.json"),
    },
    StreamDef {
        name: "companies",
        source: Source::Scroll {
            path: "/companies/scroll",
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: None,
        shaping: NO_SHAPING,
        schema: include_str!("schemas/companies.json"),
    },
    StreamDef {
        name: "company_attributes",
        source: Source::List {
            path: "/data_attributes?model=company&include_archived=true",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["_sdc_record_hash"],
        parent: None,
        shaping: ATTRIBUTE_IDENTITY,
        schema: include_str!("schemas/company_attributes.json"),
    },
    StreamDef {
        name: "company_segments",
        source: Source::PerParent {
            path: "/companies/{id}/segments",
            records_at: "/data",
            total_at: None,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: Some(Parent::Every("companies")),
        shaping: NO_SHAPING,
        schema: include_str!("schemas/company_segments.json"),
    },
    StreamDef {
        name: "contact_attributes",
        source: Source::List {
            path: "/data_attributes?model=contact&include_archived=true",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["_sdc_record_hash"],
        parent: None,
        shaping: ATTRIBUTE_IDENTITY,
        schema: include_str!("schemas/contact_attributes.json"),
    },
    StreamDef {
        name: "contacts",
        source: Source::Search {
            path: "/contacts/search",
            records_key: "data",
            dates: DateMatching::CalendarDay,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: None,
        shaping: Shaping {
            complete_lists: &["tags", "companies", "notes"],
            ..NO_SHAPING
        },
        schema: include_str!("schemas/contacts.json"),
    },
    StreamDef {
        name: "conversation_parts",
        source: Source::PerParent {
            path: "/conversations/{id}",
            records_at: "/conversation_parts/conversation_parts",
            total_at: Some("/conversation_parts/total_count"),
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: Some(Parent::Changed("conversations")),
        shaping: Shaping {
            parent_fields: &[
                ("conversation_id", "id"),
                ("conversation_created_at", "created_at"),
                ("conversation_updated_at", "updated_at"),
            ],
            ..NO_SHAPING
        },
        schema: include_str!("schemas/conversation_parts.json"),
    },
    StreamDef {
        name: "conversations",
        source: Source::Search {
            path: "/conversations/search",
            records_key: "conversations",
            dates: DateMatching::Seconds,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: None,
        shaping: Shaping {
            drop: &["conversation_parts"],
            ..NO_SHAPING
        },
        schema: include_str!("schemas/conversations.json"),
    },
    StreamDef {
        name: "segments",
        source: Source::List {
            path: "/segments?include_count=true",
            records_key: "segments",
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        parent: None,
        shaping: NO_SHAPING,
        schema: include_str!("schemas/segments.json"),
    },
    StreamDef {
        name: "tags",
        source: Source::List {
            path: "/tags",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        parent: None,
        shaping: NO_SHAPING,
        schema: include_str!("schemas/tags.json"),
    },
    StreamDef {
        name: "teams",
        source: Source::List {
            path: "/teams",
            records_key: "teams",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        parent: None,
        shaping: NO_SHAPING,
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
    fn every_schema_parses_and_declares_keys_and_replication_key() {
        for stream in STREAMS {
            let schema: serde_json::Value = serde_json::from_str(stream.schema).unwrap();
            let key = stream.replication.key();
            let fields = stream.key_properties.iter().chain(key.as_ref());
            for field in fields {
                assert!(
                    schema["properties"][field].is_object(),
                    "{}: {field} missing from schema",
                    stream.name
                );
            }
            for (child_field, _) in stream.shaping.parent_fields {
                assert!(
                    schema["properties"][child_field].is_object(),
                    "{child_field}"
                );
            }
            for dropped in stream.shaping.drop {
                assert!(schema["properties"].get(dropped).is_none(), "{dropped}");
            }
        }
    }

    #[test]
    fn parents_exist_and_are_roots() {
        for stream in STREAMS {
            if let Some(parent) = stream.parent {
                let parent = find(parent.name()).expect("parent stream");
                assert!(parent.parent.is_none(), "{} nests too deep", stream.name);
            }
        }
    }
}
