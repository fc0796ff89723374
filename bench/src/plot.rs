//! `--plot FILE.svg`: kiln's ratio to the best reference of each row as horizontal bars on a log
//! scale, with a line at 1 (parity). Drawn with `plotters`' SVG backend only, which writes text as
//! SVG `<text>` and needs no font files or image codecs.

use plotters::prelude::*;
use std::path::Path;

/// Why the plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No row has a ratio (no reference ran).
    #[error("no row has a reference to compare with, so there is nothing to plot")]
    Empty,
    /// The drawing backend failed (e.g. the file could not be written).
    #[error("drawing {path}: {detail}")]
    Draw {
        /// Output file.
        path: String,
        /// The backend's message.
        detail: String,
    },
}

/// One bar: the row's label, kiln's ratio to the best reference, and which reference that was.
pub struct Bar {
    /// Row label, e.g. `W5 f16`.
    pub label: String,
    /// kiln / best reference (above 1: kiln is faster).
    pub ratio: f64,
    /// The best reference's name.
    pub reference: String,
}

/// Draws `bars` into an SVG file at `path` with `title` above.
pub fn draw(path: &Path, title: &str, bars: &[Bar]) -> Result<(), PlotError> {
    if bars.is_empty() {
        return Err(PlotError::Empty);
    }
    let fail = |e: &dyn std::fmt::Display| PlotError::Draw { path: path.display().to_string(), detail: e.to_string() };
    let height = 120 + 28 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let smallest = bars.iter().map(|b| b.ratio).fold(1.0f64, f64::min);
    let largest = bars.iter().map(|b| b.ratio).fold(1.0f64, f64::max);
    let (lo, hi) = (10f64.powf(smallest.log10().floor()).max(1e-6), 10f64.powf(largest.log10().ceil()).max(10.0));
    let n = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(200)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("kiln / best reference (log scale; above 1: kiln is faster)")
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => {
                let bar = n.checked_sub(i + 1).and_then(|k| bars.get(k));
                bar.map_or_else(String::new, |b| format!("{} vs {}", b.label, b.reference))
            }
            _ => String::new(),
        })
        .draw()
        .map_err(|e| fail(&e))?;
    let colour = |r: f64| if r >= 1.0 { RGBColor(46, 139, 87) } else { RGBColor(205, 92, 92) };
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let y = n - 1 - i;
            let x = b.ratio.clamp(lo, hi);
            let mut bar = Rectangle::new(
                [(lo, SegmentValue::Exact(y)), (x, SegmentValue::Exact(y + 1))],
                colour(b.ratio).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
            BLACK.stroke_width(2),
        )))
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_with_a_bar_per_row() {
        let dir = std::env::temp_dir().join(format!("kiln-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plot.svg");
        let bars = [
            Bar { label: "W1".into(), ratio: 0.85, reference: "torch_compile".into() },
            Bar { label: "W5 f16".into(), ratio: 0.004, reference: "torch_eager".into() },
            Bar { label: "W7".into(), ratio: 1.2, reference: "tinygrad".into() },
        ];
        draw(&path, "test", &bars).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("W5 f16 vs torch_eager"), "{svg}");
        assert!(matches!(draw(&path, "empty", &[]), Err(PlotError::Empty)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
