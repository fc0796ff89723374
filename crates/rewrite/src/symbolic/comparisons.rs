//! Comparisons of `Index` expressions and boolean negations: constants moved to the right
//! (`x+c0 < c1 -> x < c1-c0`), common factors divided out (`c0*x < c1 -> x < ceil(c1/c0)`),
//! comparisons of a node with itself, and `!= true` / `!= false` on booleans. Bounds-decided
//! comparisons are folded by `const_fold`.

use super::is_index;
use super::sum::Sum;
use crate::pattern::Pattern;
use kiln_uop::{DType, Op, UOp};

pub(super) fn patterns() -> Vec<Pattern> {
    vec![
        Pattern::new("compare-self", &[Op::CmpLt, Op::CmpNe, Op::CmpEq], |u| {
            let (a, b) = (&u.src()[0], &u.src()[1]);
            (a == b && !a.dtype().is_float()).then(|| UOp::boolean(u.op() == Op::CmpEq))
        }),
        Pattern::new("compare-move-constant", &[Op::CmpLt, Op::CmpNe, Op::CmpEq], |u| {
            let (lhs, rhs) = (&u.src()[0], &u.src()[1]);
            let c = rhs.const_int().filter(|_| is_index(lhs))?;
            let mut sum = Sum::of(lhs)?;
            if sum.constant == 0 || sum.terms.is_empty() {
                return None;
            }
            let bound = c.checked_sub(sum.constant)?;
            sum.constant = 0;
            Some(UOp::alu(u.op(), vec![sum.build(), UOp::index(bound)]))
        }),
        Pattern::new("lt-divide-coefficients", &[Op::CmpLt], |u| {
            // Σ g·kᵢ·tᵢ < c  <=>  Σ kᵢ·tᵢ < ceil(c/g), for g > 0.
            let (lhs, rhs) = (&u.src()[0], &u.src()[1]);
            let c = rhs.const_int().filter(|_| is_index(lhs))?;
            let sum = Sum::of(lhs).filter(|s| s.constant == 0 && !s.terms.is_empty())?;
            let g = sum.gcd();
            (g > 1).then(|| sum.divided(g).build().lt(&UOp::index(-(-c).div_euclid(g))))
        }),
        Pattern::new("lt-cancel-common-terms", &[Op::CmpLt], |u| {
            // a + b < a + c  <=>  b - c < 0, when terms of both sides cancel.
            let (lhs, rhs) = (&u.src()[0], &u.src()[1]);
            if !is_index(lhs) || rhs.const_int().is_some() {
                return None;
            }
            let (left, right) = (Sum::of(lhs)?, Sum::of(rhs)?);
            let mut diff = Sum::of(&lhs.sub(rhs))?;
            if diff.terms.len() >= left.terms.len() + right.terms.len() {
                return None;
            }
            let bound = diff.constant.checked_neg()?;
            diff.constant = 0;
            Some(diff.build().lt(&UOp::index(bound)))
        }),
        Pattern::new("bool-compare-constant", &[Op::CmpNe, Op::CmpEq], |u| {
            let (x, c) = (&u.src()[0], u.src()[1].const_value()?);
            if x.dtype() != DType::Bool {
                return None;
            }
            // x != false and x == true are x.
            let identity = (c.as_f64() == 0.0) == (u.op() == Op::CmpNe);
            identity.then(|| x.clone())
        }),
        Pattern::new("not-not", &[Op::CmpNe], |u| {
            let is_not = |v: &UOp| {
                v.op() == Op::CmpNe
                    && v.dtype() == DType::Bool
                    && v.src()[0].dtype() == DType::Bool
                    && v.src()[1].const_int() == Some(1)
            };
            (is_not(u) && is_not(&u.src()[0])).then(|| u.src()[0].src()[0].clone())
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{RangeKind, UOp};

    #[test]
    fn comparisons_normalise_and_fold() {
        let r = UOp::range(18, 1, RangeKind::Global);
        let x = UOp::var("x", -100, 100);
        let i = UOp::index;
        let t = UOp::boolean(true);
        check(&[
            (r.lt(&i(18)), t.clone()),
            (r.lt(&i(0)), UOp::boolean(false)),
            (r.add(&i(-1)).lt(&i(16)), r.lt(&i(17))),
            (x.mul(&i(4)).lt(&i(10)), x.lt(&i(3))),
            (x.mul(&i(4)).lt(&i(-10)), x.lt(&i(-2))),
            (x.mul(&i(4)).add(&i(2)).eq(&i(6)), x.mul(&i(4)).eq(&i(4))),
            (x.lt(&x), UOp::boolean(false)),
            (x.mul(&i(8)).add(&r).lt(&x.mul(&i(8))), UOp::boolean(false)),
            (x.add(&r).lt(&x.add(&i(3))), r.lt(&i(3))),
            (x.lt(&i(1)).ne(&t).ne(&t), x.lt(&i(1))),
            (x.lt(&i(1)).eq(&t), x.lt(&i(1))),
            (x.lt(&i(1)).ne(&UOp::boolean(false)), x.lt(&i(1))),
        ]);
    }
}
