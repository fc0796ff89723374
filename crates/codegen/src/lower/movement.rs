//! Movement ops as index arithmetic: given the index into a movement op's output, the index into its
//! source. Expressions are built plainly; `kiln_rewrite::simplify` cleans them up at loads and stores.

use crate::error::CodegenError;
use kiln_uop::{Arg, Op, UOp};

/// Row-major linear index of `idx` in `shape`.
pub(crate) fn flatten(idx: &[UOp], shape: &[usize]) -> UOp {
    let mut linear = UOp::index(0);
    let mut stride = 1i64;
    for (i, &d) in idx.iter().zip(shape).rev() {
        if d != 1 {
            linear = linear.add(&i.mul(&UOp::index(stride)));
        }
        stride *= d as i64;
    }
    linear
}

/// Per-dim index of the linear index `linear` in `shape` (row-major).
pub(crate) fn unflatten(linear: &UOp, shape: &[usize]) -> Vec<UOp> {
    let mut out = vec![UOp::index(0); shape.len()];
    let mut stride = 1i64;
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 1 {
            let q = if stride == 1 { linear.clone() } else { linear.idiv(&UOp::index(stride)) };
            out[k] = if k == 0 { q } else { q.modulo(&UOp::index(d as i64)) };
        }
        stride *= d as i64;
    }
    out
}

/// Index into the source of a padded view and the condition that the element is not padding.
pub(crate) fn unpad(idx: &[UOp], pads: &[(usize, usize)], src_shape: &[usize]) -> (Vec<UOp>, UOp) {
    let mut valid = UOp::boolean(true);
    let mut inner = Vec::with_capacity(idx.len());
    for ((i, &(before, after)), &d) in idx.iter().zip(pads).zip(src_shape) {
        let shifted = if before == 0 { i.clone() } else { i.sub(&UOp::index(before as i64)) };
        if before > 0 {
            valid = valid.and(&UOp::index(before as i64 - 1).lt(i));
        }
        if after > 0 {
            valid = valid.and(&i.lt(&UOp::index((before + d) as i64)));
        }
        inner.push(shifted);
    }
    (inner, valid)
}

/// Index into the source of `u` (a reshape, permute, expand, shrink or flip) given `idx` into `u`.
pub(crate) fn source_index(
    u: &UOp,
    idx: &[UOp],
    shape: &[usize],
    src_shape: &[usize],
) -> Result<Vec<UOp>, CodegenError> {
    Ok(match (u.op(), u.arg()) {
        (Op::Reshape, _) => unflatten(&flatten(idx, shape), src_shape),
        (Op::Permute, Arg::Axes(perm)) => {
            let mut inner = vec![UOp::index(0); src_shape.len()];
            for (i, &p) in perm.iter().enumerate() {
                inner[p] = idx[i].clone();
            }
            inner
        }
        (Op::Expand, _) => {
            idx.iter().zip(src_shape).map(|(i, &d)| if d == 1 { UOp::index(0) } else { i.clone() }).collect()
        }
        (Op::Shrink, Arg::Pairs(bounds)) => idx
            .iter()
            .zip(bounds)
            .map(|(i, &(start, _))| if start == 0 { i.clone() } else { i.add(&UOp::index(start as i64)) })
            .collect(),
        (Op::Flip, Arg::Axes(axes)) => idx
            .iter()
            .enumerate()
            .map(|(k, i)| if axes.contains(&k) { UOp::index(shape[k] as i64 - 1).sub(i) } else { i.clone() })
            .collect(),
        (op, _) => return Err(CodegenError::Malformed(format!("{op:?} is not a movement op with a valid argument"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::{eval, RangeKind, Value};
    use std::collections::HashMap;

    #[test]
    fn unflatten_inverts_flatten() {
        let shape = [3, 1, 5, 4];
        let g = UOp::var("g", 0, 59);
        let parts = unflatten(&g, &shape);
        let back = flatten(&parts, &shape);
        for v in 0..60 {
            let env = HashMap::from([(g.clone(), Value::Int(v))]);
            assert_eq!(eval(&back, &env), Ok(Value::Int(v)));
        }
    }

    #[test]
    fn pad_gate_marks_the_border() {
        let r = UOp::range(6, 0, RangeKind::Global);
        let (inner, valid) = unpad(std::slice::from_ref(&r), &[(2, 1)], &[3]);
        for v in 0..6 {
            let env = HashMap::from([(r.clone(), Value::Int(v))]);
            assert_eq!(eval(&valid, &env), Ok(Value::Bool((2..5).contains(&v))));
            assert_eq!(eval(&inner[0], &env), Ok(Value::Int(v - 2)));
        }
    }
}
