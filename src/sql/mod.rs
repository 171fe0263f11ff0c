//! Statement understanding: fingerprints, tokens, parsing into features, and
//! the schema catalog the features are resolved against.

pub mod catalog;
pub mod features;
pub mod fingerprint;
pub mod tokens;
