//! Conversions of the SPIR-V renderer: casts between dtypes (C semantics), and between buffer elements
//! and registers. 16-bit floats are u16 in memory and f32 in registers; f16 converts through helper
//! functions made of integer and f32 operations (round to nearest even, NaN kept quiet, like the C
//! helpers), bf16 through bit shifts (rounding like the C helper).

use super::types::Scalar;
use super::Emitter;
use crate::error::CodegenError;
use kiln_uop::{DType, UOp};
use rspirv::spirv::{FunctionControl, Word};

/// A conversion function emitted once per module when used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Helper {
    /// u32 holding f16 bits -> f32.
    F16ToF32,
    /// f32 -> u32 holding f16 bits.
    F32ToF16,
    /// f32 -> u32 holding bf16 bits.
    F32ToBf16,
}

impl Helper {
    fn name(self) -> &'static str {
        match self {
            Helper::F16ToF32 => "kiln_f16_to_f32",
            Helper::F32ToF16 => "kiln_f32_to_f16",
            Helper::F32ToBf16 => "kiln_f32_to_bf16",
        }
    }
}

impl Emitter {
    /// Calls helper `h` on `arg`.
    fn call(&mut self, h: Helper, arg: Word) -> Result<Word, CodegenError> {
        let id = match self.helpers.get(&h) {
            Some(&id) => id,
            None => {
                let id = self.b.id();
                self.helpers.insert(h, id);
                id
            }
        };
        let ret = self.ty(if h == Helper::F16ToF32 { Scalar::F32 } else { Scalar::U32 });
        Ok(self.b.function_call(ret, None, id, [arg])?)
    }

    /// f32 from the 16 bf16 bits in the low half of a u32.
    fn bf16_bits_to_f32(&mut self, bits: Word) -> Result<Word, CodegenError> {
        let (u32_ty, f32_ty) = (self.ty(Scalar::U32), self.ty(Scalar::F32));
        let sixteen = self.u32(16);
        let shifted = self.b.shift_left_logical(u32_ty, None, bits, sixteen)?;
        Ok(self.b.bitcast(f32_ty, None, shifted)?)
    }

    /// A loaded buffer element (`raw`, of the storage type) in its compute type.
    pub(super) fn widen(&mut self, dtype: DType, raw: Word) -> Result<Word, CodegenError> {
        let u32_ty = self.ty(Scalar::U32);
        match dtype {
            DType::Bool => {
                let wide = self.b.u_convert(u32_ty, None, raw)?;
                let (bool_ty, zero) = (self.ty(Scalar::Bool), self.u32(0));
                Ok(self.b.i_not_equal(bool_ty, None, wide, zero)?)
            }
            DType::F16 => {
                let wide = self.b.u_convert(u32_ty, None, raw)?;
                self.call(Helper::F16ToF32, wide)
            }
            DType::BF16 => {
                let wide = self.b.u_convert(u32_ty, None, raw)?;
                self.bf16_bits_to_f32(wide)
            }
            _ => Ok(raw),
        }
    }

    /// A computed value `v` of `dtype` as a buffer element.
    pub(super) fn narrow(&mut self, dtype: DType, v: Word) -> Result<Word, CodegenError> {
        let u32_ty = self.ty(Scalar::U32);
        let (bits, width) = match dtype {
            DType::Bool => {
                let (one, zero) = (self.u32(1), self.u32(0));
                (self.b.select(u32_ty, None, v, one, zero)?, 8)
            }
            DType::F16 => (self.call(Helper::F32ToF16, v)?, 16),
            DType::BF16 => (self.call(Helper::F32ToBf16, v)?, 16),
            _ => return Ok(v),
        };
        let ty = self.storage_ty(Scalar::Int { width, signed: false });
        Ok(self.b.u_convert(ty, None, bits)?)
    }

    /// `x` (the value of `from`) converted to `to`, as the C renderer's casts do.
    pub(super) fn cast(&mut self, from: &UOp, to: DType, x: Word) -> Result<Word, CodegenError> {
        let fd = from.dtype();
        let fs = self.compute_scalar(fd, from)?;
        let ts = self.compute_scalar(to, from)?;
        let to_ty = self.ty(ts);
        if fd == to {
            return Ok(x);
        }
        let bool_ty = self.ty(Scalar::Bool);
        match (fd, to) {
            (_, DType::Bool) => {
                let zero = self.constant(fs, 0.0);
                // `x != 0`: true for NaN, as in C.
                Ok(match fs {
                    Scalar::Float { .. } => self.b.f_unord_not_equal(bool_ty, None, x, zero)?,
                    _ => self.b.i_not_equal(bool_ty, None, x, zero)?,
                })
            }
            (DType::Bool, _) => {
                let (one, zero) = (self.constant(ts, 1.0), self.constant(ts, 0.0));
                Ok(self.b.select(to_ty, None, x, one, zero)?)
            }
            (_, DType::F16) => {
                let f = self.convert(fs, Scalar::F32, x)?;
                let bits = self.call(Helper::F32ToF16, f)?;
                self.call(Helper::F16ToF32, bits)
            }
            (_, DType::BF16) => {
                let f = self.convert(fs, Scalar::F32, x)?;
                let bits = self.call(Helper::F32ToBf16, f)?;
                self.bf16_bits_to_f32(bits)
            }
            _ => self.convert(fs, ts, x),
        }
    }

