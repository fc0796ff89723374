//! `Max` of integer expressions: decided by bounds (`max(x,y) -> x` when `x >= y` always), of a node
//! with itself, and nested constants folded (`max(max(x,c1),c2) -> max(x, max(c1,c2))`).
//! Float `Max` only gets the rules that hold in IEEE (`max(x,x) -> x`).

use crate::pattern::Pattern;
use kiln_uop::{ConstValue, Op, UOp};

pub(super) fn patterns() -> Vec<Pattern> {
    vec![
        Pattern::new("max-self", &[Op::Max], |u| (u.src()[0] == u.src()[1]).then(|| u.src()[0].clone())),
        Pattern::new("max-decided-by-bounds", &[Op::Max], |u| {
            let (a, b) = (&u.src()[0], &u.src()[1]);
            if u.dtype().is_float() {
                return None;
            }
            if a.vmin() >= b.vmax() {
                Some(a.clone())
            } else if b.vmin() >= a.vmax() {
                Some(b.clone())
            } else {
                None
            }
        }),
        Pattern::new("max-nested-constants", &[Op::Max], |u| {
            let (inner, c2) = (&u.src()[0], u.src()[1].const_int()?);
            let c1 = (inner.op() == Op::Max).then(|| inner.src()[1].const_int()).flatten()?;
            (!u.dtype().is_float()).then(|| inner.src()[0].max(&UOp::constant(u.dtype(), ConstValue::Int(c1.max(c2)))))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{RangeKind, UOp};

    #[test]
    fn max_folds_by_bounds_and_nesting() {
        let r = UOp::range(8, 0, RangeKind::Global);
        let x = UOp::var("x", -5, 5);
        let i = UOp::index;
        check(&[
            (r.max(&i(0)), r.clone()),
            (i(-1).max(&r), r.clone()),
            (r.add(&i(10)).max(&r), r.add(&i(10))),
            (x.max(&x), x.clone()),
            (x.max(&i(1)).max(&i(3)), x.max(&i(3))),
            (x.max(&i(0)), x.max(&i(0))),
        ]);
    }
}
