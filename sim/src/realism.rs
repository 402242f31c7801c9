//! What real workspaces hold and the plain generator does not: names and text
//! beyond ASCII (accents, CJK, right-to-left, emoji, HTML), custom attributes
//! with odd names, nulls where the spec allows them, fields the spec does not
//! know, 0 timestamps, and contacts whose notes and companies run past a page.
//! Applied once to the generated workspace unless the data is kept plain.

use rand::Rng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::Dataset;
use crate::resources::contacts::SUBLIST_PAGE;
use crate::resources::conversations::admin_author;

const NAMES: &[&str] = &[
    "Zoë Ångström",
    "José Núñez",
    "Łukasz Żółkiewski",
    "李小龍",
    "Ævar Þórsson",
    "Renée O'Brien 🚀",
    "Даша Иванова",
    "محمد علي",
    "Nguyễn Thị Hương",
    "Ω \"Quote\" \\ Backslash",
];

const TEXTS: &[&str] = &[
    "<p>Merci beaucoup, ça marche ✅</p>",
    "<p>Thanks! 👍🏽 See <a href=\"https://example.com/?a=1&b=2\">this</a></p>",
    "<p>お問い合わせありがとうございます。</p>",
    "<p>Line one<br>Line two\u{2028}same line?</p>",
    "<p>שלום, 🙂 &lt;not a tag&gt;</p>",
    "<p>Tab\there and a 🧑‍💻 at work</p>",
];

/// Custom contact attributes whose names a client must keep as they are.
pub(crate) const ODD_ATTRIBUTES: &[&str] = &["favourite café", "score (β) 🎯", "Plan.Name"];

/// Notes and companies of the busiest contacts, past one sub-list page.
const LONG_NOTES: usize = 200;
const LONG_COMPANIES: usize = 2 * SUBLIST_PAGE + 7;

/// `rng(n)` gives family `n` its own stream, so that one family's size leaves
/// the others' changes alone.
pub(crate) fn apply(
    data: &mut Dataset,
    stream: impl Fn(u64) -> ChaCha8Rng,
    next_note_id: &mut u64,
) {
    add_odd_attributes(data, &mut stream(0));
    let rng = &mut stream(1);
    for contact in &mut data.contacts {
        if rng.random_bool(0.08) {
            contact["name"] = json!(NAMES[rng.random_range(0..NAMES.len())]);
        } else if rng.random_bool(0.1) {
            contact["name"] = Value::Null;
        }
        if rng.random_bool(0.1) {
            contact["location"]["city"] = Value::Null;
        }
        if contact["signed_up_at"].is_i64() && rng.random_bool(0.03) {
            contact["signed_up_at"] = json!(0);
        }
        for &name in ODD_ATTRIBUTES {
            if rng.random_bool(0.2) {
                contact["custom_attributes"][name] = json!(TEXTS[rng.random_range(0..TEXTS.len())]);
            }
        }
        contact["sms_consent"] = json!({"type": "sms_consent", "status": null});
    }
    for contact in &data.contacts {
        let Some(notes) = contact["id"]
            .as_str()
            .and_then(|id| data.contact_notes.get_mut(id))
        else {
            continue;
        };
        for note in notes {
            if rng.random_bool(0.2) {
                note["body"] = json!(TEXTS[rng.random_range(0..TEXTS.len())]);
            }
        }
    }
    lengthen_sub_lists(data, rng, next_note_id);
    let rng = &mut stream(2);
    for company in &mut data.companies {
        if rng.random_bool(0.05) {
            company["remote_created_at"] = json!(0);
        }
        if rng.random_bool(0.05) {
            company["last_request_at"] = json!(0);
        }
        if rng.random_bool(0.05) {
            company["name"] = json!(format!(
                "{} GmbH & Co. KG ✨",
                NAMES[rng.random_range(0..NAMES.len())]
            ));
        }
        company["x_account_health"] = json!({"score": rng.random_range(0..100), "trend": null});
    }
    let rng = &mut stream(3);
    for conversation in &mut data.conversations {
        if rng.random_bool(0.1) {
            conversation["title"] = json!(TEXTS[rng.random_range(0..TEXTS.len())]);
        }
        conversation["ai_agent"] = Value::Null;
        conversation["x_sla_breached"] = json!(rng.random_bool(0.1));
    }
    for conversation in &data.conversations {
        let Some(parts) = conversation["id"]
            .as_str()
            .and_then(|id| data.conversation_parts.get_mut(id))
        else {
            continue;
        };
        for part in parts {
            if part["body"].is_string() && rng.random_bool(0.15) {
                part["body"] = json!(TEXTS[rng.random_range(0..TEXTS.len())]);
            }
            part["app_package_code"] = Value::Null;
        }
    }
    vary_tickets_and_help_center(data, &mut stream(4));
    data.refresh_contact_embeds();
}

