//! The table: every kiln row beside each reference measured in the same run, the best of them, kiln's
//! ratio to that best (above 1: kiln is faster), and GB/s rows against the device's own memcpy.
//! References that did not run show `n/a`, named above the table.

use crate::row::Row;

/// The reference columns of a run on a GPU, in order.
pub const GPU_REFERENCES: [&str; 5] = ["torch_eager", "torch_compile", "torch_cudagraph", "tinygrad", "tinygrad_beam2"];
/// The reference columns of a run on the CPU, in order.
pub const CPU_REFERENCES: [&str; 2] = ["numpy", "numexpr"];

/// Which Python module each reference column needs (to mark columns of a skipped script `n/a`).
fn module_of(imp: &str) -> &str {
    match imp {
        "numexpr" => "numpy",
        _ => imp.split('_').next().unwrap_or(imp),
    }
}

/// A run's rows and reference lines, joined.
pub struct Run<'a> {
    /// kiln rows and the memcpy row.
    pub rows: &'a [Row],
    /// Reference lines, parsed.
    pub refs: &'a [Row],
    /// References that did not run: (module, reason).
    pub missing: &'a [(String, String)],
    /// Reference rows that failed (`W5 f16 tinygrad: message`).
    pub errors: &'a [String],
    /// Whether the run was on a GPU (selects the reference columns).
    pub gpu: bool,
}

impl Run<'_> {
    fn columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = if self.gpu {
            GPU_REFERENCES.map(String::from).to_vec()
        } else {
            CPU_REFERENCES.map(String::from).to_vec()
        };
        for r in self.refs {
            if !cols.contains(&r.imp) {
                cols.push(r.imp.clone());
            }
        }
        cols
    }

    /// The reference line of `imp` for `row` (same workload, variant and shape).
    fn find(&self, row: &Row, imp: &str) -> Option<&Row> {
        self.refs.iter().find(|r| {
            r.imp == imp
                && r.workload == row.workload
                && r.variant == reference_variant(&row.variant)
                && r.shape == row.shape
        })
    }

    /// The best correct reference for `row`: (impl, value).
    pub fn best(&self, row: &Row) -> Option<(&str, f64)> {
        let variant = reference_variant(&row.variant);
        let candidates = self.refs.iter().filter(|r| {
            r.ok && r.workload == row.workload && r.variant == variant && r.shape == row.shape && r.value > 0.0
        });
        let better = |a: &&Row, b: &&Row| {
            if row.higher_is_better() {
                a.value.total_cmp(&b.value)
            } else {
                b.value.total_cmp(&a.value)
            }
        };
        candidates.max_by(better).map(|r| (r.imp.as_str(), r.value))
    }

    /// kiln's row over the best reference, oriented so that above 1 means kiln is faster.
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        let (_, best) = self.best(row)?;
        Some(if row.higher_is_better() { row.value / best } else { best / row.value })
    }

    /// The device's memcpy bandwidth of this run.
    fn memcpy(&self) -> Option<f64> {
        self.rows.iter().find(|r| r.imp == "memcpy" && r.ok).map(|r| r.value)
    }

    fn cell(&self, row: &Row, imp: &str) -> String {
        if let Some(r) = self.find(row, imp) {
            return if r.ok { number(r.value) } else { format!("{} (WRONG)", number(r.value)) };
        }
        if self.missing.iter().any(|(m, _)| m == module_of(imp) || m == imp) {
            return "n/a".into();
        }
        let variant = reference_variant(&row.variant);
        let other_shape = self.refs.iter().any(|r| r.imp == imp && r.workload == row.workload && r.variant == variant);
        if other_shape {
            "other shape".into()
        } else {
            "-".into()
        }
    }

    /// The markdown table, with a loud line for each reference that did not run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (module, reason) in self.missing {
            out.push_str(&format!("**n/a: the {module} reference did not run ({reason}).**\n\n"));
        }
        let cols = self.columns();
        out.push_str("| row | shape | metric | kiln | kernels | per-kernel ms (diag.) | calls |");
        for c in &cols {
            out.push_str(&format!(" {c} |"));
        }
        out.push_str(" best reference | kiln / best | kiln / memcpy |\n|");
        out.push_str(&"---|".repeat(10 + cols.len()));
        out.push('\n');
        let memcpy = self.memcpy();
        for row in self.rows.iter().filter(|r| r.imp == "kiln") {
            let calls = if row.calls == 0 {
                "-".into()
            } else if row.warmup < crate::suite::WARMUP {
                format!("{} (slow: {} warm-up)", row.calls, row.warmup)
            } else {
                row.calls.to_string()
            };
            out.push_str(&format!(
                "| {}{} | {} | {} | {} | {} | {} | {} |",
                row.label(),
                if row.ok { "" } else { " (WRONG)" },
                row.shape.iter().map(usize::to_string).collect::<Vec<_>>().join("x"),
                row.metric,
                number(row.value),
                row.kernels.map_or_else(|| "-".into(), |k| k.to_string()),
                row.kernel_ms.map_or_else(|| "-".into(), number),
                calls
            ));
            for c in &cols {
                out.push_str(&format!(" {} |", self.cell(row, c)));
            }
            let best = self.best(row).map_or_else(|| "n/a".into(), |(imp, v)| format!("{} ({imp})", number(v)));
            let ceiling = if row.metric == "GB/s" { memcpy.map(|m| row.value / m) } else { None };
            out.push_str(&format!(
                " {best} | {} | {} |\n",
                self.ratio(row).map_or_else(|| "n/a".into(), ratio),
                ceiling.map_or_else(|| "-".into(), ratio)
            ));
        }
        if let Some(m) = self.rows.iter().find(|r| r.imp == "memcpy") {
            out.push_str(&format!(
                "\nDevice memcpy (the copy ceiling): {} GB/s over {} f32{}.\n",
                number(m.value),
                m.shape.first().copied().unwrap_or(0),
                if m.ok { "" } else { " (WRONG: the copy did not match)" }
            ));
        }
        if !self.errors.is_empty() {
            out.push_str("\nReference rows that failed (shown as `-` above):\n");
            for e in self.errors {
                out.push_str(&format!("- {e}\n"));
            }
        }
        out
    }
}

