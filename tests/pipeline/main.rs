//! The MLOps pipeline against real stores: a log folder, live MariaDB,
//! PostgreSQL, and the artifact stores (disk, S3 via moto, database).

#[path = "../support/mod.rs"]
mod support;

mod artifact_store;
mod calibrate;
mod dir;
mod floor;
mod live;
