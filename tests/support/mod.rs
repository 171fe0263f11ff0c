//! Helpers shared by the integration-test binaries (each includes this
//! folder once as `mod support`) and by the benches (`tpch`).

#![allow(dead_code)]

pub mod cli;
pub mod mlops;
pub mod serve;
pub mod tpch;
