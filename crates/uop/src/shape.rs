//! Shape inference for tensor-level ops, computed once when a node is built.
//!
//! Reductions keep reduced axes as size 1 (tinygrad's convention); the frontend drops them for
//! `keepdim=false` with a reshape. Nodes outside the tensor level have no shape. Inconsistent inputs
//! give no shape: the frontend validates user input before building nodes.

use crate::op::{Arg, Op};
use crate::uop::UOp;

pub(crate) fn infer(op: Op, src: &[UOp], arg: &Arg) -> Option<Box<[usize]>> {
    let first = || src.first().and_then(UOp::shape);
    let shape: Vec<usize> = match (op, arg) {
        (Op::Const, _) => vec![],
        (Op::Buffer | Op::DefineGlobal, Arg::Buffer { numel, .. }) => vec![*numel],
        (Op::Load, _) if src.len() == 1 => first()?.to_vec(),
        (Op::ReduceAxis, Arg::ReduceAxis(_, axes)) => {
            let mut s = first()?.to_vec();
            for &a in axes {
                *s.get_mut(a)? = 1;
            }
            s
        }
        (Op::Reshape | Op::Expand, Arg::Shape(s)) => s.clone(),
        (Op::Permute, Arg::Axes(perm)) => {
            let s = first()?;
            perm.iter().map(|&p| s.get(p).copied()).collect::<Option<_>>()?
        }
        (Op::Pad, Arg::Pairs(p)) => first()?.iter().zip(p).map(|(&d, &(b, a))| d + b + a).collect(),
        (Op::Shrink, Arg::Pairs(p)) => p.iter().map(|&(s, e)| e.saturating_sub(s)).collect(),
        (Op::Flip | Op::Contiguous | Op::Cast | Op::Bitcast, _) => first()?.to_vec(),
        // Sources of an ALU op share one shape, except scalar consts, which broadcast.
        (op, _) if op.is_alu() => {
            let shapes: Vec<&[usize]> = src.iter().filter_map(UOp::shape).collect();
            shapes.iter().find(|s| !s.is_empty()).or(shapes.first())?.to_vec()
        }
        _ => return None,
    };
    Some(shape.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use crate::{Arg, ConstValue, DType, Op, ReduceOp, UOp};

    #[test]
    fn movement_and_reduce_shapes() {
        let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id: 1, numel: 24 });
        let r = UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(vec![2, 3, 4]));
        assert_eq!(r.shape(), Some(&[2, 3, 4][..]));
        let p = UOp::new(Op::Permute, DType::F32, vec![r.clone()], Arg::Axes(vec![2, 0, 1]));
        assert_eq!(p.shape(), Some(&[4, 2, 3][..]));
        let s = UOp::new(Op::ReduceAxis, DType::F32, vec![r.clone()], Arg::ReduceAxis(ReduceOp::Add, vec![1]));
        assert_eq!(s.shape(), Some(&[2, 1, 4][..]));
        let pad = UOp::new(Op::Pad, DType::F32, vec![r], Arg::Pairs(vec![(1, 1), (0, 2), (0, 0)]));
        assert_eq!(pad.shape(), Some(&[4, 5, 4][..]));
        assert_eq!(UOp::constant(DType::F32, ConstValue::Float(1.0)).shape(), Some(&[][..]));
    }
}
