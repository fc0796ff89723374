//! Host references in f64 for W1-W8: plain loops over the same input values the device saw, kept
//! apart from the workloads so the wrong-answer test can call them without a device.

/// `a*b+c`, elementwise.
pub fn mul_add(a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
    a.iter().zip(b).zip(c).map(|((a, b), c)| a * b + c).collect()
}

/// `a+b+c`, elementwise.
pub fn add3(a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
    a.iter().zip(b).zip(c).map(|((a, b), c)| a + b + c).collect()
}

/// Sum of each row of a row-major `[rows, cols]` matrix.
pub fn row_sums(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks(cols.max(1)).map(|r| r.iter().sum()).collect()
}

/// Softmax of each row.
pub fn softmax_rows(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks(cols.max(1))
        .flat_map(|row| {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            exps.into_iter().map(move |e| e / sum)
        })
        .collect()
}

/// LayerNorm of each row (biased variance, `eps` inside the root), then `* w + b` when given.
pub fn layernorm_rows(x: &[f64], cols: usize, eps: f64, affine: Option<(&[f64], &[f64])>) -> Vec<f64> {
    x.chunks(cols.max(1))
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / cols as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / cols as f64;
            let inv = 1.0 / (var + eps).sqrt();
            row.iter().enumerate().map(move |(j, v)| {
                let n = (v - mean) * inv;
                affine.map_or(n, |(w, b)| n * w[j] + b[j])
            })
        })
        .collect()
}

/// Rows `rows` of the product of row-major `a` `[m, k]` and `b` `[k, n]`.
pub fn matmul_rows(a: &[f64], b: &[f64], k: usize, n: usize, rows: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; rows.len() * n];
    for (o, &i) in out.chunks_mut(n.max(1)).zip(rows) {
        for (p, &x) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (acc, &y) in o.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *acc += x * y;
            }
        }
    }
    out
}

/// Image `image` of a 3x3, padding-1 convolution of NCHW `x` `[_, ch, hw, hw]` with `w` `[ch, ch, 3, 3]`.
pub fn conv3x3_image(x: &[f64], w: &[f64], ch: usize, hw: usize, image: usize) -> Vec<f64> {
    let mut out = vec![0.0; ch * hw * hw];
    for o in 0..ch {
        for y in 0..hw {
            for z in 0..hw {
                let mut acc = 0.0;
                for c in 0..ch {
                    for ki in 0..3 {
                        for kj in 0..3 {
                            let (yy, zz) = (y + ki, z + kj);
                            if (1..=hw).contains(&yy) && (1..=hw).contains(&zz) {
                                acc += x[((image * ch + c) * hw + yy - 1) * hw + zz - 1]
                                    * w[((o * ch + c) * 3 + ki) * 3 + kj];
                            }
                        }
                    }
                }
                out[(o * hw + y) * hw + z] = acc;
            }
        }
    }
    out
}

/// Evenly spread indices of `count` rows out of `rows`.
pub fn spread(rows: usize, count: usize) -> Vec<usize> {
    let count = count.min(rows);
    (0..count).map(|i| i * rows / count.max(1)).collect()
}

/// The rows `rows` of a row-major matrix with `cols` columns.
pub fn take_rows(x: &[f64], cols: usize, rows: &[usize]) -> Vec<f64> {
    rows.iter().flat_map(|&r| x[r * cols..(r + 1) * cols].iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        assert_eq!(mul_add(&[2.0], &[3.0], &[1.0]), vec![7.0]);
        assert_eq!(row_sums(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 7.0]);
        let s = softmax_rows(&[0.0, 0.0], 2);
        assert!((s[0] - 0.5).abs() < 1e-12 && (s[1] - 0.5).abs() < 1e-12);
        let n = layernorm_rows(&[1.0, 3.0], 2, 0.0, None);
        assert!((n[0] + 1.0).abs() < 1e-12 && (n[1] - 1.0).abs() < 1e-12);
        // [[1, 2], [3, 4]] x [[5, 6], [7, 8]]
        assert_eq!(matmul_rows(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], 2, 2, &[1]), vec![43.0, 50.0]);
        assert_eq!(spread(10, 4), vec![0, 2, 5, 7]);
        // A 1x1 image with one channel: only the centre tap touches it.
        let mut w = vec![0.0; 9];
        w[4] = 2.0;
        assert_eq!(conv3x3_image(&[3.0], &w, 1, 1, 0), vec![6.0]);
    }
}
