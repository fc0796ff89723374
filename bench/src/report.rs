//! Result rows and the table: kiln against torch eager and torch.compile, with ratios.

use serde_json::{json, Value};

/// One measured workload variant.
#[derive(Clone, Debug)]
pub struct Row {
    /// Workload id (`W1`..`W9`, `compile`, `copy`).
    pub workload: String,
    /// Variant (dtype, phase), empty when there is one.
    pub variant: String,
    /// Unit of `value`.
    pub metric: &'static str,
    /// The figure (higher is better for GB/s and TFLOP/s, lower for times).
    pub value: f64,
    /// Median milliseconds per call.
    pub median_ms: f64,
    /// Kernels launched per call.
    pub kernels: Option<usize>,
    /// Whether the result passed its correctness check.
    pub ok: bool,
}

impl Row {
    /// A kiln row read back from a JSON line written by [`Row::to_json`].
    pub fn from_json(v: &Value) -> Option<Row> {
        let metric = match v["metric"].as_str()? {
            "GB/s" => "GB/s",
            "TFLOP/s" => "TFLOP/s",
            "us/kernel" => "us/kernel",
            "ms" => "ms",
            _ => return None,
        };
        Some(Row {
            workload: v["workload"].as_str()?.into(),
            variant: v["variant"].as_str().unwrap_or("").into(),
            metric,
            value: v["value"].as_f64()?,
            median_ms: v["median_ms"].as_f64().unwrap_or(f64::NAN),
            kernels: v["kernels"].as_u64().and_then(|k| usize::try_from(k).ok()),
            ok: v["ok"].as_bool().unwrap_or(false),
        })
    }

    /// The row as a JSON line (same schema as bench/torch_ref.py).
    pub fn to_json(&self, device: &str) -> Value {
        json!({"workload": self.workload, "variant": self.variant, "impl": "kiln", "metric": self.metric,
               "value": self.value, "median_ms": self.median_ms, "kernels": self.kernels, "ok": self.ok, "device": device})
    }
}

fn lower_is_better(metric: &str) -> bool {
    matches!(metric, "ms" | "us/kernel")
}

fn find<'a>(torch: &'a [Value], row: &Row, imp: &str) -> Option<&'a Value> {
    torch.iter().find(|t| {
        t["workload"] == row.workload.as_str() && t["variant"].as_str().unwrap_or("") == row.variant && t["impl"] == imp
    })
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.3}"))
}

/// The table as markdown. `copy_gbs` is the device copy bandwidth measured in the same run.
pub fn table(rows: &[Row], torch: &[Value], copy_gbs: Option<f64>) -> String {
    let mut out = String::from(
        "| workload | metric | kiln | kiln kernels | torch eager | eager kernels | torch.compile | kiln / torch.compile | kiln / copy ceiling |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let eager = find(torch, r, "torch_eager");
        let compiled = find(torch, r, "torch_compile");
        let value = |v: Option<&Value>| v.and_then(|v| v["value"].as_f64());
        let ratio =
            value(compiled)
                .filter(|c| *c > 0.0)
                .map(|c| if lower_is_better(r.metric) { c / r.value } else { r.value / c });
        let ceiling = if r.metric == "GB/s" { copy_gbs.map(|c| r.value / c) } else { None };
        let mut name = if r.variant.is_empty() { r.workload.clone() } else { format!("{} {}", r.workload, r.variant) };
        if r.workload == "W8" {
            name.push_str(" (no JIT)");
        }
        out.push_str(&format!(
            "| {name}{} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            if r.ok { "" } else { " (WRONG)" },
            r.metric,
            cell(Some(r.value)),
            r.kernels.map_or_else(|| "-".into(), |k| k.to_string()),
            cell(value(eager)),
            eager.and_then(|e| e["kernels"].as_u64()).map_or_else(|| "-".into(), |k| k.to_string()),
            cell(value(compiled)),
            cell(ratio),
            cell(ceiling),
        ));
    }
    out
}
