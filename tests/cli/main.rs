//! The `qlat` binary as a user runs it: commands, their output and exit
//! codes, the report it renders, and `capture` against the real MariaDB.

#[path = "../support/mod.rs"]
mod support;

mod capture_app;
mod capture_live;
mod cli;
mod model_cli;
mod prepared;
mod prepared_fixture;
mod readme;
mod report;
mod schema;
