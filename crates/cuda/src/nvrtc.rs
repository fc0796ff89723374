//! NVRTC: compiling CUDA C to PTX, with no GPU or driver needed. Finds the library through cudarc's
//! search (the loader path: `LD_LIBRARY_PATH`, ldconfig), after preloading `$KILN_NVRTC_LIB` if set,
//! and finds the headers the kernels include (`cuda_fp16.h`, `cuda_bf16.h`) without running Python.

use cudarc::nvrtc::{result, sys};
use kiln_runtime::RuntimeError;
use std::ffi::{c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Whether NVRTC can be loaded. cudarc finds `libnvrtc.so[.13]` by name through the dynamic loader
/// (`LD_LIBRARY_PATH`, the ldconfig cache); `$KILN_NVRTC_LIB`, a full path, is loaded first together
/// with the `libnvrtc-builtins.so.*` beside it, so that the lookups by name resolve to them (the
/// loader matches an already loaded library by its soname).
pub fn nvrtc_available() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        if let Some(path) = std::env::var_os("KILN_NVRTC_LIB").map(PathBuf::from) {
            // NVRTC opens `libnvrtc-builtins.so.X.Y` by name too: preload the one beside it.
            let builtins =
                path.parent().and_then(|dir| std::fs::read_dir(dir).ok()).into_iter().flatten().filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    (name.starts_with("libnvrtc-builtins.so") && !name.contains(".alt."))
                        .then(|| path.with_file_name(name))
                });
            for lib in builtins.chain([path.clone()]) {
                // SAFETY: loading NVRTC runs only its own initialisers.
                match unsafe { libloading::Library::new(&lib) } {
                    // Kept loaded for the life of the process, so the lookups by name find it.
                    Ok(loaded) => std::mem::forget(loaded),
                    Err(e) => tracing::warn!("KILN_NVRTC_LIB: cannot load {}: {e}", lib.display()),
                }
            }
        }
        // SAFETY: probes candidate library names with dlopen; no symbols are called.
        unsafe { sys::is_culib_present() }
    })
}

fn unavailable(reason: &str) -> RuntimeError {
    RuntimeError::Unavailable { device: "NVRTC".into(), reason: reason.into() }
}

const NO_NVRTC: &str = "NVRTC (libnvrtc.so.13) not found: add its folder to LD_LIBRARY_PATH or set KILN_NVRTC_LIB";

/// NVRTC's version `(major, minor)`, if it loads.
pub fn nvrtc_version() -> Option<(i32, i32)> {
    if !nvrtc_available() {
        return None;
    }
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: NVRTC is loaded (checked above); both pointers are valid for writes.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }.result().ok()?;
    Some((major, minor))
}

/// The architectures (`90` for sm_90) this NVRTC can target.
pub(crate) fn supported_archs() -> Result<Vec<i32>, RuntimeError> {
    if !nvrtc_available() {
        return Err(unavailable(NO_NVRTC));
    }
    let mut count: c_int = 0;
    // SAFETY: NVRTC is loaded; `count` is valid for writes.
    unsafe { sys::nvrtcGetNumSupportedArchs(&mut count) }.result().map_err(|e| unavailable(&format!("{e:?}")))?;
    let mut archs = vec![0 as c_int; usize::try_from(count).unwrap_or(0)];
    // SAFETY: `archs` holds exactly `count` elements, as NVRTC requires.
    unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }.result().map_err(|e| unavailable(&format!("{e:?}")))?;
    Ok(archs)
}

/// Does `dir` hold the CUDA headers kernels include?
fn has_headers(dir: &Path) -> bool {
    dir.join("cuda_fp16.h").is_file() && dir.join("cuda_bf16.h").is_file()
}

/// Header folders inside a Python `site-packages` (pip wheels: CUDA 13 uses `nvidia/cu13`, CUDA 12
/// one folder per package).
fn wheel_include_dirs(site: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    ["cu13", "cuda_runtime", "cuda_nvrtc"].into_iter().map(move |pkg| site.join("nvidia").join(pkg).join("include"))
}

/// `python3.*/{site,dist}-packages` folders under `lib`.
fn site_packages(lib: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(lib) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .flat_map(|e| [e.path().join("site-packages"), e.path().join("dist-packages")])
        .collect();
    dirs.sort();
    dirs
}

