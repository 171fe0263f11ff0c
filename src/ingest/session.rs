//! Per-thread session state of a general log (native file or JSON export).
//!
//! Only `Connect` entries name the user, and only `Connect`, `Init DB` and
//! `use` statements name the database, so the readers remember them per
//! thread and fill them into that thread's later events: without that, a
//! general log's statements could not be resolved against a schema, and
//! tables of different databases could not be told apart.

use std::collections::HashMap;

/// Threads remembered at once; beyond this (a log without `Quit` lines over
/// millions of connections) new threads are not tracked rather than letting
/// memory grow with the file.
const MAX_TRACKED_THREADS: usize = 1 << 16;

/// What a thread's earlier entries said about it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub user: Option<String>,
    pub host: Option<String>,
    pub db: Option<String>,
}

/// The sessions of the threads seen so far.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    threads: HashMap<u64, Session>,
}

impl Sessions {
    /// Takes in one entry of `thread_id` (`command` with its argument) and
    /// returns the session the entry belongs to: after a `Connect`, `Init
    /// DB` or `use`, the state it set up; for `Quit`, the state it ends.
    pub(crate) fn apply(&mut self, thread_id: u64, command: &str, arg: &str) -> Session {
        let tracked = self.threads.len() < MAX_TRACKED_THREADS;
        match command {
            "Connect" => {
                let s = parse_connect(arg);
                if tracked || self.threads.contains_key(&thread_id) {
                    self.threads.insert(thread_id, s.clone());
                }
                s
            }
            "Quit" => self.threads.remove(&thread_id).unwrap_or_default(),
            command => {
                let db = match command {
                    "Init DB" => Some(arg.trim().to_owned()).filter(|d| !d.is_empty()),
                    "Query" => use_target(arg),
                    _ => None,
                };
                match (db, self.threads.get_mut(&thread_id)) {
                    (Some(db), Some(s)) => {
                        s.db = Some(db);
                        s.clone()
                    }
                    (Some(db), None) => {
                        let s = Session {
                            db: Some(db),
                            ..Session::default()
                        };
                        if tracked {
                            self.threads.insert(thread_id, s.clone());
                        }
                        s
                    }
                    (None, s) => s.cloned().unwrap_or_default(),
                }
            }
        }
    }
}

/// `root@localhost on shop using Socket` → (user, host, db).
fn parse_connect(arg: &str) -> Session {
    let mut words = arg.split(' ');
    let Some((user, host)) = words.next().and_then(|w| w.rsplit_once('@')) else {
        return Session::default();
    };
    let db = words
        .skip_while(|w| *w != "on")
        .nth(1)
        .filter(|w| !w.is_empty() && *w != "using");
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Session {
        user: some(user),
        host: some(host),
        db: db.and_then(some),
    }
}

/// The database a `use db` statement switches to.
fn use_target(sql: &str) -> Option<String> {
    let head = sql.get(..4)?;
    if !head.eq_ignore_ascii_case("use ") {
        return None;
    }
    let db = sql[4..]
        .trim()
        .trim_end_matches(';')
        .trim()
        .trim_matches('`');
    (!db.is_empty()).then(|| db.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_init_db_use_and_quit() {
        let mut s = Sessions::default();
        let a = s.apply(7, "Connect", "root@localhost on shop using TCP/IP");
        assert_eq!(a.user.as_deref(), Some("root"));
        assert_eq!(a.db.as_deref(), Some("shop"));
        assert_eq!(
            s.apply(7, "Execute", "SELECT 1").db.as_deref(),
            Some("shop")
        );
        assert_eq!(
            s.apply(7, "Init DB", "archive").db.as_deref(),
            Some("archive")
        );
        assert_eq!(
            s.apply(7, "Query", "USE `other`").db.as_deref(),
            Some("other")
        );
        assert_eq!(s.apply(7, "Quit", "").db.as_deref(), Some("other"));
        assert_eq!(s.apply(7, "Query", "SELECT 1"), Session::default());
        assert_eq!(
            s.apply(8, "Connect", "root@localhost as anonymous on  using Socket")
                .db,
            None
        );
    }
}
