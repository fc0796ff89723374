//! The reference implementations, run in the same session as kiln: `bench/torch_ref.py` (torch eager,
//! torch.compile, CUDA-graph replay), `bench/tinygrad_ref.py` (GPU runs) and `bench/numpy_ref.py`
//! (numpy and numexpr, CPU runs). Each runs when `python3` can import its library; every skipped one
//! is named in [`References::missing`], and the table says so loudly. Their progress streams to
//! stderr; a script past its time limit is killed and keeps the lines it printed.

use crate::suite::Suite;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The reference lines of a run, and the references that did not run (with why).
#[derive(Default)]
pub struct References {
    /// JSON lines of every reference that ran.
    pub lines: Vec<Value>,
    /// `(reference, reason)` for each that did not run.
    pub missing: Vec<(String, String)>,
}

/// What to run the references on.
pub struct Request<'a> {
    /// `cpu`, `cuda`, `vulkan` (the references run on CUDA for both GPU devices).
    pub device: &'a str,
    /// The suite (sizes) to run.
    pub suite: Suite,
    /// `--only` workloads, upper case.
    pub only: Option<&'a [String]>,
    /// The W9 weights file, when W9 runs.
    pub w9_weights: Option<&'a Path>,
    /// Wall-time limit of each script.
    pub timeout: Option<Duration>,
}

/// One reference script and the Python module it needs.
struct Script {
    file: &'static str,
    module: &'static str,
    env: &'static [(&'static str, &'static str)],
}

const TORCH: Script = Script { file: "torch_ref.py", module: "torch", env: &[] };
const TINYGRAD: Script = Script { file: "tinygrad_ref.py", module: "tinygrad", env: &[("DEV", "CUDA")] };
const NUMPY: Script = Script { file: "numpy_ref.py", module: "numpy", env: &[] };

fn python() -> String {
    std::env::var("KILN_BENCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn script_path(file: &str) -> Option<PathBuf> {
    [PathBuf::from("bench").join(file), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)]
        .into_iter()
        .find(|p| p.exists())
}

/// Runs every reference that fits `request`.
pub fn run(request: &Request) -> References {
    let gpu = !request.device.to_ascii_lowercase().starts_with("cpu");
    let scripts: Vec<&Script> = if gpu { vec![&TORCH, &TINYGRAD] } else { vec![&TORCH, &NUMPY] };
    let mut refs = References::default();
    for script in scripts {
        match run_script(script, request, gpu) {
            Ok(lines) => {
                // A script names the optional libraries it could not import (`{"missing": "numexpr"}`).
                for line in lines {
                    match line["missing"].as_str() {
                        Some(m) => {
                            let reason = line["reason"].as_str().unwrap_or("").to_string();
                            eprintln!("reference {m}: SKIPPED ({reason})");
                            refs.missing.push((m.to_string(), reason));
                        }
                        None => refs.lines.push(line),
                    }
                }
            }
            Err(reason) => {
                eprintln!("reference {}: SKIPPED ({reason})", script.module);
                refs.missing.push((script.module.into(), reason));
            }
        }
    }
    refs
}

fn run_script(script: &Script, request: &Request, gpu: bool) -> Result<Vec<Value>, String> {
    let path = script_path(script.file).ok_or_else(|| format!("bench/{} not found", script.file))?;
    let probe = Command::new(python()).args(["-c", &format!("import {}", script.module)]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(_) => return Err(format!("{} cannot import {}", python(), script.module)),
        Err(e) => return Err(format!("cannot run {}: {e}", python())),
    }
    let mut cmd = Command::new(python());
    cmd.arg(&path).args(["--device", if gpu { "cuda" } else { "cpu" }, "--suite", request.suite.name()]);
    cmd.envs(script.env.iter().copied());
    if let Some(only) = request.only {
        let known: Vec<&str> = only.iter().map(String::as_str).filter(|w| w.starts_with('W') || *w == "COPY").collect();
        cmd.args(["--only", &known.join(",")]);
    }
    if let Some(weights) = request.w9_weights {
        cmd.arg("--w9-weights").arg(weights);
    }
    eprintln!("reference {}: running {}", script.module, path.display());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    // A reader thread collects the JSON lines; a killed script's grandchildren may hold the pipe open,
    // so the lines are shared rather than returned by a join.
    let collected = Arc::new(Mutex::new(Vec::new()));
    if let Some(stdout) = child.stdout.take() {
        let sink = Arc::clone(&collected);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(v);
                }
            }
        });
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if request.timeout.is_some_and(|t| start.elapsed() > t) => {
                eprintln!(
                    "reference {}: KILLED after {:.0} s; its rows so far are kept",
                    script.module,
                    start.elapsed().as_secs_f64()
                );
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for {}: {e}", script.file)),
        }
    };
    // Give the reader a moment to drain what the script printed last.
    std::thread::sleep(Duration::from_millis(200));
    let lines = std::mem::take(&mut *collected.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    match status {
        Some(status) if !status.success() && lines.is_empty() => Err(format!("{} exited with {status}", script.file)),
        None if lines.is_empty() => Err(format!("{} ran past its time limit", script.file)),
        _ => Ok(lines),
    }
}

/// `W5 f16 tinygrad: message` for each error line among `lines`.
pub fn errors(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|v| {
            let error = v["error"].as_str()?;
            let label = [&v["workload"], &v["variant"], &v["impl"]]
                .iter()
                .filter_map(|x| x.as_str().filter(|x| !x.is_empty()))
                .collect::<Vec<_>>()
                .join(" ");
            Some(format!("{label}: {error}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn error_lines_are_listed() {
        let lines = [
            json!({"workload": "W5", "variant": "f16", "impl": "tinygrad", "error": "no nvrtc"}),
            json!({"workload": "W1", "variant": "", "impl": "numpy", "value": 1.0}),
        ];
        assert_eq!(super::errors(&lines), vec!["W5 f16 tinygrad: no nvrtc".to_string()]);
    }
}