/// The folder holding `cuda_fp16.h` and `cuda_bf16.h`, searched in order: each entry of
/// `$KILN_CUDA_INCLUDE` (`:`-separated; the folder itself or a `site-packages` holding the
/// `nvidia-cuda-runtime`/`nvidia-cuda-nvrtc` wheels), `$CUDA_HOME/include`, `$CUDA_PATH/include`,
/// `/usr/local/cuda/include`, the `include` beside `$KILN_NVRTC_LIB`'s folder, then the wheels in the
/// `site-packages` of `$VIRTUAL_ENV`, `~/.local`, `/usr/local` and `/usr`.
pub fn cuda_include_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let env_dir = |var: &str| std::env::var_os(var).map(PathBuf::from);
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(list) = std::env::var_os("KILN_CUDA_INCLUDE") {
            for dir in std::env::split_paths(&list) {
                candidates.push(dir.clone());
                candidates.extend(wheel_include_dirs(&dir));
            }
        }
        candidates.extend(["CUDA_HOME", "CUDA_PATH"].iter().filter_map(|v| env_dir(v)).map(|d| d.join("include")));
        candidates.push(PathBuf::from("/usr/local/cuda/include"));
        if let Some(lib) = env_dir("KILN_NVRTC_LIB") {
            candidates.extend(lib.parent().and_then(Path::parent).map(|d| d.join("include")));
        }
        let mut prefixes: Vec<PathBuf> = env_dir("VIRTUAL_ENV").into_iter().collect();
        prefixes.extend(env_dir("HOME").map(|h| h.join(".local")));
        prefixes.extend([PathBuf::from("/usr/local"), PathBuf::from("/usr")]);
        for prefix in prefixes {
            for site in site_packages(&prefix.join("lib")) {
                candidates.extend(wheel_include_dirs(&site));
            }
        }
        candidates.into_iter().find(|d| has_headers(d))
    })
    .clone()
}

/// Compiles CUDA C `source` whose kernel is `name` to PTX for `arch` (e.g. `compute_90`). Needs NVRTC
/// only, no GPU. A rejected kernel gives [`RuntimeError::Compile`] with NVRTC's log.
pub fn compile_ptx(source: &str, name: &str, arch: &str) -> Result<String, RuntimeError> {
    if !nvrtc_available() {
        return Err(unavailable(NO_NVRTC));
    }
    let fail =
        |log: String| RuntimeError::Compile { name: name.into(), log: format!("kernel `{name}` ({arch}): {log}") };
    let c_source = CString::new(source).map_err(|_| fail("the source contains a NUL byte".into()))?;
    let c_name = CString::new(format!("{name}.cu")).map_err(|_| fail("the kernel name contains a NUL byte".into()))?;
    let mut options = vec![format!("--gpu-architecture={arch}")];
    let include = cuda_include_dir();
    options.extend(include.iter().map(|d| format!("--include-path={}", d.display())));
    if options.iter().any(|o| o.contains('\0')) {
        return Err(fail("an option contains a NUL byte".into()));
    }
    let program = Program(result::create_program(&c_source, Some(&c_name)).map_err(|e| fail(format!("{e:?}")))?);
    // SAFETY: `program` is live until dropped at the end of this function; the options are NUL-free.
    let compiled = unsafe { result::compile_program(program.0, &options) };
    if let Err(e) = compiled {
        // SAFETY: as above.
        let log = unsafe { result::get_program_log(program.0) }.map(|l| c_chars_to_string(&l)).unwrap_or_default();
        let hint = if include.is_none() && log.contains("cuda_") {
            "\n(no folder with cuda_fp16.h and cuda_bf16.h found: set KILN_CUDA_INCLUDE or CUDA_HOME)"
        } else {
            ""
        };
        return Err(fail(format!("NVRTC {e:?}\n{log}{hint}")));
    }
    // SAFETY: as above; compilation succeeded.
    let ptx = unsafe { result::get_ptx(program.0) }.map_err(|e| fail(format!("{e:?}")))?;
    Ok(c_chars_to_string(&ptx))
}

/// An NVRTC program, destroyed on drop.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by `create_program` and destroyed once, here.
        if let Err(e) = unsafe { result::destroy_program(self.0) } {
            tracing::warn!("nvrtcDestroyProgram failed: {e:?}");
        }
    }
}

/// NVRTC's NUL-terminated output as text.
fn c_chars_to_string(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map_or_else(|_| String::from_utf8_lossy(&bytes).into_owned(), |s| s.to_string_lossy().into_owned())
}
