//! Constant folding: ALU nodes whose sources are all constants, and `Index`/`Bool` nodes whose bounds
//! pin them to one value. Folding follows the reference evaluator exactly; it never folds a division
//! by zero, an overflow, or a result that does not fit the node's dtype.

use crate::pattern::Pattern;
use kiln_uop::{eval, ConstValue, DType, Op, UOp, Value};
use std::collections::HashMap;

const ALU_OPS: [Op; 23] = [
    Op::Neg,
    Op::Exp2,
    Op::Log2,
    Op::Sin,
    Op::Sqrt,
    Op::Recip,
    Op::Trunc,
    Op::Add,
    Op::Mul,
    Op::Idiv,
    Op::Mod,
    Op::Fdiv,
    Op::Max,
    Op::CmpLt,
    Op::CmpNe,
    Op::CmpEq,
    Op::And,
    Op::Or,
    Op::Xor,
    Op::Shl,
    Op::Shr,
    Op::Where,
    Op::MulAcc,
];

pub(super) fn patterns() -> Vec<Pattern> {
    let mut ops = ALU_OPS.to_vec();
    ops.push(Op::Cast);
    vec![Pattern::new("fold-constants", &ops, fold_constants), Pattern::new("fold-by-bounds", &ALU_OPS, fold_by_bounds)]
}

fn fold_constants(u: &UOp) -> Option<UOp> {
    if !u.src().iter().all(|s| s.op() == Op::Const) {
        return None;
    }
    let value = match eval(u, &HashMap::new()).ok()? {
        Value::Bool(b) => ConstValue::Bool(b),
        Value::Int(i) => ConstValue::Int(i),
        Value::Float(f) => ConstValue::Float(f),
    };
    let dtype = u.dtype();
    if dtype.is_int() {
        let (lo, hi) = dtype.min_max();
        let v = value.as_i64() as f64;
        if matches!(value, ConstValue::Float(_)) || v < lo || v > hi {
            return None;
        }
    }
    Some(UOp::constant(dtype, value))
}

fn fold_by_bounds(u: &UOp) -> Option<UOp> {
    if !matches!(u.dtype(), DType::Index | DType::Bool) {
        return None;
    }
    let (lo, hi) = u.bounds();
    // Saturated bounds are not exact values.
    (lo == hi && lo != i64::MIN && lo != i64::MAX).then(|| UOp::constant(u.dtype(), ConstValue::Int(lo)))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{ConstValue, DType, Op, RangeKind, UOp};

    fn c(dtype: DType, v: ConstValue) -> UOp {
        UOp::constant(dtype, v)
    }

    #[test]
    fn folds_every_dtype_like_the_evaluator() {
        let i = |v| c(DType::I32, ConstValue::Int(v));
        let f = |v| c(DType::F32, ConstValue::Float(v));
        let b = UOp::boolean;
        check(&[
            (i(7).idiv(&i(-2)), i(-3)),
            (i(-7).modulo(&i(2)), i(-1)),
            (f(1.5).add(&f(2.25)), f(3.75)),
            (f(1.0).fdiv(&f(3.0)), f(f64::from(1.0f32 / 3.0))),
            (b(true).and(&b(false)), b(false)),
            (b(true).or(&b(false)), b(true)),
            (i(3).lt(&i(4)), b(true)),
            (UOp::alu(Op::Neg, vec![i(5)]), i(-5)),
            (f(2.7).cast(DType::I32), i(2)),
            (UOp::select(&b(false), &i(1), &i(2)), i(2)),
        ]);
    }

    #[test]
    fn never_folds_division_by_zero_or_overflow() {
        let zero = UOp::index(0);
        let div = UOp::index(3).idiv(&zero);
        check(&[(div.clone(), div)]);
        let i8c = |v| c(DType::I8, ConstValue::Int(v));
        let wide = i8c(100).add(&i8c(100));
        check(&[(wide.clone(), wide)]);
    }

    #[test]
    fn bounds_pin_values() {
        let r = UOp::range(4, 0, RangeKind::Global);
        check(&[(r.lt(&UOp::index(4)), UOp::boolean(true)), (r.idiv(&UOp::index(4)), UOp::index(0))]);
    }
}
