//! Support for kiln's conformance tests: the devices under test and a plain f64 reference
//! implementation of every frontend op (`Reference`), computed element by element on the host.

use kiln::{DType, Device, Tensor};

/// Devices to test: `KILN_TEST_DEVICES` (comma-separated: `cpu,cuda,vulkan`), default `cpu`. A listed
/// device that is not present fails loudly rather than being skipped.
pub fn devices() -> Vec<Device> {
    let list = std::env::var("KILN_TEST_DEVICES").unwrap_or_else(|_| "cpu".into());
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            Device::by_name(name)
                .unwrap_or_else(|e| panic!("KILN_TEST_DEVICES lists {name}, which is unavailable: {e}"))
        })
        .collect()
}

/// Records that `test` could not check `what` on this run, and why (a counted skip).
pub fn skip(test: &str, what: &str, reason: &str) {
    kiln_testkit::skip(&format!("{test}: {what}"), reason);
}

/// Absolute and relative tolerance for comparing results of `dtype` against the f64 reference.
pub fn tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F16 => (2e-3, 2e-3),
        DType::BF16 => (2e-2, 1e-2),
        DType::F32 => (1e-5, 1e-5),
        DType::F64 => (1e-12, 1e-12),
        _ => (0.0, 0.0),
    }
}

/// A host array in f64, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Shape.
    pub shape: Vec<usize>,
    /// Elements.
    pub data: Vec<f64>,
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        if shape[k] > 0 {
            idx[k] = i % shape[k];
            i /= shape[k];
        }
    }
    idx
}

impl Reference {
    /// An array from data.
    pub fn new(data: Vec<f64>, shape: &[usize]) -> Reference {
        assert_eq!(data.len(), shape.iter().product::<usize>(), "reference data/shape mismatch");
        Reference { shape: shape.to_vec(), data }
    }

    fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// A new array of `shape` whose element at `idx` is `f(idx)`.
    pub fn generate(shape: &[usize], f: impl Fn(&[usize]) -> f64) -> Reference {
        let n = shape.iter().product();
        Reference { shape: shape.to_vec(), data: (0..n).map(|i| f(&unravel(i, shape))).collect() }
    }

    /// Element at a multi-index.
    pub fn at(&self, idx: &[usize]) -> f64 {
        let s = strides(&self.shape);
        self.data[idx.iter().zip(&s).map(|(i, s)| i * s).sum::<usize>()]
    }

