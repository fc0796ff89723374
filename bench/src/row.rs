//! One result line: a kiln row, the device's memcpy, or a reference's line, all in the JSON schema
//! of `bench/torch_ref.py` (`workload`, `variant`, `impl`, `metric`, `value`, `median_ms`, `shape`,
//! `ok`, ...), so one file holds a whole run and `--report` can read it back.

use serde_json::{json, Value};

/// One measured row of kiln (or of the device's own copy).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Workload id (`W1`..`W9`, `copy`, `compile`).
    pub workload: String,
    /// Variant (dtype, phase), empty when there is one.
    pub variant: String,
    /// `kiln`, or `memcpy` for the device's own copy.
    pub imp: String,
    /// Unit of `value`: `GB/s`, `TFLOP/s`, `us/kernel` or `ms`.
    pub metric: String,
    /// The figure (higher is better for GB/s and TFLOP/s, lower for times).
    pub value: f64,
    /// Median milliseconds per call.
    pub median_ms: f64,
    /// Problem shape, compared with the references' shapes.
    pub shape: Vec<usize>,
    /// Kernels launched per call.
    pub kernels: Option<usize>,
    /// Summed per-kernel device time of one call (diagnostic).
    pub kernel_ms: Option<f64>,
    /// Timed calls behind the median.
    pub calls: usize,
    /// Warm-up calls.
    pub warmup: usize,
    /// Whether the result passed its check.
    pub ok: bool,
    /// The check's relative error (`max|got - want| / max|want|`), when it ran.
    pub max_rel_err: Option<f64>,
}

impl Row {
    /// The row as a JSON line.
    pub fn to_json(&self, device: &str) -> Value {
        json!({"workload": self.workload, "variant": self.variant, "impl": self.imp, "metric": self.metric,
               "value": self.value, "median_ms": self.median_ms, "shape": self.shape, "kernels": self.kernels,
               "kernel_ms": self.kernel_ms, "iters": self.calls, "warmup": self.warmup, "ok": self.ok,
               "max_rel_err": self.max_rel_err, "device": device})
    }

    /// A row read back from a JSON line (any `impl`); `None` for error lines.
    pub fn from_json(v: &Value) -> Option<Row> {
        let count = |k: &str| v[k].as_u64().and_then(|n| usize::try_from(n).ok());
        Some(Row {
            workload: v["workload"].as_str()?.into(),
            variant: v["variant"].as_str().unwrap_or("").into(),
            imp: v["impl"].as_str()?.into(),
            metric: v["metric"].as_str()?.into(),
            value: v["value"].as_f64()?,
            median_ms: v["median_ms"].as_f64().unwrap_or(f64::NAN),
            shape: v["shape"].as_array().map_or_else(Vec::new, |s| {
                s.iter().filter_map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok())).collect()
            }),
            kernels: count("kernels"),
            kernel_ms: v["kernel_ms"].as_f64(),
            calls: count("iters").unwrap_or(0),
            warmup: count("warmup").unwrap_or(0),
            ok: v["ok"].as_bool().unwrap_or(false),
            max_rel_err: v["max_rel_err"].as_f64(),
        })
    }

    /// Whether a larger value is better (throughput) rather than a smaller one (time).
    pub fn higher_is_better(&self) -> bool {
        !matches!(self.metric.as_str(), "ms" | "us/kernel")
    }

    /// `W5 f16`, or the workload alone.
    pub fn label(&self) -> String {
        if self.variant.is_empty() {
            self.workload.clone()
        } else {
            format!("{} {}", self.workload, self.variant)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_json_round_trip() {
        let row = Row {
            workload: "W5".into(),
            variant: "f16".into(),
            imp: "kiln".into(),
            metric: "TFLOP/s".into(),
            value: 3.5,
            median_ms: 40.0,
            shape: vec![4096, 4096, 4096],
            kernels: Some(1),
            kernel_ms: Some(39.0),
            calls: 30,
            warmup: 3,
            ok: true,
            max_rel_err: Some(1e-4),
        };
        assert_eq!(Row::from_json(&row.to_json("CPU")), Some(row));
        assert_eq!(Row::from_json(&json!({"workload": "W1", "impl": "torch_eager", "error": "boom"})), None);
    }
}
