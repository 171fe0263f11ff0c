//! `qlat analyze` and `qlat fingerprint`: the workload profile and the
//! pt-query-digest fingerprints.

use super::{CatalogArgs, OutputFormat};
use crate::sql::catalog::Catalog;
use anyhow::Context;
use clap::Args;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Log files or directories (slow log, general log, JSON exports).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// `text` prints a summary; `json` prints the full analysis object.
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
    /// Write report.html and the charts (SVG and PNG) into this folder
    /// (nothing is written without it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write no report folder (the default; kept for scripts that say so).
    #[arg(long, hide = true, conflicts_with = "out")]
    pub no_report: bool,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Classes shown in the terminal summary.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Args, Debug)]
pub struct FingerprintArgs {
    /// The statement; omit it with --jsonl.
    pub query: Option<String>,
    /// Read `{"query": "..."}` lines on stdin, write
    /// `{"query", "fingerprint", "query_id"}` lines on stdout.
    #[arg(long, conflicts_with = "query")]
    pub jsonl: bool,
}

pub fn analyze(a: AnalyzeArgs, catalog: &Catalog) -> anyhow::Result<()> {
    let analysis = crate::analyze::analyze_paths(&a.inputs, catalog)?;
    let mut stdout = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            serde_json::to_writer(&mut stdout, &analysis)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text => {
            write!(
                stdout,
                "{}",
                crate::report::terminal_summary(&analysis, a.top)
            )?;
        }
    }
    match &a.out {
        Some(out) => {
            let files = crate::report::write_report(&analysis, out)?;
            tracing::info!(
                files = files.len(),
                "report written to {}",
                out.join("report.html").display()
            );
        }
        None if a.format == OutputFormat::Text && !a.no_report => {
            tracing::info!("add --out DIR for report.html with the charts");
        }
        None => {}
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct FingerprintRequest {
    query: String,
}

pub fn fingerprint(a: FingerprintArgs) -> anyhow::Result<()> {
    use crate::sql::fingerprint::{fingerprint, query_id};
    let mut stdout = std::io::stdout().lock();
    if !a.jsonl {
        let Some(query) = a.query else {
            anyhow::bail!("give a statement, or --jsonl to read JSON lines on stdin");
        };
        let fp = fingerprint(&query);
        writeln!(stdout, "{fp}\n{}", query_id(&fp))?;
        return Ok(());
    }
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let req: FingerprintRequest = serde_json::from_str(&line)
            .with_context(|| format!("stdin line {}: expected {{\"query\": \"...\"}}", i + 1))?;
        let fp = fingerprint(&req.query);
        let id = query_id(&fp);
        let out = serde_json::json!({"query": req.query, "fingerprint": fp, "query_id": id});
        writeln!(stdout, "{out}")?;
    }
    Ok(())
}
