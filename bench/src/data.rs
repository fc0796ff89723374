//! Deterministic host data for the workloads, kept on the host for the correctness checks.

use kiln::{DType, Element, Tensor};

/// A small xorshift generator: fast enough to fill hundreds of MiB.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in [-1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Host values (already rounded to `dtype`) and the tensor holding them.
pub struct Input {
    /// Values as f64, as the device sees them.
    pub host: Vec<f64>,
    /// The realized tensor.
    pub tensor: Tensor,
}

/// `n` uniform values in [-scale, scale) of `dtype` with `shape`.
pub fn uniform(shape: &[usize], dtype: DType, scale: f32, seed: u64) -> kiln::Result<Input> {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let values: Vec<f32> = (0..n).map(|_| rng.next() * scale).collect();
    match dtype {
        DType::F32 => upload(&values, shape),
        DType::F16 => upload(&values.iter().map(|&v| kiln::half::f16::from_f32(v)).collect::<Vec<_>>(), shape),
        DType::BF16 => upload(&values.iter().map(|&v| kiln::half::bf16::from_f32(v)).collect::<Vec<_>>(), shape),
        other => {
            Err(kiln::Error::DType { op: "bench input", dtype: other, reason: "benchmarks use float inputs".into() })
        }
    }
}

fn upload<T: Element>(values: &[T], shape: &[usize]) -> kiln::Result<Input> {
    Ok(Input { host: values.iter().map(|v| v.to_f64()).collect(), tensor: Tensor::from_slice(values, shape)? })
}

/// A tensor's values as f64 (through a cast on the device).
pub fn read(t: &Tensor) -> kiln::Result<Vec<f64>> {
    t.cast(DType::F64)?.to_vec::<f64>()
}
