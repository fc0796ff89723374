//! Collecting like terms of `Index` sums and products: `x*a + x*b -> x*(a+b)`, constants folded and
//! moved last, constant factors distributed over sums, operands in canonical structural order so
//! hash-consing catches equal expressions. Only `Index` (exact integers) is reassociated here.

use super::is_index;
use super::sum::{structural_order, Sum};
use crate::pattern::Pattern;
use kiln_uop::{Op, UOp};

/// Products with more factors than this are left alone.
const MAX_FACTORS: usize = 16;

pub(super) fn patterns() -> Vec<Pattern> {
    vec![
        Pattern::new("collect-sum-terms", &[Op::Add], |u| is_index(u).then(|| Sum::of(u).map(|s| s.build())).flatten()),
        Pattern::new("collect-product-factors", &[Op::Mul], |u| is_index(u).then(|| normalise_product(u)).flatten()),
    ]
}

/// `Π factors · constant`, factors sorted, the constant last; a single sum times a constant is
/// distributed (`(a+b)*c -> a*c + b*c`) so its terms can combine with others.
fn normalise_product(u: &UOp) -> Option<UOp> {
    let mut factors = Vec::new();
    let mut constant = 1i64;
    let mut stack = vec![u.clone()];
    while let Some(node) = stack.pop() {
        if let Some(k) = node.const_int() {
            constant = constant.checked_mul(k)?;
        } else if node.op() == Op::Mul && is_index(&node) {
            stack.push(node.src()[1].clone());
            stack.push(node.src()[0].clone());
        } else {
            factors.push(node);
        }
        if factors.len() > MAX_FACTORS {
            return None;
        }
    }
    if constant == 0 {
        return Some(UOp::index(0));
    }
    if let [single] = factors.as_slice() {
        if single.op() == Op::Add && constant != 1 {
            return Sum::of(u).map(|s| s.build());
        }
    }
    factors.sort_by(structural_order);
    let product = factors.into_iter().reduce(|a, b| a.mul(&b));
    Some(match product {
        None => UOp::index(constant),
        Some(p) if constant == 1 => p,
        Some(p) => p.mul(&UOp::index(constant)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{RangeKind, UOp};

    #[test]
    fn like_terms_collect_and_constants_go_last() {
        let r0 = UOp::range(4, 0, RangeKind::Global);
        let r1 = UOp::range(8, 1, RangeKind::Global);
        let x = UOp::var("x", 0, 9);
        let i = UOp::index;
        check(&[
            (x.mul(&i(3)).add(&x.mul(&i(4))), x.mul(&i(7))),
            (i(2).add(&x).add(&i(3)), x.add(&i(5))),
            (r1.add(&r0.mul(&i(8))), r0.mul(&i(8)).add(&r1)),
            (x.sub(&x), i(0)),
            (i(3).mul(&x).mul(&i(2)), x.mul(&i(6))),
            (r1.add(&r0).mul(&i(2)), r0.mul(&i(2)).add(&r1.mul(&i(2)))),
            (r1.mul(&r0), r0.mul(&r1)),
            // A flip: (B-1) + r*(-1), flipped again, is r.
            (i(7).add(&i(7).add(&r1.mul(&i(-1))).mul(&i(-1))), r1.clone()),
        ]);
    }
}
