//! The API under bad input: random ops with random, often invalid, shapes, axes, dtypes and sizes
//! (zero, huge, overflowing, negative) return `Ok` or `Err`, never panic. Small valid results are
//! realized now and then, so the whole pipeline sees odd shapes too. 10,000 cases per run.

use kiln::{DType, Tensor};
use kiln_conformance::devices;
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

const DTYPES: [DType; 13] = DType::ALL_TENSOR;

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0usize..5, 1 => Just(7), 1 => Just(1 << 40), 1 => Just(1 << 62), 1 => Just(usize::MAX)]
}

fn sdim() -> impl Strategy<Value = isize> {
    prop_oneof![6 => -2isize..5, 1 => Just(isize::MAX), 1 => Just(isize::MIN), 1 => Just(1 << 40)]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -4.0f64..4.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-1e300),
        1 => Just(1e300),
        1 => Just(0.0)
    ]
}

#[derive(Clone, Debug)]
enum Action {
    Unary(u8),
    Binary(u8, Vec<usize>, usize),
    Reduce(u8, Vec<isize>, bool),
    Reshape(Vec<isize>),
    Permute(Vec<isize>),
    Expand(Vec<isize>),
    Pad(Vec<(usize, usize)>),
    Shrink(Vec<(usize, usize)>),
    Flip(Vec<isize>),
    Axis(u8, isize, isize),
    Cast(usize),
    Clamp(f64, f64),
    Scalar(u8, f64),
    Conv(Vec<usize>, usize, usize),
    Attention(Vec<usize>, bool),
    Layernorm(isize, f64),
}

fn action() -> impl Strategy<Value = Action> {
    let shape = || prop::collection::vec(dim(), 0..4);
    let sshape = || prop::collection::vec(sdim(), 0..4);
    prop_oneof![
        any::<u8>().prop_map(Action::Unary),
        (any::<u8>(), shape(), 0..DTYPES.len()).prop_map(|(o, s, d)| Action::Binary(o, s, d)),
        (any::<u8>(), sshape(), any::<bool>()).prop_map(|(o, a, k)| Action::Reduce(o, a, k)),
        sshape().prop_map(Action::Reshape),
        sshape().prop_map(Action::Permute),
        sshape().prop_map(Action::Expand),
        prop::collection::vec((dim(), dim()), 0..4).prop_map(Action::Pad),
        prop::collection::vec((dim(), dim()), 0..4).prop_map(Action::Shrink),
        sshape().prop_map(Action::Flip),
        (any::<u8>(), sdim(), sdim()).prop_map(|(o, a, b)| Action::Axis(o, a, b)),
        (0..DTYPES.len()).prop_map(Action::Cast),
        (value(), value()).prop_map(|(a, b)| Action::Clamp(a, b)),
        (any::<u8>(), value()).prop_map(|(o, v)| Action::Scalar(o, v)),
        (prop::collection::vec(dim(), 0..5), dim(), dim()).prop_map(|(w, s, p)| Action::Conv(w, s, p)),
        (shape(), any::<bool>()).prop_map(|(s, c)| Action::Attention(s, c)),
        (sdim(), value()).prop_map(|(a, e)| Action::Layernorm(a, e)),
    ]
}

#[derive(Clone, Debug)]
enum Start {
    Full(Vec<usize>, usize, f64),
    Arange(f64, f64, f64, usize),
    Eye(usize, usize),
    Rand(Vec<usize>, usize),
    Slice(Vec<usize>, usize),
}

fn start() -> impl Strategy<Value = Start> {
    let shape = || prop::collection::vec(dim(), 0..4);
    let d = || 0..DTYPES.len();
    prop_oneof![
        (shape(), d(), value()).prop_map(|(s, d, v)| Start::Full(s, d, v)),
        (value(), value(), value(), d()).prop_map(|(a, b, c, d)| Start::Arange(a, b, c, d)),
        (dim(), d()).prop_map(|(n, d)| Start::Eye(n, d)),
        (shape(), d()).prop_map(|(s, d)| Start::Rand(s, d)),
        (shape(), 0usize..40).prop_map(|(s, n)| Start::Slice(s, n)),
    ]
}

fn begin(s: &Start, device: &kiln::Device) -> kiln::Result<Tensor> {
    match s {
        Start::Full(shape, d, v) => Tensor::full_on(shape, *v, DTYPES[*d], device),
        Start::Arange(a, b, c, d) => Tensor::arange(*a, *b, *c, DTYPES[*d]),
        Start::Eye(n, d) => Tensor::eye(*n, DTYPES[*d]),
        Start::Rand(shape, d) => Tensor::rand(shape, DTYPES[*d]),
        Start::Slice(shape, n) => Tensor::from_slice_on(&vec![1.5f32; *n], shape, device),
    }
}

