//! Building blocks of gradient graphs: tensor-level UOps made directly (constants broadcast to a shape,
//! elementwise ops, movement ops, sums back to a shape), as the frontend builds them.

use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};

/// The shape of a tensor-level node.
pub(super) fn shape(u: &UOp) -> Vec<usize> {
    u.shape().unwrap_or_default().to_vec()
}

/// `value` of `like`'s dtype broadcast to `like`'s shape.
pub(super) fn full_like(like: &UOp, value: f64) -> UOp {
    let dtype = like.dtype();
    let shape = shape(like);
    let ones = vec![1; shape.len()];
    let c = UOp::constant(dtype, ConstValue::Float(value));
    let r = UOp::new(Op::Reshape, dtype, vec![c], Arg::Shape(ones.clone()));
    if shape == ones {
        r
    } else {
        UOp::new(Op::Expand, dtype, vec![r], Arg::Shape(shape))
    }
}

/// `a * value` with the constant broadcast to `a`.
pub(super) fn scale(a: &UOp, value: f64) -> UOp {
    a.mul(&full_like(a, value))
}

/// `-a`.
pub(super) fn neg(a: &UOp) -> UOp {
    UOp::alu(Op::Neg, vec![a.clone()])
}

/// A unary op applied to `a`.
pub(super) fn unary(op: Op, a: &UOp) -> UOp {
    UOp::alu(op, vec![a.clone()])
}

/// `cond ? a : 0`, and with `swap`, `cond ? 0 : a`.
pub(super) fn masked(cond: &UOp, a: &UOp, swap: bool) -> UOp {
    let zero = full_like(a, 0.0);
    if swap {
        UOp::select(cond, &zero, a)
    } else {
        UOp::select(cond, a, &zero)
    }
}

/// A movement op on `a`.
pub(super) fn movement(op: Op, a: &UOp, arg: Arg) -> UOp {
    UOp::new(op, a.dtype(), vec![a.clone()], arg)
}

/// `a` broadcast to `to` (whose dims are `a`'s or multiples of size-1 dims of it).
pub(super) fn expand(a: &UOp, to: &[usize]) -> UOp {
    if shape(a) == to {
        a.clone()
    } else {
        movement(Op::Expand, a, Arg::Shape(to.to_vec()))
    }
}

/// A sum of `a` over `axes` (kept as size 1); 16-bit floats accumulate in f32, as `Tensor::sum`.
pub(super) fn sum(a: &UOp, axes: Vec<usize>) -> UOp {
    if axes.is_empty() {
        return a.clone();
    }
    let dtype = a.dtype();
    let wide = matches!(dtype, DType::F16 | DType::BF16);
    let x = if wide { a.cast(DType::F32) } else { a.clone() };
    let s = UOp::new(Op::ReduceAxis, x.dtype(), vec![x], Arg::ReduceAxis(ReduceOp::Add, axes));
    s.cast(dtype)
}

/// The sum of `a` over the dims it was expanded along, back to `to`.
pub(super) fn sum_to(a: &UOp, to: &[usize]) -> UOp {
    let axes = shape(a).iter().zip(to).enumerate().filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect();
    sum(a, axes)
}
