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
    /// `GET path` like [`Source::List`], newest first by the replication
    /// key: paging stops at the first record older than the bookmark.
    NewestFirst {
        path: &'static str,
        records_key: &'static str,
    },
    /// `GET path?<after>=…&<before>=…` paged like [`Source::List`]: a window
    /// of creation times from the bookmark to the run's start, which the
    /// endpoint requires (`after`) or allows (`before`).
    Window {
        path: &'static str,
        records_key: &'static str,
        after: &'static str,
        before: &'static str,
    },
    /// A scroll: `GET path[?scroll_param=…]` until an empty page, records
    /// under `records_key`.
    Scroll {
        path: &'static str,
        records_key: &'static str,
    },
    /// One `GET` per record of `parent`; `path` has `{id}` for the parent id
    /// and the records sit at `records_at` (a JSON pointer).
    PerParent {
        parent: Parent,
        path: &'static str,
        records_at: &'static str,
        /// Where the response says how many records exist in all, when it may
        /// return fewer.
        total_at: Option<&'static str>,
        /// Fields copied from the parent record into each child.
        parent_fields: &'static [ParentField],
        /// Where the parent record already embeds every child (a JSON
        /// pointer): read there, at no extra call, unless the config asks
        /// for the per-parent call. A parent lacking it is fetched.
        embedded_at: Option<&'static str>,
    },
}

/// How a search endpoint compares a date to a filter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateMatching {
    /// Contacts since 2.14: by calendar day in the workspace's time zone, so
    /// `>` starts the day after the value's day.
    CalendarDay,
    /// Conversations and tickets: by second, with `>` documented as
    /// "greater (or equal)".
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
    /// Parents changed since the child's bookmark, which is kept under
    /// `bookmark`; every child record of such a parent is replicated.
    Changed {
        stream: &'static str,
        bookmark: &'static str,
    },
    /// Every parent; child records are deduplicated by primary key and
    /// filtered on their own replication key, if they have one.
    Every(&'static str),
}

impl Parent {
    pub fn name(self) -> &'static str {
        match self {
            Parent::Changed { stream, .. } | Parent::Every(stream) => stream,
        }
    }
}

/// A field a child copies from its parent record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentField {
    /// The field in the child.
    pub name: &'static str,
    /// The field in the parent; the schema takes its type from there.
    pub from: &'static str,
    pub description: &'static str,
}

/// An embedded list that Intercom truncates (`has_more`), completed from an
/// endpoint of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddedList {
    /// The record's field holding the list.
    pub field: &'static str,
    /// The whole list; `{id}` is the record's id.
    pub path: &'static str,
    /// Where that response puts the items.
    pub items_key: &'static str,
    /// How an item is embedded: a field of the reference, and what it holds.
    pub reference: &'static [(&'static str, ReferencePart)],
}

/// What a field of an embedded reference holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferencePart {
    /// The listed item's value of this field; null when absent.
    Value(&'static str),
    /// The listed item's id as text.
    Id,
    /// This path with `{id}` replaced by the listed item's id.
    Url(&'static str),
}

/// The field holding a record's hash: the primary key of streams whose
/// records have no id.
pub const RECORD_HASH_FIELD: &str = "_sdc_record_hash";

/// Extra shaping beyond the schema-driven timestamp conversion.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shaping {
    /// Adds [`RECORD_HASH_FIELD`], a SHA-256 of these fields' values.
    pub record_hash: Option<&'static [&'static str]>,
    pub complete_lists: &'static [EmbeddedList],
    /// Fields dropped because another stream carries them.
    pub drop: &'static [&'static str],
    /// The attribute stream whose custom `date` attributes are date-times
    /// in this stream's `custom_attributes`.
    pub custom_dates: Option<&'static str>,
}

