//! The on-disk cache of compiled kernels, shared by every device: one file per entry under
//! `<cache dir>/<kind>/<hash>.<ext>`, keyed by a hash of the source, the device and the compiler
//! version. Entries are written to a temporary file and renamed, so a reader never sees half a file;
//! a corrupt entry is detected by its user (a load that fails) and rebuilt, never trusted.

use crate::error::RuntimeError;
use std::path::{Path, PathBuf};

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

/// A 128-bit FNV-1a hash of `parts` (with separators), as 32 hex digits. Stable across builds and
/// Rust versions, unlike `std`'s hasher.
pub fn content_hash(parts: &[&[u8]]) -> String {
    let mut lanes = [0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142u64];
    for part in parts {
        for lane in &mut lanes {
            for &b in part.iter().chain(&[0xffu8]) {
                *lane ^= u64::from(b);
                *lane = lane.wrapping_mul(0x0000_0100_0000_01b3);
            }
            *lane = lane.rotate_left(17) ^ (part.len() as u64);
        }
        lanes[1] = lanes[1].wrapping_add(lanes[0]);
    }
    format!("{:016x}{:016x}", lanes[0], lanes[1])
}

/// One kind of cached artefact (e.g. `cpu-so`, `cuda-ptx`).
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
    ext: &'static str,
}

impl DiskCache {
    /// The cache of `kind` files with extension `ext` under [`cache_dir`].
    pub fn new(kind: &str, ext: &'static str) -> DiskCache {
        DiskCache::at(cache_dir().join(kind), ext)
    }

    /// A cache of `ext` files in the folder `dir`.
    pub fn at(dir: PathBuf, ext: &'static str) -> DiskCache {
        DiskCache { dir, ext }
    }

    /// Where the entry for `key` lives (whether or not it exists).
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.{}", self.ext))
    }

    /// A fresh temporary path in the cache folder (created), to be [`DiskCache::install`]ed.
    pub fn temp_path(&self, key: &str) -> Result<PathBuf, RuntimeError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| cache_error(&self.dir, e))?;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.dir.join(format!("{key}.{}.{n}.tmp", std::process::id())))
    }

    /// Moves a finished temporary file into place for `key`.
    pub fn install(&self, temp: &Path, key: &str) -> Result<PathBuf, RuntimeError> {
        let path = self.path(key);
        std::fs::rename(temp, &path).map_err(|e| cache_error(&path, e))?;
        Ok(path)
    }

    /// Reads the entry for `key`, if present.
    pub fn read(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key)).ok()
    }

    /// Writes the entry for `key` atomically.
    pub fn write(&self, key: &str, bytes: &[u8]) -> Result<(), RuntimeError> {
        let temp = self.temp_path(key)?;
        std::fs::write(&temp, bytes).map_err(|e| cache_error(&temp, e))?;
        self.install(&temp, key).map(|_| ())
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

    #[test]
    fn hash_is_stable_and_separates_parts() {
        assert_eq!(content_hash(&[b"ab", b"c"]), content_hash(&[b"ab", b"c"]));
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_eq!(content_hash(&[b"kiln"]).len(), 32);
    }
}
