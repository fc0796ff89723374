//! Elementwise math: unary functions, broadcasting binary ops with dtype promotion, comparisons,
//! `where_` and casts. Transcendentals are built from the IR's small set (`exp` is `exp2` scaled, and
//! so on), so every backend needs only those.

use crate::error::{Error, Result};
use crate::ops::broadcast_shape;
use crate::tensor::Tensor;
use kiln_uop::{DType, Op, UOp};

const LOG2_E: f64 = std::f64::consts::LOG2_E;
const LN_2: f64 = std::f64::consts::LN_2;

impl Tensor {
    fn map(&self, op: Op) -> Tensor {
        let u = self.uop();
        self.derive(UOp::new(op, u.dtype(), vec![u], kiln_uop::Arg::None), &[])
    }

    /// Ints and bools become the default float (f32) before float math, as in PyTorch.
    fn floating(&self) -> Result<Tensor> {
        if self.dtype().is_float() {
            Ok(self.clone())
        } else {
            self.cast(DType::F32)
        }
    }

    /// A scalar constant broadcast to this tensor's shape.
    pub(crate) fn scalar(&self, value: f64, dtype: DType) -> Result<Tensor> {
        self.full_like(value, dtype)
    }

    pub(crate) fn binary(&self, other: &Tensor, op: Op, name: &'static str) -> Result<Tensor> {
        self.check_device(name, other)?;
        let shape = broadcast_shape(name, &self.shape(), &other.shape())?;
        let dtype = self.dtype().promote(other.dtype());
        let a = self.cast(dtype)?.broadcast_to(&shape)?;
        let b = other.cast(dtype)?.broadcast_to(&shape)?;
        let u = UOp::alu(op, vec![a.uop(), b.uop()]);
        Ok(a.derive(u, &[&b]))
    }

