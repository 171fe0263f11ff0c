//! One pipeline run at a time across processes and machines: a lease row
//! in the shared database.
//!
//! The lease expires unless renewed, so a holder that crashed (killed,
//! machine lost) blocks others for at most one lease period rather than
//! forever. A live holder renews it from a background task every third of
//! the period; a holder that fails to renew knows it may have lost the
//! lock and must not move the production alias (the alias move re-checks
//! the lease in its own transaction, see `Registry::set_alias`).

use crate::registry::{now_us, on_pool};
use crate::store::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LOCK_NAME: &str = "pipeline";

/// Who holds the lock now (for "busy" messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub holder: String,
    pub run_id: Option<String>,
    pub expires_at_us: i64,
}

/// A held lease; renewed in the background until released or dropped.
#[derive(Debug)]
pub struct Lease {
    db: Db,
    holder: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

fn ttl_us(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

impl Lease {
    /// Takes the lock if it is free or its lease expired; `Ok(None)` when
    /// someone else holds a live lease.
    pub async fn acquire(
        db: &Db,
        holder: &str,
        run_id: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, sqlx::Error> {
        let now = now_us();
        // The conditional upsert is one atomic statement in both
        // databases: a live row is left alone (0 rows affected).
        const SQL: &str = "INSERT INTO pipeline_lock (name, holder, run_id, acquired_at_us, expires_at_us) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id, \
             acquired_at_us = excluded.acquired_at_us, expires_at_us = excluded.expires_at_us \
             WHERE pipeline_lock.expires_at_us < excluded.acquired_at_us";
        let got = on_pool!(db, p => sqlx::query(SQL)
            .bind(LOCK_NAME)
            .bind(holder)
            .bind(run_id)
            .bind(now)
            .bind(now.saturating_add(ttl_us(ttl)))
            .execute(p)
            .await?
            .rows_affected());
        if got != 1 {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew_loop(
            db.clone(),
            holder.to_string(),
            ttl,
            lost.clone(),
        ));
        Ok(Some(Lease {
            db: db.clone(),
            holder: holder.to_string(),
            lost,
            renewer,
        }))
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether a renewal failed, i.e. another process may hold the lock.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Gives the lock back (only if still ours).
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.renewer.abort();
        const SQL: &str = "DELETE FROM pipeline_lock WHERE name = $1 AND holder = $2";
        on_pool!(&self.db, p => sqlx::query(SQL).bind(LOCK_NAME).bind(&self.holder).execute(p).await?.rows_affected());
        Ok(())
    }

    /// The current holder, if the lock is held (expired or not).
    pub async fn current(db: &Db) -> Result<Option<Holder>, sqlx::Error> {
        const SQL: &str = "SELECT holder, run_id, expires_at_us FROM pipeline_lock WHERE name = $1";
        let row: Option<(String, Option<String>, i64)> =
            on_pool!(db, p => sqlx::query_as(SQL).bind(LOCK_NAME).fetch_optional(p).await?);
        Ok(row.map(|(holder, run_id, expires_at_us)| Holder {
            holder,
            run_id,
            expires_at_us,
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Without release (an early return, a panic) the lease simply
        // expires; stop renewing it.
        self.renewer.abort();
    }
}

async fn renew_loop(db: Db, holder: String, ttl: Duration, lost: Arc<AtomicBool>) {
    const SQL: &str = "UPDATE pipeline_lock SET expires_at_us = $3 \
         WHERE name = $1 AND holder = $2 AND expires_at_us >= $4";
    let period = (ttl / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(period).await;
        let now = now_us();
        let renewed = on_pool!(&db, p => sqlx::query(SQL)
            .bind(LOCK_NAME)
            .bind(&holder)
            .bind(now.saturating_add(ttl_us(ttl)))
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()));
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::error!(%holder, "pipeline lease expired or was taken over; this run will not promote");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                // A transient error: keep trying while the lease lasts; the
                // alias move re-checks the lease itself.
                tracing::warn!(%holder, error = %e, "renewing the pipeline lease failed");
            }
        }
    }
}
