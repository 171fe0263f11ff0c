//! Features, training, evaluation and the shipped dataset: known answers on
//! TPC-H, properties, and the model's artifacts.

#[path = "../support/mod.rs"]
mod support;

mod dataset;
mod eval;
mod features;
mod features_proptest;
mod train;
mod train_proptest;