    /// Numeric conversion between two non-bool scalars: integers sign- or zero-extend by the source's
    /// signedness and truncate when narrowing; floats round; float to integer truncates.
    fn convert(&mut self, from: Scalar, to: Scalar, x: Word) -> Result<Word, CodegenError> {
        if from == to {
            return Ok(x);
        }
        let to_ty = self.ty(to);
        let b = &mut self.b;
        Ok(match (from, to) {
            (Scalar::Float { .. }, Scalar::Float { .. }) => b.f_convert(to_ty, None, x)?,
            (Scalar::Float { .. }, Scalar::Int { signed: true, .. }) => b.convert_f_to_s(to_ty, None, x)?,
            (Scalar::Float { .. }, Scalar::Int { signed: false, .. }) => b.convert_f_to_u(to_ty, None, x)?,
            (Scalar::Int { signed: true, .. }, Scalar::Float { .. }) => b.convert_s_to_f(to_ty, None, x)?,
            (Scalar::Int { signed: false, .. }, Scalar::Float { .. }) => b.convert_u_to_f(to_ty, None, x)?,
            (Scalar::Int { width: w1, .. }, Scalar::Int { width: w2, .. }) if w1 == w2 => b.bitcast(to_ty, None, x)?,
            (Scalar::Int { signed, .. }, Scalar::Int { width, signed: to_signed }) => {
                let mid = Scalar::Int { width, signed };
                let mid_ty = self.ty(mid);
                let resized =
                    if signed { self.b.s_convert(mid_ty, None, x)? } else { self.b.u_convert(mid_ty, None, x)? };
                if signed == to_signed {
                    resized
                } else {
                    self.b.bitcast(to_ty, None, resized)?
                }
            }
            _ => return Err(CodegenError::Malformed(format!("no SPIR-V conversion from {from:?} to {to:?}"))),
        })
    }

    /// Emits the bodies of the helper functions the kernel called.
    pub(super) fn emit_helpers(&mut self) -> Result<(), CodegenError> {
        let helpers: Vec<(Helper, Word)> = self.helpers.iter().map(|(&h, &id)| (h, id)).collect();
        for (h, id) in helpers {
            let (u32_ty, f32_ty) = (self.ty(Scalar::U32), self.ty(Scalar::F32));
            let (ret, param) = if h == Helper::F16ToF32 { (f32_ty, u32_ty) } else { (u32_ty, f32_ty) };
            let fn_ty = self.b.type_function(ret, [param]);
            self.b.begin_function(ret, Some(id), FunctionControl::NONE, fn_ty)?;
            self.b.name(id, h.name());
            let arg = self.b.function_parameter(param)?;
            self.b.begin_block(None)?;
            let out = match h {
                Helper::F16ToF32 => self.f16_to_f32_body(arg)?,
                Helper::F32ToF16 => self.f32_to_f16_body(arg)?,
                Helper::F32ToBf16 => self.f32_to_bf16_body(arg)?,
            };
            self.b.ret_value(out)?;
            self.b.end_function()?;
        }
        Ok(())
    }

