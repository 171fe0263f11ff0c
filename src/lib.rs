//! qlat learns how long SQL statements take from a server's own query logs.
//!
//! The library holds all logic so that the CLI, tests and benchmarks share it:
//! [`ingest`] reads logs, [`sql`] understands statements, `capture` (cargo
//! feature `capture`, on by default) records a real workload from a live
//! MySQL/MariaDB server, [`cli`] holds every command's flags and body. `docs/ARCHITECTURE.md` shows the layers.

pub mod analyze;
pub mod artifact_store;
#[cfg(feature = "capture")]
pub mod capture;
pub mod cli;
pub mod eval;
pub mod featurize;
pub mod ingest;
pub mod model;
pub mod paths;
pub mod pipeline;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod registry;
pub mod report;
pub mod sample;
pub mod schema;
pub mod serve;
pub mod signal;
pub mod sql;
pub mod store;
pub mod train;
