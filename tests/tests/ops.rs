//! Conformance of every frontend op against the f64 reference, on every device under test
//! (`KILN_TEST_DEVICES`), across dtypes and edge shapes (size 0, size 1, odd sizes, broadcasting,
//! non-contiguous views).

use kiln::{DType, Tensor};
use kiln_conformance::{assert_close, devices, read, representable, sample, Reference};

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];
const SHAPES: [&[usize]; 5] = [&[0], &[1], &[7], &[3, 5], &[2, 3, 4]];

type UnaryCase = (&'static str, fn(&Tensor) -> kiln::Result<Tensor>, fn(f64) -> f64, fn(f64) -> f64);

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044_715 * x * x * x)).tanh())
}

/// Unary float ops: (name, op, input transform keeping the domain valid, reference).
const UNARY: [UnaryCase; 16] = [
    ("neg", Tensor::neg, |x| x, |x| -x),
    ("exp", Tensor::exp, |x| x, f64::exp),
    ("exp2", Tensor::exp2, |x| x, f64::exp2),
    ("log", Tensor::log, |x| x.abs() + 0.5, f64::ln),
    ("log2", Tensor::log2, |x| x.abs() + 0.5, f64::log2),
    ("sqrt", Tensor::sqrt, f64::abs, f64::sqrt),
    ("rsqrt", Tensor::rsqrt, |x| x.abs() + 0.5, |x| 1.0 / x.sqrt()),
    ("reciprocal", Tensor::reciprocal, |x| x.abs() + 0.5, |x| 1.0 / x),
    ("sin", Tensor::sin, |x| x, f64::sin),
    ("cos", Tensor::cos, |x| x, f64::cos),
    ("relu", Tensor::relu, |x| x, |x| x.max(0.0)),
    ("sigmoid", Tensor::sigmoid, |x| x, sigmoid),
    ("tanh", Tensor::tanh, |x| x, f64::tanh),
    ("gelu", Tensor::gelu, |x| x, gelu),
    ("abs", Tensor::abs, |x| x, f64::abs),
    ("square", Tensor::square, |x| x, |x| x * x),
];

#[test]
fn unary_ops_match_reference() -> kiln::Result<()> {
    for device in devices() {
        for (name, op, domain, reference) in UNARY {
            for dtype in FLOATS {
                for shape in SHAPES {
                    let (base, _) = sample(shape, dtype, 1, &device)?;
                    let input = base.map(|x| representable(domain(x), dtype));
                    let t = kiln_conformance::tensor(&input.data, shape, dtype, &device)?;
                    let got = read(&op(&t)?)?;
                    let want = input.map(reference);
                    let tol = dtype;
                    assert_close(&format!("{name} {shape:?} on {}", device.name()), &got, &want, tol);
                }
            }
        }
    }
    Ok(())
}

