//! Where statements are analysed and predicted: never on the async
//! workers that accept connections and answer `/health_check/live`.
//!
//! Analysis is CPU work whose cost grows with the statement, so it runs on
//! two bounded pools of threads with large stacks (deep expressions recurse;
//! a 64 MiB stack costs only the pages it touches):
//! - the *small* lane, one thread per core, for ordinary statements;
//! - the *large* lane, one thread, for statements over [`LARGE_BYTES`], so
//!   that a few huge or pathological requests share one core between them
//!   and the ordinary traffic keeps the others.
//!
//! Each lane holds a bounded number of waiting jobs; past it a request is
//! answered 503 at once. A request that waits and runs longer than the
//! budget is answered 503 too, and a job whose requester has gone is skipped
//! rather than run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Statements (or batches) with more bytes than this go to the large lane.
pub const LARGE_BYTES: usize = 4 * 1024;

/// Stack of a lane thread.
const STACK_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LaneError {
    #[error("the server is analysing too many statements; retry later")]
    Busy,
    #[error("the statement was not analysed within the server's budget of {0:?}")]
    OverBudget(Duration),
    #[error("the analysis failed")]
    Failed,
}

struct Lane {
    pool: rayon::ThreadPool,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// The two lanes and the time budget.
#[derive(Clone)]
pub struct Lanes {
    small: Arc<Lane>,
    large: Arc<Lane>,
    budget: Duration,
}

impl Lanes {
    pub fn new(budget: Duration) -> Result<Lanes, rayon::ThreadPoolBuildError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Lanes {
            small: Arc::new(Lane::new("qlat-analyse", cores, 256 * cores)?),
            large: Arc::new(Lane::new("qlat-analyse-large", 1, 16)?),
            budget,
        })
    }

    /// Runs `job` on the lane its size picks and waits for it within the
    /// budget.
    pub async fn run<T, F>(&self, bytes: usize, job: F) -> Result<T, LaneError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let lane = if bytes > LARGE_BYTES {
            self.large.clone()
        } else {
            self.small.clone()
        };
        if lane.waiting.fetch_add(1, Ordering::AcqRel) >= lane.max_waiting {
            lane.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(LaneError::Busy);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let in_pool = lane.clone();
        lane.pool.spawn(move || {
            let _leave = Leave(&in_pool.waiting);
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(job());
        });
        match tokio::time::timeout(self.budget, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(LaneError::Failed),
            Err(_) => Err(LaneError::OverBudget(self.budget)),
        }
    }
}

impl Lane {
    fn new(
        name: &'static str,
        threads: usize,
        max_waiting: usize,
    ) -> Result<Lane, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .stack_size(STACK_BYTES)
            .thread_name(move |i| format!("{name}-{i}"))
            // Without a handler rayon aborts the process on a panicking
            // job; with it the job's requester gets a 500 and the thread
            // lives on.
            .panic_handler(|_| tracing::error!("a statement analysis panicked; answered 500"))
            .build()?;
        Ok(Lane {
            pool,
            waiting: AtomicUsize::new(0),
            max_waiting,
        })
    }
}

/// Counts a job out of its lane however it ends (a panic included).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
