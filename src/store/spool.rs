//! The durable spool: where acknowledged predictions wait while the
//! database cannot take them.
//!
//! "Acknowledged" means durable. When a write to the database fails for a
//! reason that is not the record's own (the database is down, its disk is
//! full, its file is read-only), the writer appends the records here as JSON
//! lines, `fsync`s the file, and only then answers. The spool is replayed
//! into the database when it takes writes again, and at the next start when
//! the process died first — a `kill -9` during an outage loses nothing.
//!
//! One file per process (`spool-<uuid>.jsonl` in a folder per store), held
//! under an exclusive lock while the process lives. A file nobody holds is an
//! orphan of a process that died; whoever finds it takes the lock and
//! replays it. Replays write with `ON CONFLICT DO NOTHING`, so a record
//! written just before a crash and replayed after it is stored once.
//!
//! The spool is bounded (records and bytes): past the bound a record cannot
//! be made durable, and the caller answers 503 instead of acknowledging it.

use super::predictions::PredictionRecord;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("spool {path} is full ({records} records, {bytes} bytes)")]
    Full {
        path: PathBuf,
        records: usize,
        bytes: u64,
    },
}

/// Limits of one spool file.
#[derive(Debug, Clone, Copy)]
pub struct SpoolLimits {
    pub max_records: usize,
    pub max_bytes: u64,
}

/// The folder for the spools of one store: `root/<hash of the store>`, so
/// that records spooled for one database are never replayed into another.
/// An SQLite path is made absolute first (the same file from two working
/// directories is one store).
pub fn folder_for(root: &Path, database_url: &str) -> PathBuf {
    let key = match database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let path = path.split('?').next().unwrap_or(path);
            let abs = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
            format!("sqlite://{}", abs.display())
        }
        None => database_url.to_string(),
    };
    let digest = Sha256::digest(key.as_bytes());
    root.join(hex::encode(&digest[..8]))
}

/// This process's spool file.
pub struct Spool {
    path: PathBuf,
    file: File,
    limits: SpoolLimits,
    /// Records in the file not yet replayed, and where they start.
    pending: usize,
    replayed_to: u64,
    len: u64,
}

impl Spool {
    /// Creates `folder` if needed and a new spool file in it, locked.
    pub fn create(folder: &Path, limits: SpoolLimits) -> Result<Spool, SpoolError> {
        let io = |source| SpoolError::Io {
            path: folder.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(folder).map_err(io)?;
        let path = folder.join(format!("spool-{}.jsonl", uuid::Uuid::now_v7().simple()));
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|source| SpoolError::Io {
                path: path.clone(),
                source,
            })?;
        file.try_lock().map_err(|e| SpoolError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        sync_dir(folder);
        Ok(Spool {
            path,
            file,
            limits,
            pending: 0,
            replayed_to: 0,
            len: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records spooled and not yet replayed.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Appends the records and `fsync`s: when this returns `Ok`, they
    /// survive a crash. On any failure the file is cut back to where it was,
    /// so a half-written line never sits before later ones.
    pub fn append(&mut self, records: &[PredictionRecord]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(records.len() * 1024);
        for r in records {
            // A record always serializes (strings and numbers only).
            serde_json::to_writer(&mut buf, r).map_err(|e| self.io(std::io::Error::other(e)))?;
            buf.push(b'\n');
        }
        if self.pending + records.len() > self.limits.max_records
            || self.len + buf.len() as u64 > self.limits.max_bytes
        {
            return Err(SpoolError::Full {
                path: self.path.clone(),
                records: self.pending,
                bytes: self.len,
            });
        }
        let written = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(self.len);
            return Err(self.io(e));
        }
        self.len += buf.len() as u64;
        self.pending += records.len();
        Ok(())
    }

    /// Reads up to `max` records from where the last replay stopped, with
    /// the offset after them; lines that do not parse are returned as text
    /// (for the dead-letter table) rather than dropped.
    pub fn read_batch(&mut self, max: usize) -> Result<(Vec<Spooled>, u64), SpoolError> {
        read_from(&self.file, &self.path, self.replayed_to, max)
    }

    /// Marks everything before `offset` as replayed; when that is the whole
    /// file, empties it.
    pub fn replayed(&mut self, offset: u64, records: usize) -> Result<(), SpoolError> {
        self.replayed_to = offset;
        self.pending = self.pending.saturating_sub(records);
        if self.replayed_to >= self.len {
            self.file.set_len(0).map_err(|e| self.io(e))?;
            self.file.sync_data().map_err(|e| self.io(e))?;
            self.len = 0;
            self.replayed_to = 0;
            self.pending = 0;
        }
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for Spool {
    /// An empty spool is removed; one with records stays for the next start.
    fn drop(&mut self) {
        if self.pending == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One line of a spool.
#[derive(Debug)]
pub enum Spooled {
    Record(Box<PredictionRecord>),
    /// A line that does not parse as a record (kept for the dead letters).
    Unreadable(String),
}

fn read_from(
    file: &File,
    path: &Path,
    offset: u64,
    max: usize,
) -> Result<(Vec<Spooled>, u64), SpoolError> {
    let io = |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = file.try_clone().map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut reader = BufReader::new(f);
    let mut out = Vec::new();
    let mut at = offset;
    let mut line = Vec::new();
    while out.len() < max {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // A torn last line: its append never returned, so it was never
            // acknowledged. Stop before it.
            break;
        }
        at += n as u64;
        let text = &line[..line.len() - 1];
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(match serde_json::from_slice::<PredictionRecord>(text) {
            Ok(r) => Spooled::Record(Box::new(r)),
            Err(_) => Spooled::Unreadable(String::from_utf8_lossy(text).into_owned()),
        });
    }
    Ok((out, at))
}

/// A spool file left by a process that is gone, locked by us while we
/// replay it.
pub struct Orphan {
    pub path: PathBuf,
    file: File,
    offset: u64,
}

impl Orphan {
    /// The spool files in `folder` that no live process holds.
    pub fn find(folder: &Path) -> Vec<Orphan> {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Vec::new();
        };
        let mut found: Vec<Orphan> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("spool-") && n.ends_with(".jsonl"))
            })
            .filter_map(|path| {
                let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
                file.try_lock().ok()?;
                Some(Orphan {
                    path,
                    file,
                    offset: 0,
                })
            })
            .collect();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found
    }

    pub fn read_batch(&mut self, max: usize) -> Result<(Vec<Spooled>, u64), SpoolError> {
        read_from(&self.file, &self.path, self.offset, max)
    }

    pub fn replayed(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Removes the file once every record in it is in the database.
    pub fn finish(self) -> Result<(), SpoolError> {
        std::fs::remove_file(&self.path).map_err(|source| SpoolError::Io {
            path: self.path.clone(),
            source,
        })?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir);
        }
        Ok(())
    }
}

/// Makes a created or removed file name durable (best effort: not every
/// file system can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
