//! `kiln-bench`: runs W1-W9 and the compile-speed probe on one device, checks each result, runs the
//! PyTorch reference (`bench/torch_ref.py`) when Python with torch is present, and prints one table
//! of kiln against torch eager and torch.compile.
//!
//! Usage: `kiln-bench [--device cpu|cuda|vulkan] [--quick] [--only W1,W5] [--no-torch] [--json FILE]`;
//! `kiln-bench --report FILE` prints the table again from the JSON lines a run wrote.

mod data;
mod measure;
mod report;
mod torch;
mod workloads;

use report::Row;
use serde_json::Value;
use std::process::ExitCode;

struct Options {
    device: String,
    quick: bool,
    only: Option<Vec<String>>,
    torch: bool,
    json: Option<String>,
    probe: bool,
    report: Option<String>,
}

fn parse() -> Result<Options, String> {
    let mut o =
        Options { device: "cpu".into(), quick: false, only: None, torch: true, json: None, probe: false, report: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => o.device = args.next().ok_or("--device needs a value")?,
            "--quick" => o.quick = true,
            "--no-torch" => o.torch = false,
            "--only" => {
                o.only = Some(args.next().ok_or("--only needs a list")?.split(',').map(str::to_uppercase).collect())
            }
            "--json" => o.json = Some(args.next().ok_or("--json needs a file")?),
            "--probe-w9" => o.probe = true,
            "--report" => o.report = Some(args.next().ok_or("--report needs a file")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let start = std::time::Instant::now();
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kiln-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The workloads create tensors on the default device, chosen here before any tensor exists.
    std::env::set_var("KILN_DEVICE", &options.device);
    if let Some(path) = &options.report {
        return match report_from(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kiln-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = if options.probe { probe_w9(&options, start).map_err(|e| e.to_string()) } else { run(&options) };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("kiln-bench: some results were WRONG");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kiln-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the table from the JSON lines of an earlier run (kiln rows and torch rows).
fn report_from(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let (kiln, torch): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|v| v["impl"] == "kiln");
    let rows: Vec<Row> = kiln.into_iter().filter_map(Row::from_json).collect();
    let torch: Vec<Value> = torch.into_iter().cloned().collect();
    println!("{}", report::table(&rows, &torch, copy_ceiling(&rows, &torch)));
    Ok(())
}

/// The device copy bandwidth: torch's memcpy when it ran, else kiln's own copy kernel.
fn copy_ceiling(rows: &[Row], torch: &[Value]) -> Option<f64> {
    torch
        .iter()
        .find(|t| t["workload"] == "copy" && t["impl"] == "torch_eager")
        .and_then(|t| t["value"].as_f64())
        .or_else(|| rows.iter().find(|r| r.workload == "copy").map(|r| r.value))
}

/// Cold/warm compile-speed probe, run in a fresh process: prints one JSON line.
fn probe_w9(options: &Options, start: std::time::Instant) -> kiln::Result<bool> {
    let sizes = workloads::Sizes::new(options.quick);
    let setup = workloads::gpt_setup(sizes.w9)?;
    let graph = workloads::gpt_graph(sizes.w9, &setup)?;
    kiln_runtime::set_profiling(true);
    kiln_runtime::take_phases();
    graph.realize()?;
    let phases = kiln_runtime::take_phases();
    let first = graph.shrink(&[(0, 1), (0, 1), (0, 1)])?.cast(kiln::DType::F32)?.to_vec::<f32>()?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "{}",
        serde_json::json!({
            "first_result_ms": ms(start.elapsed()),
            "schedule_ms": ms(phases.schedule), "codegen_ms": ms(phases.codegen), "compile_ms": ms(phases.compile),
            "kernels": phases.kernels, "finite": first.iter().all(|v| v.is_finite()),
        })
    );
    Ok(true)
}

fn probe_rows(options: &Options) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let cache = std::env::temp_dir().join(format!("kiln-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut rows = Vec::new();
    for phase in ["cold", "warm"] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--probe-w9", "--device", &options.device]).env("KILN_CACHE_DIR", &cache);
        if options.quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().map_err(|e| format!("cannot run the W9 probe: {e}"))?;
        let line: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("W9 probe ({phase}) failed: {e}: {}", String::from_utf8_lossy(&out.stderr)))?;
        let f = |k: &str| line[k].as_f64().unwrap_or(f64::NAN);
        let ready = f("schedule_ms") + f("codegen_ms") + f("compile_ms");
        let kernels = line["kernels"].as_u64().and_then(|k| usize::try_from(k).ok());
        let ok = line["finite"].as_bool().unwrap_or(false);
        eprintln!(
            "compile {phase}: schedule {:.1} ms, codegen {:.1} ms, device compile {:.1} ms; first result after {:.1} ms",
            f("schedule_ms"),
            f("codegen_ms"),
            f("compile_ms"),
            f("first_result_ms")
        );
        let row = |variant: String, value: f64| Row {
            workload: "compile".into(),
            variant,
            metric: "ms",
            value,
            median_ms: value,
            kernels,
            ok,
        };
        rows.push(row(format!("W9 graph to kernels, {phase}"), ready));
        rows.push(row(format!("W9 schedule, {phase}"), f("schedule_ms")));
        rows.push(row(format!("W9 codegen, {phase}"), f("codegen_ms")));
        rows.push(row(format!("W9 device compile, {phase}"), f("compile_ms")));
        rows.push(row(format!("W9 first result in a fresh process, {phase}"), f("first_result_ms")));
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(rows)
}

fn run(options: &Options) -> Result<bool, String> {
    let device = kiln::Device::default_device().map_err(|e| e.to_string())?;
    let name = device.name();
    eprintln!("kiln-bench on {name}{}", if options.quick { " (quick sizes)" } else { "" });
    let wanted = |w: &str| options.only.as_ref().is_none_or(|o| o.iter().any(|x| x == w));
    let method = measure::Method::new(options.quick).map_err(|e| e.to_string())?;
    let sizes = workloads::Sizes::new(options.quick);
    type Job<'a> = (&'static str, Box<dyn Fn() -> kiln::Result<Row> + 'a>);
    let (m, s, d) = (&method, &sizes, &device);
    let jobs: Vec<Job> = vec![
        ("COPY", Box::new(|| workloads::copy(m, s))),
        ("W1", Box::new(|| workloads::w1(m, s))),
        ("W2", Box::new(|| workloads::w2(m, s))),
        ("W3", Box::new(|| workloads::w3(m, s))),
        ("W4", Box::new(|| workloads::w4(m, s))),
        ("W5", Box::new(|| workloads::w5(m, s, kiln::DType::F16))),
        ("W5", Box::new(|| workloads::w5(m, s, kiln::DType::BF16))),
        ("W5", Box::new(|| workloads::w5(m, s, kiln::DType::F32))),
        ("W6", Box::new(|| workloads::w6(m, s))),
        ("W7", Box::new(|| workloads::w7(m, s))),
        ("W8", Box::new(|| workloads::w8(m, d))),
        ("W9", Box::new(|| workloads::w9(m, s))),
    ];
    let mut rows = Vec::new();
    for (id, job) in jobs {
        if !wanted(id) {
            continue;
        }
        match job() {
            Ok(r) => {
                eprintln!(
                    "{} {}: {:.3} {} ({} kernels, {:.3} ms){}",
                    r.workload,
                    r.variant,
                    r.value,
                    r.metric,
                    r.kernels.unwrap_or(0),
                    r.median_ms,
                    if r.ok { "" } else { " WRONG" }
                );
                rows.push(r);
            }
            Err(e) => return Err(format!("{id} failed: {e}")),
        }
    }
    if wanted("COMPILE") {
        rows.extend(probe_rows(options)?);
    }
    let torch = if options.torch {
        torch::reference(&options.device, options.quick, options.only.as_deref())
    } else {
        Vec::new()
    };
    println!("{}", report::table(&rows, &torch, copy_ceiling(&rows, &torch)));
    if let Some(path) = &options.json {
        let mut lines: Vec<String> = rows.iter().map(|r| r.to_json(&name).to_string()).collect();
        lines.extend(torch.iter().map(Value::to_string));
        std::fs::write(path, lines.join("\n") + "\n").map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(rows.iter().all(|r| r.ok))
}
