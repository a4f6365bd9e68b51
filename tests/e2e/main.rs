//! End-to-end tests: the real `agenttowerd` binary over its Unix socket, real
//! tmux on an isolated socket per test, real SQLite files.

#[path = "../support/mod.rs"]
mod support;

mod raw_codec;

mod activity;
mod agents;
mod authority;
mod bench;
mod catalog;
mod config;
mod control;
mod create;
mod daemon;
mod escaping;
mod failures;
mod lifecycle;
mod mirror;
mod names;
mod ordering;
mod ownership;
mod privacy;
mod reads;
mod recovery;
mod report;
mod schema;
mod upgrade;
mod validation;
mod watch;
mod wire_errors;