/// How an incremental stream's complete pass reads the whole source, and
/// confirms the deletion of rows it did not send.
#[derive(Debug)]
pub struct CompletePass {
    /// Where a pass lists every record, for a stream whose own source reads
    /// only changes; None when that source reads everything (a scroll).
    pub list: Option<PassList>,
    /// `GET` of one record, `{id}` its key: a 404 or 410 confirms that a row
    /// the pass did not send is gone.
    pub confirm: &'static str,
}

/// `GET path?per_page=…` following `starting_after` cursors, which are
/// stateless: a record updated while the list runs may be missed, so the
/// pass then reads the stream's own source from the pass's start.
#[derive(Debug)]
pub struct PassList {
    pub path: &'static str,
    pub records_key: &'static str,
    /// The largest page the endpoint serves.
    pub per_page: u32,
}

#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    /// What one record is called in log messages.
    pub noun: &'static str,
    /// The app permission (as Intercom's Developer Hub names it) reading
    /// the stream needs, named when a refused stream is skipped.
    pub permission: &'static str,
    pub source: Source,
    pub replication: Replication,
    pub key_properties: &'static [&'static str],
    /// Complete passes, every `complete_pass_interval_hours`; None: none
    /// (full-table streams are sent whole every run).
    pub complete_pass: Option<CompletePass>,
    pub shaping: Shaping,
    /// The OpenAPI component schema the stream's schema derives from.
    pub openapi_schema: &'static str,
    /// JSON Schema, derived from the OpenAPI description by scripts/gen-schemas.py.
    pub schema: &'static str,
}

impl StreamDef {
    pub fn parent(&self) -> Option<Parent> {
        match self.source {
            Source::PerParent { parent, .. } => Some(parent),
            _ => None,
        }
    }

    pub fn parent_fields(&self) -> &'static [ParentField] {
        match self.source {
            Source::PerParent { parent_fields, .. } => parent_fields,
            _ => &[],
        }
    }

    /// Every run sends the whole table (a Singer table version each time).
    pub fn sends_whole_table(&self) -> bool {
        self.replication.key().is_none()
    }

    /// An incremental stream that gets complete passes.
    pub fn has_complete_passes(&self) -> bool {
        self.replication.key().is_some() && self.complete_pass.is_some()
    }

    /// Whether the stream's records may come as tombstones.
    pub fn has_tombstones(&self) -> bool {
        self.has_complete_passes() || deletions_of(self.name).is_some()
    }

    /// Whether another stream's custom date attributes are listed here.
    pub fn is_custom_dates_source(&self) -> bool {
        STREAMS
            .iter()
            .any(|s| s.shaping.custom_dates == Some(self.name))
    }

    /// The state's bookmark field, empty for streams without one. Children
    /// of changed parents bookmark how far the parents were read.
    pub fn bookmark_field(&self) -> &'static str {
        match (self.parent(), self.replication.key()) {
            (Some(Parent::Changed { bookmark, .. }), _) => bookmark,
            (_, Some(key)) => key,
            (_, None) => "",
        }
    }
}

const NO_SHAPING: Shaping = Shaping {
    record_hash: None,
    complete_lists: &[],
    drop: &[],
    custom_dates: None,
};

const UPDATED_AT: Replication = Replication::Incremental { key: "updated_at" };

/// The identifying fields of a data attribute: its model and full name.
const ATTRIBUTE_IDENTITY: Shaping = Shaping {
    record_hash: Some(&["model", "full_name", "name"]),
    ..NO_SHAPING
};

