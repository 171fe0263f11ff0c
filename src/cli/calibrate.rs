//! `qlat calibrate`: a calibrated copy of a model for another server, from
//! that server's logged statements, without retraining (see
//! [`crate::model::calibration`] for what is fitted and why).

use super::CatalogArgs;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Slow-log files or directories of the server to calibrate for.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The model to calibrate (default: the per-user model, one installed
    /// beside the binary, else the built-in model).
    #[arg(long = "model", visible_alias = "artifacts", env = "QLAT_ARTIFACTS")]
    pub model: Option<PathBuf>,
    /// Directory to write the calibrated copy to (may be --model itself).
    #[arg(long, required = true)]
    pub out: PathBuf,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Name of the server, shown in answers (default: the first input).
    #[arg(long)]
    pub server: Option<String>,
    /// Use only the first N statements (by log time), e.g. a new server's
    /// first few hundred.
    #[arg(long)]
    pub first: Option<usize>,
}

pub fn calibrate(
    a: CalibrateArgs,
    catalog: Option<crate::sql::catalog::Catalog>,
) -> anyhow::Result<()> {
    let location = crate::model::location::ModelLocation::resolve(a.model.as_deref());
    let mut models = location.load(catalog).with_context(|| {
        format!("loading the model {location} (choose one with --model or QLAT_ARTIFACTS)")
    })?;
    eprintln!(
        "model: {location}, version {}",
        models.manifest.model_version
    );
    let mut samples = super::model::read_samples(&a.inputs)?;
    samples.sort_by_key(|s| s.time);
    if let Some(n) = a.first {
        anyhow::ensure!(n > 0, "--first must be at least 1");
        samples.truncate(n);
    }
    let server = a.server.clone().unwrap_or_else(|| {
        a.inputs
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    });
    let fitted = models.fit_server(&samples, &server)?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(
        out,
        "calibrated on {} statements of {server}",
        fitted.statements
    )?;
    if let Some(g) = fitted.models.get("mlp") {
        writeln!(
            out,
            "mlp: speed factor {:.3} overall (p10 offset {:+.3}, p90 offset {:+.3} ln s)",
            g.global.shift.exp(),
            g.global.lower,
            g.global.upper
        )?;
        for (key, f) in &g.groups {
            writeln!(
                out,
                "  {key:<16} n {:>5}  factor {:>7.3}  p10 {:+.3}  p90 {:+.3}",
                f.n,
                f.shift.exp(),
                f.lower,
                f.upper
            )?;
        }
    }
    models.calibration.server = Some(fitted);
    models.save(&a.out)?;
    writeln!(out, "saved the calibrated model to {}", a.out.display())?;
    Ok(())
}

/// The catalog `--schema` names, if any (else the model's own).
pub async fn schema(a: &CalibrateArgs) -> anyhow::Result<Option<crate::sql::catalog::Catalog>> {
    if !a.catalog.is_given() {
        return Ok(None);
    }
    Ok(Some(
        super::load_catalog(&a.catalog, super::SchemaFallback::default()).await?,
    ))
}
