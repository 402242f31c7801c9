//! Companies scroll, conversations' parts, contacts' embedded lists, segments,
//! data attributes, generation invariants and the mutation API.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use intercom_sim::{DATA_EPOCH, Lenient, SimConfig, Simulator};
use serde_json::{Value, json};

use crate::http::{Reply, get, start};

fn scroll(sim: &Simulator, param: Option<&str>) -> Reply {
    match param {
        None => get(sim, "/companies/scroll"),
        Some(param) => get(sim, &format!("/companies/scroll?scroll_param={param}")),
    }
}

#[test]
fn scroll_serves_every_company_once_then_an_empty_page() {
    let sim = start(SimConfig {
        companies: 120,
        ..SimConfig::default()
    });
    let data = sim.dataset();
    let first = scroll(&sim, None);
    assert_eq!(first.status, 200, "{}", first.body);
    let param = first.body["scroll_param"].as_str().unwrap().to_owned();
    let mut seen: Vec<Value> = first.body["data"].as_array().unwrap().clone();
    let mut sizes = vec![seen.len()];
    loop {
        let reply = scroll(&sim, Some(&param));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(
            reply.body["scroll_param"],
            param.as_str(),
            "one param per scroll"
        );
        assert!(reply.body["pages"].is_null() && reply.body["total_count"].is_null());
        let page = reply.body["data"].as_array().unwrap();
        sizes.push(page.len());
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().cloned());
    }
    assert_eq!(sizes, [50, 50, 20, 0]);
    assert_eq!(seen, data.companies);
    // The empty page closed the scroll: its param is dead, a new scroll may start.
    assert_eq!(scroll(&sim, Some(&param)).status, 400);
    assert_eq!(scroll(&sim, None).status, 200);
}

#[test]
fn one_open_scroll_per_app_and_unknown_params_fail() {
    let sim = start(SimConfig {
        companies: 120,
        ..SimConfig::default()
    });
    assert_eq!(scroll(&sim, None).status, 200);
    let second = scroll(&sim, None);
    assert_eq!(second.status, 400);
    assert_eq!(second.error_code(), "scroll_exists");
    assert!(
        second.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("scroll already exists")
    );
    let unknown = scroll(&sim, Some("00000000-0000-4000-8000-000000000000"));
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), "parameter_invalid");
}

#[test]
fn an_unused_scroll_expires_and_frees_the_slot() {
    let sim = start(SimConfig {
        companies: 120,
        scroll_expiry: Duration::from_millis(300),
        ..SimConfig::default()
    });
    let first = scroll(&sim, None);
    let param = first.body["scroll_param"].as_str().unwrap().to_owned();
    // Used within the expiry, the scroll stays alive.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(scroll(&sim, Some(&param)).status, 200);
    std::thread::sleep(Duration::from_millis(400));
    let expired = scroll(&sim, Some(&param));
    assert_eq!(expired.status, 400);
    assert_eq!(expired.error_code(), "parameter_invalid");
    assert_eq!(scroll(&sim, None).status, 200);
    // And an expired, never-touched-again scroll does not block a new one.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(scroll(&sim, None).status, 200);
}

#[test]
fn conversations_show_the_500_newest_parts_and_the_real_count() {
    let sim = start(SimConfig {
        conversations: 30,
        huge_conversations: 2,
        ..SimConfig::default()
    });
    let data = sim.dataset();
    let huge: Vec<&Value> = data
        .conversations
        .iter()
        .filter(|c| data.conversation_parts[c["id"].as_str().unwrap()].len() > 500)
        .collect();
    assert_eq!(huge.len(), 2);
    for conversation in huge {
        let id = conversation["id"].as_str().unwrap();
        let all = &data.conversation_parts[id];
        let reply = get(&sim, &format!("/conversations/{id}"));
        assert_eq!(reply.status, 200);
        let parts = &reply.body["conversation_parts"];
        assert_eq!(parts["type"], "conversation_part.list");
        assert_eq!(parts["total_count"].as_u64(), Some(all.len() as u64));
        let shown = parts["conversation_parts"].as_array().unwrap();
        assert_eq!(shown.len(), 500);
        assert_eq!(shown[..], all[all.len() - 500..]);
        assert_eq!(Some(reply.body.clone()), data.conversation_with_parts(id));
    }
    for conversation in &data.conversations {
        let id = conversation["id"].as_str().unwrap();
        let parts = &data.conversation_parts[id];
        let updated = conversation["updated_at"].as_i64().unwrap();
        assert!(conversation["created_at"].as_i64().unwrap() <= updated);
        for part in parts {
            assert!(part["updated_at"].as_i64().unwrap() <= updated, "{id}");
            // Integers, as Intercom sends them, although the spec types them strings.
            assert!(part["id"].is_u64() && part["author"]["id"].is_string());
        }
    }
    assert_eq!(
        data.all_conversation_parts().len(),
        data.conversation_parts
            .values()
            .map(Vec::len)
            .sum::<usize>()
    );
    let missing = get(&sim, "/conversations/1");
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
    let id = data.conversations[0]["id"].as_str().unwrap().to_owned();
    assert!(sim.mutate(|d| d.delete_conversation(&id)));
    assert_eq!(get(&sim, &format!("/conversations/{id}")).status, 404);
}

