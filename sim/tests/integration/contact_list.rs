//! `GET /contacts`: page sizes, stateless cursors, and what the list leaves
//! out (merged, archived and deleted contacts) while `GET /contacts/{id}`
//! says why.

use std::collections::HashSet;

use intercom_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::http::{Reply, get, start};

fn sim() -> Simulator {
    start(SimConfig {
        contacts: 400,
        ..SimConfig::default()
    })
}

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["type"], "list");
    reply.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every id the list serves at `per_page`, and how many pages it took.
fn read_all(sim: &Simulator, per_page: usize) -> (Vec<String>, usize) {
    let (mut all, mut pages) = (Vec::new(), 0);
    let mut path = format!("/contacts?per_page={per_page}");
    loop {
        let reply = get(sim, &path);
        all.extend(ids(&reply));
        pages += 1;
        match reply.body["pages"]["next"]["starting_after"].as_str() {
            Some(cursor) => {
                let cursor: String =
                    url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
                path = format!("/contacts?per_page={per_page}&starting_after={cursor}");
            }
            None => return (all, pages),
        }
    }
}

#[test]
fn pages_default_to_50_cap_at_150_and_visit_every_contact_once() {
    let sim = sim();
    let first = get(&sim, "/contacts");
    assert_eq!(ids(&first).len(), 50);
    assert_eq!(first.body["total_count"], 400);
    assert_eq!(first.body["pages"]["per_page"], 50);
    assert_eq!(first.body["pages"]["total_pages"], 8);
    assert!(first.body["pages"]["next"]["starting_after"].is_string());
    let big = get(&sim, "/contacts?per_page=1000");
    assert_eq!(ids(&big).len(), 150);
    assert_eq!(big.body["pages"]["per_page"], 150);
    let (all, pages) = read_all(&sim, 150);
    assert_eq!(pages, 3);
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (400, 400));
    // Newest updated first.
    let data = sim.dataset();
    let updated: Vec<i64> = all
        .iter()
        .map(|id| data.contact(id).unwrap()["updated_at"].as_i64().unwrap())
        .collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]));
    for bad in ["per_page=0", "per_page=x", "starting_after=nope"] {
        let reply = get(&sim, &format!("/contacts?{bad}"));
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
}

#[test]
fn cursors_are_stateless_and_survive_the_contact_they_name_going_away() {
    let sim = sim();
    let first = get(&sim, "/contacts?per_page=100");
    let seen = ids(&first);
    let cursor = first.body["pages"]["next"]["starting_after"]
        .as_str()
        .unwrap()
        .to_owned();
    let encoded: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
    // The contact the cursor names is deleted; one not yet listed is updated
    // now, moving it to the front, onto the page already read.
    let last = seen.last().unwrap().clone();
    let data = sim.dataset();
    let unread = data
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .find(|id| !seen.contains(id))
        .unwrap();
    let now = sim.now();
    sim.mutate(|d| {
        assert!(d.delete_contact(&last));
        d.update_contact(&unread, now).unwrap();
    });
    let second = get(
        &sim,
        &format!("/contacts?per_page=100&starting_after={encoded}"),
    );
    let rest = ids(&second);
    assert_eq!(rest.len(), 100);
    assert!(rest.iter().all(|id| !seen.contains(id)));
    assert!(
        !rest.contains(&unread),
        "a contact updated while paging is missed"
    );
    assert_eq!(ids(&get(&sim, "/contacts?per_page=1"))[0], unread);
}

#[test]
fn merged_archived_and_deleted_contacts_leave_the_list_and_get_says_why() {
    let sim = sim();
    let data = sim.dataset();
    let role = |r: &str| -> String {
        data.contacts.iter().find(|c| c["role"] == r).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (lead, user) = (role("lead"), role("user"));
    let others: Vec<String> = data
        .contacts
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .filter(|id| *id != lead && *id != user)
        .take(2)
        .collect();
    let (archived, deleted) = (others[0].clone(), others[1].clone());
    let now = sim.now();
    sim.mutate(|d| {
        assert!(d.merge_contact(&lead, &user, now));
        assert!(d.archive_contact(&archived));
        assert!(d.delete_contact(&deleted));
    });
    let (all, _) = read_all(&sim, 150);
    assert_eq!(all.len(), 397);
    for gone in [&lead, &archived, &deleted] {
        assert!(!all.contains(gone), "{gone} listed");
    }
    assert_eq!(all[0], user, "the merge updated the user");
    let merged = get(&sim, &format!("/contacts/{lead}"));
    assert_eq!(merged.status, 410);
    assert_eq!(merged.error_code(), "contact_merged");
    assert!(merged.header("link").unwrap().contains(&user));
    for id in [&archived, &deleted] {
        let reply = get(&sim, &format!("/contacts/{id}"));
        assert_eq!(reply.status, 404, "{id}");
        assert_eq!(reply.error_code(), "not_found");
    }
    let back: Value = get(&sim, &format!("/contacts/{user}")).body;
    assert_eq!(back["updated_at"], now);
    // A test can make the list miss a contact that still exists.
    sim.mutate(|d| d.hidden_from_lists.insert(user.clone()));
    assert!(!read_all(&sim, 150).0.contains(&user));
    assert_eq!(get(&sim, &format!("/contacts/{user}")).status, 200);
}