    /// Elementwise map.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Reference {
        Reference { shape: self.shape.clone(), data: self.data.iter().map(|&x| f(x)).collect() }
    }

    /// Broadcasting elementwise combination.
    pub fn zip(&self, other: &Reference, f: impl Fn(f64, f64) -> f64) -> Reference {
        let n = self.shape.len().max(other.shape.len());
        let pad =
            |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, n - s.len()).chain(s.iter().copied()).collect() };
        let (sa, sb) = (pad(&self.shape), pad(&other.shape));
        let shape: Vec<usize> = sa.iter().zip(&sb).map(|(&a, &b)| if a == 1 { b } else { a }).collect();
        let (a, b) = (self.reshape(&sa), other.reshape(&sb));
        Reference::generate(&shape, |idx| {
            let ia: Vec<usize> = idx.iter().zip(&sa).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
            let ib: Vec<usize> = idx.iter().zip(&sb).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
            f(a.at(&ia), b.at(&ib))
        })
    }

    /// Same data, new shape.
    pub fn reshape(&self, shape: &[usize]) -> Reference {
        Reference::new(self.data.clone(), shape)
    }

    /// Output dim i is input dim `order[i]`.
    pub fn permute(&self, order: &[usize]) -> Reference {
        let shape: Vec<usize> = order.iter().map(|&o| self.shape[o]).collect();
        Reference::generate(&shape, |idx| {
            let mut src = vec![0; idx.len()];
            for (i, &o) in order.iter().enumerate() {
                src[o] = idx[i];
            }
            self.at(&src)
        })
    }

    /// Broadcast size-1 dims.
    pub fn expand(&self, shape: &[usize]) -> Reference {
        Reference::generate(shape, |idx| {
            let src: Vec<usize> = idx.iter().zip(&self.shape).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
            self.at(&src)
        })
    }

    /// Zero padding.
    pub fn pad(&self, pads: &[(usize, usize)]) -> Reference {
        let shape: Vec<usize> = self.shape.iter().zip(pads).map(|(&d, &(b, a))| d + b + a).collect();
        Reference::generate(&shape, |idx| {
            let inside = idx.iter().zip(pads).zip(&self.shape).all(|((&i, &(b, _)), &d)| i >= b && i < b + d);
            if inside {
                let src: Vec<usize> = idx.iter().zip(pads).map(|(&i, &(b, _))| i - b).collect();
                self.at(&src)
            } else {
                0.0
            }
        })
    }

    /// Sub-range per dim.
    pub fn shrink(&self, bounds: &[(usize, usize)]) -> Reference {
        let shape: Vec<usize> = bounds.iter().map(|&(s, e)| e - s).collect();
        Reference::generate(&shape, |idx| {
            let src: Vec<usize> = idx.iter().zip(bounds).map(|(&i, &(s, _))| i + s).collect();
            self.at(&src)
        })
    }

    /// Reverse dims.
    pub fn flip(&self, axes: &[usize]) -> Reference {
        Reference::generate(&self.shape.clone(), |idx| {
            let src: Vec<usize> = idx
                .iter()
                .enumerate()
                .map(|(k, &i)| if axes.contains(&k) { self.shape[k] - 1 - i } else { i })
                .collect();
            self.at(&src)
        })
    }

    /// Reduction over `axes` (kept as size 1) starting from `init`.
    pub fn reduce(&self, axes: &[usize], init: f64, f: impl Fn(f64, f64) -> f64) -> Reference {
        let shape: Vec<usize> =
            self.shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
        let mut out = Reference::new(vec![init; shape.iter().product()], &shape);
        let s = strides(&shape);
        for i in 0..self.numel() {
            let idx = unravel(i, &self.shape);
            let o: usize =
                idx.iter().zip(&s).enumerate().map(|(k, (&v, &st))| if axes.contains(&k) { 0 } else { v * st }).sum();
            out.data[o] = f(out.data[o], self.data[i]);
        }
        out
    }

    /// Matrix product of 2-D arrays.
    pub fn matmul(&self, other: &Reference) -> Reference {
        let (n, k, m) = (self.shape[0], self.shape[1], other.shape[1]);
        Reference::generate(&[n, m], |idx| (0..k).map(|j| self.at(&[idx[0], j]) * other.at(&[j, idx[1]])).sum())
    }
}

/// Reads any tensor back as f64 values (through a cast on the device).
pub fn read(t: &Tensor) -> kiln::Result<Vec<f64>> {
    t.cast(DType::F64)?.to_vec::<f64>()
}

/// A tensor of `dtype` on `device` holding `data` (converted from f64).
pub fn tensor(data: &[f64], shape: &[usize], dtype: DType, device: &Device) -> kiln::Result<Tensor> {
    let t = Tensor::from_slice_on(data, shape, device)?;
    t.cast(dtype)?.realize()
}

/// Asserts `got` matches `want` within the tolerance of `dtype`, naming `what` on failure.
pub fn assert_close(what: &str, got: &[f64], want: &Reference, dtype: DType) {
    assert_eq!(got.len(), want.data.len(), "{what}: {} elements, expected {}", got.len(), want.data.len());
    let (atol, rtol) = tolerance(dtype);
    for (i, (&g, &w)) in got.iter().zip(&want.data).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what} ({dtype}): element {i} is {g}, expected {w} (shape {:?})", want.shape);
    }
}

/// `x` rounded to what `dtype` can hold (so the reference sees the same inputs as the device).
pub fn representable(x: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F16 => half::f16::from_f64(x).to_f64(),
        DType::BF16 => half::bf16::from_f64(x).to_f64(),
        DType::F32 => f64::from(x as f32),
        DType::F64 => x,
        DType::Bool => f64::from(u8::from(x != 0.0)),
        _ => x.trunc(),
    }
}

/// Deterministic test values for `shape` and `dtype` (small integers for int dtypes, mixed-sign
/// floats otherwise), as a reference and as a tensor on `device`.
pub fn sample(shape: &[usize], dtype: DType, seed: u64, device: &Device) -> kiln::Result<(Reference, Tensor)> {
    let n: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
    let data: Vec<f64> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let x = if dtype.is_float() {
                u * 4.0 - 2.0
            } else if dtype.is_unsigned() || dtype == DType::Bool {
                (u * 10.0).floor()
            } else {
                (u * 20.0).floor() - 10.0
            };
            representable(x, dtype)
        })
        .collect();
    let t = tensor(&data, shape, dtype, device)?;
    Ok((Reference::new(data, shape), t))
}
