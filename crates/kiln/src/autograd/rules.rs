//! The gradient rules: one per op, as tinygrad's `gradient.py`. Given a node and the gradient flowing
//! into it (`ctx`, of the node's shape and dtype), each rule returns the gradient of every source, or
//! `None` for a source no gradient flows into (conditions, integer and boolean operands).
//!
//! Only the IR's primitives need rules: the frontend builds every composite op from them (`exp` is
//! `exp2` scaled, `sub` is `add` of `neg`, `matmul` a sum over a broadcast product, `minimum` is
//! `-max(-a, -b)`), so their gradients follow.

use super::uops::{expand, full_like, masked, movement, neg, scale, shape, sum, sum_to, unary};
use crate::error::{Error, Result};
use kiln_uop::{Arg, DType, Op, ReduceOp, UOp};
use std::f64::consts::{FRAC_PI_2, LN_2};

/// Gradients of `node`'s sources, given the gradient `ctx` of `node`.
pub(super) fn backward(node: &UOp, ctx: &UOp) -> Result<Vec<Option<UOp>>> {
    let src = node.src();
    let x = || src[0].clone();
    Ok(match (node.op(), node.arg()) {
        (Op::Buffer | Op::Const, _) => vec![],
        (Op::Contiguous, _) => vec![Some(ctx.clone())],
        // ---- unary ----
        (Op::Neg, _) => vec![Some(neg(ctx))],
        (Op::Exp2, _) => vec![Some(scale(&node.mul(ctx), LN_2))],
        (Op::Log2, _) => vec![Some(ctx.fdiv(&scale(&x(), LN_2)))],
        (Op::Sin, _) => {
            let cos = unary(Op::Sin, &full_like(&x(), FRAC_PI_2).add(&neg(&x())));
            vec![Some(cos.mul(ctx))]
        }
        (Op::Sqrt, _) => vec![Some(ctx.fdiv(&scale(node, 2.0)))],
        (Op::Recip, _) => vec![Some(neg(&ctx.mul(node).mul(node)))],
        (Op::Trunc, _) => vec![None],
        // ---- binary ----
        (Op::Add, _) => vec![Some(ctx.clone()), Some(ctx.clone())],
        (Op::Mul, _) => vec![Some(src[1].mul(ctx)), Some(src[0].mul(ctx))],
        (Op::Fdiv, _) => vec![Some(ctx.fdiv(&src[1])), Some(neg(&ctx.mul(node).fdiv(&src[1])))],
        (Op::Max, _) => {
            // The larger operand takes the gradient; a tie splits it in halves.
            let (a, b) = (&src[0], &src[1]);
            let half = scale(ctx, 0.5);
            let tie = a.eq(b);
            let to = |wins: UOp| UOp::select(&wins, ctx, &masked(&tie, &half, false));
            vec![Some(to(b.lt(a))), Some(to(a.lt(b)))]
        }
        (
            Op::CmpLt | Op::CmpNe | Op::CmpEq | Op::And | Op::Or | Op::Xor | Op::Shl | Op::Shr | Op::Idiv | Op::Mod,
            _,
        ) => vec![None, None],
        (Op::Where, _) => vec![None, Some(masked(&src[0], ctx, false)), Some(masked(&src[0], ctx, true))],
        // Gradients flow between float types only: casts to or from integers and booleans are steps.
        (Op::Cast, _) if node.dtype().is_float() && x().dtype().is_float() => vec![Some(ctx.cast(x().dtype()))],
        (Op::Cast | Op::Bitcast, _) => vec![None],
        // ---- reductions ----
        (Op::ReduceAxis, Arg::ReduceAxis(ReduceOp::Add, _)) => vec![Some(expand(ctx, &shape(&x())))],
        (Op::ReduceAxis, Arg::ReduceAxis(ReduceOp::Max, axes)) => {
            // Every element equal to the maximum shares the gradient equally (as tinygrad).
            let full = shape(&x());
            let mask = x().eq(&expand(node, &full)).cast(ctx.dtype());
            let count = sum(&mask, axes.clone());
            vec![Some(expand(&ctx.fdiv(&count), &full).mul(&mask))]
        }
        // ---- movement ----
        (Op::Reshape, _) => vec![Some(movement(Op::Reshape, ctx, Arg::Shape(shape(&x()))))],
        (Op::Permute, Arg::Axes(order)) => {
            let mut inverse = vec![0; order.len()];
            for (i, &o) in order.iter().enumerate() {
                inverse[o] = i;
            }
            vec![Some(movement(Op::Permute, ctx, Arg::Axes(inverse)))]
        }
        (Op::Expand, _) => vec![Some(sum_to(ctx, &shape(&x())))],
        (Op::Pad, Arg::Pairs(pads)) => {
            let bounds = pads.iter().zip(shape(&x())).map(|(&(before, _), d)| (before, before + d)).collect();
            vec![Some(movement(Op::Shrink, ctx, Arg::Pairs(bounds)))]
        }
        (Op::Shrink, Arg::Pairs(bounds)) => {
            let pads = bounds.iter().zip(shape(&x())).map(|(&(s, e), d)| (s, d - e)).collect();
            vec![Some(movement(Op::Pad, ctx, Arg::Pairs(pads)))]
        }
        (Op::Flip, Arg::Axes(axes)) => vec![Some(movement(Op::Flip, ctx, Arg::Axes(axes.clone())))],
        (op, _) => {
            return Err(Error::Invalid { op: "gradient", reason: format!("no gradient rule for {}", op.name()) })
        }
    })
}

/// Whether gradients of `dtype` can exist.
pub(super) fn differentiable(dtype: DType) -> bool {
    dtype.is_float()
}
