//! The database on disk: opening it (a panic or a lock inside sled becomes one clear
//! error), sealing a store from an older release once, making a group commit durable,
//! and staying honest when the disk fails.
//!
//! Durable means fsynced: sled 0.34's `flush` ends in `sync_file_range`, which writes
//! neither the file's size nor the drive's cache, and sled fsyncs its files later, on a
//! thread of its own. So after sled's flush, [`Durable::sync`] fsyncs the database file
//! and, should sled have written any (the store keeps large values in parts, see
//! `table`, but an older store may hold some), every blob file it has not synced yet and
//! the blob directory.
//!
//! When a flush fails, sled refuses all further writes, and what it holds in memory was
//! never made durable: the store goes *failing*. Then every operation is refused (nothing
//! unflushed is served) until the flusher has reopened the database from disk and a
//! flush on it has succeeded; it tries once a second.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keys;
use super::table::Table;
use super::StoreError;

/// Called before every flush, with the data directory; an error makes that flush fail.
/// Tests inject storage faults through it; in production it is `None`.
#[derive(Clone, Default)]
pub struct FlushHook(pub Option<Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>>);

impl std::fmt::Debug for FlushHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "FlushHook(set)"
        } else {
            "FlushHook(none)"
        })
    }
}

/// The open database: its trees, and which incarnation of the database they belong to
/// (every reopen after a failure is a new epoch).
pub struct Trees {
    pub db: sled::Db,
    pub epoch: u64,
    pub meta: Table,
    pub log: Table,
    pub snap: Table,
    pub heads: Table,
    pub invites: Table,
    pub tokens: Table,
    pub people: Table,
    pub audit: Table,
    pub settings: Table,
    pub versions: Table,
    pub version_states: Table,
    pub archive: Table,
    pub archive_frozen: Table,
}

