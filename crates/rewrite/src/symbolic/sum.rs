//! The linear view of an index expression: `Σ coeff·term + constant`, and a canonical structural order.
//!
//! Owns flattening sums (distributing constant factors), combining like terms and rebuilding in canonical
//! order (terms sorted structurally, constant last). It must not decide any rewrite by itself.

use kiln_uop::{Arg, DType, Op, UOp};
use std::cmp::Ordering;

/// Sums with more terms than this are left alone, so deep chains do not cost quadratic time.
const MAX_TERMS: usize = 64;
/// Structural comparison looks this deep before falling back to node ids.
const MAX_COMPARE_DEPTH: usize = 12;

/// An `Index` expression as `Σ coeff·term + constant`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sum {
    /// Terms with their coefficients; after `normalise`, each term once, no zero coefficient, sorted.
    pub terms: Vec<(UOp, i64)>,
    /// The constant part.
    pub constant: i64,
}

/// `(base, coefficient)` of a term: `x*c` is `(x, c)`, anything else is `(u, 1)`.
pub(crate) fn split_coefficient(u: &UOp) -> (UOp, i64) {
    if u.op() == Op::Mul {
        if let Some(c) = u.src()[1].const_int() {
            return (u.src()[0].clone(), c);
        }
    }
    (u.clone(), 1)
}

impl Sum {
    /// The linear view of `u` (an `Index` expression), or `None` when it has too many terms or a
    /// coefficient overflows.
    pub fn of(u: &UOp) -> Option<Sum> {
        let mut sum = Sum { terms: Vec::new(), constant: 0 };
        let mut stack = vec![(u.clone(), 1i64)];
        while let Some((node, coeff)) = stack.pop() {
            if let Some(k) = node.const_int() {
                sum.constant = sum.constant.checked_add(k.checked_mul(coeff)?)?;
                continue;
            }
            match node.op() {
                Op::Add if node.dtype() == DType::Index => {
                    stack.push((node.src()[1].clone(), coeff));
                    stack.push((node.src()[0].clone(), coeff));
                }
                Op::Mul if node.dtype() == DType::Index && node.src()[1].const_int().is_some() => {
                    let (base, c) = split_coefficient(&node);
                    stack.push((base, coeff.checked_mul(c)?));
                }
                _ => sum.terms.push((node, coeff)),
            }
            if sum.terms.len() + stack.len() > MAX_TERMS {
                return None;
            }
        }
        sum.normalise()?;
        Some(sum)
    }

    /// Combines like terms, drops zero coefficients and sorts terms structurally.
    fn normalise(&mut self) -> Option<()> {
        self.terms.sort_by(|a, b| structural_order(&a.0, &b.0));
        let mut merged: Vec<(UOp, i64)> = Vec::with_capacity(self.terms.len());
        for (term, coeff) in self.terms.drain(..) {
            match merged.last_mut() {
                Some(last) if last.0 == term => last.1 = last.1.checked_add(coeff)?,
                _ => merged.push((term, coeff)),
            }
        }
        merged.retain(|t| t.1 != 0);
        self.terms = merged;
        Some(())
    }

    /// Rebuilds the expression: terms in order, left-associated, the constant last.
    pub fn build(&self) -> UOp {
        let mut acc: Option<UOp> = None;
        for (term, coeff) in &self.terms {
            let t = if *coeff == 1 { term.clone() } else { term.mul(&UOp::index(*coeff)) };
            acc = Some(match acc {
                Some(a) => a.add(&t),
                None => t,
            });
        }
        match acc {
            None => UOp::index(self.constant),
            Some(a) if self.constant == 0 => a,
            Some(a) => a.add(&UOp::index(self.constant)),
        }
    }

    /// Greatest common divisor of all coefficients and the constant (0 for the empty sum).
    pub fn gcd(&self) -> i64 {
        self.terms.iter().map(|t| t.1).fold(self.constant, gcd)
    }

    /// Every coefficient and the constant divided by `g` (which must divide them all).
    pub fn divided(&self, g: i64) -> Sum {
        Sum { terms: self.terms.iter().map(|(t, c)| (t.clone(), c / g)).collect(), constant: self.constant / g }
    }
}

/// Greatest common divisor, non-negative.
pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    i64::try_from(a).unwrap_or(i64::MAX)
}

fn arg_order(a: &Arg, b: &Arg) -> Ordering {
    match (a, b) {
        (Arg::Const(x), Arg::Const(y)) => x.as_f64().total_cmp(&y.as_f64()),
        (Arg::Var { name: x, .. }, Arg::Var { name: y, .. }) => x.cmp(y),
        (Arg::Range { id: x, kind: kx }, Arg::Range { id: y, kind: ky }) => (x, kx).cmp(&(y, ky)),
        (Arg::Special(x), Arg::Special(y)) => x.cmp(y),
        (Arg::Slot(x), Arg::Slot(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// A total order on nodes by structure (op, argument, dtype, sources), constants last; deterministic
/// across runs for expressions up to `MAX_COMPARE_DEPTH` deep, ids break the remaining ties.
pub(crate) fn structural_order(a: &UOp, b: &UOp) -> Ordering {
    let mut stack = vec![(a.clone(), b.clone(), 0usize)];
    while let Some((x, y, depth)) = stack.pop() {
        if x == y {
            continue;
        }
        let first = (x.op() == Op::Const)
            .cmp(&(y.op() == Op::Const))
            .then(x.op().cmp(&y.op()))
            .then_with(|| arg_order(x.arg(), y.arg()))
            .then(x.dtype().cmp(&y.dtype()))
            .then(x.src().len().cmp(&y.src().len()));
        if first != Ordering::Equal {
            return first;
        }
        if depth >= MAX_COMPARE_DEPTH {
            return x.id().cmp(&y.id());
        }
        if x.src().is_empty() {
            // Same op and argument fields compared, yet different nodes: an argument we do not order.
            return x.id().cmp(&y.id());
        }
        for (s, t) in x.src().iter().zip(y.src()).rev() {
            stack.push((s.clone(), t.clone(), depth + 1));
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::RangeKind;

    #[test]
    fn sums_flatten_distribute_and_combine() {
        let r0 = UOp::range(4, 0, RangeKind::Global);
        let r1 = UOp::range(8, 1, RangeKind::Global);
        // (r1 + r0*2 + 3) * 4 + r0 * (-8) + 1  ==  r1*4 + 13
        let e = r1.add(&r0.mul(&UOp::index(2))).add(&UOp::index(3)).mul(&UOp::index(4));
        let e = e.add(&r0.mul(&UOp::index(-8))).add(&UOp::index(1));
        let sum = Sum::of(&e).map(|s| s.build());
        assert_eq!(sum, Some(r1.mul(&UOp::index(4)).add(&UOp::index(13))));
    }

    #[test]
    fn order_puts_ranges_by_id_and_constants_last() {
        let r0 = UOp::range(4, 0, RangeKind::Global);
        let r1 = UOp::range(4, 1, RangeKind::Global);
        assert_eq!(structural_order(&r0, &r1), Ordering::Less);
        assert_eq!(structural_order(&UOp::index(0), &r1), Ordering::Greater);
        assert_eq!(structural_order(&r1, &r1), Ordering::Equal);
        assert_eq!(gcd(-12, 18), 6);
    }
}
