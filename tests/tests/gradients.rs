//! Gradient conformance: the gradient kiln builds for every frontend op (and the nn helpers), realized
//! on every device under test (`KILN_TEST_DEVICES`), against central finite differences of the f64
//! reference. Each case differentiates `sum(op(inputs) * w)` with fixed random weights `w`, so every
//! output element matters; inputs avoid kinks (ties, zeros of `abs`/`relu`) by being random.

use kiln::{nn, DType, Device, Tensor};
use kiln_conformance::{devices, read, sample, tensor, Reference};

type KilnFn = Box<dyn Fn(&[Tensor]) -> kiln::Result<Tensor>>;
type RefFn = Box<dyn Fn(&[Reference]) -> Reference>;

struct Case {
    name: &'static str,
    shapes: Vec<Vec<usize>>,
    /// Maps the sampled inputs (uniform in [-2, 2)) into the op's domain.
    domain: fn(f64) -> f64,
    kiln: KilnFn,
    reference: RefFn,
}

fn case(
    name: &'static str,
    shapes: &[&[usize]],
    kiln: impl Fn(&[Tensor]) -> kiln::Result<Tensor> + 'static,
    reference: impl Fn(&[Reference]) -> Reference + 'static,
) -> Case {
    Case {
        name,
        shapes: shapes.iter().map(|s| s.to_vec()).collect(),
        domain: |x| x,
        kiln: Box::new(kiln),
        reference: Box::new(reference),
    }
}

fn positive(mut c: Case) -> Case {
    c.domain = |x| x.abs() + 0.5;
    c
}

fn sum_all(r: &Reference) -> f64 {
    r.data.iter().sum()
}

/// `sum(f(inputs) * w)` in f64.
fn objective(c: &Case, inputs: &[Reference], w: &Reference) -> f64 {
    sum_all(&(c.reference)(inputs).zip(w, |a, b| a * b))
}

fn check(c: &Case, device: &Device) -> kiln::Result<()> {
    let inputs: Vec<Reference> = c
        .shapes
        .iter()
        .enumerate()
        .map(|(i, s)| Ok(sample(s, DType::F32, 11 + i as u64, device)?.0.map(|x| f64::from((c.domain)(x) as f32))))
        .collect::<kiln::Result<_>>()?;
    let out_shape = (c.reference)(&inputs).shape;
    let (w, wt) = sample(&out_shape, DType::F32, 97, device)?;
    let ts: Vec<Tensor> =
        inputs.iter().map(|r| tensor(&r.data, &r.shape, DType::F32, device)).collect::<kiln::Result<_>>()?;
    let out = (c.kiln)(&ts)?;
    assert_eq!(out.shape(), out_shape, "{}: output shape", c.name);
    let loss = out.mul(&wt)?.sum(&[], false)?;
    let grads = loss.gradient(&ts.iter().collect::<Vec<_>>())?;
    let h = 1e-5;
    for (k, (input, g)) in inputs.iter().zip(&grads).enumerate() {
        assert_eq!(g.shape(), input.shape, "{}: gradient {k} shape", c.name);
        let got = read(g)?;
        let mut want = Vec::with_capacity(input.data.len());
        for i in 0..input.data.len() {
            let mut shifted = inputs.clone();
            shifted[k].data[i] += h;
            let up = objective(c, &shifted, &w);
            shifted[k].data[i] -= 2.0 * h;
            let down = objective(c, &shifted, &w);
            want.push((up - down) / (2.0 * h));
        }
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (g, f)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - f).abs() <= 2e-4 * scale + 1e-3 * f.abs(),
                "{} on {}: d/dinput{k}[{i}] is {g}, finite differences give {f} (input shape {:?})",
                c.name,
                device.name(),
                input.shape
            );
        }
    }
    Ok(())
}

fn run(cases: Vec<Case>) -> kiln::Result<()> {
    for device in devices() {
        for c in &cases {
            check(c, &device)?;
        }
    }
    Ok(())
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044_715 * x * x * x)).tanh())
}