impl Trees {
    /// Every table with its name, for whole-store passes.
    pub fn all(&self) -> [(&'static str, &Table); 13] {
        [
            (keys::META, &self.meta),
            (keys::LOG, &self.log),
            (keys::SNAP, &self.snap),
            (keys::HEADS, &self.heads),
            (keys::INVITES, &self.invites),
            (keys::TOKENS, &self.tokens),
            (keys::PEOPLE, &self.people),
            (keys::AUDIT, &self.audit),
            (keys::SETTINGS, &self.settings),
            (keys::VERSIONS, &self.versions),
            (keys::VERSION_STATES, &self.version_states),
            (keys::ARCHIVE, &self.archive),
            (keys::ARCHIVE_FROZEN, &self.archive_frozen),
        ]
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.all()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }
}

/// How often (every 20 ms) opening retries a database whose lock is held: up to 1 s.
const LOCK_RETRIES: u32 = 50;

/// Opens the database in `dir`. A store written before values were sealed is sealed
/// first, in place.
pub fn open(dir: &Path, cache_bytes: u64, epoch: u64) -> Result<Trees, StoreError> {
    let attempt = || {
        catch_unwind(AssertUnwindSafe(|| {
            sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                // Only the store's group commit flushes: what becomes durable, and when,
                // is its decision (a flush that failed must leave nothing durable behind).
                .flush_every_ms(None)
                .open()
        }))
    };
    let is_locked = |e: &sled::Error| {
        matches!(e, sled::Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock
            || e.to_string().contains("could not acquire lock"))
    };
    // sled's own threads can hold the lock a moment after the last handle of a database
    // closed in this process (a restart): wait for that briefly before saying "locked".
    let mut opened = attempt();
    for _ in 0..LOCK_RETRIES {
        if !matches!(&opened, Ok(Err(e)) if is_locked(e)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        opened = attempt();
    }
    let db = match opened {
        Err(panic) => {
            return Err(StoreError::Unreadable(format!(
                "the database cannot be read ({})",
                panic_message(&panic)
            )))
        }
        Ok(Err(e)) if is_locked(&e) => return Err(StoreError::Locked),
        Ok(Err(sled::Error::Corruption { .. })) => {
            return Err(StoreError::Unreadable("sled found corrupted data".into()))
        }
        Ok(Err(e)) => return Err(StoreError::Unreadable(e.to_string())),
        Ok(Ok(db)) => db,
    };
    seal_old_store(&db, dir)?;
    let table = |name| Table::open(&db, name);
    let trees = Trees {
        meta: table(keys::META)?,
        log: table(keys::LOG)?,
        snap: table(keys::SNAP)?,
        heads: table(keys::HEADS)?,
        invites: table(keys::INVITES)?,
        tokens: table(keys::TOKENS)?,
        people: table(keys::PEOPLE)?,
        audit: table(keys::AUDIT)?,
        settings: table(keys::SETTINGS)?,
        versions: table(keys::VERSIONS)?,
        version_states: table(keys::VERSION_STATES)?,
        archive: table(keys::ARCHIVE)?,
        archive_frozen: table(keys::ARCHIVE_FROZEN)?,
        epoch,
        db,
    };
    check_witness(&trees, dir)?;
    // The directory entries of the database's files must survive a power cut too.
    sync_dir(dir)?;
    sync_dir(&dir.join("blobs"))?;
    Ok(trees)
}

/// The file beside the database that counts the flushes that have completed, written
/// after each one. sled keeps the same count inside the database, written before each
/// flush. If sled holds a smaller count than the file, sled has lost writes it had
/// confirmed (a damaged log it recovered only in part): the store must not be served as
/// if it were whole.
const WITNESS: &str = "leitbild-flushes";
const FLUSHES: &str = "flushes";

/// `count:u64be crc32(count):u32be`, or `None` if the file is missing or damaged.
fn read_witness(dir: &Path) -> Option<u64> {
    let bytes = std::fs::read(dir.join(WITNESS)).ok()?;
    let value = keys::unseal(WITNESS.as_bytes(), &bytes)?;
    Some(u64::from_be_bytes(value.try_into().ok()?))
}

fn stored_flushes(trees: &Trees) -> Result<u64, StoreError> {
    Ok(trees
        .settings
        .get(FLUSHES)?
        .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0))
}

fn check_witness(trees: &Trees, dir: &Path) -> Result<(), StoreError> {
    let Some(witnessed) = read_witness(dir) else {
        return Ok(());
    };
    let stored = stored_flushes(trees)?;
    if stored < witnessed {
        return Err(StoreError::Unreadable(format!(
            "sled lost writes it had confirmed (it recovered flush {stored}, flush {witnessed} had completed)"
        )));
    }
    Ok(())
}

/// The file beside sled's that says this directory holds a sealed store. If sled opens
/// the directory as an empty database while the file is there, sled lost the database
/// (a damaged file it could not recover): that must be an error, not a fresh start.
const STORE_MARKER: &str = "leitbild-store";

/// Whether `dir` holds a store (sealed, or from before sealing): opening it must not
/// make one.
pub fn holds_store(dir: &Path) -> bool {
    dir.join(STORE_MARKER).is_file() || dir.join("db").is_file()
}

/// Seals every value of a store from before sealing, and marks the store as sealed.
fn seal_old_store(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let settings = db.open_tree(keys::SETTINGS)?;
    let marker = keys::seal(keys::FORMAT.as_bytes(), keys::SEALED);
    let marker_file = dir.join(STORE_MARKER);
    match settings.get(keys::FORMAT)? {
        Some(value) if value.as_ref() == marker.as_slice() => {
            if !marker_file.exists() {
                write_marker(&marker_file)?;
            }
            return Ok(());
        }
        Some(_) => {
            return Err(StoreError::Unreadable(
                "its format marker is damaged or from a newer release".into(),
            ))
        }
        None if marker_file.exists() => {
            return Err(StoreError::Unreadable(
                "the database held data before, but sled recovered nothing from it".into(),
            ))
        }
        None => {}
    }
    let mut sealed = 0;
    for name in keys::TREES {
        sealed += Table::open(db, name)?.seal_all()?;
    }
    settings.insert(keys::FORMAT, marker)?;
    db.flush()?;
    write_marker(&marker_file)?;
    if sealed > 0 {
        tracing::info!(values = sealed, "sealed the store's values with checksums");
    }
    Ok(())
}

fn write_marker(path: &Path) -> Result<(), StoreError> {
    let text = "This directory holds a Leitbild store. Do not delete this file: without it,\n\
                a lost database would be taken for a new, empty one.\n";
    std::fs::write(path, text)?;
    File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "sled panicked".into())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// What makes a group commit durable: sled's flush, then fsync of what it leaves to the
/// page cache, then the witness.
pub struct Durable {
    dir: PathBuf,
    /// Blob files already fsynced (sled writes each blob once and never changes it).
    synced_blobs: HashSet<OsString>,
    hook: FlushHook,
    /// Flushes completed, as the witness file counts them.
    flushes: Option<u64>,
    witness: Option<File>,
    /// The database file, kept open between flushes.
    db_file: Option<File>,
}

impl Durable {
    pub fn new(dir: &Path, hook: FlushHook) -> Durable {
        Durable {
            dir: dir.to_path_buf(),
            synced_blobs: HashSet::new(),
            hook,
            flushes: None,
            witness: None,
            db_file: None,
        }
    }

