//! Integration tests: real HTTP over loopback against a running simulator.
//! One test binary with a module per concern keeps linking cheap.

mod binary;
mod conformance;
mod contact_list;
mod endpoints;
mod families;
mod faults;
mod http;
mod oauth;
mod openapi;
mod realism;
mod search;
