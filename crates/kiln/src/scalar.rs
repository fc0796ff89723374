//! Scalars as kernel parameters: a number a program passes to an op (`&x * lr`, `clamp(lo, hi)`) is a
//! one-element buffer on the tensor's device, read by the kernel like any input, not a constant
//! compiled into it. A loop over changing scalars (a learning-rate schedule) therefore compiles each
//! kernel once. Buffers are reused per device, dtype and value from a bounded LRU memo.

use crate::error::Result;
use crate::tensor::Tensor;
use kiln_runtime::LruMemo;
use kiln_uop::DType;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// Scalar buffers kept for reuse (each holds one element on its device).
const SCALARS_KEPT: NonZeroUsize = NonZeroUsize::new(256).unwrap();

type Key = (String, DType, u64);

fn memo() -> &'static LruMemo<Key, Tensor> {
    static MEMO: OnceLock<LruMemo<Key, Tensor>> = OnceLock::new();
    MEMO.get_or_init(|| LruMemo::new(SCALARS_KEPT))
}

impl Tensor {
    /// `value` as a 0-dim tensor of `dtype` on this tensor's device, held in a buffer: the kernels that
    /// read it take it as a parameter.
    pub(crate) fn scalar_operand(&self, value: f64, dtype: DType) -> Result<Tensor> {
        let device = self.device();
        let key = (device.name(), dtype, value.to_bits());
        if let Some(t) = memo().get(&key) {
            return Ok(t);
        }
        let mut bytes = Vec::with_capacity(dtype.size());
        crate::element::f64_as_bytes(value, dtype, &mut bytes);
        let t = Tensor::from_bytes(bytes, dtype, &[], &device)?;
        memo().insert(key, t.clone());
        Ok(t)
    }
}
