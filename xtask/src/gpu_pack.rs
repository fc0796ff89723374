//! `cargo xtask gpu-pack`: builds the GPU-relevant test binaries and the quickstart in release mode,
//! strips them into `.gpu/` (the test binaries as one `tests.tar.xz`, which `unpack.sh` and `run.sh`
//! unpack there) with a `run.sh`, so a machine with a GPU and no Rust toolchain can run
//! them (`bash .gpu/run.sh`; logs go to `$OUT/gpu-pack.log` when `$OUT` is set). `-p <package>`
//! (repeatable) packs only those packages' tests; the quickstart comes with `kiln`. The benchmark
//! binary, its `bench.sh` and the tinygrad wheel its reference needs (`.gpu/wheels/`, downloaded into
//! the git-ignored `.whl/` once) always come along: `bash .gpu/bench.sh` runs the full benchmark.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Packages whose test binaries exercise a GPU (the default selection).
const PACKAGES: [&str; 4] = ["kiln-cuda", "kiln-vulkan", "kiln-conformance", "kiln"];

/// Sourced by both scripts (with `$root` set): the Vulkan loader from `.gl` beside `.gpu` (the device
/// README's recipe), and the NVIDIA ICD named when none is in the usual places.
const VULKAN_ENV_SH: &str = r#"# Vulkan loader and ICD for kiln's GPU scripts; sourced with $root set. Made by `cargo xtask gpu-pack`.
if compgen -G "$root/.gl/*.deb" >/dev/null; then
    for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z "${VK_DRIVER_FILES:-}" && -f "$nvidia_icd" ]] && ! compgen -G "/usr/share/vulkan/icd.d/*nvidia*" >/dev/null \
    && ! compgen -G "/etc/vulkan/icd.d/*nvidia*" >/dev/null; then
    export VK_DRIVER_FILES="$nvidia_icd"
fi
"#;

