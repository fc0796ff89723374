//! Random tensors from a seedable generator (xoshiro256++ seeded by splitmix64), drawn on the host
//! and uploaded. `Tensor::manual_seed` makes runs reproducible.

use crate::device::Device;
use crate::element::f64_as_bytes;
use crate::error::{Error, Result};
use crate::size;
use crate::tensor::Tensor;
use kiln_uop::DType;
use std::sync::Mutex;

struct Generator([u64; 4]);

impl Generator {
    fn seeded(seed: u64) -> Generator {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Generator([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// `shape`'s count of samples of `f`, after checking the size and that `dtype` is a float type.
fn draw(op: &'static str, shape: &[usize], dtype: DType, mut f: impl FnMut(&mut Generator) -> f64) -> Result<Vec<f64>> {
    if !dtype.is_float() {
        return Err(Error::DType { op, dtype, reason: "random tensors are floating point".into() });
    }
    let n = size::numel(op, shape)?;
    size::bytes(op, shape, dtype)?;
    crate::jit::record_random();
    let mut values = size::reserve(op, shape, n)?;
    let mut guard = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let g = guard.get_or_insert_with(|| Generator::seeded(0x6b69_6c6e));
    values.extend((0..n).map(|_| f(g)));
    Ok(values)
}

fn upload(values: &[f64], shape: &[usize], dtype: DType, op: &'static str) -> Result<Tensor> {
    let mut bytes = size::reserve(op, shape, size::bytes(op, shape, dtype)?)?;
    for &v in values {
        f64_as_bytes(v, dtype, &mut bytes);
    }
    Tensor::from_bytes(bytes, dtype, shape, &Device::default_device()?)
}

impl Tensor {
    /// Reseeds the generator behind `rand` and `randn`.
    pub fn manual_seed(seed: u64) {
        *GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Generator::seeded(seed));
    }

    /// Uniform samples in [0, 1).
    pub fn rand(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let values = draw("rand", shape, dtype, Generator::uniform)?;
        upload(&values, shape, dtype, "rand")
    }

    /// Standard normal samples (Box-Muller).
    pub fn randn(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let values = draw("randn", shape, dtype, |g| {
            let u1 = 1.0 - g.uniform();
            let u2 = g.uniform();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })?;
        upload(&values, shape, dtype, "randn")
    }
}
