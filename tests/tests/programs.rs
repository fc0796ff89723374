//! Random small tensor programs (chains of elementwise, reduce and movement ops) realized on every
//! device under test and compared with the f64 reference. 500 cases per run.

use kiln::{DType, Tensor};
use kiln_conformance::{devices, read, sample, Reference};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Neg,
    Relu,
    Sin,
    Tanh,
    AddSelf,
    MulConst(i8),
    AddFresh(u64),
    Sum(u8, bool),
    Max(u8, bool),
    Permute(u8),
    Flatten,
    Pad(u8, u8, u8),
    Shrink(u8, u8),
    Flip(u8),
    Expand(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Neg),
        Just(Step::Relu),
        Just(Step::Sin),
        Just(Step::Tanh),
        Just(Step::AddSelf),
        any::<i8>().prop_map(Step::MulConst),
        any::<u64>().prop_map(Step::AddFresh),
        (any::<u8>(), any::<bool>()).prop_map(|(a, k)| Step::Sum(a, k)),
        (any::<u8>(), any::<bool>()).prop_map(|(a, k)| Step::Max(a, k)),
        any::<u8>().prop_map(Step::Permute),
        Just(Step::Flatten),
        (any::<u8>(), 0u8..3, 0u8..3).prop_map(|(a, b, c)| Step::Pad(a, b, c)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Step::Shrink(a, b)),
        any::<u8>().prop_map(Step::Flip),
        (1u8..4).prop_map(Step::Expand),
    ]
}

/// Applies `step` to both sides; `None` when it does not fit the current shape.
fn apply(step: &Step, t: &Tensor, r: &Reference) -> kiln::Result<Option<(Tensor, Reference)>> {
    let n = r.shape.len();
    let axis = |a: u8| usize::from(a) % n.max(1);
    Ok(Some(match step {
        Step::Neg => (t.neg()?, r.map(|x| -x)),
        Step::Relu => (t.relu()?, r.map(|x| x.max(0.0))),
        Step::Sin => (t.sin()?, r.map(f64::sin)),
        Step::Tanh => (t.tanh()?, r.map(f64::tanh)),
        Step::AddSelf => (t.add(t)?, r.map(|x| x + x)),
        Step::MulConst(c) => {
            let c = f64::from(*c) / 64.0;
            ((t * c)?, r.map(|x| x * c))
        }
        Step::AddFresh(seed) => {
            let (r2, t2) = sample(&r.shape, DType::F32, *seed, &t.device())?;
            (t.add(&t2)?, r.zip(&r2, |a, b| a + b))
        }
        Step::Sum(a, keep) | Step::Max(a, keep) if n > 0 => {
            let ax = axis(*a);
            let is_sum = matches!(step, Step::Sum(..));
            if !is_sum && r.shape[ax] == 0 {
                return Ok(None);
            }
            let out = if is_sum { t.sum(&[ax as isize], *keep)? } else { t.max(&[ax as isize], *keep)? };
            let red =
                if is_sum { r.reduce(&[ax], 0.0, |x, y| x + y) } else { r.reduce(&[ax], f64::NEG_INFINITY, f64::max) };
            let kept: Vec<usize> = if *keep {
                red.shape.clone()
            } else {
                r.shape.iter().enumerate().filter(|(i, _)| *i != ax).map(|(_, &d)| d).collect()
            };
            (out, red.reshape(&kept))
        }
        Step::Permute(p) if n > 1 => {
            let mut order: Vec<usize> = (0..n).collect();
            order.rotate_left(usize::from(*p) % n);
            let iorder: Vec<isize> = order.iter().map(|&o| o as isize).collect();
            (t.permute(&iorder)?, r.permute(&order))
        }
        Step::Flatten => (t.flatten()?, r.reshape(&[r.shape.iter().product()])),
        Step::Pad(a, b, c) if n > 0 => {
            let mut pads = vec![(0, 0); n];
            pads[axis(*a)] = (usize::from(*b), usize::from(*c));
            (t.pad(&pads)?, r.pad(&pads))
        }
        Step::Shrink(a, s) if n > 0 && r.shape[axis(*a)] > 1 => {
            let ax = axis(*a);
            let d = r.shape[ax];
            let start = usize::from(*s) % d;
            let mut bounds: Vec<(usize, usize)> = r.shape.iter().map(|&d| (0, d)).collect();
            bounds[ax] = (start, d);
            (t.shrink(&bounds)?, r.shrink(&bounds))
        }
        Step::Flip(a) if n > 0 => (t.flip(&[axis(*a) as isize])?, r.flip(&[axis(*a)])),
        Step::Expand(k) if n < 4 => {
            let mut shape = vec![usize::from(*k)];
            shape.extend(&r.shape);
            let unsq = r.reshape(&[&[1][..], &r.shape].concat());
            (t.unsqueeze(0)?.expand(&shape.iter().map(|&d| d as isize).collect::<Vec<_>>())?, unsq.expand(&shape))
        }
        _ => return Ok(None),
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_match_reference(
        shape in prop::collection::vec(1usize..5, 1..4),
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..6),
    ) {
        for device in devices() {
            let (mut r, mut t) = sample(&shape, DType::F32, seed, &device).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for s in &steps {
                if let Some((t2, r2)) = apply(s, &t, &r).map_err(|e| TestCaseError::fail(e.to_string()))? {
                    t = t2;
                    r = r2;
                }
            }
            prop_assert_eq!(t.shape(), r.shape.clone());
            let got = read(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (i, (g, w)) in got.iter().zip(&r.data).enumerate() {
                prop_assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "element {} is {}, expected {} after {:?}", i, g, w, steps);
            }
        }
    }
}

/// A case the random programs found: GCC 12's AVX-512 loop vectorizer, under `-fwrapv`, read the
/// padded, flipped input of this `tanh` from the wrong row on the CPU.
#[test]
fn padded_flipped_tanh_reads_the_right_rows() -> kiln::Result<()> {
    for device in devices() {
        let (r, t) = sample(&[2, 2], DType::F32, 0, &device)?;
        let pads = [(0, 2), (0, 0)];
        let got = read(&t.pad(&pads)?.flip(&[1])?.tanh()?)?;
        let want = r.pad(&pads).flip(&[1]).map(f64::tanh);
        for (i, (g, w)) in got.iter().zip(&want.data).enumerate() {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{device:?}: element {i} is {g}, expected {w}");
        }
    }
    Ok(())
}