    /// f16 bits to f32: exponent rebias, Inf/NaN kept, subnormals renormalised by an f32 subtraction.
    fn f16_to_f32_body(&mut self, h: Word) -> Result<Word, CodegenError> {
        let (u, f, bool_ty) = (self.ty(Scalar::U32), self.ty(Scalar::F32), self.ty(Scalar::Bool));
        let [m7fff, thirteen, exp_mask, rebias, one_exp, zero, m8000, sixteen] =
            [0x7fff, 13, 0x0f80_0000, 0x3800_0000, 0x0080_0000, 0, 0x8000, 16].map(|v| self.u32(v));
        let magic = self.constant_bits(Scalar::F32, 0x3880_0000);
        let b = &mut self.b;
        let bits = b.bitwise_and(u, None, h, m7fff)?;
        let o = b.shift_left_logical(u, None, bits, thirteen)?;
        let e = b.bitwise_and(u, None, o, exp_mask)?;
        let normal = b.i_add(u, None, o, rebias)?;
        let inf_nan = b.i_add(u, None, normal, rebias)?;
        let raised = b.i_add(u, None, normal, one_exp)?;
        let raised_f = b.bitcast(f, None, raised)?;
        let renormalised = b.f_sub(f, None, raised_f, magic)?;
        let subnormal = b.bitcast(u, None, renormalised)?;
        let is_special = b.i_equal(bool_ty, None, e, exp_mask)?;
        let is_small = b.i_equal(bool_ty, None, e, zero)?;
        let finite = b.select(u, None, is_small, subnormal, normal)?;
        let magnitude = b.select(u, None, is_special, inf_nan, finite)?;
        let sign_bit = b.bitwise_and(u, None, h, m8000)?;
        let sign = b.shift_left_logical(u, None, sign_bit, sixteen)?;
        let out = b.bitwise_or(u, None, magnitude, sign)?;
        Ok(b.bitcast(f, None, out)?)
    }

    /// f32 to f16 bits, round to nearest even: subnormal results by an f32 addition of a magic number,
    /// normal ones by integer rounding; overflow gives Inf, NaN a quiet NaN.
    fn f32_to_f16_body(&mut self, x: Word) -> Result<Word, CodegenError> {
        let (u, f, bool_ty) = (self.ty(Scalar::U32), self.ty(Scalar::F32), self.ty(Scalar::Bool));
        let [sign_mask, f16_max, f32_inf, qnan, inf, min_normal, magic_bits, thirteen, one, rebias, sixteen] =
            [0x8000_0000, 0x4780_0000, 0x7f80_0000, 0x7e00, 0x7c00, 0x3880_0000, 0x3f00_0000, 13, 1, 0xc800_0fff, 16]
                .map(|v| self.u32(v));
        let magic = self.constant_bits(Scalar::F32, 0x3f00_0000);
        let b = &mut self.b;
        let bits = b.bitcast(u, None, x)?;
        let sign = b.bitwise_and(u, None, bits, sign_mask)?;
        let a = b.bitwise_xor(u, None, bits, sign)?;
        let big = b.u_greater_than_equal(bool_ty, None, a, f16_max)?;
        let nan = b.u_greater_than(bool_ty, None, a, f32_inf)?;
        let inf_nan = b.select(u, None, nan, qnan, inf)?;
        let small = b.u_less_than(bool_ty, None, a, min_normal)?;
        let af = b.bitcast(f, None, a)?;
        let sum = b.f_add(f, None, af, magic)?;
        let sum_bits = b.bitcast(u, None, sum)?;
        let subnormal = b.i_sub(u, None, sum_bits, magic_bits)?;
        let mantissa_low = b.shift_right_logical(u, None, a, thirteen)?;
        let odd = b.bitwise_and(u, None, mantissa_low, one)?;
        let biased = b.i_add(u, None, a, rebias)?;
        let rounded = b.i_add(u, None, biased, odd)?;
        let normal = b.shift_right_logical(u, None, rounded, thirteen)?;
        let finite = b.select(u, None, small, subnormal, normal)?;
        let magnitude = b.select(u, None, big, inf_nan, finite)?;
        let sign16 = b.shift_right_logical(u, None, sign, sixteen)?;
        Ok(b.bitwise_or(u, None, magnitude, sign16)?)
    }

    /// f32 to bf16 bits: round to nearest even, NaN made quiet.
    fn f32_to_bf16_body(&mut self, x: Word) -> Result<Word, CodegenError> {
        let (u, bool_ty) = (self.ty(Scalar::U32), self.ty(Scalar::Bool));
        let [abs_mask, f32_inf, sixteen, quiet, half, one] =
            [0x7fff_ffff, 0x7f80_0000, 16, 0x40, 0x7fff, 1].map(|v| self.u32(v));
        let b = &mut self.b;
        let bits = b.bitcast(u, None, x)?;
        let magnitude = b.bitwise_and(u, None, bits, abs_mask)?;
        let nan = b.u_greater_than(bool_ty, None, magnitude, f32_inf)?;
        let high = b.shift_right_logical(u, None, bits, sixteen)?;
        let quieted = b.bitwise_or(u, None, high, quiet)?;
        let lsb = b.bitwise_and(u, None, high, one)?;
        let biased = b.i_add(u, None, bits, half)?;
        let even = b.i_add(u, None, biased, lsb)?;
        let rounded = b.shift_right_logical(u, None, even, sixteen)?;
        Ok(b.select(u, None, nan, quieted, rounded)?)
    }
}