/// A contact's list of `field`, completed from `/contacts/{id}/<field>`;
/// each item embedded as its type, id and API path.
macro_rules! contact_list {
    ($field:literal, $items_key:literal) => {
        EmbeddedList {
            field: $field,
            path: concat!("/contacts/{id}/", $field),
            items_key: $items_key,
            reference: &[
                ("type", ReferencePart::Value("type")),
                ("id", ReferencePart::Id),
                ("url", ReferencePart::Url(concat!("/", $field, "/{id}"))),
            ],
        }
    };
}

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        name: "activity_logs",
        noun: "activity log entry",
        permission: "Read admin activity logs",
        source: Source::Window {
            path: "/admins/activity_logs",
            records_key: "activity_logs",
            after: "created_at_after",
            before: "created_at_before",
        },
        replication: Replication::Incremental { key: "created_at" },
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "activity_log",
        schema: include_str!("schemas/activity_logs.json"),
    },
    StreamDef {
        name: "admins",
        noun: "admin",
        permission: "Read admins",
        source: Source::List {
            path: "/admins",
            records_key: "admins",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "admin",
        schema: include_str!("schemas/admins.json"),
    },
    StreamDef {
        name: "articles",
        noun: "article",
        permission: "Read and List articles",
        source: Source::NewestFirst {
            path: "/articles",
            records_key: "data",
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "article_list_item",
        schema: include_str!("schemas/articles.json"),
    },
    StreamDef {
        name: "companies",
        noun: "company",
        permission: "Read and list users and companies",
        source: Source::Scroll {
            path: "/companies/scroll",
            records_key: "data",
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        shaping: Shaping {
            custom_dates: Some("company_attributes"),
            ..NO_SHAPING
        },
        complete_pass: Some(CompletePass {
            list: None,
            confirm: "/companies/{id}",
        }),
        openapi_schema: "company",
        schema: include_str!("schemas/companies.json"),
    },
    StreamDef {
        name: "company_attributes",
        noun: "company attribute",
        permission: "Read and list users and companies",
        source: Source::List {
            path: "/data_attributes?model=company&include_archived=true",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &[RECORD_HASH_FIELD],
        complete_pass: None,
        shaping: ATTRIBUTE_IDENTITY,
        openapi_schema: "data_attribute",
        schema: include_str!("schemas/company_attributes.json"),
    },
    StreamDef {
        name: "company_segments",
        noun: "company segment",
        permission: "Read and list users and companies",
        source: Source::PerParent {
            parent: Parent::Every("companies"),
            path: "/companies/{id}/segments",
            records_at: "/data",
            total_at: None,
            parent_fields: &[],
            embedded_at: Some("/segments/segments"),
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "segment",
        schema: include_str!("schemas/company_segments.json"),
    },
    StreamDef {
        name: "contact_attributes",
        noun: "contact attribute",
        permission: "Read and list users and companies",
        source: Source::List {
            path: "/data_attributes?model=contact&include_archived=true",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &[RECORD_HASH_FIELD],
        complete_pass: None,
        shaping: ATTRIBUTE_IDENTITY,
        openapi_schema: "data_attribute",
        schema: include_str!("schemas/contact_attributes.json"),
    },
    StreamDef {
        name: "contacts",
        noun: "contact",
        permission: "Read and list users and companies",
        source: Source::Search {
            path: "/contacts/search",
            records_key: "data",
            dates: DateMatching::CalendarDay,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: Some(CompletePass {
            list: Some(PassList {
                path: "/contacts",
                records_key: "data",
                per_page: 150,
            }),
            confirm: "/contacts/{id}",
        }),
        shaping: Shaping {
            complete_lists: &[
                contact_list!("tags", "data"),
                contact_list!("companies", "companies"),
                contact_list!("notes", "data"),
            ],
            custom_dates: Some("contact_attributes"),
            ..NO_SHAPING
        },
        openapi_schema: "contact",
        schema: include_str!("schemas/contacts.json"),
    },
    StreamDef {
        name: "conversation_attributes",
        noun: "conversation attribute",
        permission: "Read conversations",
        source: Source::List {
            path: "/conversations/attributes?include_archived=true",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "conversation_attribute",
        schema: include_str!("schemas/conversation_attributes.json"),
    },
    StreamDef {
        name: "conversation_parts",
        noun: "conversation part",
        permission: "Read conversations",
        source: Source::PerParent {
            parent: Parent::Changed {
                stream: "conversations",
                bookmark: "parent_updated_at",
            },
            path: "/conversations/{id}",
            records_at: "/conversation_parts/conversation_parts",
            total_at: Some("/conversation_parts/total_count"),
            parent_fields: &[
                ParentField {
                    name: "conversation_id",
                    from: "id",
                    description: "Id of the conversation the part belongs to.",
                },
                ParentField {
                    name: "conversation_created_at",
                    from: "created_at",
                    description: "When the conversation was created.",
                },
                ParentField {
                    name: "conversation_updated_at",
                    from: "updated_at",
                    description: "When the conversation was last updated.",
                },
            ],
            embedded_at: None,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "conversation_part",
        schema: include_str!("schemas/conversation_parts.json"),
    },
    StreamDef {
        name: "conversations",
        noun: "conversation",
        permission: "Read conversations",
        source: Source::Search {
            path: "/conversations/search",
            records_key: "conversations",
            dates: DateMatching::Seconds,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: Shaping {
            drop: &["conversation_parts"],
            ..NO_SHAPING
        },
        openapi_schema: "conversation",
        schema: include_str!("schemas/conversations.json"),
    },
    StreamDef {
        name: "help_center_collections",
        noun: "help center collection",
        permission: "Read and List articles",
        source: Source::NewestFirst {
            path: "/help_center/collections",
            records_key: "data",
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "collection",
        schema: include_str!("schemas/help_center_collections.json"),
    },
    StreamDef {
        name: "help_centers",
        noun: "help center",
        permission: "Read and List articles",
        source: Source::List {
            path: "/help_center/help_centers",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "help_center",
        schema: include_str!("schemas/help_centers.json"),
    },
    StreamDef {
        name: "segments",
        noun: "segment",
        permission: "Read and list users and companies",
        source: Source::List {
            path: "/segments?include_count=true",
            records_key: "segments",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "segment",
        schema: include_str!("schemas/segments.json"),
    },
    StreamDef {
        name: "subscription_types",
        noun: "subscription type",
        permission: "Read and list users and companies",
        source: Source::List {
            path: "/subscription_types",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "subscription_type",
        schema: include_str!("schemas/subscription_types.json"),
    },
    StreamDef {
        name: "tags",
        noun: "tag",
        permission: "Read tags",
        source: Source::List {
            path: "/tags",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "tag",
        schema: include_str!("schemas/tags.json"),
    },
    StreamDef {
        name: "teams",
        noun: "team",
        permission: "Read admins",
        source: Source::List {
            path: "/teams",
            records_key: "teams",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "team",
        schema: include_str!("schemas/teams.json"),
    },
    StreamDef {
        name: "ticket_parts",
        noun: "ticket part",
        permission: "Read tickets",
        source: Source::PerParent {
            parent: Parent::Changed {
                stream: "tickets",
                bookmark: "parent_updated_at",
            },
            path: "/tickets/{id}",
            records_at: "/ticket_parts/ticket_parts",
            total_at: Some("/ticket_parts/total_count"),
            parent_fields: &[
                ParentField {
                    name: "ticket_id",
                    from: "id",
                    description: "Id of the ticket the part belongs to.",
                },
                ParentField {
                    name: "ticket_created_at",
                    from: "created_at",
                    description: "When the ticket was created.",
                },
                ParentField {
                    name: "ticket_updated_at",
                    from: "updated_at",
                    description: "When the ticket was last updated.",
                },
            ],
            embedded_at: None,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "ticket_part",
        schema: include_str!("schemas/ticket_parts.json"),
    },
    StreamDef {
        name: "ticket_states",
        noun: "ticket state",
        permission: "Read tickets",
        source: Source::List {
            path: "/ticket_states",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "ticket_state_detailed",
        schema: include_str!("schemas/ticket_states.json"),
    },
    StreamDef {
        name: "ticket_types",
        noun: "ticket type",
        permission: "Read tickets",
        source: Source::List {
            path: "/ticket_types",
            records_key: "data",
        },
        replication: Replication::FullTable,
        key_properties: &["id"],
        complete_pass: None,
        shaping: NO_SHAPING,
        openapi_schema: "ticket_type",
        schema: include_str!("schemas/ticket_types.json"),
    },
    StreamDef {
        name: "tickets",
        noun: "ticket",
        permission: "Read tickets",
        source: Source::Search {
            path: "/tickets/search",
            records_key: "tickets",
            dates: DateMatching::Seconds,
        },
        replication: UPDATED_AT,
        key_properties: &["id"],
        complete_pass: None,
        shaping: Shaping {
            drop: &["ticket_parts"],
            ..NO_SHAPING
        },
        openapi_schema: "ticket",
        schema: include_str!("schemas/tickets.json"),
    },
];

/// The field a tombstone carries: when its record was deleted (Singer's
/// convention, which SDK-based targets honour).
pub const DELETED_AT_FIELD: &str = "_sdc_deleted_at";

/// Where Intercom lists a stream's deleted records, newest first, by page
/// number. Each is read from its own bookmark and emitted as tombstones (the
/// key and [`DELETED_AT_FIELD`]) in the stream itself, so that a target
/// deletes the rows it holds.
#[derive(Debug)]
pub struct Deletions {
    pub stream: &'static str,
    pub path: &'static str,
    pub records_key: &'static str,
    /// The largest page the endpoint serves.
    pub per_page: u32,
    /// The UNIX-seconds field saying when the record was deleted; also the
    /// name of the bookmark, under the stream's.
    pub deleted_at: &'static str,
}

pub const DELETIONS: &[Deletions] = &[Deletions {
    stream: "conversations",
    path: "/conversations/deleted",
    records_key: "conversations",
    per_page: 60,
    deleted_at: "deleted_at",
}];

pub fn deletions_of(stream: &str) -> Option<&'static Deletions> {
    DELETIONS.iter().find(|d| d.stream == stream)
}

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
            for field in stream.parent_fields() {
                assert!(
                    schema["properties"][field.name].is_object(),
                    "{}",
                    field.name
                );
            }
            for dropped in stream.shaping.drop {
                assert!(schema["properties"].get(dropped).is_none(), "{dropped}");
            }
        }
    }

    #[test]
    fn deletions_belong_to_root_streams_keyed_by_id() {
        for deletions in DELETIONS {
            let stream = find(deletions.stream).expect("stream");
            assert!(stream.parent().is_none(), "{}", stream.name);
            assert_eq!(stream.key_properties, ["id"], "{}", stream.name);
        }
    }

    #[test]
    fn complete_passes_belong_to_incremental_roots_keyed_by_id() {
        for stream in STREAMS.iter().filter(|s| s.complete_pass.is_some()) {
            assert!(stream.has_complete_passes(), "{}", stream.name);
            assert!(stream.parent().is_none(), "{}", stream.name);
            assert_eq!(stream.key_properties, ["id"], "{}", stream.name);
            let pass = stream.complete_pass.as_ref().unwrap();
            assert!(pass.confirm.contains("{id}"), "{}", stream.name);
            let lists = pass.list.is_some();
            let scrolls = matches!(stream.source, Source::Scroll { .. });
            assert!(
                lists != scrolls,
                "{}: a pass reads everything once",
                stream.name
            );
            if lists {
                assert!(
                    matches!(stream.source, Source::Search { .. }),
                    "{}",
                    stream.name
                );
            }
        }
    }

    #[test]
    fn parents_exist_and_are_roots() {
        for stream in STREAMS {
            if let Some(parent) = stream.parent() {
                let parent = find(parent.name()).expect("parent stream");
                assert!(parent.parent().is_none(), "{} nests too deep", stream.name);
            }
        }
    }
}
