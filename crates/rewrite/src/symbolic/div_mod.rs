//! Integer division and remainder by positive constants, decided with bounds (`vmin`/`vmax`).
//!
//! `Idiv`/`Mod` truncate toward zero, so every rule that splits a dividend states the sign condition
//! that makes truncation equal floor division. Only `Index` nodes are rewritten.

use super::sum::{gcd, Sum};
use super::{is_index, positive_divisor};
use crate::pattern::Pattern;
use kiln_uop::{Op, UOp};

pub(super) fn patterns() -> Vec<Pattern> {
    vec![
        Pattern::new("mod-within-one-block", &[Op::Mod], mod_within_one_block),
        Pattern::new("div-common-factor", &[Op::Idiv], |u| common_factor(u).map(|(x, c, _)| x.idiv(&UOp::index(c)))),
        Pattern::new("mod-common-factor", &[Op::Mod], |u| {
            common_factor(u).map(|(x, c, g)| x.modulo(&UOp::index(c)).mul(&UOp::index(g)))
        }),
        Pattern::new("div-split-multiples", &[Op::Idiv], |u| {
            let (quotient, rest, c) = split_multiples(u)?;
            Some(quotient.build().add(&rest.build().idiv(&UOp::index(c))))
        }),
        Pattern::new("mod-split-multiples", &[Op::Mod], |u| {
            let (_, rest, c) = split_multiples(u)?;
            Some(rest.build().modulo(&UOp::index(c)))
        }),
        Pattern::new("div-of-div", &[Op::Idiv], |u| {
            let b = positive_divisor(u)?;
            let inner = &u.src()[0];
            let a = (inner.op() == Op::Idiv).then(|| positive_divisor(inner)).flatten()?;
            Some(inner.src()[0].idiv(&UOp::index(a.checked_mul(b)?)))
        }),
        Pattern::new("div-of-mod", &[Op::Idiv], |u| {
            // (x % (a*b)) // a -> (x // a) % b, for x >= 0.
            let a = positive_divisor(u)?;
            let inner = &u.src()[0];
            let m = (inner.op() == Op::Mod).then(|| positive_divisor(inner)).flatten()?;
            let x = &inner.src()[0];
            (m % a == 0 && x.vmin() >= 0).then(|| x.idiv(&UOp::index(a)).modulo(&UOp::index(m / a)))
        }),
        Pattern::new("mod-of-mod", &[Op::Mod], |u| {
            // (x % (c*k)) % c -> x % c, for x >= 0.
            let c = positive_divisor(u)?;
            let inner = &u.src()[0];
            let m = (inner.op() == Op::Mod).then(|| positive_divisor(inner)).flatten()?;
            let x = &inner.src()[0];
            (m % c == 0 && x.vmin() >= 0).then(|| x.modulo(&UOp::index(c)))
        }),
        Pattern::new("recombine-div-mod", &[Op::Add], |u| is_index(u).then(|| recombine(u)).flatten()),
    ]
}

/// `x % c` where every value of `x` has the same truncated quotient `q`: `x - q*c`.
fn mod_within_one_block(u: &UOp) -> Option<UOp> {
    let c = positive_divisor(u)?;
    let x = &u.src()[0];
    let q = x.vmin() / c;
    let exact = q == x.vmax() / c && x.vmin() != i64::MIN && x.vmax() != i64::MAX;
    exact.then(|| q.checked_mul(-c).map(|k| x.add(&UOp::index(k)))).flatten()
}

/// `(g·x') op (g·c')` with `g > 1` dividing every coefficient, the constant and the divisor: returns
/// `(x', c', g)`. Exact scaling commutes with truncation, so no sign condition is needed.
fn common_factor(u: &UOp) -> Option<(UOp, i64, i64)> {
    let c = positive_divisor(u)?;
    let sum = Sum::of(&u.src()[0])?;
    let g = gcd(sum.gcd(), c);
    (g > 1 && !sum.terms.is_empty()).then(|| (sum.divided(g).build(), c / g, g))
}

