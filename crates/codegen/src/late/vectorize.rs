//! Vector loads and stores (`vectorize`): after expansion, the copies an upcast or unroll made of a load
//! often read consecutive elements of one buffer (`base + c`, `base + c + 1`, ...; indices compared in
//! linear form). When `n` of them share the buffer, the gate and a `base` that is a multiple of `n` (so
//! the vector is aligned, as buffers start on 256-byte boundaries) and `c` is a multiple of `n`, they
//! become one `LOAD` of `n` lanes read through `GEP`s; stores alike become one `STORE` of a
//! `VECTORIZE`. Fewer, wider memory instructions of 16 bytes (four f32, eight f16 or bf16 where the
//! device's caps allow).

use crate::opt::Kernel;
use crate::target::Caps;
use kiln_uop::{Arg, DType, Op, UOp};
use std::collections::{HashMap, HashSet};

/// Lanes of a 16-byte vector access of `dtype` on a device with `caps`, for the types that have one.
pub(crate) fn lanes(dtype: DType, caps: &Caps) -> Option<i64> {
    match dtype {
        _ if !caps.vector_loads => None,
        DType::F32 | DType::I32 | DType::U32 => Some(4),
        DType::F16 | DType::BF16 if caps.vector_halves => Some(8),
        _ => None,
    }
}

/// An index as `Σ coeff·atom + c`: its terms sorted by atom (so equal bases compare equal whatever
/// the shape of the expression) and its constant.
type Linear = (Vec<(UOp, i64)>, i64);

/// `index` in linear form: sums flattened, multiplications by constants distributed.
fn linear(index: &UOp) -> Linear {
    let mut terms: HashMap<UOp, i64> = HashMap::new();
    let mut constant = 0i64;
    let mut stack = vec![(index.clone(), 1i64)];
    while let Some((u, scale)) = stack.pop() {
        match (u.op(), u.const_int()) {
            (_, Some(c)) => constant = constant.wrapping_add(c.wrapping_mul(scale)),
            (Op::Add, _) => stack.extend(u.src().iter().map(|s| (s.clone(), scale))),
            (Op::Mul, _) if u.src()[1].const_int().is_some() => {
                stack.push((u.src()[0].clone(), scale.wrapping_mul(u.src()[1].const_int().unwrap_or(1))));
            }
            (Op::Mul, _) if u.src()[0].const_int().is_some() => {
                stack.push((u.src()[1].clone(), scale.wrapping_mul(u.src()[0].const_int().unwrap_or(1))));
            }
            _ => *terms.entry(u).or_insert(0) += scale,
        }
    }
    let mut terms: Vec<(UOp, i64)> = terms.into_iter().filter(|(_, k)| *k != 0).collect();
    terms.sort_by_key(|(u, _)| u.id());
    (terms, constant)
}

/// Whether `u` is a multiple of `n` for every value of its variables.
fn divisible(u: &UOp, n: i64) -> bool {
    match u.op() {
        Op::Const => u.const_int().is_some_and(|c| c % n == 0),
        Op::Mul => u.src().iter().any(|s| divisible(s, n)),
        Op::Add => u.src().iter().all(|s| divisible(s, n)),
        _ => false,
    }
}

/// Whether every term of a linear base is a multiple of `n`.
fn aligned(terms: &[(UOp, i64)], n: i64) -> bool {
    terms.iter().all(|(atom, k)| k % n == 0 || divisible(atom, n))
}

/// Accesses of one buffer at one base under one gate, by constant offset.
type Runs = HashMap<(UOp, Vec<(UOp, i64)>, Option<UOp>), HashMap<i64, UOp>>;

/// The smallest vector the renderer writes (four lanes: 16 bytes of f32, 8 of f16).
const MIN_LANES: i64 = 4;

