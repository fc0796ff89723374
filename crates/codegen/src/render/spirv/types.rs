//! SPIR-V types and constants of the renderer: how each dtype is held in registers (compute type) and
//! in buffers (storage type), the capabilities each choice needs, and deduplicated constants.
//!
//! Bool is stored as u8, f16 and bf16 as u16 (converted with bit operations), and both 16-bit floats
//! compute in f32; `Index` is i32 when every index fits, else i64.

use super::Emitter;
use crate::error::CodegenError;
use kiln_uop::{ConstValue, DType, UOp};
use rspirv::spirv::{Capability, StorageClass, Word};

/// A scalar SPIR-V type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Scalar {
    Bool,
    Int { width: u32, signed: bool },
    Float { width: u32 },
}

impl Scalar {
    pub(super) const U32: Scalar = Scalar::Int { width: 32, signed: false };
    pub(super) const F32: Scalar = Scalar::Float { width: 32 };
}

impl Emitter {
    /// The register type of `dtype`; `Unsupported` for types with no SPIR-V arithmetic (void).
    pub(super) fn compute_scalar(&self, dtype: DType, u: &UOp) -> Result<Scalar, CodegenError> {
        Ok(match dtype {
            DType::Bool => Scalar::Bool,
            DType::I8 => Scalar::Int { width: 8, signed: true },
            DType::U8 => Scalar::Int { width: 8, signed: false },
            DType::I16 => Scalar::Int { width: 16, signed: true },
            DType::U16 => Scalar::Int { width: 16, signed: false },
            DType::I32 => Scalar::Int { width: 32, signed: true },
            DType::U32 => Scalar::U32,
            DType::I64 => Scalar::Int { width: 64, signed: true },
            DType::U64 => Scalar::Int { width: 64, signed: false },
            DType::F16 | DType::BF16 | DType::F32 => Scalar::F32,
            DType::F64 => Scalar::Float { width: 64 },
            DType::Index => Scalar::Int { width: self.index_width, signed: true },
            DType::Void => return Err(self.unsupported(u)),
        })
    }

    /// The element type of a buffer of `dtype`.
    pub(super) fn storage_scalar(&self, dtype: DType, u: &UOp) -> Result<Scalar, CodegenError> {
        Ok(match dtype {
            DType::Bool => Scalar::Int { width: 8, signed: false },
            DType::F16 | DType::BF16 => Scalar::Int { width: 16, signed: false },
            other => self.compute_scalar(other, u)?,
        })
    }

    /// The type id of `s` used for arithmetic: declares the capability its width needs.
    pub(super) fn ty(&mut self, s: Scalar) -> Word {
        match s {
            Scalar::Int { width: 8, .. } => self.require(Capability::Int8),
            Scalar::Int { width: 16, .. } => self.require(Capability::Int16),
            Scalar::Int { width: 64, .. } => self.require(Capability::Int64),
            Scalar::Float { width: 64 } => self.require(Capability::Float64),
            _ => {}
        }
        self.declare(s)
    }

    /// The type id of `s` used only to load, store and convert buffer elements: 8- and 16-bit
    /// integers need only the storage capabilities then.
    pub(super) fn storage_ty(&mut self, s: Scalar) -> Word {
        match s {
            Scalar::Int { width: 8, .. } => {
                self.require(Capability::StorageBuffer8BitAccess);
                self.extensions.insert("SPV_KHR_8bit_storage");
                self.declare(s)
            }
            Scalar::Int { width: 16, .. } => {
                self.require(Capability::StorageBuffer16BitAccess);
                self.declare(s)
            }
            other => self.ty(other),
        }
    }

    /// The register type id of `dtype`.
    pub(super) fn compute_ty(&mut self, dtype: DType, u: &UOp) -> Result<Word, CodegenError> {
        let s = self.compute_scalar(dtype, u)?;
        Ok(self.ty(s))
    }

    fn declare(&mut self, s: Scalar) -> Word {
        match s {
            Scalar::Bool => self.b.type_bool(),
            Scalar::Int { width, signed } => self.b.type_int(width, u32::from(signed)),
            Scalar::Float { width } => self.b.type_float(width, None),
        }
    }

    pub(super) fn require(&mut self, cap: Capability) {
        self.capabilities.insert(cap);
    }

    pub(super) fn pointer(&mut self, class: StorageClass, pointee: Word) -> Word {
        self.b.type_pointer(None, class, pointee)
    }

    /// A constant of scalar `s` from its bit pattern (integers as two's complement, floats as IEEE).
    pub(super) fn constant_bits(&mut self, s: Scalar, bits: u64) -> Word {
        if let Some(&id) = self.constants.get(&(s, bits)) {
            return id;
        }
        let ty = self.ty(s);
        let id = match s {
            Scalar::Bool if bits != 0 => self.b.constant_true(ty),
            Scalar::Bool => self.b.constant_false(ty),
            Scalar::Int { width: 64, .. } | Scalar::Float { width: 64 } => self.b.constant_bit64(ty, bits),
            // Narrow signed literals are sign-extended to the 32-bit word, unsigned ones zero-extended.
            Scalar::Int { width, signed: true } if width < 32 => {
                let shift = 64 - width;
                self.b.constant_bit32(ty, (((bits << shift) as i64) >> shift) as u32)
            }
            Scalar::Int { width, signed: false } if width < 32 => {
                self.b.constant_bit32(ty, (bits & ((1u64 << width) - 1)) as u32)
            }
            _ => self.b.constant_bit32(ty, bits as u32),
        };
        self.constants.insert((s, bits), id);
        id
    }

    /// The constant `v` of scalar `s` (floats converted from `v`, integers truncated to their width).
    pub(super) fn constant(&mut self, s: Scalar, v: f64) -> Word {
        let bits = match s {
            Scalar::Bool => u64::from(v != 0.0),
            Scalar::Int { signed: true, .. } => v as i64 as u64,
            Scalar::Int { signed: false, .. } => v as u64,
            Scalar::Float { width: 64 } => v.to_bits(),
            Scalar::Float { .. } => u64::from((v as f32).to_bits()),
        };
        self.constant_bits(s, bits)
    }

    /// The constant `c` of scalar `s`: integers and bools exactly (wider than f64 can hold), floats
    /// converted from its value.
    pub(super) fn literal(&mut self, s: Scalar, c: ConstValue) -> Word {
        match s {
            Scalar::Float { .. } => self.constant(s, c.as_f64()),
            _ => self.constant_bits(s, c.as_i64() as u64),
        }
    }

    /// A u32 constant (bit masks of the 16-bit float conversions).
    pub(super) fn u32(&mut self, v: u32) -> Word {
        self.constant_bits(Scalar::U32, u64::from(v))
    }
}