/// Tickets' titles and parts' bodies, articles' and collections' text, in
/// the varied text above, and a field the spec does not know on tickets.
fn vary_tickets_and_help_center(data: &mut Dataset, rng: &mut ChaCha8Rng) {
    let text = |rng: &mut ChaCha8Rng| TEXTS[rng.random_range(0..TEXTS.len())];
    for ticket in &mut data.tickets {
        if rng.random_bool(0.15) {
            ticket["ticket_attributes"]["_default_title_"] = json!(text(rng));
        }
        ticket["x_escalation_level"] = json!(rng.random_range(0..4));
        let Some(id) = ticket["id"].as_str().map(str::to_owned) else {
            continue;
        };
        let Some(parts) = data.ticket_parts.get_mut(&id) else {
            continue;
        };
        for part in parts.iter_mut() {
            if part["body"].is_string() && rng.random_bool(0.2) {
                part["body"] = json!(text(rng));
            }
        }
        crate::resources::tickets::embed_parts(ticket, parts);
    }
    for article in &mut data.articles {
        if rng.random_bool(0.2) {
            let title = NAMES[rng.random_range(0..NAMES.len())];
            let body = text(rng);
            for pointer in ["", "/translated_content/en"] {
                if let Some(content) = article.pointer_mut(pointer) {
                    content["title"] = json!(title);
                    content["body"] = json!(body);
                }
            }
        }
    }
    for collection in &mut data.help_center_collections {
        if rng.random_bool(0.2) {
            let name = format!("{} ✨", NAMES[rng.random_range(0..NAMES.len())]);
            collection["name"] = json!(name);
            collection["translated_content"]["en"]["name"] = json!(name);
        }
    }
}

/// Registers [`ODD_ATTRIBUTES`] as custom contact attributes, copied from an
/// existing string one.
fn add_odd_attributes(data: &mut Dataset, rng: &mut ChaCha8Rng) {
    let Some(template) = data
        .data_attributes
        .iter()
        .find(|a| a["custom"] == true && a["model"] == "contact" && a["data_type"] == "string")
        .cloned()
    else {
        return;
    };
    let mut next_id = data
        .data_attributes
        .iter()
        .filter_map(|a| a["id"].as_i64())
        .max()
        .unwrap_or(0);
    for &name in ODD_ATTRIBUTES {
        next_id += rng.random_range(1..20);
        let mut attribute = template.clone();
        attribute["id"] = json!(next_id);
        attribute["name"] = json!(name);
        attribute["full_name"] = json!(format!("custom_attributes.{name}"));
        attribute["label"] = json!(name);
        attribute["description"] = json!(format!("Imported from a spreadsheet: “{name}”"));
        if let Some(attribute) = attribute.as_object_mut() {
            attribute.remove("options");
        }
        data.data_attributes.push(attribute);
    }
}

/// The first contact gets [`LONG_NOTES`] notes and the second
/// [`LONG_COMPANIES`] companies (as many as exist).
fn lengthen_sub_lists(data: &mut Dataset, rng: &mut ChaCha8Rng, next_note_id: &mut u64) {
    let ids: Vec<String> = data
        .contacts
        .iter()
        .take(2)
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    if let (Some(id), false) = (ids.first(), data.admins.is_empty()) {
        let created = data.contacts[0]["created_at"].as_i64().unwrap_or(0);
        let notes = data.contact_notes.entry(id.clone()).or_default();
        for n in 0..LONG_NOTES.saturating_sub(notes.len()) {
            *next_note_id += rng.random_range(1..50);
            let author = admin_author(&data.admins[rng.random_range(0..data.admins.len())]);
            notes.push(json!({
                "type": "note",
                "id": next_note_id.to_string(),
                "created_at": created + n as i64,
                "contact": {"type": "contact", "id": id},
                "author": author,
                "body": TEXTS[rng.random_range(0..TEXTS.len())],
            }));
        }
        notes.sort_by_key(|note| std::cmp::Reverse(note["created_at"].as_i64()));
    }
    if let Some(id) = ids.get(1) {
        let all: Vec<String> = data
            .companies
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect();
        let n = LONG_COMPANIES.min(all.len());
        let mut chosen = index::sample(rng, all.len(), n).into_vec();
        chosen.sort_unstable();
        data.contact_companies.insert(
            id.clone(),
            chosen.into_iter().map(|i| all[i].clone()).collect(),
        );
    }
}