/// Every item of a sub-list, paged as the spec says: `pages.next` is an object
/// with `starting_after` (notes) or a link (companies). The first request also
/// sends `page` and `per_page`, which the server must ignore.
fn all_pages(sim: &Simulator, path: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = format!("{path}?page=2&per_page=4");
    for requests in 1.. {
        let reply = get(sim, &url);
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
        let items = reply.body[key].as_array().unwrap();
        assert_eq!(reply.body["pages"]["per_page"], 50, "{url}");
        out.extend(items.iter().cloned());
        let next = &reply.body["pages"]["next"];
        url = match next {
            Value::Null => {
                assert_eq!(reply.body["total_count"].as_u64(), Some(out.len() as u64));
                assert_eq!(requests, out.len().div_ceil(50).max(1), "{path}");
                return out;
            }
            Value::String(link) => link
                .strip_prefix(&sim.base_url())
                .unwrap_or_else(|| panic!("{link} is not on the simulator"))
                .to_owned(),
            _ => format!(
                "{path}?starting_after={}",
                next["starting_after"].as_str().unwrap()
            ),
        };
        assert_eq!(items.len(), 50, "{url}: only the last page is short");
    }
    unreachable!()
}

/// Every item of a page-numbered sub-list (the lenient form).
fn all_numbered(sim: &Simulator, path: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let reply = get(sim, &format!("{path}?per_page=4&page={page}"));
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        out.extend(reply.body[key].as_array().unwrap().iter().cloned());
        if page >= reply.body["pages"]["total_pages"].as_u64().unwrap() {
            assert_eq!(reply.body["total_count"].as_u64(), Some(out.len() as u64));
            break;
        }
    }
    out
}

#[test]
fn embedded_lists_stop_at_ten_and_their_urls_give_the_rest() {
    embedded_lists_and_their_urls(SimConfig::default(), all_pages);
}

#[test]
fn lenient_sub_lists_are_page_numbered() {
    let config = SimConfig {
        lenient: Lenient {
            numbered_sublists: true,
            ..Lenient::default()
        },
        ..SimConfig::default()
    };
    embedded_lists_and_their_urls(config, all_numbered);
}

#[test]
fn sub_list_cursors_are_checked_and_long_lists_exist() {
    let sim = start(SimConfig::default());
    let data = sim.dataset();
    let notes = data.contacts[0]["notes"]["total_count"].as_u64().unwrap();
    let companies = data.contacts[1]["companies"]["total_count"]
        .as_u64()
        .unwrap();
    assert!(
        notes >= 200 && companies > 100,
        "{notes} notes, {companies} companies"
    );
    let id = data.contacts[0]["id"].as_str().unwrap();
    let bad = get(
        &sim,
        &format!("/contacts/{id}/notes?starting_after=WyJub3BlIl0="),
    );
    assert_eq!((bad.status, bad.error_code()), (400, "parameter_invalid"));
}

