//! Conformance with Percona Toolkit (pt-query-digest reports, pt-fingerprint
//! pairs, slow-log parsing) and robustness of the log readers.

#[path = "../support/mod.rs"]
mod support;

mod analyze;
mod fingerprint;
mod ingest;
mod ingest_robustness;
