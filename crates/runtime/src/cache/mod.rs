//! The on-disk cache of compiled kernels, shared by every device: one file per entry under
//! `<cache dir>/<kind>/<key>.<ext>`, keyed by a BLAKE3 hash of the source, the device and the compiler
//! version ([`content_hash`]).
//!
//! - Entries are written to a temporary file and renamed, so a reader never sees half a file; a
//!   corrupt entry is detected by its user (a load that fails) and rebuilt, never trusted.
//! - Nothing is read from a folder or entry another user could have written (see `trust`); such a
//!   cache is bypassed with a warning, and kernels are compiled as if it were empty.
//! - The cache is capped at `KILN_CACHE_MAX` bytes, least recently used entries first out (see
//!   `limit`).

mod key;
mod limit;
mod trust;

pub use key::content_hash;

use crate::error::RuntimeError;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The cache root: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `$HOME/.cache/kiln`, else a
/// folder under the system temp dir.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KILN_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("kiln");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("kiln");
    }
    std::env::temp_dir().join("kiln-cache")
}

/// One kind of cached artefact (e.g. `cpu` shared objects, `cuda` PTX).
#[derive(Debug)]
pub struct DiskCache {
    /// The cache root, which the size cap covers.
    root: PathBuf,
    /// `<root>/<kind>`.
    dir: PathBuf,
    ext: &'static str,
    max_bytes: u64,
    /// Whether the bypass of an untrusted folder was reported already.
    warned: AtomicBool,
}

impl DiskCache {
    /// The cache of `kind` files with extension `ext` under [`cache_dir`], capped by `KILN_CACHE_MAX`.
    pub fn new(kind: &str, ext: &'static str) -> DiskCache {
        DiskCache::at(cache_dir(), kind, ext, limit::max_bytes_from_env())
    }

    /// A cache of `ext` files in `<root>/<kind>`, keeping everything under `root` within `max_bytes`.
    pub fn at(root: PathBuf, kind: &str, ext: &'static str, max_bytes: u64) -> DiskCache {
        DiskCache { dir: root.join(kind), root, ext, max_bytes, warned: AtomicBool::new(false) }
    }

    /// Where the entry for `key` lives (whether or not it exists or may be trusted).
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.{}", self.ext))
    }

    /// True when the cache folders exist (created with mode 0700 if missing) and may be trusted; the
    /// first refusal is reported.
    fn usable(&self) -> bool {
        let checked = trust::private_dir(&self.root).and_then(|()| trust::private_dir(&self.dir));
        match checked {
            Ok(()) => true,
            Err(e) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "kernel cache {} is not used: {e}; kernels are compiled without it (set KILN_CACHE_DIR \
                         to a private folder)",
                        self.dir.display()
                    );
                }
                false
            }
        }
    }

    /// The path of a trusted entry for `key`, marked as just used; `None` when there is none.
    pub fn lookup(&self, key: &str) -> Option<PathBuf> {
        let path = self.path(key);
        if !path.exists() || !self.usable() {
            return None;
        }
        if let Err(e) = trust::check_entry(&path) {
            tracing::warn!("kernel cache entry {} is ignored: {e}", path.display());
            return None;
        }
        limit::touch(&path);
        Some(path)
    }

    /// The contents of the trusted entry for `key`, if any.
    pub fn read(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.lookup(key)?).ok()
    }

    /// Stores `bytes` for `key` atomically and evicts old entries beyond the size cap. Returns where
    /// the entry lives, or `None` when the cache is bypassed.
    pub fn write(&self, key: &str, bytes: &[u8]) -> Result<Option<PathBuf>, RuntimeError> {
        if !self.usable() {
            return Ok(None);
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!("{key}.{}.{}.{n}.tmp", self.ext, std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut f| f.write_all(bytes));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(cache_error(&temp, e));
        }
        let path = self.path(key);
        if let Err(e) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(cache_error(&path, e));
        }
        limit::touch(&path);
        limit::enforce(&self.root, self.max_bytes, &path);
        Ok(Some(path))
    }

    /// Deletes a corrupt entry.
    pub fn evict(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
    }
}

fn cache_error(path: &Path, source: std::io::Error) -> RuntimeError {
    RuntimeError::Cache { path: path.display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn cache(root: &Path, max_bytes: u64) -> DiskCache {
        DiskCache::at(root.join("kiln"), "cpu", "so", max_bytes)
    }

    #[test]
    fn entries_round_trip_in_private_folders() {
        let base = tempfile::tempdir().unwrap();
        let cache = cache(base.path(), limit::DEFAULT_MAX_BYTES);
        assert_eq!(cache.read("k"), None);
        let path = cache.write("k", b"object").unwrap().unwrap();
        assert_eq!(path, cache.path("k"));
        assert_eq!(cache.read("k").as_deref(), Some(&b"object"[..]));
        assert_eq!(std::fs::metadata(&cache.dir).unwrap().permissions().mode() & 0o777, 0o700);
        cache.evict("k");
        assert_eq!(cache.lookup("k"), None);
    }

    #[test]
    fn a_cache_in_a_world_writable_folder_is_bypassed() {
        let base = tempfile::tempdir().unwrap();
        let cache = cache(base.path(), limit::DEFAULT_MAX_BYTES);
        std::fs::create_dir_all(&cache.dir).unwrap();
        std::fs::set_permissions(&cache.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        // Another user plants an entry under the right key.
        std::fs::write(cache.path("k"), b"planted").unwrap();
        assert_eq!(cache.lookup("k"), None);
        assert_eq!(cache.read("k"), None);
        assert!(cache.write("k", b"mine").unwrap().is_none(), "nothing is written there either");
        assert_eq!(std::fs::read(cache.path("k")).unwrap(), b"planted");
    }

    #[test]
    fn a_planted_entry_in_a_private_folder_is_ignored() {
        let base = tempfile::tempdir().unwrap();
        let cache = cache(base.path(), limit::DEFAULT_MAX_BYTES);
        cache.write("k", b"mine").unwrap().unwrap();
        // An entry anyone may rewrite is as good as foreign.
        std::fs::set_permissions(cache.path("k"), std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cache.read("k"), None);
        // Writing it again replaces it with a trusted one.
        cache.write("k", b"mine").unwrap().unwrap();
        assert_eq!(cache.read("k").as_deref(), Some(&b"mine"[..]));
    }

    #[test]
    fn the_size_cap_evicts_least_recently_used_entries() {
        let base = tempfile::tempdir().unwrap();
        let cache = cache(base.path(), 3000);
        let other = DiskCache::at(base.path().join("kiln"), "cuda", "ptx", 3000);
        let pause = || std::thread::sleep(Duration::from_millis(5));
        for key in ["a", "b"] {
            cache.write(key, &[0; 1000]).unwrap();
            pause();
        }
        other.write("c", &[0; 1000]).unwrap();
        pause();
        // A hit makes `a` the most recently used.
        assert!(cache.read("a").is_some());
        pause();
        cache.write("d", &[0; 1000]).unwrap();
        assert!(cache.lookup("b").is_none(), "the least recently used entry goes, whatever its kind");
        assert!(cache.lookup("a").is_some() && other.lookup("c").is_some() && cache.lookup("d").is_some());
        // An entry larger than the cap is kept alone.
        pause();
        cache.write("huge", &[0; 5000]).unwrap();
        assert!(cache.lookup("huge").is_some());
        assert!(["a", "d"].iter().all(|k| cache.lookup(k).is_none()) && other.lookup("c").is_none());
    }
}
