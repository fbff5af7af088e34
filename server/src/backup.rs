//! Backups: exports written as files named by their time into a directory, made
//! durable before they count, the oldest pruned beyond a number to keep.

use std::path::{Path, PathBuf};

use crate::portable::{self, Moved, PortableError};
use crate::store::Store;

const PREFIX: &str = "leitbild-backup-";
const SUFFIX: &str = ".jsonl.gz";

/// The file name of a backup taken at `ms` (sorts by time).
pub fn file_name(ms: u64) -> String {
    let stamp: String = crate::timestamp::to_rfc3339(ms)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{PREFIX}{stamp}{SUFFIX}")
}

/// Writes a backup of `store` into `dir`: to a temporary name, synced, then renamed, so
/// a file with a backup's name is always whole.
pub fn write(
    store: &Store,
    dir: &Path,
    progress: impl FnMut(u64),
) -> Result<(PathBuf, Moved), PortableError> {
    std::fs::create_dir_all(dir).map_err(PortableError::Write)?;
    let path = dir.join(file_name(crate::store::now_ms()));
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(PortableError::Write)?;
    let mut writer = std::io::BufWriter::new(file);
    let moved = portable::export(store, &mut writer, progress)?;
    let file = writer
        .into_inner()
        .map_err(|e| PortableError::Write(e.into_error()))?;
    file.sync_all().map_err(PortableError::Write)?;
    std::fs::rename(&partial, &path).map_err(PortableError::Write)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(PortableError::Write)?;
    Ok((path, moved))
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    backups.sort();
    Ok(backups)
}

/// Removes all but the newest `keep` backups in `dir`; returns how many went.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let backups = list(dir)?;
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        std::fs::remove_file(old)?;
    }
    Ok(excess)
}

/// Runs `work` on a thread of its own at a lower CPU priority (nice 10), so that an
/// export never competes with live editing on equal terms; the answer comes back when it
/// is done.
pub async fn at_low_priority<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (done, answer) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("leitbild-backup".into())
        .spawn(move || {
            // SAFETY: gettid and setpriority touch only this thread's own scheduling; a
            // failure (no permission) leaves the priority as it was.
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
            }
            let _ = done.send(work());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a backup thread");
        return None;
    }
    answer.await.ok()
}

/// Takes a backup every `every` into `dir`, keeping the newest `keep`, for as long as the
/// server runs. A failed backup is logged and tried again at the next turn.
pub async fn run_periodically(store: Store, dir: PathBuf, every: std::time::Duration, keep: usize) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await; // the first tick is now: the first backup comes after `every`
    loop {
        ticks.tick().await;
        let (store, target) = (store.clone(), dir.clone());
        let taken = at_low_priority(move || {
            let written = write(&store, &target, |_| {})?;
            let pruned = prune(&target, keep).map_err(PortableError::Write)?;
            Ok::<_, PortableError>((written, pruned))
        })
        .await;
        match taken {
            Some(Ok(((path, moved), pruned))) => tracing::info!(
                file = %path.display(), items = moved.items, pruned, "backup taken"
            ),
            Some(Err(e)) => tracing::error!(error = %e, dir = %dir.display(), "backup failed"),
            None => tracing::error!("backup thread failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_pruning_keeps_the_newest() {
        assert!(file_name(1_000) < file_name(2_000_000));
        let dir = tempfile::tempdir().unwrap();
        for ms in [3_000_000, 1_000_000, 2_000_000, 4_000_000] {
            std::fs::write(dir.path().join(file_name(ms)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        assert_eq!(prune(dir.path(), 2).unwrap(), 2);
        let left = list(dir.path()).unwrap();
        assert_eq!(
            left,
            [file_name(3_000_000), file_name(4_000_000)].map(|n| dir.path().join(n))
        );
        assert!(dir.path().join("notes.txt").exists());
    }
}
