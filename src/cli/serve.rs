//! `qlat serve` and `qlat healthcheck`.

use anyhow::Context;
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// The readiness endpoint to ask.
    #[arg(
        long,
        env = "QLAT_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8080/health_check"
    )]
    pub url: String,
    /// Give up after this long.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// `qlat serve`: runs until a signal, then says what waits in the spool.
pub async fn serve(config: crate::serve::ServeConfig) -> anyhow::Result<()> {
    let report = crate::serve::run(config).await?;
    if report.spooled > 0 {
        eprintln!(
            "qlat: {} acknowledged predictions wait in the spool; the next start replays them",
            report.spooled
        );
    }
    Ok(())
}

pub async fn healthcheck(a: HealthcheckArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(a.timeout).build()?;
    let response = client
        .get(&a.url)
        .send()
        .await
        .with_context(|| format!("{} unreachable", a.url))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{} answered {status}: {body}", a.url);
    println!("{body}");
    Ok(())
}
