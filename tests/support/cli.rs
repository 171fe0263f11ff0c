//! Running the `qlat` binary from integration tests.

use serde_json::Value;
use std::process::Command;

/// The binary under test, run from the repository root.
/// Its per-user directory (`QLAT_HOME`) is one of this test process's
/// own, so no test reads a model or database another left behind.
pub fn qlat() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qlat"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("QLAT_HOME", test_home());
    c
}

/// A per-process `QLAT_HOME` under the temporary directory.
pub fn test_home() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("qlat-test-home-{}", std::process::id()))
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
