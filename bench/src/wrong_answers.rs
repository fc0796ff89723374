//! The checks must reject wrong answers: for every workload's check, the right answer (the host
//! reference rounded to the output dtype, as a device would store it) passes, and zeros, twice the
//! answer and the transposed answer all fail. Runs in `cargo test`, with no device or Python.

use crate::check::{verify, Depth};
use crate::data::Rng;
use crate::gpt::{checked_pair, Model};
use crate::host;
use crate::suite::Gpt;
use kiln::half::{bf16, f16};
use kiln::DType;

fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| f64::from(rng.next())).collect()
}

fn round(v: &[f64], dtype: DType) -> Vec<f64> {
    v.iter()
        .map(|&x| match dtype {
            DType::F16 => f16::from_f64(x).to_f64(),
            DType::BF16 => bf16::from_f64(x).to_f64(),
            DType::F32 => f64::from(x as f32),
            _ => x,
        })
        .collect()
}

/// `v` read as a `[rows, len / rows]` matrix and written back transposed.
fn transposed(v: &[f64], rows: usize) -> Vec<f64> {
    let cols = v.len() / rows;
    (0..v.len()).map(|k| v[(k % rows) * cols + k / rows]).collect()
}

/// The right answer passes; zeros, 2x and the transpose (as `rows` rows) fail.
fn rejects_wrong_answers(name: &str, want: &[f64], rows: usize, dtype: DType, depth: Depth) {
    let right = round(want, dtype);
    if let Err(e) = verify(&right, want, dtype, depth) {
        panic!("{name}: the right answer was rejected: {e}");
    }
    let wrong = [
        ("zeros", vec![0.0; want.len()]),
        ("2x", right.iter().map(|v| 2.0 * v).collect()),
        ("transposed", transposed(&right, rows)),
        ("one NaN", right.iter().enumerate().map(|(i, &v)| if i == want.len() / 2 { f64::NAN } else { v }).collect()),
    ];
    for (what, got) in wrong {
        assert!(verify(&got, want, dtype, depth).is_err(), "{name}: {what} passed the check");
    }
    assert!(verify(&right[1..], want, dtype, depth).is_err(), "{name}: a short result passed the check");
}

#[test]
fn every_check_rejects_zeros_doubles_and_transposes() {
    let (a, b, c) = (values(4096, 1), values(4096, 2), values(4096, 3));
    rejects_wrong_answers("W1", &host::mul_add(&a, &b, &c), 64, DType::F32, Depth::Op);
    rejects_wrong_answers("W7", &host::add3(&a, &b, &c), 64, DType::F32, Depth::Op);
    rejects_wrong_answers("copy", &a, 64, DType::F32, Depth::Op);
    let w8: Vec<f64> = a.iter().map(|v| v * 1.0001f64.powi(100)).collect();
    rejects_wrong_answers("W8", &w8, 64, DType::F32, Depth::Op);

    let x = values(64 * 256, 4);
    rejects_wrong_answers("W2", &host::row_sums(&x, 256), 8, DType::F32, Depth::Op);
    let logits: Vec<f64> = x.iter().map(|v| 4.0 * v).collect();
    for dtype in [DType::F16, DType::F32] {
        let inputs = round(&logits, dtype);
        rejects_wrong_answers(&format!("W3 {}", dtype.name()), &host::softmax_rows(&inputs, 256), 64, dtype, Depth::Op);
    }
    let (w, bias) = (values(256, 5), values(256, 6));
    let ln = host::layernorm_rows(&x, 256, 1e-5, Some((&w, &bias)));
    rejects_wrong_answers("W4", &ln, 64, DType::F32, Depth::Op);

    let n = 64;
    for dtype in [DType::F16, DType::BF16, DType::F32] {
        let (ma, mb) = (round(&values(n * n, 7), dtype), round(&values(n * n, 8), dtype));
        let rows: Vec<usize> = (0..n).collect();
        let want = host::matmul_rows(&ma, &mb, n, n, &rows);
        rejects_wrong_answers(&format!("W5 {}", dtype.name()), &want, n, dtype, Depth::Op);
    }

    let (ch, hw) = (8, 6);
    let img = round(&values(ch * hw * hw, 9), DType::F16);
    let kernel: Vec<f64> = round(&values(ch * ch * 9, 10).iter().map(|v| v * 0.05).collect::<Vec<_>>(), DType::F16);
    rejects_wrong_answers("W6", &host::conv3x3_image(&img, &kernel, ch, hw, 0), ch, DType::F16, Depth::Op);
}

#[test]
fn the_w9_check_rejects_zeros_doubles_and_transposes() {
    let model = Model::random(Gpt { batch: 2, tokens: 8, width: 16, heads: 2, layers: 2 });
    let output: Vec<f64> = (0..2).flat_map(|seq| crate::gpt::host_forward(&model, seq, 8)).collect();
    let (got, want) = checked_pair(&model, &output);
    assert_eq!(got, want, "the checked part is the same slice of the output");
    rejects_wrong_answers("W9", &want, 16, DType::F16, Depth::Model);
    // The old check (rows normalised) passed any normalised rows: a model with other weights fails now.
    let other = Model::random(Gpt { batch: 2, tokens: 8, width: 16, heads: 2, layers: 3 });
    let other_out: Vec<f64> = (0..2).flat_map(|seq| crate::gpt::host_forward(&other, seq, 8)).collect();
    assert!(verify(&round(&checked_pair(&other, &other_out).0, DType::F16), &want, DType::F16, Depth::Model).is_err());
}
