//! The cache's size cap: `KILN_CACHE_MAX` bytes (a plain number, or with a `K`, `M`, `G` or `T`
//! suffix, powers of 1024), 1 GiB by default. Each insert that takes the cache over the cap deletes
//! the least recently used entries (by modification time, which a hit refreshes) until it fits again;
//! the entry just inserted is always kept. Temporary files left by a crashed writer are deleted once
//! they are an hour old.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The cap when `KILN_CACHE_MAX` is unset or invalid.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Temporary files older than this belong to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The cap from `KILN_CACHE_MAX`; an invalid value is reported and ignored.
pub(crate) fn max_bytes_from_env() -> u64 {
    let Ok(value) = std::env::var("KILN_CACHE_MAX") else { return DEFAULT_MAX_BYTES };
    parse_size(&value).unwrap_or_else(|| {
        tracing::warn!("KILN_CACHE_MAX={value:?} is not a size such as 500M or 2G; using 1G");
        DEFAULT_MAX_BYTES
    })
}

/// `123`, `64K`, `500M`, `2G`, `1T` (case-insensitive) in bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&text[..text.len() - 1], 10),
        b'M' => (&text[..text.len() - 1], 20),
        b'G' => (&text[..text.len() - 1], 30),
        b'T' => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Marks the entry at `path` as just used.
pub(crate) fn touch(path: &Path) {
    let touched = std::fs::File::open(path).and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!("cannot refresh the time of cache entry {}: {e}", path.display());
    }
}

/// A finished entry: its path, size and last use.
struct Entry {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// The finished entries in the kind folders under `root`; stale temporary files are deleted.
fn entries(root: &Path) -> Vec<Entry> {
    let now = SystemTime::now();
    let files = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|kind| kind.file_type().is_ok_and(|t| t.is_dir()))
        .flat_map(|kind| std::fs::read_dir(kind.path()).into_iter().flatten().filter_map(Result::ok));
    let mut found = Vec::new();
    for file in files {
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if file.file_name().to_string_lossy().ends_with(".tmp") {
            if now.duration_since(used).is_ok_and(|age| age > STALE_TEMP) {
                let _ = std::fs::remove_file(file.path());
            }
            continue;
        }
        found.push(Entry { path: file.path(), bytes: meta.len(), used });
    }
    found
}

/// Deletes the least recently used entries under `root` until they take at most `max_bytes`, never
/// `keep`.
pub(crate) fn enforce(root: &Path, max_bytes: u64, keep: &Path) {
    let mut all = entries(root);
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    if total <= max_bytes {
        return;
    }
    all.sort_by_key(|e| e.used);
    for entry in all.iter().filter(|e| e.path != keep) {
        if total <= max_bytes {
            break;
        }
        match std::fs::remove_file(&entry.path) {
            Ok(()) => {
                tracing::debug!("kernel cache over {max_bytes} bytes: evicted {}", entry.path.display());
                total -= entry.bytes;
            }
            // Another process may have evicted it first.
            Err(e) => tracing::debug!("cannot evict {}: {e}", entry.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size(" 64k "), Some(64 << 10));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        for bad in ["", "G", "-1", "1.5G", "10X", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn stale_temporary_files_are_deleted_and_fresh_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cpu");
        std::fs::create_dir(&dir).unwrap();
        let (stale, fresh) = (dir.join("a.so.1.0.tmp"), dir.join("b.so.1.1.tmp"));
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&fresh, b"x").unwrap();
        let long_ago = SystemTime::now() - 2 * STALE_TEMP;
        std::fs::File::open(&stale).unwrap().set_modified(long_ago).unwrap();
        assert!(entries(root.path()).is_empty(), "temporary files are not entries");
        assert!(!stale.exists() && fresh.exists());
    }
}
