//! The `qlat` binary as a user runs it: commands, their output and exit
//! codes, the report it renders, and `capture` against the real MariaDB.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "capture")]
mod capture_app;
#[cfg(feature = "capture")]
mod capture_live;
mod cli;
mod model_cli;
#[cfg(feature = "capture")]
mod prepared;
#[cfg(feature = "capture")]
mod prepared_fixture;
mod readme;
mod report;
mod schema;
