//! Which model a command uses: the directory it was told (`--model`,
//! `QLAT_ARTIFACTS`), else the one `qlat train` wrote for this user, else
//! one installed beside the binary, else the model compiled into the binary.
//! Commands print which, so an answer can always be traced to its model.

use std::fmt;
use std::path::{Path, PathBuf};

use super::artifact::{ArtifactError, MANIFEST_FILE};
use super::trained::TrainedModels;
use crate::sql::catalog::Catalog;

/// A model to load.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelLocation {
    /// A directory written by `qlat train` (or downloaded from the store).
    Dir {
        path: PathBuf,
        /// How it was chosen, for messages.
        how: &'static str,
    },
    /// The model compiled into the binary.
    BuiltIn,
}

impl ModelLocation {
    /// `explicit` (a flag or its environment variable) when given, else the
    /// first of: the per-user model directory, `artifacts/` beside the
    /// binary or in `../share/qlat/`, the built-in model.
    pub fn resolve(explicit: Option<&Path>) -> ModelLocation {
        if let Some(path) = explicit {
            return ModelLocation::Dir {
                path: path.to_owned(),
                how: "--model / QLAT_ARTIFACTS",
            };
        }
        let user = crate::paths::default_model_dir();
        if user.join(MANIFEST_FILE).is_file() {
            return ModelLocation::Dir {
                path: user,
                how: "trained by `qlat train` for this user",
            };
        }
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
            .into_iter()
            .flat_map(|bin| [bin.join("artifacts"), bin.join("../share/qlat/artifacts")])
            .find(|dir| dir.join(MANIFEST_FILE).is_file());
        match beside {
            Some(path) => ModelLocation::Dir {
                path,
                how: "installed beside the binary",
            },
            None => ModelLocation::BuiltIn,
        }
    }

    /// Loads the models, resolving statements against `catalog` instead of
    /// the model's own schema snapshot when given.
    pub fn load(&self, catalog: Option<Catalog>) -> Result<TrainedModels, ArtifactError> {
        match self {
            ModelLocation::Dir { path, .. } => TrainedModels::load_from_dir(path, catalog),
            ModelLocation::BuiltIn => TrainedModels::load_builtin(catalog),
        }
    }
}

impl fmt::Display for ModelLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelLocation::Dir { path, how } => write!(f, "{} ({how})", path.display()),
            ModelLocation::BuiltIn => f.write_str("the built-in model (TPC-H capture)"),
        }
    }
}