fn embedded_lists_and_their_urls(config: SimConfig, all: fn(&Simulator, &str, &str) -> Vec<Value>) {
    let sim = start(config);
    let data = sim.dataset();
    let mut checked = HashSet::new();
    for contact in &data.contacts {
        let id = contact["id"].as_str().unwrap();
        for (list, key) in [
            ("tags", "data"),
            ("companies", "companies"),
            ("notes", "data"),
        ] {
            let embedded = &contact[list];
            let total = embedded["total_count"].as_u64().unwrap() as usize;
            let shown = embedded["data"].as_array().unwrap();
            assert_eq!(embedded["type"], "list");
            assert_eq!(shown.len(), total.min(10), "{id} {list}");
            assert_eq!(embedded["has_more"], total > 10);
            let url = embedded["url"].as_str().unwrap();
            assert_eq!(url, format!("/contacts/{id}/{list}"));
            if total <= 10 || !checked.insert(list) {
                continue;
            }
            let full = if list == "tags" {
                let reply = get(&sim, url);
                assert_eq!(reply.status, 200);
                reply.body["data"].as_array().unwrap().clone()
            } else {
                all(&sim, url, key)
            };
            assert_eq!(full.len(), total, "{url}");
            let full_ids: Vec<&Value> = full.iter().map(|item| &item["id"]).collect();
            let shown_ids: Vec<&Value> = shown.iter().map(|item| &item["id"]).collect();
            assert_eq!(
                full_ids[..10],
                shown_ids[..],
                "{url}: embedded items are the first ten"
            );
            for item in shown {
                let item_type = item["type"].as_str().unwrap();
                assert_eq!(
                    item["url"],
                    format!("/{list}/{}", item["id"].as_str().unwrap())
                );
                assert!(["tag", "company", "note"].contains(&item_type));
            }
        }
    }
    assert_eq!(
        checked.len(),
        3,
        "some contact has more than ten of each list"
    );
    let contact = &data.contacts[0];
    assert_eq!(
        get(
            &sim,
            &format!("/contacts/{}", contact["id"].as_str().unwrap())
        )
        .body,
        *contact
    );
}

