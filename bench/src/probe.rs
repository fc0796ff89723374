//! Compile speed: the W9 graph realized once in a fresh process (`--probe-w9`), twice: with an empty
//! kernel cache (cold) and with the cache the first left (warm). Each probe prints one JSON line of
//! phase times; [`rows`] turns them into table rows.

use crate::row::Row;
use crate::suite::Suite;
use serde_json::Value;

/// The probe itself: builds and realizes W9 once, prints its phase times as one JSON line.
pub fn run(suite: Suite, start: std::time::Instant) -> kiln::Result<bool> {
    let Some(g) = suite.sizes().w9 else {
        return Err(kiln::Error::Invalid { op: "probe", reason: format!("suite {} has no W9", suite.name()) });
    };
    let model = crate::gpt::Model::random(g);
    let tensors = model.upload()?;
    let graph = crate::gpt::forward(g, &tensors)?;
    kiln_runtime::set_profiling(true);
    kiln_runtime::take_phases();
    graph.realize()?;
    let phases = kiln_runtime::take_phases();
    kiln_runtime::set_profiling(false);
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

/// Runs the probe cold and warm in fresh processes of this executable and returns their rows.
pub fn rows(device: &str, suite: Suite) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let cache = std::env::temp_dir().join(format!("kiln-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut rows = Vec::new();
    for phase in ["cold", "warm"] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--probe-w9", "--device", device]).env("KILN_CACHE_DIR", &cache);
        if suite == Suite::Quick {
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
            imp: "kiln".into(),
            metric: "ms".into(),
            value,
            median_ms: value,
            shape: Vec::new(),
            kernels,
            kernel_ms: None,
            calls: 0,
            warmup: 0,
            ok,
            max_rel_err: None,
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
