//! Vector loads and stores (`vectorize`): after expansion, the copies an upcast or unroll made of a load
//! often read consecutive elements of one buffer (`base + c`, `base + c + 1`, ...; indices compared in
//! linear form, kiln-rewrite's `Sum`). When `n` of them share the buffer, the gate and a `base` that is a multiple of `n` (so
//! the vector is aligned, as buffers start on 256-byte boundaries) and `c` is a multiple of `n`, they
//! become one `LOAD` of `n` lanes read through `GEP`s; stores alike become one `STORE` of a
//! `VECTORIZE`. Fewer, wider memory instructions of 16 bytes (four f32, eight f16 or bf16 where the
//! device's caps allow).

use crate::opt::Kernel;
use crate::target::Caps;
use kiln_rewrite::Sum;
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

/// `index` as its linear terms (the base, sorted so equal bases compare equal whatever the shape of
/// the expression) and constant, or `None` when kiln-rewrite's linear view declines it (too many terms,
/// an overflowing coefficient): that access stays scalar.
fn linear(index: &UOp) -> Option<(Vec<(UOp, i64)>, i64)> {
    Sum::of(index).map(|sum| (sum.terms, sum.constant))
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

/// `accesses` (loads or stores of global buffers, their gate at source `gate_slot`) of the types that
/// have vectors on `caps`, by buffer, aligned linear base and gate, then by constant offset.
fn group_by_base(accesses: impl Iterator<Item = UOp>, gate_slot: usize, caps: &Caps) -> Runs {
    let mut runs: Runs = HashMap::new();
    for u in accesses.filter(|u| lanes(u.src()[0].dtype(), caps).is_some()) {
        if let Some((base, c)) = linear(&u.src()[1]).filter(|(base, _)| aligned(base, MIN_LANES)) {
            runs.entry((u.src()[0].clone(), base, u.src().get(gate_slot).cloned())).or_default().insert(c, u);
        }
    }
    runs
}

/// The kernel with runs of consecutive, aligned loads and stores made vector accesses.
pub(crate) fn vectorize(k: &Kernel, caps: &Caps) -> Kernel {
    let loads = group_by_base(
        k.sink
            .toposort()
            .into_iter()
            .filter(|u| u.op() == Op::Load && u.src()[0].op() == Op::DefineGlobal && *u.arg() == Arg::None),
        2,
        caps,
    );
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
    let runs = group_by_base(stores.iter().cloned(), 3, caps);
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
