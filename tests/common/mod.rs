//! Fixtures shared by integration tests and benches.

pub mod tpch;