    /// Converts elements to `dtype` (values, not bits).
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == DType::Void || dtype == DType::Index {
            return Err(Error::DType { op: "cast", dtype, reason: "not a tensor element type".into() });
        }
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        if self.dtype().is_float() && dtype.is_int() {
            return self.float_to_int(dtype);
        }
        Ok(self.raw_cast(dtype))
    }

    fn raw_cast(&self, dtype: DType) -> Tensor {
        let u = self.uop();
        self.derive(u.cast(dtype), &[])
    }

    /// Float to integer with Rust's `as` semantics on every backend: truncation toward zero, NaN gives
    /// 0, values beyond the type's range saturate to its min or max. (C leaves these undefined.) The
    /// bounds are powers of two, exact in f32 and f64; 16-bit floats are compared in f32.
    fn float_to_int(&self, dtype: DType) -> Result<Tensor> {
        let x = if self.dtype().size() < 4 { self.raw_cast(DType::F32) } else { self.clone() };
        let f = x.dtype();
        let (min, max) = dtype.min_max();
        let (lo, hi) = (x.scalar(min, f)?, x.scalar(max + 1.0, f)?);
        let below = x.lt(&lo)?;
        let above = x.ge(&hi)?;
        let inside = x.ge(&lo)?.binary(&x.lt(&hi)?, Op::And, "cast")?;
        let safe = inside.where_(&x, &x.scalar(0.0, f)?)?.raw_cast(dtype);
        let saturated = above.where_(&x.scalar(max, dtype)?, &below.where_(&x.scalar(min, dtype)?, &safe)?)?;
        Ok(saturated)
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::Add, "add")
    }
    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        if self.dtype() == DType::Bool && other.dtype() == DType::Bool {
            return Err(Error::DType { op: "sub", dtype: DType::Bool, reason: "subtraction of booleans".into() });
        }
        self.add(&other.neg()?)
    }
    /// `self * other`, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::Mul, "mul")
    }
    /// `self / other` (true division: integers divide as f32), broadcasting.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = if self.dtype().promote(other.dtype()).is_float() {
            (self.clone(), other.clone())
        } else {
            (self.floating()?, other.floating()?)
        };
        a.binary(&b, Op::Fdiv, "div")
    }
    /// Elementwise maximum, broadcasting.
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::Max, "maximum")
    }
    /// Elementwise minimum, broadcasting; a NaN in either operand gives NaN (as `maximum`).
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        if self.dtype().promote(other.dtype()).is_float() {
            return self.neg()?.maximum(&other.neg()?)?.neg();
        }
        self.lt(other)?.where_(self, other)
    }
    /// `self < other` (bool).
    pub fn lt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::CmpLt, "lt")
    }
    /// `self > other` (bool).
    pub fn gt(&self, other: &Tensor) -> Result<Tensor> {
        other.lt(self)
    }
    /// `self <= other` (bool).
    pub fn le(&self, other: &Tensor) -> Result<Tensor> {
        // lt or eq, not !gt: comparisons with NaN are false.
        self.lt(other)?.binary(&self.eq(other)?, Op::Or, "le")
    }
    /// `self >= other` (bool).
    pub fn ge(&self, other: &Tensor) -> Result<Tensor> {
        self.gt(other)?.binary(&self.eq(other)?, Op::Or, "ge")
    }
    /// `self == other` (bool).
    pub fn eq(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::CmpEq, "eq")
    }
    /// `self != other` (bool).
    pub fn ne(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, Op::CmpNe, "ne")
    }
    /// Logical not (the tensor is read as bool).
    pub fn logical_not(&self) -> Result<Tensor> {
        self.cast(DType::Bool)?.eq(&self.scalar(0.0, DType::Bool)?)
    }
    /// `self ? a : b` elementwise, broadcasting all three; `self` is read as bool.
    pub fn where_(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.check_device("where_", a)?;
        self.check_device("where_", b)?;
        let shape = broadcast_shape("where_", &broadcast_shape("where_", &self.shape(), &a.shape())?, &b.shape())?;
        let dtype = a.dtype().promote(b.dtype());
        let c = self.cast(DType::Bool)?.broadcast_to(&shape)?;
        let (x, y) = (a.cast(dtype)?.broadcast_to(&shape)?, b.cast(dtype)?.broadcast_to(&shape)?);
        let u = UOp::alu(Op::Where, vec![c.uop(), x.uop(), y.uop()]);
        Ok(c.derive(u, &[&x, &y]))
    }

    /// `-self`.
    pub fn neg(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Err(Error::DType {
                op: "neg",
                dtype: DType::Bool,
                reason: "negation of booleans; use logical_not".into(),
            });
        }
        Ok(self.map(Op::Neg))
    }
    /// e^x.
    pub fn exp(&self) -> Result<Tensor> {
        let x = self.floating()?;
        x.mul(&x.scalar(LOG2_E, x.dtype())?)?.exp2()
    }
    /// 2^x.
    pub fn exp2(&self) -> Result<Tensor> {
        Ok(self.floating()?.map(Op::Exp2))
    }
    /// Natural logarithm.
    pub fn log(&self) -> Result<Tensor> {
        let l = self.log2()?;
        l.mul(&l.scalar(LN_2, l.dtype())?)
    }
    /// Base-2 logarithm.
    pub fn log2(&self) -> Result<Tensor> {
        Ok(self.floating()?.map(Op::Log2))
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Tensor> {
        Ok(self.floating()?.map(Op::Sqrt))
    }
    /// 1 / sqrt(x).
    pub fn rsqrt(&self) -> Result<Tensor> {
        self.sqrt()?.reciprocal()
    }
    /// 1 / x.
    pub fn reciprocal(&self) -> Result<Tensor> {
        Ok(self.floating()?.map(Op::Recip))
    }
    /// sin(x).
    pub fn sin(&self) -> Result<Tensor> {
        Ok(self.floating()?.map(Op::Sin))
    }
    /// cos(x), as sin(pi/2 - x).
    pub fn cos(&self) -> Result<Tensor> {
        let x = self.floating()?;
        x.scalar(std::f64::consts::FRAC_PI_2, x.dtype())?.sub(&x)?.sin()
    }
    /// max(x, 0).
    pub fn relu(&self) -> Result<Tensor> {
        self.maximum(&self.scalar(0.0, self.dtype())?)
    }
    /// 1 / (1 + e^-x).
    pub fn sigmoid(&self) -> Result<Tensor> {
        let x = self.floating()?;
        let one = x.scalar(1.0, x.dtype())?;
        one.add(&x.neg()?.exp()?)?.reciprocal()
    }
    /// Hyperbolic tangent, as 2 sigmoid(2x) - 1.
    pub fn tanh(&self) -> Result<Tensor> {
        let x = self.floating()?;
        let two = x.scalar(2.0, x.dtype())?;
        two.mul(&two.mul(&x)?.sigmoid()?)?.sub(&x.scalar(1.0, x.dtype())?)
    }
    /// GELU with the tanh approximation (as GPT-2 uses).
    pub fn gelu(&self) -> Result<Tensor> {
        let x = self.floating()?;
        let d = x.dtype();
        let inner = x
            .add(&x.mul(&x)?.mul(&x)?.mul(&x.scalar(0.044_715, d)?)?)?
            .mul(&x.scalar((2.0 / std::f64::consts::PI).sqrt(), d)?)?;
        x.mul(&x.scalar(0.5, d)?)?.mul(&x.scalar(1.0, d)?.add(&inner.tanh()?)?)
    }
    /// |x|; `abs(-0.0)` is `+0.0` and NaN stays NaN.
    pub fn abs(&self) -> Result<Tensor> {
        if self.dtype().is_unsigned() || self.dtype() == DType::Bool {
            return Ok(self.clone());
        }
        if self.dtype().is_float() {
            // Zero selects the constant +0.0: no arithmetic on a signed zero, which max(x, -x) and
            // drivers that ignore signed zeros (Vulkan without float controls) could get wrong.
            let zero = self.scalar(0.0, self.dtype())?;
            return self.lt(&zero)?.where_(&self.neg()?, &self.eq(&zero)?.where_(&zero, self)?);
        }
        self.maximum(&self.neg()?)
    }
    /// x * x.
    pub fn square(&self) -> Result<Tensor> {
        self.mul(self)
    }
    /// Limits values to `[min, max]`.
    pub fn clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        if min > max {
            return Err(Error::Invalid { op: "clamp", reason: format!("min {min} > max {max}") });
        }
        let d = self.dtype();
        self.minimum(&self.scalar_operand(max, d)?)?.maximum(&self.scalar_operand(min, d)?)
    }
}
