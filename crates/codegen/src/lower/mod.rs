//! Lowering a kernel AST: movement ops become index arithmetic on ranges, reductions become `REDUCE`
//! over fresh ranges, loads and stores get explicit indices and gates.
//!
//! The result is a [`Kernel`]: a `SINK` of `STORE(global, index, value)` over one `RANGE` per output
//! dimension (of kind `Global`, on every target) and the reduce ranges, ready for optimisation.

mod movement;

use crate::error::CodegenError;
use crate::opt::Kernel;
use kiln_rewrite::simplify;
use kiln_uop::{Arg, ConstValue, DType, Op, RangeKind, ReduceOp, UOp};
use std::collections::HashMap;

/// Lowers the kernel `ast` (a `SINK` of tensor-level `STORE`s) for `target`.
pub fn lower(ast: &UOp) -> Result<Kernel, CodegenError> {
    if ast.op() != Op::Sink || ast.src().iter().any(|s| s.op() != Op::Store || s.src().len() != 2) {
        return Err(CodegenError::Malformed(format!("expected SINK of STORE(global, value), got {}", ast.op().name())));
    }
    let output_shape = ast.src()[0].src()[1]
        .shape()
        .ok_or_else(|| CodegenError::Malformed("stored value has no shape".into()))?
        .to_vec();
    if ast.src().iter().any(|s| s.src()[1].shape() != Some(&output_shape[..])) {
        return Err(CodegenError::Malformed("stores of one kernel must share their shape".into()));
    }
    let mut globals: Vec<UOp> = ast.toposort().into_iter().filter(|u| u.op() == Op::DefineGlobal).collect();
    globals.sort_by_key(|g| match g.arg() {
        Arg::Buffer { id, .. } => *id,
        _ => u64::MAX,
    });
    for (slot, g) in globals.iter().enumerate() {
        if !matches!(g.arg(), Arg::Buffer { id, .. } if *id == slot as u64) {
            return Err(CodegenError::Malformed(format!("parameter slots are not dense: {} at position {slot}", g)));
        }
    }
    let mut lowerer = Lowerer { memo: HashMap::new(), next_range: 0 };
    let idx: Vec<UOp> = output_shape
        .iter()
        .map(|&d| if d == 1 { UOp::index(0) } else { lowerer.range(d, RangeKind::Global) })
        .collect();
    let linear = simplify(&movement::flatten(&idx, &output_shape));
    let mut stores = Vec::new();
    for store in ast.src() {
        let value = lowerer.lower(&store.src()[1], &idx, None)?;
        stores.push(UOp::new(Op::Store, DType::Void, vec![store.src()[0].clone(), linear.clone(), value], Arg::None));
    }
    let sink = UOp::new(Op::Sink, DType::Void, stores, Arg::None);
    let mut axes: Vec<UOp> = idx.into_iter().filter(|r| r.op() == Op::Range).collect();
    let mut reduce_ranges: Vec<UOp> = sink
        .toposort()
        .into_iter()
        .filter(|u| matches!(u.arg(), Arg::Range { kind: RangeKind::Reduce, .. }) && u.op() == Op::Range)
        .collect();
    reduce_ranges.sort_by_key(|r| match r.arg() {
        Arg::Range { id, .. } => *id,
        _ => u32::MAX,
    });
    axes.extend(reduce_ranges);
    Ok(Kernel { sink, axes, output_shape, globals, next_range: lowerer.next_range, no_locals: false })
}

type MemoKey = (UOp, Vec<UOp>, Option<UOp>);

struct Lowerer {
    memo: HashMap<MemoKey, UOp>,
    next_range: u32,
}

fn zero(dtype: DType) -> UOp {
    UOp::constant(dtype, ConstValue::Int(0))
}

/// The value a reduction's accumulator starts from.
pub(crate) fn reduce_identity(op: ReduceOp, dtype: DType) -> UOp {
    match op {
        ReduceOp::Add => zero(dtype),
        ReduceOp::Mul => UOp::constant(dtype, ConstValue::Int(1)),
        ReduceOp::Max => UOp::constant(dtype, ConstValue::Float(dtype.min_max().0)),
    }
}