fn unary(name: &'static str, op: fn(&Tensor) -> kiln::Result<Tensor>, f: fn(f64) -> f64) -> Case {
    case(name, &[&[2, 3]], move |t| op(&t[0]), move |r| r[0].map(f))
}

#[test]
fn unary_gradients_match_finite_differences() -> kiln::Result<()> {
    run(vec![
        unary("neg", Tensor::neg, |x| -x),
        unary("exp", Tensor::exp, f64::exp),
        unary("exp2", Tensor::exp2, f64::exp2),
        positive(unary("log", Tensor::log, f64::ln)),
        positive(unary("log2", Tensor::log2, f64::log2)),
        positive(unary("sqrt", Tensor::sqrt, f64::sqrt)),
        positive(unary("rsqrt", Tensor::rsqrt, |x| 1.0 / x.sqrt())),
        positive(unary("reciprocal", Tensor::reciprocal, |x| 1.0 / x)),
        unary("sin", Tensor::sin, f64::sin),
        unary("cos", Tensor::cos, f64::cos),
        unary("relu", Tensor::relu, |x| x.max(0.0)),
        unary("sigmoid", Tensor::sigmoid, sigmoid),
        unary("tanh", Tensor::tanh, f64::tanh),
        unary("gelu", Tensor::gelu, gelu),
        unary("silu", Tensor::silu, |x| x * sigmoid(x)),
        unary("abs", Tensor::abs, f64::abs),
        unary("square", Tensor::square, |x| x * x),
        case("clamp", &[&[7]], |t| t[0].clamp(-1.0, 0.5), |r| r[0].map(|x| x.clamp(-1.0, 0.5))),
        case("scalar ops", &[&[5]], |t| &(&(&t[0] * 3.0)? - 1.0)? / 2.0, |r| r[0].map(|x| (x * 3.0 - 1.0) / 2.0)),
        // f64 arithmetic only (SPIR-V has no f64 exp2), so every backend runs it.
        case("float casts", &[&[4]], |t| t[0].cast(DType::F64)?.square()?.cast(DType::F32), |r| r[0].map(|x| x * x)),
    ])
}

fn binary(name: &'static str, op: fn(&Tensor, &Tensor) -> kiln::Result<Tensor>, f: fn(f64, f64) -> f64) -> Vec<Case> {
    [(&[2, 3][..], &[2, 3][..]), (&[3, 1], &[1, 4]), (&[4], &[2, 4])]
        .into_iter()
        .map(|(a, b)| case(name, &[a, b], move |t| op(&t[0], &t[1]), move |r| r[0].zip(&r[1], f)))
        .collect()
}

#[test]
fn binary_gradients_broadcast_and_match_finite_differences() -> kiln::Result<()> {
    let mut cases = Vec::new();
    cases.extend(binary("add", Tensor::add, |a, b| a + b));
    cases.extend(binary("sub", Tensor::sub, |a, b| a - b));
    cases.extend(binary("mul", Tensor::mul, |a, b| a * b));
    cases.extend(binary("maximum", Tensor::maximum, f64::max));
    cases.extend(binary("minimum", Tensor::minimum, f64::min));
    cases.extend(binary("div", Tensor::div, |a, b| a / b).into_iter().map(|mut c| {
        c.domain = |x| if x < 0.0 { x - 0.5 } else { x + 0.5 };
        c
    }));
    cases.push(case(
        "where_",
        &[&[3, 4], &[3, 1], &[4]],
        |t| t[0].gt(&t[0].full_like(0.0, DType::F32)?)?.where_(&t[1], &t[2]),
        // The condition is a step: its gradient is zero, as finite differences away from 0 give.
        |r| Reference::generate(&[3, 4], |i| if r[0].at(i) > 0.0 { r[1].at(&[i[0], 0]) } else { r[2].at(&[i[1]]) }),
    ));
    run(cases)
}

