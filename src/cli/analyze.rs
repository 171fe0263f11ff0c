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
    /// The statement. Without it, statements are read from stdin, one per
    /// line (when stdin is not a terminal), and each prints as its query
    /// ID, a tab and its fingerprint.
    pub query: Option<String>,
    /// Read `{"query": "..."}` lines on stdin, write
    /// `{"query", "fingerprint", "query_id"}` lines on stdout. A bad line
    /// (not JSON, no "query", not UTF-8) is reported on stderr as
    /// `stdin line N: reason` and skipped; the exit code is 1 when any line
    /// failed.
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
    use std::io::IsTerminal;
    let mut stdout = std::io::stdout().lock();
    if let Some(query) = a.query {
        let fp = fingerprint(&query);
        writeln!(stdout, "{fp}\n{}", query_id(&fp))?;
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !a.jsonl && stdin.is_terminal() {
        anyhow::bail!(
            "give a statement, pipe statements on stdin (one per line), or --jsonl for JSON lines"
        );
    }
    let lines = fingerprint_lines(stdin.lock(), &mut stdout, a.jsonl)?;
    if lines.failed > 0 {
        anyhow::bail!(
            "{} of {} stdin lines could not be read (see above)",
            lines.failed,
            lines.read
        );
    }
    Ok(())
}

/// How a stream of statements went.
#[derive(Debug, Default, PartialEq)]
pub struct LineCounts {
    /// Non-empty lines read.
    pub read: u64,
    /// Lines reported on stderr and skipped.
    pub failed: u64,
}

/// Fingerprints every non-empty line of `input` (a statement, or a
/// `{"query"}` object when `jsonl`) onto `out`; a line that cannot be read
/// is reported on stderr with its number and skipped. Only I/O fails.
pub fn fingerprint_lines(
    input: impl BufRead,
    out: &mut impl Write,
    jsonl: bool,
) -> anyhow::Result<LineCounts> {
    use crate::sql::fingerprint::{fingerprint, query_id};
    let mut counts = LineCounts::default();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.context("cannot read stdin")?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        counts.read += 1;
        let query = std::str::from_utf8(line)
            .map_err(|e| format!("not UTF-8 ({e})"))
            .and_then(|text| {
                if !jsonl {
                    return Ok(text.to_owned());
                }
                serde_json::from_str::<FingerprintRequest>(text)
                    .map(|r| r.query)
                    .map_err(|e| format!("expected {{\"query\": \"...\"}} ({e})"))
            });
        let query = match query {
            Ok(q) => q,
            Err(reason) => {
                counts.failed += 1;
                eprintln!("qlat: stdin line {}: {reason}", i + 1);
                continue;
            }
        };
        let fp = fingerprint(&query);
        let id = query_id(&fp);
        if jsonl {
            let object = serde_json::json!({"query": query, "fingerprint": fp, "query_id": id});
            writeln!(out, "{object}")?;
        } else {
            writeln!(out, "{id}\t{fp}")?;
        }
    }
    Ok(counts)
}
