//! Decompositions shared by every renderer: ops without a single instruction on every target,
//! rewritten into the primitives all renderers print. One rule set, run on the placed kernel before
//! linearization and on the accumulator updates the linearizer builds, so no renderer sees `MAX`,
//! `RECIP` or `MULACC`:
//!
//! - `MAX` of floats propagates NaN: `(a != a | b < a) ? a : b` (`fmaxf` and SPIR-V's `FMax` drop it);
//!   of integers `b < a ? a : b`; of booleans `a | b`.
//! - `RECIP`: `1 / x`.
//! - `MULACC`: `a * b + c` (the C compiler still contracts it where its flags allow).

use crate::error::CodegenError;
use kiln_rewrite::{graph_rewrite, Pattern, Rewriter};
use kiln_uop::{ConstValue, DType, Op, UOp};
use std::sync::OnceLock;

/// The rule set.
fn rules() -> &'static Rewriter {
    static RULES: OnceLock<Rewriter> = OnceLock::new();
    RULES.get_or_init(|| {
        Rewriter::new(vec![
            Pattern::new("max-propagates-nan", &[Op::Max], |u| {
                let (a, b) = (&u.src()[0], &u.src()[1]);
                Some(match u.dtype() {
                    DType::Bool => a.or(b),
                    d if d.is_float() => UOp::select(&a.ne(a).or(&b.lt(a)), a, b),
                    _ => UOp::select(&b.lt(a), a, b),
                })
            }),
            Pattern::new("recip-is-division", &[Op::Recip], |u| {
                let one = UOp::constant(u.dtype(), ConstValue::Float(1.0));
                Some(one.fdiv(&u.src()[0]))
            }),
            Pattern::new("mulacc-is-mul-add", &[Op::MulAcc], |u| Some(u.src()[0].mul(&u.src()[1]).add(&u.src()[2]))),
        ])
    })
}

/// `u` with every op above decomposed.
pub(crate) fn decompose(u: &UOp) -> Result<UOp, CodegenError> {
    graph_rewrite(u, rules()).map_err(|e| CodegenError::Malformed(format!("decomposition: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(d: DType, v: f64) -> UOp {
        UOp::constant(d, if d.is_float() { ConstValue::Float(v) } else { ConstValue::Int(v as i64) })
    }

    #[test]
    fn no_decomposed_op_is_left() {
        let x = UOp::var("x", 0, 10).cast(DType::F32);
        let n = UOp::var("n", 0, 10).cast(DType::I32);
        let roots = [
            x.max(&value(DType::F32, 2.0)),
            n.max(&value(DType::I32, 2.0)),
            UOp::alu(Op::Recip, vec![x.clone()]),
            UOp::alu(Op::MulAcc, vec![x.clone(), x.clone(), x.clone()]),
            x.lt(&x).max(&UOp::boolean(true)),
        ];
        for root in roots {
            let out = decompose(&root).expect("terminates");
            assert!(out.toposort().iter().all(|u| !matches!(u.op(), Op::Max | Op::Recip | Op::MulAcc)), "{out:?}");
            assert_eq!(out.dtype(), root.dtype());
        }
    }

    #[test]
    fn float_max_picks_a_nan_from_either_side() {
        // `a` where `a` is NaN (`a != a`), `b` where `b` is NaN (`b < a` is false for NaN): the
        // semantics conformance tests check the printed form on every backend.
        let (a, b) = (UOp::var("a", 0, 1).cast(DType::F32), UOp::var("b", 0, 1).cast(DType::F32));
        let out = decompose(&a.max(&b)).expect("terminates");
        assert_eq!(out, UOp::select(&a.ne(&a).or(&b.lt(&a)), &a, &b));
    }
}