    /// Forgets the files it holds open: the database was reopened.
    pub fn reopened(&mut self) {
        self.db_file = None;
    }

    /// Makes everything written to the database so far durable. Blocking.
    pub fn sync(&mut self, trees: &Trees) -> Result<(), StoreError> {
        if let Some(hook) = &self.hook.0 {
            hook().map_err(|e| StoreError::Io(Arc::new(e)))?;
        }
        let done = match self.flushes {
            Some(done) => done,
            None => read_witness(&self.dir)
                .unwrap_or(0)
                .max(stored_flushes(trees)?),
        };
        let next = done + 1;
        trees.settings.insert(FLUSHES, &next.to_be_bytes())?;
        let db = &trees.db;
        catch_unwind(AssertUnwindSafe(|| db.flush()))
            .map_err(|panic| StoreError::Unreadable(panic_message(&panic)))??;
        let io = |e: std::io::Error| StoreError::Io(Arc::new(e));
        // fdatasync writes the file's size too, which grows with the log.
        let db_file = match &mut self.db_file {
            Some(file) => file,
            None => self
                .db_file
                .insert(File::open(self.dir.join("db")).map_err(io)?),
        };
        db_file.sync_data().map_err(io)?;
        let blobs = self.dir.join("blobs");
        let mut present = HashSet::new();
        let mut new_blobs = false;
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries {
                let name = entry.map_err(io)?.file_name();
                if !self.synced_blobs.contains(&name) {
                    File::open(blobs.join(&name))
                        .and_then(|f| f.sync_all())
                        .map_err(io)?;
                    new_blobs = true;
                }
                present.insert(name);
            }
        }
        if new_blobs {
            sync_dir(&blobs).map_err(io)?;
        }
        // Forget blobs sled has removed, so the set stays as small as the directory.
        self.synced_blobs = present;
        self.witness(next).map_err(io)?;
        self.flushes = Some(next);
        Ok(())
    }

    /// Records that flush `count` has completed. Written, not synced: the witness only
    /// must never count more than sled holds durably, and it is written after sled's
    /// flush is durable. A witness lost to a power cut counts too few, which weakens the
    /// check for that one flush and never raises a false alarm.
    fn witness(&mut self, count: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let sealed = keys::seal(WITNESS.as_bytes(), &count.to_be_bytes());
        let file = match &mut self.witness {
            Some(file) => file,
            None => {
                let path = self.dir.join(WITNESS);
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                sync_dir(&self.dir)?;
                self.witness.insert(file)
            }
        };
        file.write_all_at(&sealed, 0)
    }
}
