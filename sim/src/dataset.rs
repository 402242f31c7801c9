//! The simulated workspace: every record exactly as the API serves it.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::SimConfig;
use crate::resources::contacts::{self, Links};
use crate::resources::conversations::{self, People};
use crate::resources::{
    admins, companies, data_attributes, help_center, me, segments, settings, tags, teams, tickets,
};
use crate::search::SearchCache;
use crate::times::Timeline;

/// A snapshot of the simulated workspace. Each record is the JSON object the API
/// serves for that item, so a connector's output can be compared to it directly.
///
/// Conversations are stored as `POST /conversations/search` serves them (no
/// `conversation_parts`); their parts live in [`Dataset::conversation_parts`],
/// keyed by conversation id, oldest first. Contacts embed their first ten tags,
/// notes and companies; the full lists live in `contact_tags`,
/// `contact_companies` and `contact_notes`. After changing those maps or the
/// records' ids by hand inside [`crate::Simulator::mutate`], call
/// [`Dataset::refresh_contact_embeds`]; the id indexes are rebuilt automatically.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The `app` object embedded in `GET /me`.
    pub app: Value,
    pub admins: Vec<Value>,
    pub teams: Vec<Value>,
    pub tags: Vec<Value>,
    /// People segments (`GET /segments`), with `count` as `include_count=true` shows it.
    pub segments: Vec<Value>,
    /// Company segments (`GET /segments?type=company`), with `count`.
    pub company_segments: Vec<Value>,
    /// Data attributes of both models, archived ones included.
    pub data_attributes: Vec<Value>,
    pub companies: Vec<Value>,
    pub contacts: Vec<Value>,
    /// Contact id → every tag id (the embedded list shows ten).
    pub contact_tags: HashMap<String, Vec<String>>,
    /// Contact id → every company id.
    pub contact_companies: HashMap<String, Vec<String>>,
    /// Contact id → every note (`note` schema), newest first.
    pub contact_notes: HashMap<String, Vec<Value>>,
    /// Conversations as search lists them, without parts.
    pub conversations: Vec<Value>,
    /// Conversation id → all its parts, oldest first.
    pub conversation_parts: HashMap<String, Vec<Value>>,
    /// Ticket types (`GET /ticket_types`), each embedding its attributes and states.
    pub ticket_types: Vec<Value>,
    /// Ticket states (`GET /ticket_states`), each embedding the types using it.
    pub ticket_states: Vec<Value>,
    /// Tickets as search and `GET /tickets/{id}` serve them: each embeds its
    /// newest 500 parts, with the count of all.
    pub tickets: Vec<Value>,
    /// Ticket id → all its parts, oldest first.
    pub ticket_parts: HashMap<String, Vec<Value>>,
    /// Conversation attributes (`GET /conversations/attributes`), archived ones included.
    pub conversation_attributes: Vec<Value>,
    pub subscription_types: Vec<Value>,
    pub help_centers: Vec<Value>,
    /// Help-center collections and their sections (`parent_id`).
    pub help_center_collections: Vec<Value>,
    pub articles: Vec<Value>,
    /// Admin activity log entries, oldest first.
    pub activity_logs: Vec<Value>,
    /// Deleted conversations as `GET /conversations/deleted` lists them
    /// (`deleted_conversation_item`), in deletion order.
    pub deleted_conversations: Vec<Value>,
    /// Archived contacts, by id: out of search and `GET /contacts`, and
    /// `GET /contacts/{id}` answers 404, as for a deleted one.
    pub archived_contacts: HashMap<String, Value>,
    /// Contact id merged away → the id it was merged into: `GET` answers 410.
    pub merged_contacts: HashMap<String, String>,
    /// Ids `GET /contacts` and the companies scroll leave out though they
    /// exist, as stateless paging may: a test's way to make a list miss one.
    pub hidden_from_lists: HashSet<String>,
    index: Index,
    maker: Maker,
}

/// Positions by id and memoized search results, rebuilt after every mutation.
#[derive(Clone, Debug, Default)]
struct Index {
    contacts: HashMap<String, usize>,
    companies: HashMap<String, usize>,
    conversations: HashMap<String, usize>,
    tickets: HashMap<String, usize>,
    contact_searches: SearchCache,
    /// `GET /contacts` reads the live records, not the search index's copy.
    contact_list: SearchCache,
    conversation_searches: SearchCache,
    ticket_searches: SearchCache,
}