#[test]
fn reduction_gradients_match_finite_differences() -> kiln::Result<()> {
    let r3: &[usize] = &[2, 3, 4];
    run(vec![
        case("sum all", &[r3], |t| t[0].sum(&[], false), |r| Reference::new(vec![sum_all(&r[0])], &[])),
        case("sum axis 1 keepdim", &[r3], |t| t[0].sum(&[1], true), |r| r[0].reduce(&[1], 0.0, |a, b| a + b)),
        case(
            "sum axes 0,2",
            &[r3],
            |t| t[0].sum(&[0, 2], false),
            |r| r[0].reduce(&[0, 2], 0.0, |a, b| a + b).reshape(&[3]),
        ),
        case(
            "mean axis -1",
            &[r3],
            |t| t[0].mean(&[-1], true),
            |r| r[0].reduce(&[2], 0.0, |a, b| a + b).map(|s| s / 4.0),
        ),
        case("max axis 1", &[r3], |t| t[0].max(&[1], true), |r| r[0].reduce(&[1], f64::NEG_INFINITY, f64::max)),
        case(
            "max all",
            &[r3],
            |t| t[0].max(&[], false),
            |r| Reference::new(vec![r[0].data.iter().copied().fold(f64::NEG_INFINITY, f64::max)], &[]),
        ),
        case("min axis 2", &[r3], |t| t[0].min(&[2], true), |r| r[0].reduce(&[2], f64::INFINITY, f64::min)),
    ])
}

#[test]
fn movement_gradients_match_finite_differences() -> kiln::Result<()> {
    let r3: &[usize] = &[2, 3, 4];
    run(vec![
        case("reshape", &[r3], |t| t[0].reshape(&[4, -1]), |r| r[0].reshape(&[4, 6])),
        case("permute", &[r3], |t| t[0].permute(&[2, 0, 1]), |r| r[0].permute(&[2, 0, 1])),
        case("transpose", &[&[3, 5]], |t| t[0].transpose(0, 1), |r| r[0].permute(&[1, 0])),
        case("expand", &[&[3, 1]], |t| t[0].expand(&[2, 3, 4]), |r| r[0].reshape(&[1, 3, 1]).expand(&[2, 3, 4])),
        case("pad", &[&[2, 3]], |t| t[0].pad(&[(1, 0), (2, 1)]), |r| r[0].pad(&[(1, 0), (2, 1)])),
        case("shrink", &[r3], |t| t[0].shrink(&[(1, 2), (0, 2), (1, 4)]), |r| r[0].shrink(&[(1, 2), (0, 2), (1, 4)])),
        case("flip", &[r3], |t| t[0].flip(&[0, 2]), |r| r[0].flip(&[0, 2])),
        case(
            "unsqueeze, squeeze, flatten",
            &[&[3, 4]],
            |t| t[0].unsqueeze(1)?.squeeze(1)?.flatten(),
            |r| r[0].reshape(&[12]),
        ),
        case(
            "a view read twice",
            &[&[3, 4]],
            |t| t[0].add(&t[0].flip(&[1])?)?.mul(&t[0].transpose(0, 1)?.transpose(0, 1)?),
            |r| r[0].zip(&r[0].flip(&[1]), |a, b| a + b).zip(&r[0], |a, b| a * b),
        ),
    ])
}

fn softmax_ref(r: &Reference) -> Reference {
    let last = r.shape.len() - 1;
    let m = r.reduce(&[last], f64::NEG_INFINITY, f64::max);
    let e = r.zip(&m, |x, m| (x - m).exp());
    let s = e.reduce(&[last], 0.0, |a, b| a + b);
    e.zip(&s, |e, s| e / s)
}

fn layernorm_ref(r: &Reference) -> Reference {
    let last = r.shape.len() - 1;
    let n = r.shape[last] as f64;
    let mean = r.reduce(&[last], 0.0, |a, b| a + b).map(|s| s / n);
    let centered = r.zip(&mean, |x, m| x - m);
    let var = centered.map(|c| c * c).reduce(&[last], 0.0, |a, b| a + b).map(|s| s / n);
    centered.zip(&var, |c, v| c / (v + 1e-5).sqrt())
}

