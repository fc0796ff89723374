//! `kiln-bench`: measures kiln on one device and the reference implementations in the same run, with
//! one timing method for every side (`measure.rs`), checks that a wrong answer cannot pass
//! (`check.rs`), and prints one table of ratios (`report.rs`).
//!
//! Usage: `kiln-bench [--device cpu|cuda|vulkan] [--quick] [--only W1,W5] [--no-refs | --refs-from FILE]
//! [--ref-timeout-s N] [--json FILE] [--plot FILE.svg]`; `kiln-bench --codegen-w9 cuda|vulkan|cpu [--quick]` times W9's
//! code generation for a target on this machine (no device needed); `--refs-from` takes the reference lines of an earlier run's JSON
//! (the Vulkan run on the GPU the CUDA run just measured them on); `kiln-bench --report FILE [--plot FILE.svg]` prints the table (and draws the
//! plot) again from the JSON lines of an earlier run. `--device cpu` runs the CPU rows against numpy;
//! a GPU device runs W1-W9 against torch and tinygrad; `--quick` runs W1-W9 at CI sizes anywhere.

mod check;
mod codegen_probe;
mod data;
mod gpt;
mod host;
mod measure;
mod plot;
mod probe;
mod reference;
mod report;
mod row;
mod suite;
mod workloads;
#[cfg(test)]
mod wrong_answers;

use row::Row;
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use suite::Suite;