/// What mutation helpers need to create plausible records.
#[derive(Clone, Debug)]
struct Maker {
    rng: ChaCha8Rng,
    timeline: Timeline,
    contact_serial: usize,
    company_serial: usize,
    next_conversation_id: u64,
    next_part_id: u64,
    next_note_id: u64,
    next_ticket_part_id: u64,
    integer_part_ids: bool,
}

/// One ChaCha stream per resource family, so that changing one family's count (or
/// adding a family) leaves the records of the others unchanged.
#[derive(Clone, Copy)]
enum Stream {
    App = 1,
    Admins = 2,
    Teams = 3,
    Tags = 4,
    Segments = 5,
    Companies = 6,
    Contacts = 7,
    Conversations = 8,
    DataAttributes = 9,
    Timeline = 10,
    Mutations = 11,
    Realism = 12,
    Tickets = 13,
    TicketRecords = 14,
    HelpCenter = 15,
    Settings = 16,
}

impl Dataset {
    pub(crate) fn generate(config: &SimConfig) -> Dataset {
        let rng = |stream: Stream| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(stream as u64);
            rng
        };
        let mut app = me::generate_app(&mut rng(Stream::App));
        app["timezone"] = Value::from(config.timezone.as_str());
        let workspace_id = app["id_code"].as_str().unwrap_or_default().to_owned();
        let mut admins = admins::generate(&mut rng(Stream::Admins), config.admins, &app);
        let teams = teams::generate(&mut rng(Stream::Teams), config.teams, &mut admins);
        let tags = tags::generate(&mut rng(Stream::Tags), config.tags);
        let timeline = Timeline::new(&mut rng(Stream::Timeline));

        let mut r = rng(Stream::Segments);
        let (segments, company_segments) = segments::generate(&mut r, &timeline, config.segments);

        let mut r = rng(Stream::Companies);
        let companies: Vec<Value> = (0..config.companies)
            .map(|serial| {
                let times = timeline.created_updated(&mut r);
                companies::generate_one(
                    &mut r,
                    serial,
                    times,
                    &workspace_id,
                    &tags,
                    &company_segments,
                )
            })
            .collect();

        let mut r = rng(Stream::Contacts);
        let links = Links {
            workspace_id: &workspace_id,
            tag_ids: ids(&tags),
            company_ids: ids(&companies),
            admins: &admins,
        };
        let mut next_note_id = 7_000_000 + r.random_range(0..1_000);
        let mut contact_list = Vec::with_capacity(config.contacts);
        let (mut contact_tags, mut contact_companies, mut contact_notes) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        for serial in 0..config.contacts {
            let times = timeline.created_updated(&mut r);
            let made =
                contacts::generate_one(&mut r, &links, serial, times, &timeline, &mut next_note_id);
            let id = made.record["id"].as_str().unwrap_or_default().to_owned();
            contact_tags.insert(id.clone(), made.tags);
            contact_companies.insert(id.clone(), made.companies);
            contact_notes.insert(id, made.notes);
            contact_list.push(made.record);
        }

        let mut r = rng(Stream::Conversations);
        let people = People {
            contacts: &contact_list,
            admins: &admins,
            teams: &teams,
            tags: &tags,
            integer_part_ids: !config.lenient.string_part_ids,
        };
        let mut next_conversation_id = 100_000_000_000 + r.random_range(0..1_000_000);
        let mut next_part_id = 1_000_000_000 + r.random_range(0..1_000_000);
        let mut conversation_list = Vec::with_capacity(config.conversations);
        let mut conversation_parts = HashMap::with_capacity(config.conversations);
        for n in 0..config.conversations {
            next_conversation_id += r.random_range(1..=50);
            let part_count = if n < config.huge_conversations {
                r.random_range(520..=600)
            } else {
                r.random_range(1..=config.max_parts_per_conversation.max(1))
            };
            let (conversation, parts) = conversations::generate_one(
                &mut r,
                next_conversation_id,
                part_count,
                &timeline,
                &people,
                &mut next_part_id,
            );
            conversation_parts.insert(next_conversation_id.to_string(), parts);
            conversation_list.push(conversation);
        }

