//! `Element`: Rust scalar types that map to a `DType`, for moving data in and out of tensors.

use kiln_uop::DType;

/// A Rust type that can be the element of a tensor.
pub trait Element: Copy + Send + Sync + 'static {
    /// The matching dtype.
    const DTYPE: DType;
    /// Appends the value's bytes (native endianness, as devices store them).
    fn write_bytes(self, out: &mut Vec<u8>);
    /// Reads one value from exactly `size_of::<Self>()` bytes.
    fn read_bytes(bytes: &[u8]) -> Self;
    /// The value as f64 (for references and constants).
    fn to_f64(self) -> f64;
}

macro_rules! numeric {
    ($($t:ty => $d:ident, $to_f64:expr);* $(;)?) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn write_bytes(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_ne_bytes());
            }
            fn read_bytes(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_ne_bytes(raw)
            }
            fn to_f64(self) -> f64 {
                let convert: fn($t) -> f64 = $to_f64;
                convert(self)
            }
        }
    )*};
}
#[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
mod impls {
    use super::{DType, Element};
    numeric!(
        i8 => I8, |x| x as f64; i16 => I16, |x| x as f64; i32 => I32, |x| x as f64; i64 => I64, |x| x as f64;
        u8 => U8, |x| x as f64; u16 => U16, |x| x as f64; u32 => U32, |x| x as f64; u64 => U64, |x| x as f64;
        f32 => F32, |x| x as f64; f64 => F64, |x| x;
        half::f16 => F16, half::f16::to_f64; half::bf16 => BF16, half::bf16::to_f64;
    );
}

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn write_bytes(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn read_bytes(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
}

/// Bytes of `value` stored as `dtype` (used for filling host buffers such as `arange`).
pub(crate) fn f64_as_bytes(value: f64, dtype: DType, out: &mut Vec<u8>) {
    match dtype {
        DType::Bool => (value != 0.0).write_bytes(out),
        DType::I8 => (value as i8).write_bytes(out),
        DType::I16 => (value as i16).write_bytes(out),
        DType::I32 => (value as i32).write_bytes(out),
        DType::I64 | DType::Index => (value as i64).write_bytes(out),
        DType::U8 => (value as u8).write_bytes(out),
        DType::U16 => (value as u16).write_bytes(out),
        DType::U32 => (value as u32).write_bytes(out),
        DType::U64 => (value as u64).write_bytes(out),
        DType::F16 => half::f16::from_f64(value).write_bytes(out),
        DType::BF16 => half::bf16::from_f64(value).write_bytes(out),
        DType::F32 => (value as f32).write_bytes(out),
        DType::F64 | DType::Void => value.write_bytes(out),
    }
}