/// The variant of the reference rows a kiln row is compared with: kiln's JIT replay (`jit`) against the
/// references' rows of the same workload (torch's CUDA-graph replay, tinygrad's TinyJit among them).
/// Wall-time rows (`jit wall`) have no reference measured the same way.
fn reference_variant(variant: &str) -> &str {
    if variant == "jit" {
        ""
    } else {
        variant
    }
}

/// Three significant digits at most, no exponent for ordinary figures.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "NaN".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn ratio(v: f64) -> String {
    if v >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(imp: &str, metric: &str, value: f64, ok: bool) -> Row {
        Row {
            workload: "W1".into(),
            variant: String::new(),
            imp: imp.into(),
            metric: metric.into(),
            value,
            median_ms: 1.0,
            shape: vec![16],
            kernels: Some(1),
            kernel_ms: None,
            calls: 30,
            warmup: 3,
            ok,
            max_rel_err: None,
        }
    }

    #[test]
    fn the_best_correct_reference_sets_the_ratio() {
        let rows = [row("kiln", "GB/s", 50.0, true), row("memcpy", "GB/s", 200.0, true)];
        let mut other = row("tinygrad", "GB/s", 1000.0, true);
        other.shape = vec![32];
        let refs = [
            row("torch_eager", "GB/s", 80.0, true),
            row("torch_compile", "GB/s", 100.0, true),
            row("tinygrad_beam2", "GB/s", 500.0, false),
            other,
        ];
        let missing = [];
        let run = Run { rows: &rows, refs: &refs, missing: &missing, errors: &[], gpu: true };
        assert_eq!(run.best(&rows[0]), Some(("torch_compile", 100.0)));
        assert_eq!(run.ratio(&rows[0]), Some(0.5));
        let table = run.table();
        assert!(table.contains("| 500 (WRONG) |"), "{table}");
        assert!(table.contains("| other shape |"), "{table}");
        assert!(table.contains("| 100 (torch_compile) | 0.500 | 0.250 |"), "{table}");
    }

    #[test]
    fn times_invert_and_missing_references_are_loud() {
        let rows = [row("kiln", "ms", 4.0, true)];
        let refs = [row("numpy", "ms", 2.0, true)];
        let missing = [("torch".to_string(), "python3 cannot import torch".to_string())];
        let run = Run { rows: &rows, refs: &refs, missing: &missing, errors: &[], gpu: false };
        assert_eq!(run.ratio(&rows[0]), Some(0.5));
        let errors = ["W1 numexpr: boom".to_string()];
        let empty = Run {
            rows: &rows,
            refs: &[],
            missing: &[("numpy".into(), "no numpy".into())],
            errors: &errors,
            gpu: false,
        };
        let table = empty.table();
        assert!(table.starts_with("**n/a: the numpy reference did not run (no numpy).**"), "{table}");
        assert!(table.contains("| 16 | ms | 4.000 |"), "{table}");
        assert!(table.contains("| n/a | n/a | n/a | n/a | - |"), "{table}");
        assert!(table.ends_with("- W1 numexpr: boom\n"), "{table}");
    }
}