struct Options {
    device: String,
    quick: bool,
    only: Option<Vec<String>>,
    refs: bool,
    refs_from: Option<String>,
    ref_timeout: Option<std::time::Duration>,
    json: Option<String>,
    plot: Option<String>,
    probe: bool,
    /// `--codegen-w9 TARGET`: time W9's code generation for a target, no device needed.
    codegen: Option<String>,
    report: Option<String>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        device: "cpu".into(),
        quick: false,
        only: None,
        refs: true,
        refs_from: None,
        ref_timeout: None,
        json: None,
        plot: None,
        probe: false,
        codegen: None,
        report: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => o.device = args.next().ok_or("--device needs a value")?,
            "--quick" => o.quick = true,
            "--no-refs" | "--no-torch" => o.refs = false,
            "--only" => {
                o.only = Some(args.next().ok_or("--only needs a list")?.split(',').map(str::to_uppercase).collect())
            }
            "--refs-from" => o.refs_from = Some(args.next().ok_or("--refs-from needs a file")?),
            "--ref-timeout-s" => {
                let s = args.next().ok_or("--ref-timeout-s needs seconds")?;
                let s: f64 = s.parse().map_err(|_| format!("--ref-timeout-s: `{s}` is not a number"))?;
                o.ref_timeout =
                    Some(std::time::Duration::try_from_secs_f64(s).map_err(|e| format!("--ref-timeout-s: {e}"))?);
            }
            "--json" => o.json = Some(args.next().ok_or("--json needs a file")?),
            "--plot" => o.plot = Some(args.next().ok_or("--plot needs a file")?),
            "--probe-w9" => o.probe = true,
            "--codegen-w9" => o.codegen = Some(args.next().ok_or("--codegen-w9 needs a target: cuda, vulkan or cpu")?),
            "--report" => o.report = Some(args.next().ok_or("--report needs a file")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let start = std::time::Instant::now();
    let result = parse().and_then(|options| {
        // The workloads create tensors on the default device, chosen here before any tensor exists.
        std::env::set_var("KILN_DEVICE", &options.device);
        if let Some(path) = &options.report {
            report_from(path, options.plot.as_deref()).map(|()| true)
        } else if let Some(target) = &options.codegen {
            codegen_probe::run(target, if options.quick { Suite::Quick } else { Suite::Gpu })
        } else if options.probe {
            probe::run(Suite::pick(&options.device, options.quick), start).map_err(|e| e.to_string())
        } else {
            run(&options)
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("kiln-bench: some kiln results were WRONG");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kiln-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A run's lines split into kiln rows, reference rows and missing references.
struct Lines {
    rows: Vec<Row>,
    refs: Vec<Row>,
    missing: Vec<(String, String)>,
    errors: Vec<String>,
    gpu: bool,
}

impl Lines {
    fn run(&self) -> report::Run<'_> {
        report::Run { rows: &self.rows, refs: &self.refs, missing: &self.missing, errors: &self.errors, gpu: self.gpu }
    }

    fn plot(&self, path: &str, title: &str) -> Result<(), String> {
        let run = self.run();
        let kiln: Vec<&Row> = self.rows.iter().filter(|r| r.imp == "kiln").collect();
        // Rows that share a label (W5 f32 at two sizes) are told apart by their shape.
        let label = |r: &Row| {
            if kiln.iter().filter(|o| o.label() == r.label()).count() > 1 {
                let shape: Vec<String> = r.shape.iter().map(usize::to_string).collect();
                format!("{} {}", r.label(), shape.join("x"))
            } else {
                r.label()
            }
        };
        let bars: Vec<plot::Bar> = kiln
            .iter()
            .filter_map(|r| {
                let (reference, _) = run.best(r)?;
                Some(plot::Bar { label: label(r), ratio: run.ratio(r)?, reference: reference.into() })
            })
            .collect();
        plot::draw(Path::new(path), title, &bars).map_err(|e| e.to_string())?;
        eprintln!("kiln-bench: plot written to {path}");
        Ok(())
    }
}

/// The JSON lines of the file at `path`.
fn read_lines(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// The reference lines (and missing references) of an earlier run's JSON.
fn references_from(path: &str) -> Result<reference::References, String> {
    let values = read_lines(path)?;
    let missing = values
        .iter()
        .filter_map(|v| Some((v["missing"].as_str()?.to_string(), v["reason"].as_str().unwrap_or("").to_string())))
        .collect();
    let lines =
        values.into_iter().filter(|v| v["impl"].as_str().is_some_and(|i| i != "kiln" && i != "memcpy")).collect();
    Ok(reference::References { lines, missing })
}

/// Prints the table (and draws the plot) from the JSON lines of an earlier run.
fn report_from(path: &str, plot: Option<&str>) -> Result<(), String> {
    let values = read_lines(path)?;
    let refs = references_from(path)?;
    let rows: Vec<Row> =
        values.iter().filter_map(Row::from_json).filter(|r| r.imp == "kiln" || r.imp == "memcpy").collect();
    let device =
        values.iter().find_map(|v| (v["impl"] == "kiln").then(|| v["device"].as_str()).flatten()).unwrap_or("");
    let lines = Lines {
        rows,
        refs: refs.lines.iter().filter_map(Row::from_json).collect(),
        errors: reference::errors(&refs.lines),
        missing: refs.missing,
        gpu: !device.starts_with("CPU"),
    };
    println!("{}", lines.run().table());
    if let Some(plot) = plot {
        lines.plot(plot, &format!("kiln on {device}: ratio to the best reference"))?;
    }
    Ok(())
}

fn run(options: &Options) -> Result<bool, String> {
    let device = kiln::Device::default_device().map_err(|e| e.to_string())?;
    let name = device.name();
    let suite = Suite::pick(&options.device, options.quick);
    eprintln!("kiln-bench on {name}, suite {}", suite.name());
    let wanted = |w: &str| options.only.as_ref().is_none_or(|o| o.iter().any(|x| x == w));
    let method = measure::Method::new(&device, suite).map_err(|e| e.to_string())?;
    let sizes = suite.sizes();
    let model = sizes.w9.filter(|_| wanted("W9")).map(gpt::Model::random);
    let weights = std::env::temp_dir().join(format!("kiln-bench-w9-{}.safetensors", std::process::id()));
    if let Some(model) = &model {
        model.write(&weights).map_err(|e| format!("cannot write {}: {e}", weights.display()))?;
    }
    let rows = kiln_rows(&method, suite, options, model.as_ref(), &wanted);
    if let (Ok(rows), Some(path)) = (&rows, &options.json) {
        // kiln's rows first, so they survive a reference that never returns.
        write_json(path, &name, rows, &reference::References::default())?;
    }
    let refs = match (&rows, &options.refs_from) {
        (Ok(_), Some(path)) => references_from(path)?,
        (Ok(_), None) if options.refs => reference::run(&reference::Request {
            device: &options.device,
            suite,
            only: options.only.as_deref(),
            w9_weights: model.as_ref().map(|_| weights.as_path()),
            timeout: options.ref_timeout,
        }),
        _ => reference::References {
            lines: Vec::new(),
            missing: vec![("all".into(), "--no-refs: references not run".into())],
        },
    };
    let _ = std::fs::remove_file(&weights);
    let rows = rows?;
    let lines = Lines {
        refs: refs.lines.iter().filter_map(Row::from_json).collect(),
        errors: reference::errors(&refs.lines),
        rows,
        missing: refs.missing.clone(),
        gpu: suite == Suite::Gpu || !name.starts_with("CPU"),
    };
    println!("{}", lines.run().table());
    if let Some(path) = &options.json {
        write_json(path, &name, &lines.rows, &refs)?;
    }
    if let Some(path) = &options.plot {
        lines.plot(path, &format!("kiln on {name}: ratio to the best reference"))?;
    }
    Ok(lines.rows.iter().all(|r| r.ok))
}

/// Writes kiln's rows (measured on `device`) and the references' lines as JSON lines to `path`.
fn write_json(path: &str, device: &str, rows: &[Row], refs: &reference::References) -> Result<(), String> {
    let mut out: Vec<String> = rows.iter().map(|r| r.to_json(device).to_string()).collect();
    out.extend(refs.lines.iter().map(Value::to_string));
    out.extend(refs.missing.iter().map(|(m, why)| json!({"missing": m, "reason": why}).to_string()));
    std::fs::write(path, out.join("\n") + "\n").map_err(|e| format!("cannot write {path}: {e}"))
}

/// Runs kiln's rows (and the device memcpy) of `suite`, then the compile probe on GPU suites.
fn kiln_rows(
    m: &measure::Method,
    suite: Suite,
    options: &Options,
    model: Option<&gpt::Model>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Row>, String> {
    type Job<'a> = (&'static str, Box<dyn Fn() -> kiln::Result<Vec<Row>> + 'a>);
    let s = suite.sizes();
    let mut jobs: Vec<Job> = vec![
        ("COPY", Box::new(|| workloads::memcpy(m, s.w1).map(|r| vec![r]))),
        ("COPY", Box::new(|| workloads::copy(m, s.w1).map(|r| vec![r]))),
        ("W1", Box::new(|| workloads::w1(m, s.w1).map(|r| vec![r]))),
        ("W2", Box::new(|| workloads::w2(m, s.w2).map(|r| vec![r]))),
        ("W3", Box::new(|| workloads::w3(m, s.w3).map(|r| vec![r]))),
    ];
    if let Some(w4) = s.w4 {
        jobs.push(("W4", Box::new(move || workloads::w4(m, w4).map(|r| vec![r]))));
    }
    for &w5 in &s.w5 {
        jobs.push(("W5", Box::new(move || workloads::w5(m, w5).map(|r| vec![r]))));
    }
    if let Some(w6) = s.w6 {
        jobs.push(("W6", Box::new(move || workloads::w6(m, w6).map(|r| vec![r]))));
    }
    if let Some(w7) = s.w7 {
        jobs.push(("W7", Box::new(move || workloads::w7(m, w7).map(|r| vec![r]))));
    }
    if s.w8 {
        jobs.push(("W8", Box::new(|| workloads::w8(m).map(|r| vec![r]))));
        jobs.push(("W8", Box::new(|| workloads::w8_jit(m))));
    }
    if let Some(model) = model {
        jobs.push(("W9", Box::new(move || workloads::w9(m, model).map(|r| vec![r]))));
        jobs.push(("W9", Box::new(move || workloads::w9_jit(m, model))));
    }
    let mut rows = Vec::new();
    for (id, job) in jobs {
        if !wanted(id) {
            continue;
        }
        for r in job().map_err(|e| format!("{id} failed: {e}"))? {
            eprintln!(
                "{} {}: {} {} ({} kernels, {:.3} ms median of {}){}",
                r.label(),
                r.imp,
                report::number(r.value),
                r.metric,
                r.kernels.unwrap_or(0),
                r.median_ms,
                r.calls,
                if r.ok { "" } else { " WRONG" }
            );
            rows.push(r);
        }
    }
    if s.w9.is_some() && wanted("COMPILE") {
        rows.extend(probe::rows(&options.device, suite)?);
    }
    Ok(rows)
}
