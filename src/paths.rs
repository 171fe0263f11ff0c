//! Where qlat keeps what it is not told where to keep: one per-user
//! directory, never the current directory (a command run from anywhere
//! behaves the same).
//!
//! `$QLAT_HOME`, else `$XDG_DATA_HOME/qlat`, else `~/.local/share/qlat`
//! (the temporary directory's `qlat/` when there is no home):
//!
//! | what | where | used by |
//! |---|---|---|
//! | runs, models, predictions | `qlat.db` (SQLite) | `serve`, `pipeline`, `runs`, `models`, `promote` (`--database-url`) |
//! | promoted models, datasets, reports | `store/` | `pipeline`, `serve` (`--artifact-store`) |
//! | a model trained by `qlat train` | `artifacts/` | `train` writes, `predict` / `eval` / `serve` read |

use std::path::{Path, PathBuf};

/// The per-user directory (see the module doc); not created here.
pub fn data_dir() -> PathBuf {
    let non_empty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    if let Some(home) = non_empty("QLAT_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = non_empty("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("qlat");
    }
    match non_empty("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/qlat"),
        None => std::env::temp_dir().join("qlat"),
    }
}

/// `sqlite://` URL of the per-user database.
pub fn default_database_url() -> String {
    sqlite_url(&data_dir().join("qlat.db"))
}

/// The per-user artifact store directory.
pub fn default_artifact_store() -> String {
    data_dir().join("store").display().to_string()
}

/// Where `qlat train` writes and `predict` / `eval` / `serve` look first.
pub fn default_model_dir() -> PathBuf {
    data_dir().join("artifacts")
}

/// A `sqlite://` URL for a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}
