//! Algebraic identities that remove an operation: `x+0`, `x*1`, `x*0` (integers), `x//1`, `x%1`,
//! `where(true,a,b)`, `where(c,a,a)`, `and`/`or` with constants, casts to the same dtype, double
//! negation, and the canonical operand order of commutative ops. Float rules here are exact in IEEE.

use super::{is_index, structural_order};
use crate::pattern::Pattern;
use kiln_uop::{ConstValue, DType, Op, UOp};
use std::cmp::Ordering;

pub(super) fn patterns() -> Vec<Pattern> {
    vec![
        Pattern::new(
            "commutative-order",
            &[Op::Add, Op::Mul, Op::Max, Op::CmpNe, Op::CmpEq, Op::And, Op::Or, Op::Xor],
            |u| {
                // Index sums and products are ordered by `common_factors`, which sees all terms at once.
                if is_index(u) && matches!(u.op(), Op::Add | Op::Mul) {
                    return None;
                }
                let (a, b) = (&u.src()[0], &u.src()[1]);
                (structural_order(a, b) == Ordering::Greater).then(|| u.with_src(vec![b.clone(), a.clone()]))
            },
        ),
        Pattern::new("add-zero", &[Op::Add], |u| (is_int(u) && is_const(&u.src()[1], 0)).then(|| u.src()[0].clone())),
        Pattern::new("mul-one", &[Op::Mul], |u| is_const(&u.src()[1], 1).then(|| u.src()[0].clone())),
        Pattern::new("mul-zero", &[Op::Mul], |u| (is_int(u) && is_const(&u.src()[1], 0)).then(|| u.src()[1].clone())),
        Pattern::new("idiv-one", &[Op::Idiv], |u| is_const(&u.src()[1], 1).then(|| u.src()[0].clone())),
        Pattern::new("fdiv-one", &[Op::Fdiv], |u| is_const(&u.src()[1], 1).then(|| u.src()[0].clone())),
        Pattern::new("mod-one", &[Op::Mod], |u| {
            is_const(&u.src()[1], 1).then(|| UOp::constant(u.dtype(), ConstValue::Int(0)))
        }),
        Pattern::new("where-constant-condition", &[Op::Where], |u| {
            let c = u.src()[0].const_value()?;
            Some(if c.as_f64() != 0.0 { u.src()[1].clone() } else { u.src()[2].clone() })
        }),
        Pattern::new("where-same-branches", &[Op::Where], |u| (u.src()[1] == u.src()[2]).then(|| u.src()[1].clone())),
        Pattern::new("and-or-self", &[Op::And, Op::Or], |u| (u.src()[0] == u.src()[1]).then(|| u.src()[0].clone())),
        Pattern::new("and-or-bool-constant", &[Op::And, Op::Or], |u| {
            if u.dtype() != DType::Bool {
                return None;
            }
            let c = u.src()[1].const_int()? != 0;
            // and(x, true) = x, and(x, false) = false, or(x, false) = x, or(x, true) = true.
            Some(if c == (u.op() == Op::And) { u.src()[0].clone() } else { u.src()[1].clone() })
        }),
        Pattern::new("cast-same-dtype", &[Op::Cast], |u| (u.src()[0].dtype() == u.dtype()).then(|| u.src()[0].clone())),
        Pattern::new("neg-neg", &[Op::Neg], |u| (u.src()[0].op() == Op::Neg).then(|| u.src()[0].src()[0].clone())),
        Pattern::new("neg-index-to-mul", &[Op::Neg], |u| is_index(u).then(|| u.src()[0].mul(&UOp::index(-1)))),
    ]
}

fn is_int(u: &UOp) -> bool {
    u.dtype().is_int()
}

fn is_const(u: &UOp, value: i64) -> bool {
    u.const_value().is_some_and(|c| c.as_f64() == value as f64 && !matches!(c, ConstValue::Bool(_)))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{ConstValue, DType, Op, UOp};

    #[test]
    fn identities_remove_operations() {
        let x = UOp::var("x", -5, 5);
        let i = |v| UOp::constant(DType::I32, ConstValue::Int(v));
        let f = |v| UOp::constant(DType::F32, ConstValue::Float(v));
        let xi = UOp::new(Op::DefineVar, DType::I32, vec![], x.arg().clone());
        let xf = xi.cast(DType::F32);
        let cond = x.lt(&UOp::index(2));
        let t = UOp::boolean(true);
        check(&[
            (xi.add(&i(0)), xi.clone()),
            (i(0).add(&xi), xi.clone()),
            (xi.mul(&i(1)), xi.clone()),
            (xi.mul(&i(0)), i(0)),
            (xf.mul(&f(1.0)), xf.clone()),
            (xf.mul(&f(0.0)), xf.mul(&f(0.0))),
            (xf.add(&f(0.0)), xf.add(&f(0.0))),
            (xi.idiv(&i(1)), xi.clone()),
            (xi.modulo(&i(1)), i(0)),
            (UOp::select(&t, &x, &UOp::index(3)), x.clone()),
            (UOp::select(&cond, &x, &x), x.clone()),
            (cond.and(&t), cond.clone()),
            (cond.and(&UOp::boolean(false)), UOp::boolean(false)),
            (cond.or(&t), t.clone()),
            (cond.and(&cond), cond.clone()),
            (xi.cast(DType::I32), xi.clone()),
            (UOp::alu(Op::Neg, vec![UOp::alu(Op::Neg, vec![xf.clone()])]), xf.clone()),
            (UOp::alu(Op::Neg, vec![x.clone()]), x.mul(&UOp::index(-1))),
        ]);
    }
}
