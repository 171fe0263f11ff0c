//! `qlat serve` end to end, in-process on port 0 against real SQLite and
//! PostgreSQL (and as a process where a test kills it): the API, durability
//! under store faults, robustness against hostile input, the pages in a
//! browser, the pipeline's pages, the deployment's signals.

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod calibration;
mod deploy;
mod durability;
mod front;
mod pipeline;
mod robustness;
mod serve;
mod signals;