/// Runs of consecutive accesses at an aligned `base`, widest first: `n` lanes where `c..c + n` are
/// all present (`c` and the base multiples of `n`), then halves of `n` down to [`MIN_LANES`] from what
/// is left. Each run lists its accesses in order.
fn full_runs(base: &[(UOp, i64)], by_offset: &HashMap<i64, UOp>, n: i64) -> Vec<Vec<UOp>> {
    let mut taken: HashSet<i64> = HashSet::new();
    let mut runs = Vec::new();
    let mut width = n;
    while width >= MIN_LANES {
        if aligned(base, width) {
            let mut starts: Vec<i64> = by_offset.keys().copied().filter(|c| c.rem_euclid(width) == 0).collect();
            starts.sort_unstable();
            for c in starts {
                if (c..c + width).all(|o| by_offset.contains_key(&o) && !taken.contains(&o)) {
                    taken.extend(c..c + width);
                    runs.push((c..c + width).map(|o| by_offset[&o].clone()).collect());
                }
            }
        }
        width /= 2;
    }
    runs
}

/// The kernel with runs of consecutive, aligned loads and stores made vector accesses.
pub(crate) fn vectorize(k: &Kernel, caps: &Caps) -> Kernel {
    let mut loads: Runs = HashMap::new();
    for u in k.sink.toposort() {
        let global = u.op() == Op::Load && u.src()[0].op() == Op::DefineGlobal && *u.arg() == Arg::None;
        if global && lanes(u.dtype(), caps).is_some() {
            let (base, c) = linear(&u.src()[1]);
            if aligned(&base, MIN_LANES) {
                loads.entry((u.src()[0].clone(), base, u.src().get(2).cloned())).or_default().insert(c, u);
            }
        }
    }
    let mut replace: HashMap<UOp, UOp> = HashMap::new();
    for ((buffer, base, gate), by_offset) in &loads {
        let n = lanes(buffer.dtype(), caps).unwrap_or(1);
        for run in full_runs(base, by_offset, n) {
            let mut src = vec![buffer.clone(), run[0].src()[1].clone()];
            src.extend(gate.clone());
            let vector = UOp::new(Op::Load, run[0].dtype(), src, Arg::Lanes(run.len()));
            for (lane, load) in run.into_iter().enumerate() {
                replace.insert(load, UOp::new(Op::Gep, vector.dtype(), vec![vector.clone()], Arg::Slot(lane)));
            }
        }
    }
    let stores: Vec<UOp> =
        k.sink.src().iter().map(|s| if replace.is_empty() { s.clone() } else { s.substitute(&replace) }).collect();
    let mut runs: Runs = HashMap::new();
    for s in &stores {
        let buffer = &s.src()[0];
        if lanes(buffer.dtype(), caps).is_some() {
            let (base, c) = linear(&s.src()[1]);
            if aligned(&base, MIN_LANES) {
                runs.entry((buffer.clone(), base, s.src().get(3).cloned())).or_default().insert(c, s.clone());
            }
        }
    }
    let mut merged: HashMap<UOp, Option<UOp>> = HashMap::new();
    for ((buffer, base, gate), by_offset) in &runs {
        let n = lanes(buffer.dtype(), caps).unwrap_or(1);
        for run in full_runs(base, by_offset, n) {
            let lanes: Vec<UOp> = run.iter().map(|s| s.src()[2].clone()).collect();
            let value = UOp::new(Op::Vectorize, lanes[0].dtype(), lanes, Arg::None);
            let mut src = vec![buffer.clone(), run[0].src()[1].clone(), value];
            src.extend(gate.clone());
            let vector = UOp::new(Op::Store, DType::Void, src, Arg::None);
            // The run's first store becomes the vector store, the others go.
            for (i, s) in run.into_iter().enumerate() {
                merged.insert(s, (i == 0).then(|| vector.clone()));
            }
        }
    }
    let stores: Vec<UOp> = stores.into_iter().filter_map(|s| merged.get(&s).cloned().unwrap_or(Some(s))).collect();
    Kernel { sink: UOp::new(Op::Sink, DType::Void, stores, Arg::None), ..k.clone() }
}
