//! One module per resource family: each generates its records and serves them.

use axum::Router;

use crate::server::AppState;

pub(crate) mod admins;
pub(crate) mod companies;
pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod data_attributes;
pub(crate) mod help_center;
pub(crate) mod me;
pub(crate) mod oauth;
pub(crate) mod segments;
pub(crate) mod settings;
pub(crate) mod tags;
pub(crate) mod teams;
pub(crate) mod tickets;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(me::routes())
        .merge(admins::routes())
        .merge(teams::routes())
        .merge(tags::routes())
        .merge(segments::routes())
        .merge(data_attributes::routes())
        .merge(companies::routes())
        .merge(contacts::routes())
        .merge(conversations::routes())
        .merge(tickets::routes())
        .merge(help_center::routes())
        .merge(settings::routes())
}