/// `t` after action `a`; `largest` is the largest tensor of the program so far, and an action that
/// realizes does so only while it is within [`REALIZED_WORK`].
fn apply(t: &Tensor, a: &Action, largest: usize) -> kiln::Result<Tensor> {
    let other = |shape: &[usize], d: usize| Tensor::full_on(shape, 2.0, DTYPES[d], &t.device());
    match a {
        Action::Unary(o) => match o % 10 {
            0 => t.neg(),
            1 => t.exp(),
            2 => t.log(),
            3 => t.sqrt(),
            4 => t.relu(),
            5 => t.abs(),
            6 => t.sigmoid(),
            7 => t.logical_not(),
            8 => t.contiguous(),
            _ => t.gelu(),
        },
        Action::Binary(o, shape, d) => {
            let b = other(shape, *d)?;
            match o % 7 {
                0 => t.add(&b),
                1 => t.sub(&b),
                2 => t.div(&b),
                3 => t.minimum(&b),
                4 => t.matmul(&b),
                5 => t.lt(&b)?.where_(t, &b),
                _ if largest.max(b.numel()) <= REALIZED_WORK => Tensor::realize_all(&[t, &b]).map(|()| b),
                _ => Ok(b),
            }
        }
        Action::Reduce(o, axes, k) => match o % 4 {
            0 => t.sum(axes, *k),
            1 => t.max(axes, *k),
            2 => t.min(axes, *k),
            _ => t.mean(axes, *k),
        },
        Action::Reshape(s) => t.reshape(s),
        Action::Permute(s) => t.permute(s),
        Action::Expand(s) => t.expand(s),
        Action::Pad(p) => t.pad(p),
        Action::Shrink(b) => t.shrink(b),
        Action::Flip(a) => t.flip(a),
        Action::Axis(o, a, b) => match o % 5 {
            0 => t.transpose(*a, *b),
            1 => t.unsqueeze(*a),
            2 => t.squeeze(*a),
            3 => t.softmax(*a),
            _ => t.log_softmax(*b),
        },
        Action::Cast(d) => t.cast(DTYPES[*d]),
        Action::Clamp(lo, hi) => t.clamp(*lo, *hi),
        Action::Scalar(o, v) => match o % 4 {
            0 => t + *v,
            1 => t * *v,
            2 => t / *v,
            _ => t - *v,
        },
        Action::Conv(w, stride, pad) => t.conv2d(&other(w, 11)?, None, *stride, *pad),
        Action::Attention(s, causal) => {
            let kv = other(s, 11)?;
            t.scaled_dot_product_attention(&kv, &kv, *causal)
        }
        Action::Layernorm(a, eps) => t.layernorm(*a, *eps),
    }
}

/// Elements of the largest tensor of a program that is still realized (at its end or by a realizing
/// action): a small result reduced from a huge broadcast (11 sums of 2^40 elements each) would run for
/// hours. A realizing action once ignored this bound: one run in about 100 then hung on the CPU, and on
/// lavapipe the process crashed at exit while the dispatch still ran.
const REALIZED_WORK: usize = 1 << 16;

/// Elements of the second operand an action builds (0 for those without one).
fn operand_numel(a: &Action) -> usize {
    match a {
        Action::Binary(_, shape, _) | Action::Conv(shape, ..) | Action::Attention(shape, _) => {
            shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
        }
        _ => 0,
    }
}

/// Runs one program; a small valid result of a program whose every step is small is realized and read
/// back. Errors are fine, panics are not.
fn run(s: &Start, actions: &[Action], realize: bool, device: &kiln::Device) -> kiln::Result<()> {
    let mut t = begin(s, device)?;
    let mut largest = t.numel();
    for a in actions {
        t = apply(&t, a, largest)?;
        largest = largest.max(t.numel()).max(operand_numel(a));
    }
    if realize && t.numel() <= 64 && largest <= REALIZED_WORK {
        t.cast(DType::F32)?.to_vec::<f32>()?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_with_bad_input_never_panic(
        s in start(),
        actions in prop::collection::vec(action(), 1..5),
        realize in prop::bool::weighted(0.03),
    ) {
        for device in devices() {
            let outcome = catch_unwind(AssertUnwindSafe(|| run(&s, &actions, realize, &device)));
            prop_assert!(outcome.is_ok(), "panicked on {s:?} then {actions:?} on {}", device.name());
        }
    }
}
