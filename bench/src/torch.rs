//! Runs the PyTorch reference (`bench/torch_ref.py`) when `python3` can import torch, and reads its
//! JSON lines. Without torch the table shows kiln alone and says so.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn script() -> Option<PathBuf> {
    let candidates =
        [PathBuf::from("bench/torch_ref.py"), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("torch_ref.py")];
    candidates.into_iter().find(|p| p.exists())
}

/// The reference's result lines, or none (with a note on stderr) when torch is unavailable.
pub fn reference(device: &str, quick: bool, only: Option<&[String]>) -> Vec<Value> {
    let Some(script) = script() else {
        eprintln!("torch reference: bench/torch_ref.py not found; kiln only");
        return Vec::new();
    };
    let has_torch = Command::new("python3").args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("torch reference: SKIPPED (python3 cannot import torch); kiln only");
        return Vec::new();
    }
    let mut cmd = Command::new("python3");
    cmd.arg(&script).args(["--device", if device.starts_with("cpu") { "cpu" } else { "cuda" }]);
    if quick {
        cmd.arg("--quick");
    }
    if let Some(only) = only {
        // The reference knows the workloads and `copy`, not kiln's own rows such as `compile`.
        let known: Vec<&str> = only.iter().map(String::as_str).filter(|w| w.starts_with('W') || *w == "COPY").collect();
        cmd.args(["--only", &known.join(",")]);
    }
    eprintln!("torch reference: running {}", script.display());
    match cmd.output() {
        Ok(out) => {
            if !out.status.success() {
                eprintln!("torch reference exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
            }
            String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
        }
        Err(e) => {
            eprintln!("torch reference: cannot run python3: {e}");
            Vec::new()
        }
    }
}