impl Lowerer {
    fn range(&mut self, end: usize, kind: RangeKind) -> UOp {
        self.next_range += 1;
        UOp::range(end as i64, self.next_range - 1, kind)
    }

    /// The value of tensor node `u` at index `idx` (one entry per dim of `u`'s shape), where `gate`
    /// (if any) says whether the element exists at all (loads outside it must not touch memory).
    fn lower(&mut self, u: &UOp, idx: &[UOp], gate: Option<&UOp>) -> Result<UOp, CodegenError> {
        let key = (u.clone(), idx.to_vec(), gate.cloned());
        if let Some(done) = self.memo.get(&key) {
            return Ok(done.clone());
        }
        let shape = u.shape().ok_or_else(|| CodegenError::Malformed(format!("{} has no shape", u.op().name())))?;
        let lowered = match u.op() {
            Op::Const => u.clone(),
            Op::Load => {
                let index = simplify(&idx[0]);
                match gate.map(simplify) {
                    None => UOp::new(Op::Load, u.dtype(), vec![u.src()[0].clone(), index], Arg::None),
                    Some(g) if g.const_int() == Some(1) => {
                        UOp::new(Op::Load, u.dtype(), vec![u.src()[0].clone(), index], Arg::None)
                    }
                    Some(g) if g.const_int() == Some(0) => zero(u.dtype()),
                    Some(g) => UOp::new(Op::Load, u.dtype(), vec![u.src()[0].clone(), index, g], Arg::None),
                }
            }
            Op::Pad => {
                let src_shape = u.src()[0].shape().unwrap_or_default();
                let Arg::Pairs(pads) = u.arg() else { return Err(CodegenError::Malformed("PAD without pairs".into())) };
                let (inner, valid) = movement::unpad(idx, pads, src_shape);
                let valid = simplify(&valid);
                match valid.const_int() {
                    Some(1) => self.lower(&u.src()[0], &inner, gate)?,
                    Some(_) => zero(u.dtype()),
                    None => {
                        let inner_gate = gate.map_or(valid.clone(), |g| g.and(&valid));
                        let value = self.lower(&u.src()[0], &inner, Some(&inner_gate))?;
                        UOp::select(&valid, &value, &zero(u.dtype()))
                    }
                }
            }
            op if op.is_movement() => {
                let src_shape = u.src()[0].shape().unwrap_or_default().to_vec();
                let inner = movement::source_index(u, idx, shape, &src_shape)?;
                self.lower(&u.src()[0], &inner, gate)?
            }
            Op::ReduceAxis => {
                let Arg::ReduceAxis(op, axes) = u.arg() else {
                    return Err(CodegenError::Malformed("REDUCE_AXIS without axes".into()));
                };
                let src_shape = u.src()[0].shape().unwrap_or_default().to_vec();
                if axes.iter().any(|&a| src_shape[a] == 0) {
                    // Reducing nothing gives the identity.
                    let value = reduce_identity(*op, u.dtype());
                    self.memo.insert(key, value.clone());
                    return Ok(value);
                }
                let mut inner = idx.to_vec();
                let mut ranges = Vec::new();
                for &axis in axes {
                    if src_shape[axis] > 1 {
                        let r = self.range(src_shape[axis], RangeKind::Reduce);
                        inner[axis] = r.clone();
                        ranges.push(r);
                    } else {
                        inner[axis] = UOp::index(0);
                    }
                }
                let value = self.lower(&u.src()[0], &inner, gate)?;
                if ranges.is_empty() {
                    value
                } else {
                    let mut src = vec![value];
                    src.extend(ranges);
                    UOp::new(Op::Reduce, u.dtype(), src, Arg::Reduce(*op))
                }
            }
            op if op.is_alu() || matches!(op, Op::Cast | Op::Bitcast) => {
                let src = u
                    .src()
                    .iter()
                    .map(|s| {
                        if s.shape() == Some(&[][..]) && !shape.is_empty() {
                            self.lower(s, &[], gate)
                        } else {
                            self.lower(s, idx, gate)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                u.with_src(src)
            }
            op => return Err(CodegenError::Malformed(format!("op {op:?} cannot appear in a kernel AST"))),
        };
        self.memo.insert(key, lowered.clone());
        Ok(lowered)
    }
}
