//! Compiling C kernels with the system compiler (`$CC`, else `cc`) into shared objects, built in a
//! private temporary folder and cached on disk by a hash of the source, the compiler's version and the
//! flags. A cached object that fails to load is evicted and rebuilt; an untrusted cache is bypassed.

use crate::cache::{content_hash, DiskCache};
use crate::error::RuntimeError;
use libloading::Library;
use std::ffi::c_void;
use std::process::Command;

/// `void kernel(void** bufs, long long core_start, long long core_end)`.
pub(crate) type Entry = unsafe extern "C" fn(*const *mut c_void, i64, i64);

/// A loaded kernel. The library is kept alive as long as the entry point may be called.
pub(crate) struct CKernel {
    pub(crate) entry: Entry,
    _library: Library,
}

pub(crate) struct CCompiler {
    program: String,
    flags: Vec<String>,
    version: String,
    cache: DiskCache,
}

impl CCompiler {
    pub(crate) fn detect() -> Result<CCompiler, RuntimeError> {
        let program = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let output = Command::new(&program).arg("--version").output().map_err(|e| RuntimeError::Unavailable {
            device: "CPU".into(),
            reason: format!("no C compiler `{program}`: {e}"),
        })?;
        let version = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_string();
        let flags = std::env::var("KILN_CFLAGS")
            .map(|f| f.split_whitespace().map(String::from).collect())
            .unwrap_or_else(|_| vec!["-O3".into(), "-march=native".into(), "-ffp-contract=fast".into()]);
        Ok(CCompiler { program, flags, version, cache: DiskCache::new("cpu", "so") })
    }

    fn key(&self, source: &str) -> String {
        content_hash(&[
            source.as_bytes(),
            self.version.as_bytes(),
            self.flags.join(" ").as_bytes(),
            std::env::consts::ARCH.as_bytes(),
        ])
    }

    pub(crate) fn compile(&self, name: &str, source: &str) -> Result<CKernel, RuntimeError> {
        let key = self.key(source);
        if let Some(path) = self.cache.lookup(&key) {
            match load(&path, name) {
                Ok(kernel) => return Ok(kernel),
                Err(e) => {
                    tracing::warn!("kernel cache entry {} is corrupt ({e}); rebuilding", path.display());
                    self.cache.evict(&key);
                }
            }
        }
        // Built in a fresh private folder (mode 0700), never in a shared one.
        let scratch = tempfile::Builder::new()
            .prefix("kiln-cc-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(|e| RuntimeError::Cache { path: std::env::temp_dir().display().to_string(), source: e })?;
        let c_file = scratch.path().join(format!("{key}.c"));
        // Named by its key: the dynamic loader reuses an already loaded library of the same path.
        let object = scratch.path().join(format!("{key}.so"));
        std::fs::write(&c_file, source)
            .map_err(|e| RuntimeError::Cache { path: c_file.display().to_string(), source: e })?;
        let output = Command::new(&self.program)
            .args(&self.flags)
            .args(["-shared", "-fPIC", "-std=gnu11", "-o"])
            .arg(&object)
            .arg(&c_file)
            .arg("-lm")
            .output()
            .map_err(|e| RuntimeError::Compile {
                name: name.into(),
                log: format!("cannot run {}: {e}", self.program),
            })?;
        if !output.status.success() {
            return Err(RuntimeError::Compile {
                name: name.into(),
                log: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let cached = std::fs::read(&object)
            .map_err(|e| RuntimeError::Cache { path: object.display().to_string(), source: e })
            .and_then(|bytes| self.cache.write(&key, &bytes));
        let path = match cached {
            Ok(Some(path)) => path,
            // The cache is bypassed: load the object from the private folder before it goes.
            Ok(None) => object,
            Err(e) => {
                tracing::warn!("cannot cache kernel {name}: {e}");
                object
            }
        };
        load(&path, name).map_err(|e| RuntimeError::Compile { name: name.into(), log: e })
    }
}

fn load(path: &std::path::Path, name: &str) -> Result<CKernel, String> {
    // SAFETY: the library is a kernel object written by this compiler from generated C; loading it runs
    // no initialisers of ours.
    let library = unsafe { Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: generated kernels export `name` with the `Entry` signature.
    let entry: Entry = unsafe { library.get::<Entry>(name.as_bytes()) }.map(|s| *s).map_err(|e| e.to_string())?;
    Ok(CKernel { entry, _library: library })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` with a compiler whose cache is a private folder.
    fn with_cache_dir<T>(f: impl FnOnce(&CCompiler) -> T) -> T {
        let root = tempfile::tempdir().unwrap();
        let mut compiler = CCompiler::detect().unwrap();
        compiler.cache = DiskCache::at(root.path().join("kiln"), "cpu", "so", 1 << 30);
        f(&compiler)
    }

    const SOURCE: &str = "void k(void** bufs, long long s, long long e) { float* o = (float*)bufs[0]; for (long long i = s; i < e; i++) o[i] = (float)i * 2.0f; }\n";

    #[test]
    fn compiles_runs_and_caches() {
        with_cache_dir(|cc| {
            let kernel = cc.compile("k", SOURCE).unwrap();
            let mut out = vec![0f32; 4];
            let ptrs = [out.as_mut_ptr().cast::<c_void>()];
            // SAFETY: the kernel writes 4 floats into `out`.
            unsafe { (kernel.entry)(ptrs.as_ptr(), 0, 4) };
            assert_eq!(out, [0.0, 2.0, 4.0, 6.0]);
            assert!(cc.cache.lookup(&cc.key(SOURCE)).is_some());
        });
    }

    #[test]
    fn corrupt_cache_entry_is_rebuilt() {
        with_cache_dir(|cc| {
            cc.compile("k", SOURCE).unwrap();
            std::fs::write(cc.cache.path(&cc.key(SOURCE)), b"not an object file").unwrap();
            let kernel = cc.compile("k", SOURCE).unwrap();
            let mut out = vec![0f32; 2];
            let ptrs = [out.as_mut_ptr().cast::<c_void>()];
            // SAFETY: as above.
            unsafe { (kernel.entry)(ptrs.as_ptr(), 0, 2) };
            assert_eq!(out, [0.0, 2.0]);
        });
    }

    #[test]
    fn a_planted_object_in_a_shared_folder_is_never_loaded() {
        use std::os::unix::fs::PermissionsExt;
        with_cache_dir(|cc| {
            // Another user's object under the key of SOURCE, in a cache folder anyone may write.
            let poison = SOURCE.replace("(float)i * 2.0f", "99.0f");
            cc.compile("k", &poison).unwrap();
            let planted = cc.cache.path(&cc.key(SOURCE));
            std::fs::copy(cc.cache.path(&cc.key(&poison)), &planted).unwrap();
            let folder = planted.parent().unwrap();
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
            let kernel = cc.compile("k", SOURCE).unwrap();
            let mut out = vec![0f32; 3];
            let ptrs = [out.as_mut_ptr().cast::<c_void>()];
            // SAFETY: as above.
            unsafe { (kernel.entry)(ptrs.as_ptr(), 0, 3) };
            assert_eq!(out, [0.0, 2.0, 4.0], "the planted object ran");
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).unwrap();
        });
    }

    #[test]
    fn compile_errors_carry_the_log() {
        with_cache_dir(|cc| {
            let Err(RuntimeError::Compile { name, log }) = cc.compile("broken", "void broken( {") else {
                panic!("expected a compile error")
            };
            assert_eq!(name, "broken");
            assert!(log.contains("error"), "{log}");
        });
    }
}
