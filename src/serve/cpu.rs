//! CPU and memory sampling for `/metrics`, and CPU-peak notifications.
//!
//! The sampler that keeps the gauges current also watches for a sustained
//! peak: CPU at or above the threshold for the whole window raises one
//! notification (a WARN event and, if configured, a JSON POST to a
//! webhook); it re-arms once CPU falls below the threshold.

use super::state::AppState;
use serde::Serialize;
use std::time::{Duration, Instant};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
use tokio::sync::watch;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuSource {
    /// This process, as a share of the cores it can use.
    Process,
    /// The whole machine.
    System,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CpuPeakConfig {
    /// CPU percent that counts as a peak.
    #[arg(long, env = "QLAT_CPU_PEAK_THRESHOLD", default_value_t = 80.0)]
    pub cpu_peak_threshold: f64,
    /// How long CPU must stay at or above the threshold.
    #[arg(long, env = "QLAT_CPU_PEAK_WINDOW", default_value = "30s", value_parser = humantime::parse_duration)]
    pub cpu_peak_window: Duration,
    /// Whose CPU is watched.
    #[arg(long, env = "QLAT_CPU_PEAK_SOURCE", default_value = "process")]
    pub cpu_peak_source: CpuSource,
    /// How often CPU and memory are sampled.
    #[arg(long, env = "QLAT_CPU_SAMPLE_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub cpu_sample_interval: Duration,
    /// Where to POST a JSON notification when a peak starts.
    #[arg(long, env = "QLAT_CPU_WEBHOOK_URL")]
    pub cpu_webhook_url: Option<String>,
}

/// The JSON a webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct CpuPeakNotification {
    pub alert: &'static str,
    pub source: CpuSource,
    pub cpu_percent: f64,
    pub threshold_percent: f64,
    pub window_seconds: f64,
    pub above_since: String,
    pub host: String,
    pub pid: u32,
}

/// Decides when a run of samples is a peak. Separate from the sampler so
/// the rule is testable without a loaded machine.
#[derive(Debug)]
pub struct PeakDetector {
    threshold: f64,
    window: Duration,
    above_since: Option<Instant>,
    fired: bool,
}

impl PeakDetector {
    pub fn new(threshold: f64, window: Duration) -> PeakDetector {
        PeakDetector {
            threshold,
            window,
            above_since: None,
            fired: false,
        }
    }

    /// Feeds one sample; `Some(start)` exactly once per peak, when it has
    /// lasted the window.
    pub fn sample(&mut self, percent: f64, now: Instant) -> Option<Instant> {
        if percent >= self.threshold {
            let since = *self.above_since.get_or_insert(now);
            if !self.fired && now.duration_since(since) >= self.window {
                self.fired = true;
                return Some(since);
            }
        } else {
            self.above_since = None;
            self.fired = false;
        }
        None
    }

    pub fn active(&self) -> bool {
        self.fired
    }
}

pub fn spawn_sampler(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let cfg = state.config.cpu.clone();
        let pid = Pid::from_u32(std::process::id());
        let mut sys = match System::new_with_specifics(RefreshKind::nothing()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot read CPU and memory usage: {e}; CPU metrics stay at 0");
                return;
            }
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        let mut detector = PeakDetector::new(cfg.cpu_peak_threshold, cfg.cpu_peak_window);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok();
        let mut tick =
            tokio::time::interval(cfg.cpu_sample_interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let started_at = chrono::Utc::now();
        let started = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            sys.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
            let system = f64::from(sys.global_cpu_usage());
            let (process, rss) = sys
                .process(pid)
                .map(|p| (f64::from(p.cpu_usage()), p.memory()))
                .unwrap_or((0.0, 0));
            let m = &state.metrics;
            m.process_cpu.set(process);
            m.system_cpu.set(system);
            m.process_memory.set(rss as i64);
            m.system_memory_used.set(sys.used_memory() as i64);
            m.system_memory_total.set(sys.total_memory() as i64);
            let watched = match cfg.cpu_peak_source {
                CpuSource::Process => process / cores,
                CpuSource::System => system,
            };
            let now = Instant::now();
            if let Some(since) = detector.sample(watched, now) {
                let since_wall = started_at
                    + chrono::Duration::from_std(since.duration_since(started)).unwrap_or_default();
                let note = CpuPeakNotification {
                    alert: "qlat_cpu_peak",
                    source: cfg.cpu_peak_source,
                    cpu_percent: (watched * 10.0).round() / 10.0,
                    threshold_percent: cfg.cpu_peak_threshold,
                    window_seconds: cfg.cpu_peak_window.as_secs_f64(),
                    above_since: since_wall.to_rfc3339(),
                    host: System::host_name().unwrap_or_default(),
                    pid: std::process::id(),
                };
                m.cpu_peak_notifications.inc();
                tracing::warn!(
                    cpu_percent = note.cpu_percent,
                    threshold = note.threshold_percent,
                    window_seconds = note.window_seconds,
                    source = ?note.source,
                    "CPU peak: above the threshold for the whole window"
                );
                if let (Some(url), Some(client)) = (cfg.cpu_webhook_url.clone(), client.clone()) {
                    tokio::spawn(async move {
                        match client.post(&url).json(&note).send().await {
                            Ok(r) if r.status().is_success() => {}
                            Ok(r) => {
                                tracing::error!(status = %r.status(), %url, "CPU peak webhook refused the notification")
                            }
                            Err(e) => {
                                tracing::error!(error = %e, %url, "CPU peak webhook unreachable")
                            }
                        }
                    });
                }
            }
            m.cpu_peak_active.set(i64::from(detector.active()));
            m.ready
                .set(i64::from(state.writer.healthy() && !state.stopping()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_sustained_peak_and_rearms() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut d = PeakDetector::new(80.0, Duration::from_secs(30));
        assert_eq!(d.sample(90.0, s(0)), None);
        assert_eq!(d.sample(95.0, s(29)), None, "not yet the whole window");
        assert_eq!(d.sample(85.0, s(30)), Some(s(0)));
        assert!(d.active());
        assert_eq!(d.sample(99.0, s(60)), None, "one notification per peak");
        assert_eq!(d.sample(10.0, s(61)), None);
        assert!(!d.active());
        assert_eq!(d.sample(90.0, s(62)), None);
        assert_eq!(d.sample(90.0, s(92)), Some(s(62)), "re-armed after the dip");
    }

    #[test]
    fn a_dip_resets_the_window() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut d = PeakDetector::new(80.0, Duration::from_secs(30));
        d.sample(90.0, s(0));
        d.sample(50.0, s(20));
        assert_eq!(d.sample(90.0, s(31)), None);
        assert_eq!(d.sample(90.0, s(61)), Some(s(31)));
    }
}
