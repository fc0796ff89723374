//! Element types (`DType`) and constant values (`ConstValue`).
//!
//! `Index` is the abstract integer of index arithmetic; renderers choose its width per kernel.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The element type of a UOp.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Void,
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F16,
    BF16,
    F32,
    F64,
    /// Abstract integer used for indices; rendered as i32 or i64.
    Index,
}

impl DType {
    /// Every dtype a tensor may hold.
    pub const ALL_TENSOR: [DType; 13] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Size of one element in bytes (`Index` counts as 8).
    pub fn size(self) -> usize {
        match self {
            DType::Void => 0,
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::Index => 8,
        }
    }

    /// True for floating point types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// True for signed and unsigned integers and `Index` (not `Bool`).
    pub fn is_int(self) -> bool {
        self.is_signed_int() || self.is_unsigned()
    }

    /// True for signed integers and `Index`.
    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::Index)
    }

    /// True for unsigned integers.
    pub fn is_unsigned(self) -> bool {
        matches!(self, DType::U8 | DType::U16 | DType::U32 | DType::U64)
    }

    /// Short lowercase name, as printed and as used in kernel names.
    pub fn name(self) -> &'static str {
        match self {
            DType::Void => "void",
            DType::Bool => "bool",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::Index => "index",
        }
    }

    /// The smallest and largest finite value of the type, as f64 (used as reduce identities).
    pub fn min_max(self) -> (f64, f64) {
        match self {
            DType::Bool => (0.0, 1.0),
            DType::I8 => (f64::from(i8::MIN), f64::from(i8::MAX)),
            DType::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
            DType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
            DType::I64 | DType::Index => (i64::MIN as f64, i64::MAX as f64),
            DType::U8 => (0.0, f64::from(u8::MAX)),
            DType::U16 => (0.0, f64::from(u16::MAX)),
            DType::U32 => (0.0, f64::from(u32::MAX)),
            DType::U64 => (0.0, u64::MAX as f64),
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 | DType::Void => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The type arithmetic of `self` and `other` promotes to (a small lattice like PyTorch's).
    pub fn promote(self, other: DType) -> DType {
        if self == other {
            return self;
        }
        let rank = |d: DType| -> u8 {
            match d {
                DType::Bool => 0,
                DType::U8 => 1,
                DType::I8 => 2,
                DType::U16 => 3,
                DType::I16 => 4,
                DType::U32 => 5,
                DType::I32 => 6,
                DType::U64 => 7,
                DType::I64 | DType::Index => 8,
                DType::F16 => 9,
                DType::BF16 => 10,
                DType::F32 => 11,
                DType::F64 => 12,
                DType::Void => 13,
            }
        };
        match (self, other) {
            (DType::F16, DType::BF16) | (DType::BF16, DType::F16) => DType::F32,
            (DType::U8, DType::I8) | (DType::I8, DType::U8) => DType::I16,
            _ if rank(self) >= rank(other) => self,
            _ => other,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A constant carried by `Op::Const`. Floats hash and compare by bit pattern so that NaN consts intern.
#[derive(Clone, Copy, Debug)]
pub enum ConstValue {
    /// A boolean.
    Bool(bool),
    /// Any integer (signed or unsigned, stored as i64 bits).
    Int(i64),
    /// Any float.
    Float(f64),
}

impl ConstValue {
    /// The value converted for `dtype` (ints truncate floats, floats take ints, bools take nonzero).
    pub fn cast(self, dtype: DType) -> ConstValue {
        if dtype == DType::Bool {
            ConstValue::Bool(self.as_f64() != 0.0)
        } else if dtype.is_float() {
            ConstValue::Float(self.as_f64())
        } else {
            match self {
                ConstValue::Bool(b) => ConstValue::Int(i64::from(b)),
                ConstValue::Int(i) => ConstValue::Int(i),
                // u64 values above i64::MAX keep their bits (renderers print U64 constants unsigned).
                ConstValue::Float(x) if dtype == DType::U64 => ConstValue::Int(x as u64 as i64),
                ConstValue::Float(x) => ConstValue::Int(x as i64),
            }
        }
    }

    /// The value as f64.
    pub fn as_f64(self) -> f64 {
        match self {
            ConstValue::Bool(b) => f64::from(u8::from(b)),
            ConstValue::Int(i) => i as f64,
            ConstValue::Float(x) => x,
        }
    }

    /// The value as i64 (floats truncate).
    pub fn as_i64(self) -> i64 {
        match self {
            ConstValue::Bool(b) => i64::from(b),
            ConstValue::Int(i) => i,
            ConstValue::Float(x) => x as i64,
        }
    }

    fn key(self) -> (u8, u64) {
        match self {
            ConstValue::Bool(b) => (0, u64::from(b)),
            ConstValue::Int(i) => (1, i as u64),
            ConstValue::Float(x) => (2, x.to_bits()),
        }
    }
}

impl PartialEq for ConstValue {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ConstValue {}
impl Hash for ConstValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for ConstValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstValue::Bool(b) => write!(f, "{b}"),
            ConstValue::Int(i) => write!(f, "{i}"),
            ConstValue::Float(x) => write!(f, "{x:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_torch() {
        assert_eq!(DType::I32.promote(DType::F16), DType::F16);
        assert_eq!(DType::F16.promote(DType::BF16), DType::F32);
        assert_eq!(DType::Bool.promote(DType::I8), DType::I8);
        assert_eq!(DType::U8.promote(DType::I8), DType::I16);
        assert_eq!(DType::F32.promote(DType::F64), DType::F64);
    }

    #[test]
    fn nan_consts_are_equal_by_bits() {
        assert_eq!(ConstValue::Float(f64::NAN), ConstValue::Float(f64::NAN));
        assert_ne!(ConstValue::Float(0.0), ConstValue::Float(-0.0));
        assert_eq!(ConstValue::Float(2.7).cast(DType::I32), ConstValue::Int(2));
    }
}
