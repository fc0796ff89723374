//! `cargo xtask`: kiln's automation as a Rust program, so it runs the same on every machine.
//!
//! Commands: `test-all` (fmt, clippy, check-layers, tests with insta in CI mode, the conformance suite
//! again on Vulkan when a Vulkan device opens, test-gpu),
//! `test-gpu`, `gpu-pack`, `check-layers`, `bench`.

mod gpu_pack;
mod layers;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test-all") => test_all(),
        Some("test-gpu") => test_gpu(),
        Some("gpu-pack") => gpu_pack::gpu_pack(&args[1..]),
        Some("check-layers") => layers::check_workspace(),
        Some("bench") => bench(&args[1..]),
        _ => Err("usage: cargo xtask <command>
  test-all       fmt, clippy, check-layers, all tests, conformance on Vulkan, test-gpu
  test-gpu       GPU tests (reports loudly when skipped)
  gpu-pack [-p PKG]  release GPU test binaries and quickstart, stripped into .gpu/ with run.sh
  check-layers   enforce the crate layer order
  bench [args]   W1-W9 vs torch/tinygrad, CPU rows vs numpy (`--quick`, `--device cpu|cuda|vulkan`,
                 `--plot FILE.svg`), or `bench symbolic`"
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo` with `args`, failing with the command line on a non-zero exit.
fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(envs.iter().copied())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn test_all() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"], &[])?;
    cargo(&["clippy", "--workspace", "--all-targets", "-j2", "--", "-D", "warnings"], &[])?;
    layers::check_workspace()?;
    cargo(&["test", "--workspace", "-j2"], &[("INSTA_UPDATE", "no"), ("CI", "true")])?;
    test_vulkan()?;
    test_gpu()
}

/// The conformance suite (ops and random programs) on Vulkan device 0, when one opens (lavapipe in CI).
fn test_vulkan() -> Result<(), String> {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let probe = Command::new(&cargo_bin)
        .args(["run", "-q", "-j2", "-p", "kiln-vulkan", "--example", "vulkan_probe"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !probe.status.success() {
        eprintln!("\n==============================================================");
        eprintln!("xtask test-all: Vulkan conformance SKIPPED: no Vulkan device");
        eprintln!("  ({})", String::from_utf8_lossy(&probe.stderr).trim());
        eprintln!("==============================================================\n");
        return Ok(());
    }
    eprintln!("xtask: conformance suite on {}", String::from_utf8_lossy(&probe.stdout).trim());
    cargo(
        &["test", "-j2", "-p", "kiln-conformance"],
        &[("KILN_TEST_DEVICES", "vulkan"), ("INSTA_UPDATE", "no"), ("CI", "true")],
    )
}

fn test_gpu() -> Result<(), String> {
    let has_nvidia = std::path::Path::new("/dev/nvidia0").exists() || std::path::Path::new("/dev/nvidiactl").exists();
    if !has_nvidia {
        eprintln!("\n==============================================================");
        eprintln!("xtask test-gpu: SKIPPED: no GPU on this machine (/dev/nvidia0 absent)");
        eprintln!("==============================================================\n");
        return Ok(());
    }
    cargo(&["test", "--workspace", "--release", "-j2"], &[("KILN_TEST_DEVICES", "cuda,vulkan")])
}

/// `bench symbolic` runs the simplifier micro-benchmark; anything else runs `kiln-bench` (W1-W9 and
/// compile speed against torch and tinygrad, or the CPU rows against numpy) with the given arguments,
/// e.g. `bench --quick`, `bench --device cpu` or `bench --device cuda --plot bench.svg`.
fn bench(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) == Some("symbolic") {
        return cargo(&["run", "--release", "-j2", "-p", "kiln-rewrite", "--example", "symbolic_bench"], &[]);
    }
    let mut cargo_args = vec!["run", "--release", "-j2", "-p", "kiln-bench", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    cargo(&cargo_args, &[])
}