/// For `x // c` or `x % c` with `x >= 0`: `x = c·quotient + rest` where `rest` keeps each coefficient
/// modulo `c`. Valid when `rest >= 0` too (then truncation is floor division). `None` if nothing moves.
fn split_multiples(u: &UOp) -> Option<(Sum, Sum, i64)> {
    let c = positive_divisor(u)?;
    let x = &u.src()[0];
    if x.vmin() < 0 {
        return None;
    }
    let sum = Sum::of(x)?;
    let quotient = Sum {
        terms: sum.terms.iter().map(|(t, k)| (t.clone(), k.div_euclid(c))).filter(|t| t.1 != 0).collect(),
        constant: sum.constant.div_euclid(c),
    };
    if quotient.terms.is_empty() && quotient.constant == 0 {
        return None;
    }
    let rest = Sum {
        terms: sum.terms.iter().map(|(t, k)| (t.clone(), k.rem_euclid(c))).filter(|t| t.1 != 0).collect(),
        constant: sum.constant.rem_euclid(c),
    };
    (rest.build().vmin() >= 0).then_some((quotient, rest, c))
}

/// In a sum: `(x//a)*(k·a) + (x%a)*k -> x*k` (the C definition of `%`), and
/// `((x//a)%b)*(k·a) + (x%a)*k -> (x%(a·b))*k` for `x >= 0`.
fn recombine(u: &UOp) -> Option<UOp> {
    let mut sum = Sum::of(u)?;
    for i in 0..sum.terms.len() {
        let (rem, k) = sum.terms[i].clone();
        let Some(a) = (rem.op() == Op::Mod).then(|| positive_divisor(&rem)).flatten() else {
            continue;
        };
        let x = &rem.src()[0];
        let Some(ka) = k.checked_mul(a) else { continue };
        for j in 0..sum.terms.len() {
            let (other, coeff) = &sum.terms[j];
            if *coeff != ka {
                continue;
            }
            let replacement = if other.op() == Op::Idiv && other.src()[0] == *x && positive_divisor(other) == Some(a) {
                Some(x.clone())
            } else if other.op() == Op::Mod && x.vmin() >= 0 {
                let inner = &other.src()[0];
                let b = positive_divisor(other);
                let matches = inner.op() == Op::Idiv && inner.src()[0] == *x && positive_divisor(inner) == Some(a);
                b.filter(|_| matches).and_then(|b| a.checked_mul(b)).map(|ab| x.modulo(&UOp::index(ab)))
            } else {
                None
            };
            if let Some(r) = replacement {
                sum.terms[i] = (r, k);
                sum.terms.remove(j);
                return Some(sum.build());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;
    use kiln_uop::{Arg, DType, Op, RangeKind, SpecialKind, UOp};

    #[test]
    fn lowering_shapes_reduce_to_ranges() {
        let (a, b) = (6, 4);
        let r0 = UOp::range(a, 0, RangeKind::Global);
        let r1 = UOp::range(b, 1, RangeKind::Global);
        let i = UOp::index;
        let flat = r0.mul(&i(b)).add(&r1);
        let g = UOp::new(Op::Special, DType::Index, vec![i(a * b)], Arg::Special(SpecialKind::GroupIdx(0)));
        let x = UOp::var("x", 0, 100);
        check(&[
            (flat.idiv(&i(b)).modulo(&i(a)), r0.clone()),
            (flat.modulo(&i(b)), r1.clone()),
            (r1.idiv(&i(b)), i(0)),
            (r1.modulo(&i(b)), r1.clone()),
            (g.idiv(&i(b)).modulo(&i(a)), g.idiv(&i(b))),
            (g.idiv(&i(b)).mul(&i(b)).add(&g.modulo(&i(b))), g.clone()),
            // (r0*4 + r1) // 2 with r1 < 4: r0*2 + r1//2.
            (flat.idiv(&i(2)), r0.mul(&i(2)).add(&r1.idiv(&i(2)))),
            (flat.modulo(&i(2)), r1.modulo(&i(2))),
            (x.idiv(&i(3)).idiv(&i(4)), x.idiv(&i(12))),
            (x.modulo(&i(12)).idiv(&i(3)), x.idiv(&i(3)).modulo(&i(4))),
            (x.modulo(&i(12)).modulo(&i(4)), x.modulo(&i(4))),
            (x.mul(&i(4)).add(&i(8)).idiv(&i(6)), x.mul(&i(2)).add(&i(1)).idiv(&i(3)).add(&i(1))),
            (x.idiv(&i(4)).modulo(&i(3)).mul(&i(4)).add(&x.modulo(&i(4))), x.modulo(&i(12))),
            (r1.add(&i(8)).modulo(&i(4)), r1.clone()),
            (r1.add(&i(8)).idiv(&i(4)), i(2)),
        ]);
    }

    #[test]
    fn negative_dividends_are_left_alone() {
        let x = UOp::var("x", -8, 8);
        let i = UOp::index;
        let e = x.add(&i(4)).idiv(&i(4));
        check(&[(e.clone(), e)]);
    }
}
