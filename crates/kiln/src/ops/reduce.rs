//! Reductions over axes: sum, max, min, mean, with `keepdim`. An empty axis list reduces every axis.
//! 16-bit floats accumulate in f32; booleans sum as i32.

use crate::error::Result;
use crate::ops::normalize_axis;
use crate::tensor::Tensor;
use kiln_uop::{Arg, DType, Op, ReduceOp, UOp};

impl Tensor {
    fn resolve_axes(&self, op: &'static str, axes: &[isize]) -> Result<Vec<usize>> {
        let n = self.ndim();
        if axes.is_empty() {
            return Ok((0..n).collect());
        }
        let mut out = axes.iter().map(|&a| normalize_axis(op, a, n)).collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn reduce(&self, op: ReduceOp, name: &'static str, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = self.resolve_axes(name, axes)?;
        let shape = self.shape();
        let u = self.uop();
        let reduced = if axes.is_empty() {
            self.clone()
        } else {
            self.derive(UOp::new(Op::ReduceAxis, u.dtype(), vec![u], Arg::ReduceAxis(op, axes.clone())), &[])
        };
        if keepdim {
            return Ok(reduced);
        }
        let kept: Vec<usize> = shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect();
        reduced.reshape_usize(&kept)
    }

    /// Sum over `axes`.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        match self.dtype() {
            DType::F16 | DType::BF16 => {
                self.cast(DType::F32)?.reduce(ReduceOp::Add, "sum", axes, keepdim)?.cast(self.dtype())
            }
            DType::Bool => self.cast(DType::I32)?.reduce(ReduceOp::Add, "sum", axes, keepdim),
            _ => self.reduce(ReduceOp::Add, "sum", axes, keepdim),
        }
    }

    /// Maximum over `axes`.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, "max", axes, keepdim)
    }

    /// Minimum over `axes`.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let d = self.dtype();
        if d == DType::Bool {
            return self.cast(DType::U8)?.min(axes, keepdim)?.cast(DType::Bool);
        }
        if d.is_int() {
            // min(x) = !max(!x) with bitwise not: unlike negation it cannot overflow (-INT_MIN would).
            let not = |t: &Tensor| t.binary(&t.scalar(-1.0, d)?, Op::Xor, "min");
            return not(&not(self)?.max(axes, keepdim)?);
        }
        self.neg()?.max(axes, keepdim)?.neg()
    }

    /// Mean over `axes` (integers average as f32).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.cast(DType::F32)? };
        let resolved = x.resolve_axes("mean", axes)?;
        let shape = x.shape();
        let count: usize = resolved.iter().map(|&a| shape[a]).product();
        let s = x.sum(axes, keepdim)?;
        s.div(&s.scalar(count as f64, s.dtype())?)
    }
}
