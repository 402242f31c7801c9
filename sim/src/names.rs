//! Word lists and helpers that make generated records look plausible.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ben", "Carla", "Chen", "Dana", "Diego", "Elena", "Farah", "Gus",
    "Hana", "Ivan", "Jade", "Kofi", "Lena", "Malik", "Nora", "Omar", "Priya", "Quinn", "Rosa",
    "Sam", "Tariq", "Uma", "Vera", "Wen", "Ximena", "Yusuf", "Zoe",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva",
    "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang",
];

pub(crate) const JOB_TITLES: &[&str] = &[
    "Support Engineer",
    "Customer Success Manager",
    "Support Lead",
    "Account Executive",
    "Head of Support",
    "Product Specialist",
    "Onboarding Specialist",
    "Solutions Engineer",
];

pub(crate) const TEAM_NAMES: &[&str] = &[
    "Support",
    "Sales",
    "Billing",
    "Onboarding",
    "Escalations",
    "Success",
    "Partners",
    "Enterprise",
    "Self Serve",
    "Technical",
    "Trust & Safety",
    "VIP",
];

pub(crate) const ADJECTIVES: &[&str] = &[
    "blue", "bright", "calm", "early", "fast", "golden", "happy", "late", "loyal", "new",
    "priority", "quiet", "red", "silent", "trial", "urgent", "vip", "warm",
];

pub(crate) const NOUNS: &[&str] = &[
    "account",
    "beta",
    "churn-risk",
    "customer",
    "feedback",
    "invoice",
    "lead",
    "partner",
    "prospect",
    "refund",
    "renewal",
    "signup",
    "upgrade",
    "user",
    "webinar",
];

pub(crate) const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Bluebird",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Juniper",
    "Lumen",
    "Northwind",
    "Orchid",
];

pub(crate) const TIMEZONES: &[&str] = &[
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Dublin",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
];

pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or_default()
}

/// Increasing numeric ids with random gaps, like Intercom's: distinct per
/// resource family thanks to `base`, and sortable.
pub(crate) fn ids(rng: &mut ChaCha8Rng, base: u64, count: usize) -> Vec<u64> {
    let mut next = base + rng.random_range(0..100_000);
    (0..count)
        .map(|_| {
            next += rng.random_range(1..=97);
            next
        })
        .collect()
}

/// Returns `candidate`, or `candidate` plus the first numeric suffix not yet taken.
pub(crate) fn unique(taken: &mut HashSet<String>, candidate: String, separator: &str) -> String {
    let mut name = candidate.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{candidate}{separator}{n}");
        n += 1;
    }
    name
}