        let data_attributes =
            data_attributes::generate(&mut rng(Stream::DataAttributes), &timeline, &admins);
        let (ticket_types, ticket_states) =
            tickets::generate(&mut rng(Stream::Tickets), &timeline, &workspace_id);
        let mut r = rng(Stream::TicketRecords);
        let mut next_ticket_id = 600 + r.random_range(0..100);
        let mut next_ticket_part_id = 180 + r.random_range(0..100);
        let (mut ticket_list, mut ticket_parts) = (Vec::new(), HashMap::new());
        for number in 0..config.tickets as u64 {
            next_ticket_id += r.random_range(1..=9);
            let part_count = r.random_range(1..=6);
            let (mut ticket, parts) = tickets::generate_one(
                &mut r,
                (next_ticket_id, 40 + number),
                part_count,
                &timeline,
                &people,
                &ticket_types,
                &mut next_ticket_part_id,
            );
            tickets::embed_parts(&mut ticket, &parts);
            ticket_parts.insert(next_ticket_id.to_string(), parts);
            ticket_list.push(ticket);
        }
        let help = help_center::generate(
            &mut rng(Stream::HelpCenter),
            &timeline,
            &workspace_id,
            &admins,
            config.articles,
        );
        let mut r = rng(Stream::Settings);
        let conversation_attributes =
            settings::conversation_attributes_generate(&mut r, &timeline, &admins, &teams);
        let subscription_types = settings::subscription_types_generate(&mut r);
        let activity_logs =
            settings::activity_logs_generate(&mut r, &timeline, &admins, config.activity_logs);
        let mut dataset = Dataset {
            app,
            admins,
            teams,
            tags,
            segments,
            company_segments,
            data_attributes,
            companies,
            contacts: contact_list,
            contact_tags,
            contact_companies,
            contact_notes,
            conversations: conversation_list,
            conversation_parts,
            ticket_types,
            ticket_states,
            tickets: ticket_list,
            ticket_parts,
            conversation_attributes,
            subscription_types,
            help_centers: help.help_centers,
            help_center_collections: help.collections,
            articles: help.articles,
            activity_logs,
            deleted_conversations: Vec::new(),
            archived_contacts: HashMap::new(),
            merged_contacts: HashMap::new(),
            hidden_from_lists: HashSet::new(),
            index: Index::default(),
            maker: Maker {
                rng: rng(Stream::Mutations),
                timeline,
                contact_serial: config.contacts,
                company_serial: config.companies,
                next_conversation_id,
                next_part_id,
                next_note_id,
                next_ticket_part_id,
                integer_part_ids: !config.lenient.string_part_ids,
            },
        };
        if !config.lenient.plain_data {
            let mut next_note_id = dataset.maker.next_note_id;
            let stream = |family: u64| {
                let mut rng = rng(Stream::Realism);
                rng.set_stream(Stream::Realism as u64 * 100 + family);
                rng
            };
            crate::realism::apply(&mut dataset, stream, &mut next_note_id);
            dataset.maker.next_note_id = next_note_id;
        }
        dataset.reindex();
        dataset
    }

    /// Rebuilds the id indexes; [`crate::Simulator::mutate`] calls it after every change.
    pub(crate) fn reindex(&mut self) {
        let positions = |records: &[Value]| {
            records
                .iter()
                .enumerate()
                .filter_map(|(i, r)| Some((r["id"].as_str()?.to_owned(), i)))
                .collect()
        };
        self.index = Index {
            contacts: positions(&self.contacts),
            companies: positions(&self.companies),
            conversations: positions(&self.conversations),
            tickets: positions(&self.tickets),
            contact_searches: SearchCache::default(),
            contact_list: SearchCache::default(),
            conversation_searches: SearchCache::default(),
            ticket_searches: SearchCache::default(),
        };
    }

    /// Drops memoized search results; [`crate::Simulator::mutate`] calls it
    /// before every change (and [`Self::reindex`] starts afresh after it).
    pub(crate) fn forget_searches(&self) {
        self.index.contact_searches.clear();
        self.index.contact_list.clear();
        self.index.conversation_searches.clear();
        self.index.ticket_searches.clear();
    }

    pub(crate) fn prerender(&self) {
        self.index.contact_searches.render_all(&self.contacts);
        self.index
            .conversation_searches
            .render_all(&self.conversations);
        self.index.ticket_searches.render_all(&self.tickets);
    }

    /// Memoized contact search results for the current records.
    pub(crate) fn contact_searches(&self) -> &SearchCache {
        &self.index.contact_searches
    }

    /// Memoized `GET /contacts` order for the current records.
    pub(crate) fn contact_list_cache(&self) -> &SearchCache {
        &self.index.contact_list
    }

    /// Memoized conversation search results for the current records.
    pub(crate) fn conversation_searches(&self) -> &SearchCache {
        &self.index.conversation_searches
    }

    /// Memoized ticket search results for the current records.
    pub(crate) fn ticket_searches(&self) -> &SearchCache {
        &self.index.ticket_searches
    }

    /// Rewrites every contact's embedded `tags`, `notes` and `companies` from the
    /// relation maps.
    pub fn refresh_contact_embeds(&mut self) {
        for contact in &mut self.contacts {
            let id = contact["id"].as_str().unwrap_or_default().to_owned();
            contacts::embed_relations(
                contact,
                self.contact_tags
                    .get(&id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                self.contact_companies
                    .get(&id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                self.contact_notes
                    .get(&id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
        }
    }

    // ---- Lookups, exactly as the endpoints serve the records ----

    /// A contact as `GET /contacts/{id}` and contact search serve it.
    pub fn contact(&self, id: &str) -> Option<&Value> {
        self.index
            .contacts
            .get(id)
            .and_then(|&i| self.contacts.get(i))
            .filter(|c| c["id"] == id)
    }

    /// A company as `GET /companies/{id}` and the scroll serve it.
    pub fn company(&self, id: &str) -> Option<&Value> {
        self.index
            .companies
            .get(id)
            .and_then(|&i| self.companies.get(i))
            .filter(|c| c["id"] == id)
    }

    /// A conversation as conversation search lists it (no parts).
    pub fn conversation(&self, id: &str) -> Option<&Value> {
        self.index
            .conversations
            .get(id)
            .and_then(|&i| self.conversations.get(i))
            .filter(|c| c["id"] == id)
    }

    /// A conversation as `GET /conversations/{id}` serves it: at most the 500
    /// newest parts, with `total_count` of all.
    pub fn conversation_with_parts(&self, id: &str) -> Option<Value> {
        let conversation = self.conversation(id)?;
        let parts = self
            .conversation_parts
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Some(conversations::with_parts(conversation, parts))
    }

    /// A ticket as search and `GET /tickets/{id}` serve it, with its parts.
    pub fn ticket(&self, id: &str) -> Option<&Value> {
        self.index
            .tickets
            .get(id)
            .and_then(|&i| self.tickets.get(i))
            .filter(|t| t["id"] == id)
    }

    /// Every part of every conversation as `(conversation id, part)`, conversations
    /// in dataset order, parts oldest first: what a complete replication holds.
    pub fn all_conversation_parts(&self) -> Vec<(String, Value)> {
        self.conversations
            .iter()
            .filter_map(|c| c["id"].as_str())
            .flat_map(|id| {
                self.conversation_parts
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(move |part| (id.to_owned(), part.clone()))
            })
            .collect()
    }

    /// `GET /contacts/{id}/tags`: the full tag objects.
    pub fn contact_tag_list(&self, id: &str) -> Vec<Value> {
        self.contact_tags
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|tag_id| self.tags.iter().find(|t| t["id"] == tag_id.as_str()))
            .map(|tag| serde_json::json!({"type": "tag", "id": tag["id"], "name": tag["name"]}))
            .collect()
    }

    /// `GET /contacts/{id}/companies`: the full company objects.
    pub fn contact_company_list(&self, id: &str) -> Vec<&Value> {
        self.contact_companies
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|company_id| self.company(company_id))
            .collect()
    }

    /// `GET /data_attributes`: `model` `None` lists both models.
    pub fn data_attributes(&self, model: Option<&str>, include_archived: bool) -> Vec<Value> {
        self.data_attributes
            .iter()
            .filter(|a| model.is_none_or(|m| a["model"] == m))
            .filter(|a| include_archived || a["archived"] != true)
            .cloned()
            .collect()
    }

    // ---- Mutation helpers for tests; each returns the changed record's id ----

    /// Sets `updated_at` and a visible field (`last_seen_at`). `None` if unknown.
    pub fn update_contact(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let &i = self.index.contacts.get(id)?;
        let contact = self.contacts.get_mut(i)?;
        contact["updated_at"] = Value::from(updated_at);
        contact["last_seen_at"] = Value::from(updated_at);
        Some(id.to_owned())
    }

    /// A new contact created and updated at `updated_at`, appended.
    pub fn create_contact(&mut self, updated_at: i64) -> String {
        let links = Links {
            workspace_id: self.app["id_code"].as_str().unwrap_or_default(),
            tag_ids: ids(&self.tags),
            company_ids: ids(&self.companies),
            admins: &self.admins,
        };
        let m = &mut self.maker;
        let made = contacts::generate_one(
            &mut m.rng,
            &links,
            m.contact_serial,
            (updated_at, updated_at),
            &m.timeline,
            &mut m.next_note_id,
        );
        m.contact_serial += 1;
        let id = made.record["id"].as_str().unwrap_or_default().to_owned();
        self.contact_tags.insert(id.clone(), made.tags);
        self.contact_companies.insert(id.clone(), made.companies);
        self.contact_notes.insert(id.clone(), made.notes);
        self.contacts.push(made.record);
        self.reindex();
        id
    }

    /// Removes the contact and its relations; `false` if unknown.
    pub fn delete_contact(&mut self, id: &str) -> bool {
        let Some(&i) = self.index.contacts.get(id) else {
            return false;
        };
        self.contacts.remove(i);
        self.contact_tags.remove(id);
        self.contact_companies.remove(id);
        self.contact_notes.remove(id);
        self.reindex();
        true
    }

    /// Sets `updated_at` and `last_request_at`. `None` if unknown.
    pub fn update_company(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let &i = self.index.companies.get(id)?;
        let company = self.companies.get_mut(i)?;
        company["updated_at"] = Value::from(updated_at);
        company["last_request_at"] = Value::from(updated_at);
        Some(id.to_owned())
    }

    pub fn create_company(&mut self, updated_at: i64) -> String {
        let m = &mut self.maker;
        let company = companies::generate_one(
            &mut m.rng,
            m.company_serial,
            (updated_at, updated_at),
            self.app["id_code"].as_str().unwrap_or_default(),
            &self.tags,
            &self.company_segments,
        );
        m.company_serial += 1;
        let id = company["id"].as_str().unwrap_or_default().to_owned();
        self.companies.push(company);
        self.reindex();
        id
    }

    /// Removes the company (contacts' links to it are dropped from the full lists).
    pub fn delete_company(&mut self, id: &str) -> bool {
        let Some(&i) = self.index.companies.get(id) else {
            return false;
        };
        self.companies.remove(i);
        for list in self.contact_companies.values_mut() {
            list.retain(|company| company != id);
        }
        self.refresh_contact_embeds();
        self.reindex();
        true
    }

    /// Sets `updated_at` and flips `read`. `None` if unknown.
    pub fn update_conversation(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let &i = self.index.conversations.get(id)?;
        let conversation = self.conversations.get_mut(i)?;
        let read = conversation["read"].as_bool().unwrap_or(false);
        conversation["updated_at"] = Value::from(updated_at);
        conversation["read"] = Value::from(!read);
        Some(id.to_owned())
    }

    /// A new conversation with a few parts, all at `updated_at`.
    pub fn create_conversation(&mut self, updated_at: i64) -> String {
        let m = &mut self.maker;
        m.next_conversation_id += m.rng.random_range(1..=50);
        let id = m.next_conversation_id;
        let people = People {
            contacts: &self.contacts,
            admins: &self.admins,
            teams: &self.teams,
            tags: &self.tags,
            integer_part_ids: m.integer_part_ids,
        };
        let part_count = m.rng.random_range(1..=3);
        let (mut conversation, mut parts) = conversations::generate_one(
            &mut m.rng,
            id,
            part_count,
            &m.timeline,
            &people,
            &mut m.next_part_id,
        );
        for record in std::iter::once(&mut conversation).chain(parts.iter_mut()) {
            record["created_at"] = Value::from(updated_at);
            record["updated_at"] = Value::from(updated_at);
            if record.get("notified_at").is_some() {
                record["notified_at"] = Value::from(updated_at);
            }
        }
        self.conversation_parts.insert(id.to_string(), parts);
        self.conversations.push(conversation);
        self.reindex();
        id.to_string()
    }

    /// Removes the conversation and its parts, now: `GET` then answers 404.
    pub fn delete_conversation(&mut self, id: &str) -> bool {
        self.delete_conversation_at(id, crate::times::unix_now())
    }

    /// Removes the conversation and its parts, and lists it as deleted at
    /// `deleted_at` (UNIX seconds); `false` if unknown.
    pub fn delete_conversation_at(&mut self, id: &str, deleted_at: i64) -> bool {
        let Some(&i) = self.index.conversations.get(id) else {
            return false;
        };
        self.conversations.remove(i);
        self.conversation_parts.remove(id);
        self.deleted_conversations.push(serde_json::json!({
            "type": "conversation",
            "id": id,
            "metrics_retained": false,
            "deleted_at": deleted_at,
        }));
        self.reindex();
        true
    }

    /// Removes the segment, people's or companies'; the companies that were
    /// in it drop it from their embedded list, a change stamped
    /// `updated_at`. `false` if unknown.
    pub fn delete_segment(&mut self, id: &str, updated_at: i64) -> bool {
        let before = self.segments.len() + self.company_segments.len();
        self.segments.retain(|segment| segment["id"] != id);
        self.company_segments.retain(|segment| segment["id"] != id);
        if self.segments.len() + self.company_segments.len() == before {
            return false;
        }
        for company in &mut self.companies {
            let Some(list) = company["segments"]["segments"].as_array_mut() else {
                continue;
            };
            let held = list.len();
            list.retain(|segment| segment["id"] != id);
            if list.len() < held {
                company["updated_at"] = Value::from(updated_at);
            }
        }
        true
    }

    /// Archives the contact: it leaves search and lists, and `GET` answers
    /// 404 until it is unarchived. `false` if unknown.
    pub fn archive_contact(&mut self, id: &str) -> bool {
        let Some(&i) = self.index.contacts.get(id) else {
            return false;
        };
        let contact = self.contacts.remove(i);
        self.archived_contacts.insert(id.to_owned(), contact);
        self.reindex();
        true
    }

    /// Brings an archived contact back, updated at `updated_at`.
    pub fn unarchive_contact(&mut self, id: &str, updated_at: i64) -> bool {
        let Some(mut contact) = self.archived_contacts.remove(id) else {
            return false;
        };
        contact["updated_at"] = Value::from(updated_at);
        self.contacts.push(contact);
        self.reindex();
        true
    }

    /// Merges the lead `from` into the user `into` at `at`, as
    /// `POST /contacts/merge` does: the lead leaves search and lists and
    /// `GET` answers 410 pointing at `into`; its tags, companies and notes
    /// join the user's, whose `updated_at` becomes `at`. `false` unless
    /// `from` is a lead and `into` a user.
    pub fn merge_contact(&mut self, from: &str, into: &str, at: i64) -> bool {
        let (Some(&lead), Some(&user)) =
            (self.index.contacts.get(from), self.index.contacts.get(into))
        else {
            return false;
        };
        if self.contacts[lead]["role"] != "lead" || self.contacts[user]["role"] != "user" {
            return false;
        }
        self.contacts[user]["updated_at"] = Value::from(at);
        self.contacts.remove(lead);
        let tags = self.contact_tags.remove(from).unwrap_or_default();
        let companies = self.contact_companies.remove(from).unwrap_or_default();
        let notes = self.contact_notes.remove(from).unwrap_or_default();
        let user_tags = self.contact_tags.entry(into.to_owned()).or_default();
        for tag in tags {
            if !user_tags.contains(&tag) {
                user_tags.push(tag);
            }
        }
        let user_companies = self.contact_companies.entry(into.to_owned()).or_default();
        for company in companies {
            if !user_companies.contains(&company) {
                user_companies.push(company);
            }
        }
        let user_notes = self.contact_notes.entry(into.to_owned()).or_default();
        user_notes.extend(notes);
        user_notes.sort_by_key(|note| std::cmp::Reverse(note["created_at"].as_i64()));
        for target in self.merged_contacts.values_mut() {
            if target == from {
                *target = into.to_owned();
            }
        }
        self.merged_contacts
            .insert(from.to_owned(), into.to_owned());
        self.refresh_contact_embeds();
        self.reindex();
        true
    }

    /// Sets `updated_at` and flips `open`. `None` if unknown.
    pub fn update_ticket(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let &i = self.index.tickets.get(id)?;
        let ticket = self.tickets.get_mut(i)?;
        let open = ticket["open"].as_bool().unwrap_or(false);
        ticket["updated_at"] = Value::from(updated_at);
        ticket["open"] = Value::from(!open);
        Some(id.to_owned())
    }

    /// Appends an admin note at `at` (the state unchanged) and bumps the
    /// ticket's `updated_at` to at least `at`. Returns the new part's id;
    /// `None` if the ticket is unknown.
    pub fn add_ticket_part(&mut self, ticket_id: &str, at: i64) -> Option<String> {
        let &i = self.index.tickets.get(ticket_id)?;
        let m = &mut self.maker;
        m.next_ticket_part_id += m.rng.random_range(1..4);
        let author =
            conversations::admin_author(&self.admins[m.rng.random_range(0..self.admins.len())]);
        let ticket = self.tickets.get_mut(i)?;
        let state = ticket["ticket_state"]["category"]
            .as_str()
            .unwrap_or("submitted")
            .to_owned();
        let part = tickets::part(
            &mut m.rng,
            m.next_ticket_part_id,
            at,
            author,
            (&state, &state),
        );
        let parts = self.ticket_parts.entry(ticket_id.to_owned()).or_default();
        parts.push(part);
        tickets::embed_parts(ticket, parts);
        let updated = ticket["updated_at"].as_i64().unwrap_or(at).max(at);
        ticket["updated_at"] = Value::from(updated);
        Some(m.next_ticket_part_id.to_string())
    }

    /// Sets the article's `updated_at` (and its English content's) and retitles it.
    pub fn update_article(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let article = self.articles.iter_mut().find(|a| a["id"] == id)?;
        let title = format!(
            "{} (revised)",
            article["title"].as_str().unwrap_or_default()
        );
        article["updated_at"] = Value::from(updated_at);
        article["title"] = Value::from(title.as_str());
        let english = &mut article["translated_content"]["en"];
        english["updated_at"] = Value::from(updated_at);
        english["title"] = Value::from(title);
        Some(id.to_owned())
    }

    /// Sets the collection's `updated_at` and its description.
    pub fn update_collection(&mut self, id: &str, updated_at: i64) -> Option<String> {
        let collection = self
            .help_center_collections
            .iter_mut()
            .find(|c| c["id"] == id)?;
        collection["updated_at"] = Value::from(updated_at);
        collection["description"] = Value::from("Revised");
        Some(id.to_owned())
    }

    /// A new activity log entry at `at`, appended. Returns its id.
    pub fn add_activity_log(&mut self, at: i64) -> String {
        let log = settings::activity_log(&mut self.maker.rng, &self.admins, at);
        let id = log["id"].as_str().unwrap_or_default().to_owned();
        self.activity_logs.push(log);
        id
    }

    /// Appends an admin comment at `at` and bumps the conversation's `updated_at`
    /// to at least `at`. Returns the new part's id; `None` if the conversation is unknown.
    pub fn add_conversation_part(&mut self, conversation_id: &str, at: i64) -> Option<String> {
        let &i = self.index.conversations.get(conversation_id)?;
        let m = &mut self.maker;
        m.next_part_id += m.rng.random_range(1..5);
        let author = match self.admins.len() {
            0 => serde_json::json!({"type": "bot", "id": "0"}),
            n => conversations::admin_author(&self.admins[m.rng.random_range(0..n)]),
        };
        let part = conversations::part(
            &mut m.rng,
            (m.next_part_id, m.integer_part_ids),
            at,
            author,
            "comment",
        );
        let parts = self
            .conversation_parts
            .entry(conversation_id.to_owned())
            .or_default();
        parts.push(part);
        let count = parts.len();
        let conversation = self.conversations.get_mut(i)?;
        let updated = conversation["updated_at"].as_i64().unwrap_or(at).max(at);
        conversation["updated_at"] = Value::from(updated);
        conversation["statistics"]["count_conversation_parts"] = Value::from(count);
        Some(m.next_part_id.to_string())
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}
