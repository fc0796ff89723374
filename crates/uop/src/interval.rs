//! Interval bounds (`vmin`, `vmax`) of integer and boolean UOps, from constants, variable bounds and
//! range sizes. Bounds are conservative and cached on the node; booleans count as 0..=1.

use crate::op::{Arg, Op, SpecialKind};
use crate::uop::UOp;

impl UOp {
    /// Smallest value the expression can take.
    pub fn vmin(&self) -> i64 {
        self.bounds().0
    }
    /// Largest value the expression can take.
    pub fn vmax(&self) -> i64 {
        self.bounds().1
    }

    /// Inclusive `(min, max)` of the expression over all values of its variables and ranges.
    pub fn bounds(&self) -> (i64, i64) {
        self.cached_bounds(|| compute(self))
    }
}

const FULL: (i64, i64) = (i64::MIN, i64::MAX);

fn compute(u: &UOp) -> (i64, i64) {
    let s = u.src();
    let b = |i: usize| s[i].bounds();
    match u.op() {
        Op::Const => u.const_int().map_or(FULL, |v| (v, v)),
        Op::DefineVar => match u.arg() {
            Arg::Var { min, max, .. } => (*min, *max),
            _ => FULL,
        },
        Op::Range => (0, s[0].vmax().saturating_sub(1).max(0)),
        Op::Special => match u.arg() {
            Arg::Special(
                SpecialKind::GroupIdx(_)
                | SpecialKind::LocalIdx(_)
                | SpecialKind::SubgroupLane
                | SpecialKind::SubgroupId,
            ) => (0, s[0].vmax().saturating_sub(1).max(0)),
            _ => FULL,
        },
        Op::Add => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            (a0.saturating_add(b0), a1.saturating_add(b1))
        }
        Op::Neg => {
            let (a0, a1) = b(0);
            (a1.saturating_neg(), a0.saturating_neg())
        }
        Op::Mul => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            let c = [a0.saturating_mul(b0), a0.saturating_mul(b1), a1.saturating_mul(b0), a1.saturating_mul(b1)];
            (*c.iter().min().unwrap_or(&i64::MIN), *c.iter().max().unwrap_or(&i64::MAX))
        }
        Op::Idiv => match s[1].const_int() {
            // Truncating division by a positive constant is monotone in the dividend.
            Some(d) if d > 0 => (b(0).0 / d, b(0).1 / d),
            _ => FULL,
        },
        Op::Mod => match s[1].const_int() {
            Some(d) if d > 0 => {
                let (a0, a1) = b(0);
                if a0 >= 0 && a1 < d {
                    (a0, a1)
                } else if a0 >= 0 && a0 / d == a1 / d {
                    (a0 % d, a1 % d)
                } else if a0 >= 0 {
                    (0, d - 1)
                } else {
                    (-(d - 1), d - 1)
                }
            }
            _ => FULL,
        },
        Op::Max => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            (a0.max(b0), a1.max(b1))
        }
        Op::CmpLt => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            if a1 < b0 {
                (1, 1)
            } else if a0 >= b1 {
                (0, 0)
            } else {
                (0, 1)
            }
        }
        Op::CmpNe | Op::CmpEq => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            let disjoint = a1 < b0 || b1 < a0;
            let same_point = a0 == a1 && b0 == b1 && a0 == b0;
            let ne = if disjoint {
                (1, 1)
            } else if same_point {
                (0, 0)
            } else {
                (0, 1)
            };
            if u.op() == Op::CmpNe {
                ne
            } else {
                (1 - ne.1, 1 - ne.0)
            }
        }
        Op::And if u.dtype() == crate::DType::Bool => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            (a0.min(b0), a1.min(b1))
        }
        Op::Or if u.dtype() == crate::DType::Bool => {
            let ((a0, a1), (b0, b1)) = (b(0), b(1));
            (a0.max(b0), a1.max(b1))
        }
        Op::Where => {
            let (c0, c1) = b(0);
            match (c0, c1) {
                (1, 1) => b(1),
                (0, 0) => b(2),
                _ => (b(1).0.min(b(2).0), b(1).1.max(b(2).1)),
            }
        }
        Op::Cast if u.dtype().is_int() || u.dtype() == crate::DType::Bool => {
            if s[0].dtype().is_float() {
                FULL
            } else {
                b(0)
            }
        }
        _ if u.dtype() == crate::DType::Bool => (0, 1),
        _ => FULL,
    }
}

#[cfg(test)]
mod tests {
    use crate::{RangeKind, UOp};

    #[test]
    fn bounds_follow_ranges_and_vars() {
        let r = UOp::range(16, 0, RangeKind::Global);
        assert_eq!(r.bounds(), (0, 15));
        let e = r.mul(&UOp::index(4)).add(&UOp::index(3));
        assert_eq!(e.bounds(), (3, 63));
        assert_eq!(e.idiv(&UOp::index(4)).bounds(), (0, 15));
        assert_eq!(e.modulo(&UOp::index(4)).bounds(), (0, 3));
        assert_eq!(r.lt(&UOp::index(16)).bounds(), (1, 1));
        let x = UOp::var("x", -3, 5);
        assert_eq!(x.mul(&x).bounds(), (-15, 25));
        assert_eq!(x.modulo(&UOp::index(4)).bounds(), (-3, 3));
    }
}