const RUN_SH: &str = r#"#!/usr/bin/env bash
# Runs kiln's GPU test binaries (KILN_TEST_DEVICES=cuda, one test thread), the Vulkan tests and the
# conformance binaries again with KILN_TEST_DEVICES=vulkan, and the quickstart on CUDA and on Vulkan.
# Made by `cargo xtask gpu-pack`; run from anywhere inside the repository copy. Logs: $OUT/gpu-pack.log.
# Vulkan loader: a `.gl` folder of loader .debs beside `.gpu` is unpacked first (the device README's
# recipe); without an ICD in the usual places, the NVIDIA one under /usr/local/nvidia is named.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export KILN_TEST_DEVICES=cuda INSTA_UPDATE=no CI=true
export INSTA_WORKSPACE_ROOT="${INSTA_WORKSPACE_ROOT:-$root}"
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-/tmp/kiln-cache}"
log="${OUT:-$here}/gpu-pack.log"
: >"$log"
source "$here/vulkan-env.sh"
bash "$here/unpack.sh"
failed=()
run() {
    local name="$1"; shift
    echo "=== $name" | tee -a "$log"
    if ! "$@" 2>&1 | tee -a "$log"; then failed+=("$name"); fi
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log" || true
for t in "$here"/tests/*; do
    case "$(basename "$t")" in
        kiln-vulkan-*) run "$(basename "$t") (vulkan)" env KILN_TEST_DEVICES=vulkan "$t" --test-threads=1 ;;
        *) run "$(basename "$t")" "$t" --test-threads=1 ;;
    esac
done
for t in "$here"/tests/kiln-conformance-*; do
    run "$(basename "$t") (vulkan)" env KILN_TEST_DEVICES=vulkan "$t" --test-threads=1
done
if [[ -x "$here/quickstart" ]]; then
    run quickstart env KILN_DEVICE=cuda "$here/quickstart"
    run "quickstart (vulkan)" env KILN_DEVICE=vulkan "$here/quickstart"
fi
echo "=== summary: ${#failed[@]} failed${failed[*]:+: ${failed[*]}}" | tee -a "$log"
[[ ${#failed[@]} -eq 0 ]]
"#;

/// Unpacks the test binaries (kept as one xz archive: stripped binaries are ~65 MiB, over what a device
/// run carries; the archive is ~7 MiB).
const UNPACK_SH: &str = r#"#!/usr/bin/env bash
# Unpacks .gpu/tests.tar.xz into .gpu/tests (once). Made by `cargo xtask gpu-pack`.
here="$(cd "$(dirname "$0")" && pwd)"
if [[ ! -d "$here/tests" && -f "$here/tests.tar.xz" ]]; then
    tar -xJf "$here/tests.tar.xz" -C "$here"
fi
"#;

/// The tinygrad release the GPU benchmark's reference installs (a pure-Python wheel).
const TINYGRAD: &str = "tinygrad==0.14.0";

const BENCH_SH: &str = r#"#!/usr/bin/env bash
# The full benchmark on a GPU machine, from the repository root: kiln-bench on CUDA against torch eager,
# torch.compile, torch CUDA-graph replay and tinygrad (installed here from .gpu/wheels), then on Vulkan
# against the reference lines the CUDA run just measured on the same GPU. Made by `cargo xtask gpu-pack`.
# Writes to $OUT (else .gpu/results): bench-{cuda,vulkan}.{jsonl,md,svg}, device.txt, and appends to
# bench.log. Each reference script gets $KILN_BENCH_REF_TIMEOUT_S seconds (default 200); extra arguments
# go to both kiln-bench runs.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
out="${OUT:-$here/results}"
mkdir -p "$out"
log="$out/bench.log"
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-/tmp/kiln-cache}" PYTHONUNBUFFERED=1
if compgen -G "$here/wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/kiln-site \
        "$here"/wheels/*.whl 2>&1 | tee -a "$log" && export PYTHONPATH="/tmp/kiln-site${PYTHONPATH:+:$PYTHONPATH}"
fi
source "$here/vulkan-env.sh"
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__)'
    python3 -c 'import importlib.metadata as m; print("tinygrad", m.version("tinygrad"))'
    date -u +%Y-%m-%dT%H:%M:%SZ
} >"$out/device.txt" 2>&1
tee -a "$log" <"$out/device.txt"
status=0
echo "=== kiln-bench --device cuda" | tee -a "$log"
"$here/kiln-bench" --device cuda --json "$out/bench-cuda.jsonl" --plot "$out/bench-cuda.svg" \
    --ref-timeout-s "${KILN_BENCH_REF_TIMEOUT_S:-200}" "$@" >"$out/bench-cuda.md" 2> >(tee -a "$log" >&2) || status=1
tee -a "$log" <"$out/bench-cuda.md"
echo "=== kiln-bench --device vulkan" | tee -a "$log"
refs=(--refs-from "$out/bench-cuda.jsonl")
[[ -f "$out/bench-cuda.jsonl" ]] || refs=(--ref-timeout-s "${KILN_BENCH_REF_TIMEOUT_S:-200}")
"$here/kiln-bench" --device vulkan "${refs[@]}" --json "$out/bench-vulkan.jsonl" --plot "$out/bench-vulkan.svg" "$@" \
    >"$out/bench-vulkan.md" 2> >(tee -a "$log" >&2) || status=1
tee -a "$log" <"$out/bench-vulkan.md"
exit $status
"#;

/// Copies the tinygrad wheel into `pack/wheels`, downloading it into `root/.whl` first when absent.
/// Without it the benchmark still runs, and its tinygrad columns say `n/a`; so a failure only warns.
fn pack_tinygrad(root: &Path, pack: &Path) {
    let cached = root.join(".whl");
    let find = || {
        std::fs::read_dir(&cached).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("tinygrad-") && n.ends_with(".whl"))
        })
    };
    if find().is_none() {
        eprintln!("xtask: downloading the {TINYGRAD} wheel into {}", cached.display());
        let status = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "-d"])
            .arg(&cached)
            .arg(TINYGRAD)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("xtask: WARNING: could not download {TINYGRAD}; the GPU benchmark will run without tinygrad");
        }
    }
    let Some(wheel) = find() else { return };
    let wheels = pack.join("wheels");
    let copied = std::fs::create_dir_all(&wheels)
        .and_then(|()| std::fs::copy(&wheel, wheels.join(wheel.file_name().unwrap_or_default())));
    if let Err(e) = copied {
        eprintln!("xtask: WARNING: could not pack {}: {e}", wheel.display());
    }
}

/// Writes an executable script.
fn write_script(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Runs cargo with JSON messages and returns the executables of the artifacts `want` accepts, named
/// `<package>-<target>`.
fn built_executables(args: &[&str], want: impl Fn(&Value) -> bool) -> Result<Vec<(String, PathBuf)>, String> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("`cargo {}` failed ({})", args.join(" "), output.status));
    }
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" || !want(&msg) {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else { continue };
        let package = msg["package_id"].as_str().and_then(package_name).unwrap_or("unknown");
        let target = msg["target"]["name"].as_str().unwrap_or("unknown");
        let name =
            if package.replace('-', "_") == target { format!("{package}-unit") } else { format!("{package}-{target}") };
        found.push((name, PathBuf::from(exe)));
    }
    Ok(found)
}

/// The package name in a cargo package id (`path+file:///…/crates/cuda#kiln-cuda@0.1.0` or the
/// older `kiln-cuda 0.1.0 (path+file://…)`).
fn package_name(id: &str) -> Option<&str> {
    match id.split_once('#') {
        Some((path, rest)) => {
            let name = rest.split('@').next()?;
            // `…/crates/kiln#0.1.0`: the name is the last path segment.
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                path.rsplit('/').next()
            } else {
                Some(name)
            }
        }
        None => id.split(' ').next(),
    }
}

/// Copies `from` to `to` without symbols.
fn strip_into(from: &Path, to: &Path) -> Result<(), String> {
    let stripped = |tool: &str, flag: &str| {
        Command::new(tool).arg(flag).arg("-o").arg(to).arg(from).status().is_ok_and(|s| s.success())
    };
    if stripped("strip", "--strip-all") || stripped("objcopy", "--strip-all") {
        return Ok(());
    }
    eprintln!("xtask: neither strip nor objcopy worked; copying {} unstripped", from.display());
    std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("copy {}: {e}", from.display()))
}

/// The packages named by `-p <package>` in `args`, else [`PACKAGES`].
fn selected_packages(args: &[String]) -> Result<Vec<&str>, String> {
    let mut packages = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match (arg.as_str(), rest.next()) {
            ("-p" | "--package", Some(p)) => packages.push(p.as_str()),
            _ => return Err(format!("gpu-pack: unexpected argument `{arg}` (usage: gpu-pack [-p <package>]...)")),
        }
    }
    Ok(if packages.is_empty() { PACKAGES.to_vec() } else { packages })
}

/// Builds, strips and packs the binaries into `.gpu/` under the workspace root.
pub fn gpu_pack(args: &[String]) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).ok_or("no workspace root")?;
    let packages = selected_packages(args)?;
    let mut test_args = vec!["test", "--release", "--no-run", "-j2", "--message-format=json-render-diagnostics"];
    for p in &packages {
        test_args.extend(["-p", p]);
    }
    let mut binaries = built_executables(&test_args, |m| m["profile"]["test"] == true)?;
    let example_args = [
        "build",
        "--release",
        "-j2",
        "-p",
        "kiln",
        "--example",
        "quickstart",
        "--message-format=json-render-diagnostics",
    ];
    let quickstart = if packages.contains(&"kiln") {
        let built = built_executables(&example_args, |m| m["target"]["name"] == "quickstart")?;
        Some(built.into_iter().next().ok_or("cargo built no quickstart executable")?.1)
    } else {
        None
    };

    let pack = root.join(".gpu");
    let _ = std::fs::remove_dir_all(&pack);
    std::fs::create_dir_all(pack.join("tests")).map_err(|e| format!("create {}: {e}", pack.display()))?;
    binaries.sort();
    binaries.dedup_by(|a, b| a.0 == b.0);
    for (name, exe) in &binaries {
        strip_into(exe, &pack.join("tests").join(name))?;
    }
    if let Some(quickstart) = &quickstart {
        strip_into(quickstart, &pack.join("quickstart"))?;
    }
    // The benchmark binary runs from the repository root there (`bash .gpu/bench.sh`).
    let bench_args = ["build", "--release", "-j2", "-p", "kiln-bench", "--message-format=json-render-diagnostics"];
    let bench = built_executables(&bench_args, |m| m["target"]["name"] == "kiln-bench")?;
    let bench = bench.into_iter().next().ok_or("cargo built no kiln-bench executable")?.1;
    strip_into(&bench, &pack.join("kiln-bench"))?;
    compress_tests(&pack)?;
    write_script(&pack.join("vulkan-env.sh"), VULKAN_ENV_SH)?;
    write_script(&pack.join("unpack.sh"), UNPACK_SH)?;
    write_script(&pack.join("run.sh"), RUN_SH)?;
    write_script(&pack.join("bench.sh"), BENCH_SH)?;
    pack_tinygrad(&root, &pack);
    let size: u64 = walk_size(&pack);
    eprintln!(
        "xtask: packed {} test binaries (as tests.tar.xz){}, kiln-bench into {} ({:.1} MiB); run `bash .gpu/run.sh` \
         (tests; `bash .gpu/unpack.sh` unpacks them for single runs) or `bash .gpu/bench.sh` (benchmark) on the GPU \
         machine",
        binaries.len(),
        if quickstart.is_some() { " and quickstart" } else { "" },
        pack.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    if size > 48 << 20 {
        return Err(format!("the pack is {size} bytes, too close to the 64 MiB a device run may carry"));
    }
    Ok(())
}

/// Replaces `pack/tests` by `pack/tests.tar.xz` (`unpack.sh` restores it on the GPU machine).
fn compress_tests(pack: &Path) -> Result<(), String> {
    let status = std::process::Command::new("tar")
        .args(["-cJf", "tests.tar.xz", "tests"])
        .env("XZ_OPT", "-6 -T0")
        .current_dir(pack)
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar -cJf tests.tar.xz failed ({status})"));
    }
    std::fs::remove_dir_all(pack.join("tests")).map_err(|e| format!("remove {}: {e}", pack.join("tests").display()))
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn package_names_from_ids() {
        assert_eq!(package_name("path+file:///w/crates/cuda#kiln-cuda@0.1.0"), Some("kiln-cuda"));
        assert_eq!(package_name("path+file:///w/crates/kiln#0.1.0"), Some("kiln"));
        assert_eq!(package_name("kiln-cuda 0.1.0 (path+file:///w/crates/cuda)"), Some("kiln-cuda"));
    }
}