#[test]
fn data_attributes_hide_archived_ones_unless_asked() {
    let sim = start(SimConfig::default());
    let list = |query: &str| {
        let reply = get(&sim, &format!("/data_attributes{query}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["data"].as_array().unwrap().clone()
    };
    for model in ["contact", "company"] {
        let live = list(&format!("?model={model}"));
        let all = list(&format!("?model={model}&include_archived=true"));
        assert!(
            live.iter()
                .all(|a| a["model"] == model && a["archived"] == false)
        );
        assert_eq!(
            all.iter().filter(|a| a["archived"] == true).count(),
            1,
            "{model}"
        );
        assert_eq!(all.len(), live.len() + 1);
        assert_eq!(all, sim.dataset().data_attributes(Some(model), true));
    }
    // Custom contact attributes name the keys contacts carry.
    let data = sim.dataset();
    let keys: HashSet<&str> = data
        .contacts
        .iter()
        .flat_map(|c| {
            c["custom_attributes"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
        })
        .collect();
    let custom: HashSet<&str> = data
        .data_attributes
        .iter()
        .filter(|a| a["model"] == "contact" && a["custom"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(keys, custom);
    assert_eq!(list("").len(), data.data_attributes(None, false).len());
    let refused = get(&sim, "/data_attributes?model=conversation");
    assert_eq!(
        (refused.status, refused.error_code()),
        (422, "parameter_invalid")
    );
}

#[test]
fn segments_split_people_from_companies_and_count_on_request() {
    let sim = start(SimConfig::default());
    let data = sim.dataset();
    let people = get(&sim, "/segments").body;
    assert_eq!(people["type"], "segment.list");
    let listed = people["segments"].as_array().unwrap();
    assert_eq!(listed.len(), data.segments.len());
    assert!(listed.iter().all(|s| s.get("count").is_none()));
    let counted = get(&sim, "/segments?include_count=true").body;
    assert_eq!(counted["segments"], json!(data.segments));
    assert!(data.segments.iter().all(|s| s["count"].is_u64()));
    let companies = get(&sim, "/segments?type=company&include_count=true").body;
    assert_eq!(companies["segments"], json!(data.company_segments));
    assert_eq!(data.segments.len() + data.company_segments.len(), 12);
    let company = data
        .companies
        .iter()
        .find(|c| !c["segments"]["segments"].as_array().unwrap().is_empty())
        .unwrap();
    let reply = get(
        &sim,
        &format!("/companies/{}/segments", company["id"].as_str().unwrap()),
    );
    assert_eq!(
        reply.body,
        json!({"type": "list", "data": company["segments"]["segments"]})
    );
    let company_ids: HashSet<&Value> = data.company_segments.iter().map(|s| &s["id"]).collect();
    assert!(
        company["segments"]["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| company_ids.contains(&s["id"]))
    );
}

#[test]
fn generation_is_deterministic_fast_and_within_the_two_years() {
    let config = SimConfig {
        contacts: 20_000,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let sim = start(config.clone());
    let elapsed = started.elapsed();
    // Release builds take well under a second; debug builds are ~10x slower.
    let limit = if cfg!(debug_assertions) { 20 } else { 2 };
    assert!(elapsed < Duration::from_secs(limit), "{elapsed:?}");
    let data = sim.dataset();
    assert_eq!(data.contacts.len(), 20_000);
    let again = start(config).dataset();
    assert_eq!(data.contacts, again.contacts);
    assert_eq!(data.conversations, again.conversations);
    assert_eq!(data.companies, again.companies);
    let ids: HashSet<&str> = data
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 20_000);
    assert!(
        ids.iter()
            .all(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    let start_of_range = DATA_EPOCH - 2 * 365 * 86_400;
    for record in data
        .contacts
        .iter()
        .chain(&data.companies)
        .chain(&data.conversations)
    {
        let (created, updated) = (
            record["created_at"].as_i64().unwrap(),
            record["updated_at"].as_i64().unwrap(),
        );
        assert!(
            start_of_range <= created && created <= updated && updated < DATA_EPOCH,
            "{record}"
        );
    }
    // Other families' streams are untouched by the number of contacts.
    let fewer = start(SimConfig::default()).dataset();
    assert_eq!(fewer.companies, data.companies);
    assert_eq!(fewer.app["timezone"], "America/Los_Angeles");
}

#[test]
fn mutations_apply_at_once_or_after_n_requests() {
    let sim = start(SimConfig {
        contacts: 50,
        companies: 20,
        conversations: 20,
        ..SimConfig::default()
    });
    let now = sim.now();
    assert!(now > DATA_EPOCH - 10 * 365 * 86_400);
    let (contact, conversation) = {
        let data = sim.dataset();
        (
            data.contacts[0]["id"].as_str().unwrap().to_owned(),
            data.conversations[0]["id"].as_str().unwrap().to_owned(),
        )
    };
    let created = sim.mutate(|d| {
        assert_eq!(
            d.update_contact(&contact, now).as_deref(),
            Some(contact.as_str())
        );
        d.create_contact(now)
    });
    let shown = get(&sim, &format!("/contacts/{created}"));
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["updated_at"], now);
    assert_eq!(
        get(&sim, &format!("/contacts/{contact}")).body["updated_at"],
        now
    );

    let before = get(&sim, &format!("/conversations/{conversation}")).body;
    let total = before["conversation_parts"]["total_count"]
        .as_u64()
        .unwrap();
    let target = conversation.clone();
    // Two requests were served above, then `before`: the hook fires after the 5th.
    sim.mutate_after_requests(5, move |d| {
        d.add_conversation_part(&target, now + 5).unwrap();
    });
    let fourth = get(&sim, &format!("/conversations/{conversation}"));
    assert_eq!(
        fourth.body["conversation_parts"]["total_count"].as_u64(),
        Some(total)
    );
    let fifth = get(&sim, &format!("/conversations/{conversation}"));
    assert_eq!(
        fifth.body["conversation_parts"]["total_count"].as_u64(),
        Some(total),
        "the 5th still sees old data"
    );
    let sixth = get(&sim, &format!("/conversations/{conversation}"));
    assert_eq!(
        sixth.body["conversation_parts"]["total_count"].as_u64(),
        Some(total + 1)
    );
    assert_eq!(sixth.body["updated_at"], now + 5);

    // Deletions remove records from every endpoint.
    let company = sim.dataset().companies[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.mutate(|d| {
        assert!(d.delete_contact(&contact));
        assert!(d.delete_company(&company));
        assert!(!d.delete_company(&company));
    });
    assert_eq!(get(&sim, &format!("/contacts/{contact}")).status, 404);
    assert_eq!(get(&sim, &format!("/companies/{company}")).status, 404);
    let new_conversation = sim.mutate(|d| d.create_conversation(now));
    let reply = get(&sim, &format!("/conversations/{new_conversation}"));
    assert_eq!(
        (reply.status, reply.body["created_at"].as_i64()),
        (200, Some(now))
    );
    // Already past the count: runs at once.
    sim.mutate_after_requests(1, move |d| {
        let id = d.companies[0]["id"].as_str().unwrap().to_owned();
        d.update_company(&id, now);
    });
    assert_eq!(sim.dataset().companies[0]["updated_at"], now);
}