type BinaryCase = (&'static str, fn(&Tensor, &Tensor) -> kiln::Result<Tensor>, fn(f64, f64) -> f64);

const BINARY: [BinaryCase; 12] = [
    ("add", Tensor::add, |a, b| a + b),
    ("sub", Tensor::sub, |a, b| a - b),
    ("mul", Tensor::mul, |a, b| a * b),
    ("maximum", Tensor::maximum, f64::max),
    ("minimum", Tensor::minimum, f64::min),
    ("lt", Tensor::lt, |a, b| f64::from(u8::from(a < b))),
    ("gt", Tensor::gt, |a, b| f64::from(u8::from(a > b))),
    ("le", Tensor::le, |a, b| f64::from(u8::from(a <= b))),
    ("ge", Tensor::ge, |a, b| f64::from(u8::from(a >= b))),
    ("eq", Tensor::eq, |a, b| f64::from(u8::from(a == b))),
    ("ne", Tensor::ne, |a, b| f64::from(u8::from(a != b))),
    ("div", Tensor::div, |a, b| a / b),
];

const BROADCASTS: [(&[usize], &[usize]); 5] =
    [(&[7], &[7]), (&[3, 1], &[1, 4]), (&[5], &[2, 5]), (&[0, 3], &[1, 3]), (&[2, 1, 3], &[4, 1])];

#[test]
fn binary_ops_broadcast_and_match_reference() -> kiln::Result<()> {
    let dtypes = [DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8, DType::I8];
    for device in devices() {
        for (name, op, reference) in BINARY {
            for dtype in dtypes {
                for (sa, sb) in BROADCASTS {
                    let (ra, a) = sample(sa, dtype, 2, &device)?;
                    let (mut rb, mut b) = sample(sb, dtype, 3, &device)?;
                    if name == "div" {
                        // Keep divisors away from zero.
                        rb = rb.map(|x| if x.abs() < 0.5 { 1.0 } else { x });
                        b = kiln_conformance::tensor(&rb.data, sb, dtype, &device)?;
                    }
                    let out = op(&a, &b)?;
                    let want = ra.zip(&rb, reference);
                    let out_dtype = if name == "div" && !dtype.is_float() { DType::F32 } else { dtype };
                    let want =
                        if out.dtype() == DType::Bool || name == "div" { want } else { want.map(|x| wrap(x, dtype)) };
                    assert_eq!(out.shape(), want.shape, "{name} shape");
                    let tol = out_dtype;
                    assert_close(
                        &format!("{name} {sa:?}x{sb:?} {dtype} on {}", device.name()),
                        &read(&out)?,
                        &want,
                        tol,
                    );
                }
            }
        }
    }
    Ok(())
}

/// Integer results wrap like the device's fixed-width arithmetic; floats round to the dtype.
fn wrap(x: f64, dtype: DType) -> f64 {
    match dtype {
        DType::U8 => f64::from((x as i64).rem_euclid(256) as u8),
        DType::I8 => f64::from(x as i64 as i8),
        _ => representable(x, dtype),
    }
}

#[test]
fn where_and_scalar_operators() -> kiln::Result<()> {
    for device in devices() {
        let (rc, c) = sample(&[3, 4], DType::F32, 4, &device)?;
        let (ra, a) = sample(&[3, 1], DType::F32, 5, &device)?;
        let (rb, b) = sample(&[4], DType::F32, 6, &device)?;
        let out = c.gt(&c.full_like(0.0, DType::F32)?)?.where_(&a, &b)?;
        let picked = Reference::generate(&[3, 4], |i| if rc.at(i) > 0.0 { ra.at(&[i[0], 0]) } else { rb.at(&[i[1]]) });
        assert_close("where_", &read(&out)?, &picked, DType::F32);
        let scaled = (&(&a * 2.0)? + 1.0)?;
        assert_close("a*2+1", &read(&scaled)?, &ra.map(|x| representable(x * 2.0 + 1.0, DType::F32)), DType::F32);
        let negated = (-&a)?;
        assert_close("-a", &read(&negated)?, &ra.map(|x| -x), DType::F32);
    }
    Ok(())
}

type ReduceCase = (&'static str, fn(&Tensor, &[isize], bool) -> kiln::Result<Tensor>, f64, fn(f64, f64) -> f64);

#[test]
fn reductions_over_axes_with_keepdim() -> kiln::Result<()> {
    let cases: [ReduceCase; 3] = [
        ("sum", Tensor::sum, 0.0, |a, b| a + b),
        ("max", Tensor::max, f64::NEG_INFINITY, f64::max),
        ("min", Tensor::min, f64::INFINITY, f64::min),
    ];
    let shapes: [(&[usize], &[isize]); 7] = [
        (&[2, 3, 4], &[1]),
        (&[2, 3, 4], &[0, 2]),
        (&[2, 3, 4], &[]),
        (&[7, 13], &[-1]),
        (&[1], &[0]),
        (&[4, 0], &[0]),
        (&[5, 1, 3], &[1]),
    ];
    for device in devices() {
        for (name, op, init, f) in cases {
            for dtype in [DType::F32, DType::F16, DType::I32, DType::U8] {
                for (shape, axes) in shapes {
                    let (r, t) = sample(shape, dtype, 7, &device)?;
                    let resolved: Vec<usize> = if axes.is_empty() {
                        (0..shape.len()).collect()
                    } else {
                        axes.iter()
                            .map(|&a| if a < 0 { (a + shape.len() as isize) as usize } else { a as usize })
                            .collect()
                    };
                    for keepdim in [true, false] {
                        if name != "sum" && resolved.iter().any(|&a| shape[a] == 0) {
                            continue; // max/min of nothing has no value (PyTorch errors too)
                        }
                        let out = op(&t, axes, keepdim)?;
                        let want = r.reduce(&resolved, init, f);
                        let kept: Vec<usize> = if keepdim {
                            want.shape.clone()
                        } else {
                            shape.iter().enumerate().filter(|(i, _)| !resolved.contains(i)).map(|(_, &d)| d).collect()
                        };
                        assert_eq!(out.shape(), kept, "{name} {shape:?} {axes:?} keepdim={keepdim}");
                        let want = want.reshape(&kept).map(|x| wrap(x, dtype));
                        let tol = if name == "sum" && dtype == DType::F16 { DType::BF16 } else { dtype };
                        assert_close(
                            &format!("{name} {shape:?} axes {axes:?} {dtype} on {}", device.name()),
                            &read(&out)?,
                            &want,
                            tol,
                        );
                    }
                }
            }
        }
        let (r, t) = sample(&[3, 4], DType::F32, 8, &device)?;
        let mean = t.mean(&[1], false)?;
        assert_close(
            "mean",
            &read(&mean)?,
            &r.reduce(&[1], 0.0, |a, b| a + b).reshape(&[3]).map(|x| x / 4.0),
            DType::F32,
        );
    }
    Ok(())
}

#[test]
fn movement_ops_on_views() -> kiln::Result<()> {
    for device in devices() {
        for dtype in [DType::F32, DType::I32, DType::F16] {
            let (r, t) = sample(&[2, 3, 4], dtype, 9, &device)?;
            let check = |what: &str, got: &Tensor, want: &Reference| -> kiln::Result<()> {
                assert_eq!(got.shape(), want.shape, "{what} shape");
                assert_close(&format!("{what} {dtype} on {}", device.name()), &read(got)?, want, dtype);
                Ok(())
            };
            check("reshape", &t.reshape(&[4, -1])?, &r.reshape(&[4, 6]))?;
            check("permute", &t.permute(&[2, 0, 1])?, &r.permute(&[2, 0, 1]))?;
            check("transpose", &t.transpose(0, -1)?, &r.permute(&[2, 1, 0]))?;
            check(
                "expand",
                &t.shrink(&[(0, 2), (1, 2), (0, 4)])?.expand(&[2, 5, 4])?,
                &r.shrink(&[(0, 2), (1, 2), (0, 4)]).expand(&[2, 5, 4]),
            )?;
            check("pad", &t.pad(&[(1, 0), (0, 2), (1, 1)])?, &r.pad(&[(1, 0), (0, 2), (1, 1)]))?;
            check("shrink", &t.shrink(&[(1, 2), (0, 3), (1, 3)])?, &r.shrink(&[(1, 2), (0, 3), (1, 3)]))?;
            check("flip", &t.flip(&[0, 2])?, &r.flip(&[0, 2]))?;
            let only_padding = [(0, 2), (0, 3), (4, 6)];
            check(
                "shrink into padding",
                &t.pad(&[(0, 0), (0, 0), (0, 2)])?.shrink(&only_padding)?,
                &r.pad(&[(0, 0), (0, 0), (0, 2)]).shrink(&only_padding),
            )?;
            let chained = t.permute(&[1, 0, 2])?.flip(&[1])?.pad(&[(0, 1), (2, 0), (0, 0)])?.reshape(&[-1])?;
            check("chain", &chained, &r.permute(&[1, 0, 2]).flip(&[1]).pad(&[(0, 1), (2, 0), (0, 0)]).reshape(&[64]))?;
            let noncontig = t.permute(&[2, 1, 0])?.add(&t.permute(&[2, 1, 0])?)?;
            check("non-contiguous add", &noncontig, &r.permute(&[2, 1, 0]).map(|x| wrap(2.0 * x, dtype)))?;
        }
    }
    Ok(())
}

#[test]
fn casts_between_dtypes() -> kiln::Result<()> {
    for device in devices() {
        let data = [-2.75, -1.5, -0.25, 0.0, 0.5, 1.25, 3.75];
        let t = kiln::Tensor::from_slice_on(&data, &[7], &device)?;
        let r = Reference::new(data.to_vec(), &[7]);
        for dtype in kiln::DType::ALL_TENSOR {
            // Negative floats saturate to 0 in unsigned types (see the semantics tests).
            let want = r.map(|x| representable(if dtype.is_unsigned() { x.max(0.0) } else { x }, dtype));
            assert_close(&format!("cast f64->{dtype}"), &read(&t.cast(dtype)?)?, &want, dtype);
        }
        let ints = kiln::Tensor::from_slice_on(&[3i32, -4, 0], &[3], &device)?;
        assert_eq!(ints.cast(DType::F32)?.to_vec::<f32>()?, vec![3.0, -4.0, 0.0]);
        assert_eq!(ints.cast(DType::Bool)?.to_vec::<bool>()?, vec![true, true, false]);
    }
    Ok(())
}

#[test]
fn matmul_softmax_layernorm() -> kiln::Result<()> {
    for device in devices() {
        for (n, k, m) in [(3, 4, 5), (1, 7, 1), (64, 64, 64), (5, 0, 2)] {
            let (ra, a) = sample(&[n, k], DType::F32, 10, &device)?;
            let (rb, b) = sample(&[k, m], DType::F32, 11, &device)?;
            let want = ra.matmul(&rb);
            let (atol, _) = kiln_conformance::tolerance(DType::F32);
            let got = read(&a.matmul(&b)?)?;
            assert_eq!(got.len(), want.data.len(), "matmul {n}x{k}x{m}: element count");
            for (g, w) in got.iter().zip(&want.data) {
                assert!((g - w).abs() <= atol * (k as f64 + 1.0) * 4.0, "matmul {n}x{k}x{m}: {g} vs {w}");
            }
        }
        let (ra, a) = sample(&[2, 3, 4], DType::F32, 12, &device)?;
        let (rb, b) = sample(&[4, 2], DType::F32, 13, &device)?;
        let batched = a.matmul(&b)?;
        assert_eq!(batched.shape(), vec![2, 3, 2]);
        let got = read(&batched)?;
        assert_eq!(got.len(), 12, "batched matmul: element count");
        for batch in 0..2 {
            let want = ra.shrink(&[(batch, batch + 1), (0, 3), (0, 4)]).reshape(&[3, 4]).matmul(&rb);
            assert_close(&format!("batched matmul, batch {batch}"), &got[batch * 6..][..6], &want, DType::F32);
        }

        for dtype in [DType::F32, DType::F16] {
            let (r, x) = sample(&[5, 9], dtype, 14, &device)?;
            let max = r.reduce(&[1], f64::NEG_INFINITY, f64::max);
            let e = r.zip(&max, |x, m| (x - m).exp());
            let s = e.reduce(&[1], 0.0, |a, b| a + b);
            assert_close("softmax", &read(&x.softmax(-1)?)?, &e.zip(&s, |a, b| a / b), dtype);
            let logs = r.zip(&max, |x, m| x - m).zip(&s, |y, s| y - s.ln());
            assert_close("log_softmax", &read(&x.log_softmax(1)?)?, &logs, dtype);
            let mean = r.reduce(&[1], 0.0, |a, b| a + b).map(|v| v / 9.0);
            let centered = r.zip(&mean, |x, m| x - m);
            let var = centered.map(|c| c * c).reduce(&[1], 0.0, |a, b| a + b).map(|v| v / 9.0);
            let ln = centered.zip(&var, |c, v| c / (v + 1e-5).sqrt());
            // f16 layernorm rounds to f16 after each of its steps: a chain, checked at bf16's looseness.
            let tol = if dtype == DType::F16 { DType::BF16 } else { dtype };
            assert_close("layernorm", &read(&x.layernorm(-1, 1e-5)?)?, &ln, tol);
        }
    }
    Ok(())
}

#[test]
fn creation_and_realize_all() -> kiln::Result<()> {
    for device in devices() {
        let z = kiln::Tensor::full_on(&[2, 3], 1.5, DType::F32, &device)?;
        assert_eq!(z.to_vec::<f32>()?, vec![1.5; 6]);
        let (ra, a) = sample(&[6], DType::F32, 15, &device)?;
        let (rb, b) = sample(&[6], DType::F32, 16, &device)?;
        let (rc, c) = sample(&[6], DType::F32, 17, &device)?;
        let (rd, d) = sample(&[6], DType::F32, 18, &device)?;
        let ab = a.add(&b)?;
        let (o1, o2) = (ab.add(&c)?, ab.add(&d)?);
        kiln::Tensor::realize_all(&[&o1, &o2])?;
        let rab = ra.zip(&rb, |x, y| representable(x + y, DType::F32));
        assert_close("seed out1", &read(&o1)?, &rab.zip(&rc, |x, y| representable(x + y, DType::F32)), DType::F32);
        assert_close("seed out2", &read(&o2)?, &rab.zip(&rd, |x, y| representable(x + y, DType::F32)), DType::F32);
        let c2 = a.exp()?.contiguous()?.add(&b)?;
        assert_close("contiguous", &read(&c2)?, &ra.zip(&rb, |x, y| x.exp() + y), DType::F32);
    }
    let e = kiln::Tensor::eye(3, DType::I32)?;
    assert_eq!(e.to_vec::<i32>()?, vec![1, 0, 0, 0, 1, 0, 0, 0, 1]);
    let r = kiln::Tensor::arange(0.0, 5.0, 2.0, DType::I64)?;
    assert_eq!(r.to_vec::<i64>()?, vec![0, 2, 4]);
    kiln::Tensor::manual_seed(3);
    let x = kiln::Tensor::rand(&[1000], DType::F32)?.to_vec::<f32>()?;
    assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
    kiln::Tensor::manual_seed(3);
    assert_eq!(kiln::Tensor::rand(&[1000], DType::F32)?.to_vec::<f32>()?, x);
    let n = kiln::Tensor::randn(&[10000], DType::F32)?.to_vec::<f32>()?;
    let mean = n.iter().map(|&v| f64::from(v)).sum::<f64>() / 1e4;
    assert!(mean.abs() < 0.05, "randn mean {mean}");
    Ok(())
}

#[test]
fn bad_input_is_an_error_naming_the_problem() -> kiln::Result<()> {
    let a = kiln::Tensor::zeros(&[2, 3], DType::F32)?;
    let b = kiln::Tensor::zeros(&[4], DType::F32)?;
    let msg = |r: kiln::Result<kiln::Tensor>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg(a.add(&b)).contains("add: incompatible shapes [2, 3] and [4]"));
    assert!(msg(a.sum(&[2], false)).contains("axis 2 is out of range"));
    assert!(msg(a.reshape(&[5])).contains("cannot reshape"));
    assert!(msg(a.permute(&[0, 0])).contains("not a permutation"));
    assert!(msg(a.matmul(&b)).contains("matmul"));
    assert!(msg(a.pad(&[(1, 1)])).contains("pad"));
    assert!(msg(a.shrink(&[(0, 3), (0, 1)])).contains("shrink"));
    assert!(msg(kiln::Tensor::from_slice(&[1.0f32, 2.0], &[3])).contains("from_slice"));
    assert!(a.to_vec::<i32>().is_err());
    assert!(msg(kiln::Tensor::zeros(&[2], DType::Bool)?.neg()).contains("neg"));
    match kiln::Device::cuda(99) {
        Err(e) => assert!(e.to_string().contains("CUDA"), "{e}"),
        Ok(_) => panic!("CUDA device 99 cannot exist"),
    }
    match kiln::Device::vulkan(4096) {
        Err(e) => assert!(e.to_string().contains("VULKAN"), "{e}"),
        Ok(_) => panic!("Vulkan device 4096 cannot exist"),
    }
    assert!(kiln::Device::by_name("tpu").is_err());
    Ok(())
}

#[test]
fn conv2d_and_attention() -> kiln::Result<()> {
    for device in devices() {
        for (stride, padding) in [(1, 1), (2, 0), (2, 1)] {
            let (rx, x) = sample(&[2, 3, 5, 6], DType::F32, 19, &device)?;
            let (rw, w) = sample(&[4, 3, 3, 2], DType::F32, 20, &device)?;
            let (rb, b) = sample(&[4], DType::F32, 21, &device)?;
            let out = x.conv2d(&w, Some(&b), stride, padding)?;
            let (oh, ow) = ((5 + 2 * padding - 3) / stride + 1, (6 + 2 * padding - 2) / stride + 1);
            let want = Reference::generate(&[2, 4, oh, ow], |i| {
                let mut acc = rb.at(&[i[1]]);
                for c in 0..3 {
                    for ki in 0..3 {
                        for kj in 0..2 {
                            let (y, z) = (
                                (i[2] * stride + ki) as isize - padding as isize,
                                (i[3] * stride + kj) as isize - padding as isize,
                            );
                            if (0..5).contains(&y) && (0..6).contains(&z) {
                                acc += rx.at(&[i[0], c, y as usize, z as usize]) * rw.at(&[i[1], c, ki, kj]);
                            }
                        }
                    }
                }
                acc
            });
            assert_eq!(out.shape(), want.shape, "conv2d shape");
            assert_close(&format!("conv2d stride {stride} pad {padding}"), &read(&out)?, &want, DType::F32);
        }
        let (rq, q) = sample(&[2, 5, 4], DType::F32, 22, &device)?;
        let (rk, k) = sample(&[2, 5, 4], DType::F32, 23, &device)?;
        let (rv, v) = sample(&[2, 5, 3], DType::F32, 24, &device)?;
        let out = q.scaled_dot_product_attention(&k, &v, true)?;
        let want = Reference::generate(&[2, 5, 3], |i| {
            let (b, t, e) = (i[0], i[1], i[2]);
            let scores: Vec<f64> =
                (0..=t).map(|s| (0..4).map(|d| rq.at(&[b, t, d]) * rk.at(&[b, s, d])).sum::<f64>() / 2.0).collect();
            let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scores.iter().map(|x| (x - m).exp()).sum();
            scores.iter().enumerate().map(|(s, x)| (x - m).exp() / z * rv.at(&[b, s, e])).sum()
        });
        assert_close("causal attention", &read(&out)?, &want, DType::F32);
        let bad = q.conv2d(&k, None, 1, 0);
        assert!(bad.is_err(), "conv2d of 3-D tensors is an error");
    }
    Ok(())
}