/// `a [.., n, k] @ b [k, m]` with `a`'s leading dims as a batch.
fn matmul_ref(a: &Reference, b: &Reference) -> Reference {
    let (k, m) = (b.shape[0], b.shape[1]);
    let mut shape = a.shape.clone();
    *shape.last_mut().unwrap() = m;
    Reference::generate(&shape, |i| {
        let mut ai = i.to_vec();
        (0..k)
            .map(|j| {
                *ai.last_mut().unwrap() = j;
                a.at(&ai) * b.at(&[j, i[i.len() - 1]])
            })
            .sum()
    })
}

fn conv_ref(x: &Reference, w: &Reference, stride: usize, padding: usize) -> Reference {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3]);
    let (oh, ow) = ((h + 2 * padding - kh) / stride + 1, (wd + 2 * padding - kw) / stride + 1);
    let xp = x.pad(&[(0, 0), (0, 0), (padding, padding), (padding, padding)]);
    Reference::generate(&[n, o, oh, ow], |i| {
        let mut s = 0.0;
        for ci in 0..c {
            for a in 0..kh {
                for b in 0..kw {
                    s += xp.at(&[i[0], ci, i[2] * stride + a, i[3] * stride + b]) * w.at(&[i[1], ci, a, b]);
                }
            }
        }
        s
    })
}

#[test]
fn composite_gradients_match_finite_differences() -> kiln::Result<()> {
    run(vec![
        case("matmul", &[&[3, 4], &[4, 5]], |t| t[0].matmul(&t[1]), |r| r[0].matmul(&r[1])),
        case("batched matmul", &[&[2, 3, 4], &[4, 2]], |t| t[0].matmul(&t[1]), |r| matmul_ref(&r[0], &r[1])),
        case("softmax", &[&[3, 5]], |t| t[0].softmax(-1), |r| softmax_ref(&r[0])),
        case("log_softmax", &[&[3, 5]], |t| t[0].log_softmax(-1), |r| softmax_ref(&r[0]).map(f64::ln)),
        case("layernorm", &[&[3, 6]], |t| t[0].layernorm(-1, 1e-5), |r| layernorm_ref(&r[0])),
        case(
            "conv2d",
            &[&[1, 2, 5, 5], &[3, 2, 3, 3]],
            |t| t[0].conv2d(&t[1], None, 1, 1),
            |r| conv_ref(&r[0], &r[1], 1, 1),
        ),
        case(
            "conv2d stride 2",
            &[&[2, 1, 5, 4], &[2, 1, 2, 2]],
            |t| t[0].conv2d(&t[1], None, 2, 0),
            |r| conv_ref(&r[0], &r[1], 2, 0),
        ),
        case(
            "causal attention",
            &[&[3, 4], &[3, 4], &[3, 2]],
            |t| t[0].scaled_dot_product_attention(&t[1], &t[2], true),
            |r| {
                let scores = r[0].matmul(&r[1].permute(&[1, 0])).map(|s| s / 2.0);
                let masked =
                    Reference::generate(&[3, 3], |i| if i[1] <= i[0] { scores.at(i) } else { f64::NEG_INFINITY });
                softmax_ref(&masked).matmul(&r[2])
            },
        ),
        case(
            "cross_entropy",
            &[&[4, 3]],
            |t| nn::cross_entropy(&t[0], &Tensor::from_slice_on(&[2i32, 0, 1, 2], &[4], &t[0].device())?),
            |r| {
                let logp = softmax_ref(&r[0]).map(f64::ln);
                let picked: f64 = [2usize, 0, 1, 2].iter().enumerate().map(|(i, &y)| logp.at(&[i, y])).sum();
                Reference::new(vec![-picked / 4.0], &[])
            },
        ),
    ])
}
