//! Running the `qlat` binary from integration tests.

use serde_json::Value;
use std::process::Command;

/// The binary under test, run from the repository root.
pub fn qlat() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qlat"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `cmd`, requires success, and parses its stdout as one JSON value.
pub fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("qlat runs");
    assert!(
        out.status.success(),
        "qlat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}
