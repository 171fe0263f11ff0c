//! Progress for steps that take more than a couple of seconds (reading
//! large logs, fitting, evaluation splits, the pipeline's training).
//!
//! On a terminal it is an `indicatif` bar or spinner on stderr. Anywhere
//! else (CI logs, pipes, tests, the pipeline as a service) bars would be
//! noise or invisible, so progress is a plain log line at most every few
//! seconds, and none at all for a step that ends within the first two
//! seconds. Either way the caller writes the same code.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// No log line before a step has run this long.
const QUIET_FOR: Duration = Duration::from_secs(2);
/// At most one log line this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A step's progress; see the module documentation.
pub struct Progress {
    label: String,
    unit: &'static str,
    started: Instant,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

struct State {
    pos: u64,
    len: Option<u64>,
    message: String,
    last_log: Instant,
}

impl Progress {
    /// A step of `len` `unit`s ("epochs", "fits").
    pub fn bar(label: impl Into<String>, len: u64, unit: &'static str) -> Progress {
        Progress::new(label.into(), Some(len), unit, terminal())
    }

    /// A step of unknown length, counted in `unit`s ("events").
    pub fn spinner(label: impl Into<String>, unit: &'static str) -> Progress {
        Progress::new(label.into(), None, unit, terminal())
    }

    fn new(label: String, len: Option<u64>, unit: &'static str, on_terminal: bool) -> Progress {
        let bar = on_terminal.then(|| {
            let (bar, template) = match len {
                Some(n) => (
                    ProgressBar::new(n),
                    "{prefix} {bar:30} {pos}/{len} {msg} ({elapsed})",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{prefix} {spinner} {pos} {msg} ({elapsed})",
                ),
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            label,
            unit,
            started: now,
            bar,
            state: Mutex::new(State {
                pos: 0,
                len,
                message: String::new(),
                last_log: now,
            }),
        }
    }

    /// Moves to `pos` units done.
    pub fn set_position(&self, pos: u64) {
        self.update(|s| s.pos = pos);
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.update(|s| s.pos = s.pos.saturating_add(n));
    }

    /// Changes the total (an epoch budget known only once training starts).
    pub fn set_length(&self, len: u64) {
        self.update(|s| s.len = Some(len));
    }

    /// A short note beside the count ("val loss 0.41", the split's name).
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        self.update(|s| s.message = message);
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        change(&mut state);
        if let Some(bar) = &self.bar {
            if let Some(len) = state.len {
                bar.set_length(len);
            }
            bar.set_position(state.pos);
            bar.set_message(state.message.clone());
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.started) >= QUIET_FOR
            && now.duration_since(state.last_log) >= LOG_EVERY
        {
            state.last_log = now;
            tracing::info!("{}", self.line(&state));
        }
    }

    /// "reading x: 1200/5000 events, note (3.1 s)".
    fn line(&self, s: &State) -> String {
        let count = match s.len {
            Some(len) => format!("{}/{len} {}", s.pos, self.unit),
            None => format!("{} {}", s.pos, self.unit),
        };
        let note = if s.message.is_empty() {
            String::new()
        } else {
            format!(", {}", s.message)
        };
        format!(
            "{}: {count}{note} ({:.1} s)",
            self.label,
            self.started.elapsed().as_secs_f64()
        )
    }

    /// Ends the step: clears the bar, and logs where it ended when the step
    /// was long enough to have been reported.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.started.elapsed() >= QUIET_FOR
            && let Ok(state) = self.state.lock()
        {
            tracing::info!("{}", self.line(&state));
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Whether progress goes to log lines (stderr is not a terminal), for
/// code that draws its own bars (several at once) and logs otherwise.
pub fn plain() -> bool {
    !terminal()
}

/// Whether bars can be drawn: stderr is a terminal.
fn terminal() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_there_is_no_bar_and_lines_say_where_it_is() {
        let p = Progress::new("fitting".into(), Some(10), "epochs", false);
        assert!(p.bar.is_none());
        p.set_position(3);
        p.set_message("val loss 0.5");
        let line = p.line(&p.state.lock().expect("state"));
        assert!(
            line.starts_with("fitting: 3/10 epochs, val loss 0.5 ("),
            "{line}"
        );
        let s = Progress::new("reading a.log".into(), None, "events", false);
        s.inc(7);
        s.inc(5);
        let line = s.line(&s.state.lock().expect("state"));
        assert!(line.starts_with("reading a.log: 12 events ("), "{line}");
        p.finish();
        s.finish();
    }
}
