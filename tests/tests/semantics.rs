//! PyTorch semantics where C would differ or be undefined, on every device under test: NaN propagates
//! through maximum, minimum, clamp, relu and max/min reductions; `abs(-0.0)` is `+0.0`; float-to-int
//! casts saturate (NaN gives 0), integer arithmetic wraps; long float sums stay accurate.

use kiln::{DType, Device, Tensor};
use kiln_conformance::{devices, read, skip};

fn floats(device: &Device, data: &[f64], dtype: DType) -> kiln::Result<Tensor> {
    Tensor::from_slice_on(data, &[data.len()], device)?.cast(dtype)
}

fn all_nan_where(got: &[f64], want_nan: &[bool]) -> bool {
    got.iter().zip(want_nan).all(|(g, &n)| g.is_nan() == n)
}

#[test]
fn nan_propagates_through_max_min_clamp_relu() -> kiln::Result<()> {
    let nan = f64::NAN;
    for device in devices() {
        for dtype in [DType::F32, DType::F16, DType::BF16, DType::F64] {
            let what = |op: &str| format!("{op} {dtype} on {}", device.name());
            let a = floats(&device, &[nan, 1.0, nan, -2.0], dtype)?;
            let b = floats(&device, &[0.0, nan, nan, 3.0], dtype)?;
            let both = [true, true, true, false];
            assert!(all_nan_where(&read(&a.maximum(&b)?)?, &both), "{}", what("maximum"));
            assert!(all_nan_where(&read(&a.minimum(&b)?)?, &both), "{}", what("minimum"));
            assert!(all_nan_where(&read(&b.minimum(&a)?)?, &both), "{}", what("minimum swapped"));
            let first = [true, false, true, false];
            assert!(all_nan_where(&read(&a.clamp(0.0, 0.5)?)?, &first), "{}", what("clamp"));
            assert!(all_nan_where(&read(&a.relu()?)?, &first), "{}", what("relu"));
            assert!(all_nan_where(&read(&a.abs()?)?, &first), "{}", what("abs"));
            let rows = floats(&device, &[1.0, nan, 3.0, 4.0, 5.0, 6.0], dtype)?.reshape(&[2, 3])?;
            assert!(all_nan_where(&read(&rows.max(&[1], false)?)?, &[true, false]), "{}", what("max reduce"));
            assert!(all_nan_where(&read(&rows.min(&[1], false)?)?, &[true, false]), "{}", what("min reduce"));
            let cmp = |t: kiln::Result<Tensor>| -> kiln::Result<Vec<bool>> { t?.to_vec::<bool>() };
            let zero = floats(&device, &[0.0; 4], dtype)?;
            assert_eq!(cmp(a.le(&zero))?, vec![false, false, false, true], "{}", what("le"));
            assert_eq!(cmp(a.ge(&zero))?, vec![false, true, false, false], "{}", what("ge"));
        }
    }
    Ok(())
}

#[test]
fn abs_of_negative_zero_is_positive_zero() -> kiln::Result<()> {
    for device in devices() {
        for dtype in [DType::F32, DType::F16, DType::F64] {
            let got = read(&floats(&device, &[-0.0, 0.0, -1.5], dtype)?.abs()?)?;
            assert!(got[0] == 0.0 && got[0].is_sign_positive(), "abs(-0.0) = {} ({dtype})", got[0]);
            assert!(got[1].is_sign_positive() && got[2] == 1.5, "{got:?}");
        }
    }
    Ok(())
}

#[test]
fn float_to_int_casts_saturate_and_nan_is_zero() -> kiln::Result<()> {
    let data = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 3e9, -3e9, 1e20, -1e20, -1.9, 1.9, 300.7, -0.5];
    for device in devices() {
        for from in [DType::F64, DType::F32, DType::F16] {
            let src = floats(&device, &data, from)?;
            for to in [DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U16, DType::U32, DType::U64] {
                let got = src.cast(to)?.cast(DType::F64)?.to_vec::<f64>()?;
                // The source rounded to `from` first (3e9 is not an f16: it is +inf there).
                let rounded = read(&src)?;
                let want: Vec<f64> = rounded.iter().map(|&x| expect_one(x, to)).collect();
                assert_eq!(got, want, "cast {from} -> {to} of {rounded:?} on {}", device.name());
            }
        }
    }
    Ok(())
}

/// Rust's `as` (saturating, NaN to 0) for one value.
fn expect_one(x: f64, to: DType) -> f64 {
    match to {
        DType::I8 => f64::from(x as i8),
        DType::I16 => f64::from(x as i16),
        DType::I32 => f64::from(x as i32),
        DType::I64 => x as i64 as f64,
        DType::U8 => f64::from(x as u8),
        DType::U16 => f64::from(x as u16),
        DType::U32 => f64::from(x as u32),
        _ => x as u64 as f64,
    }
}

#[test]
fn integer_arithmetic_wraps_and_negative_to_unsigned_wraps() -> kiln::Result<()> {
    for device in devices() {
        let name = device.name();
        let a = Tensor::from_slice_on(&[i32::MAX, i32::MIN, 65_536, -7], &[4], &device)?;
        let one = Tensor::from_slice_on(&[1i32, -1, 65_536, 3], &[4], &device)?;
        assert_eq!(a.add(&one)?.to_vec::<i32>()?, vec![i32::MIN, i32::MAX, 131_072, -4], "add on {name}");
        assert_eq!(a.mul(&one)?.to_vec::<i32>()?, vec![i32::MAX, i32::MIN, 0, -21], "mul on {name}");
        assert_eq!(a.neg()?.to_vec::<i32>()?, vec![-i32::MAX, i32::MIN, -65_536, 7], "neg on {name}");
        let b = Tensor::from_slice_on(&[i64::MAX, i64::MIN], &[2], &device)?;
        let c = Tensor::from_slice_on(&[1i64, -1], &[2], &device)?;
        assert_eq!(b.add(&c)?.to_vec::<i64>()?, vec![i64::MIN, i64::MAX], "i64 add on {name}");
        // Integer to integer casts keep the low bits (two's complement), as PyTorch and C do.
        let neg = Tensor::from_slice_on(&[-1i32, -256, 300, -129], &[4], &device)?;
        assert_eq!(neg.cast(DType::U8)?.to_vec::<u8>()?, vec![255, 0, 44, 127], "i32->u8 on {name}");
        assert_eq!(neg.cast(DType::I8)?.to_vec::<i8>()?, vec![-1, 0, 44, 127], "i32->i8 on {name}");
        assert_eq!(neg.cast(DType::U32)?.to_vec::<u32>()?, vec![u32::MAX, 4_294_967_040, 300, 4_294_967_167]);
    }
    Ok(())
}

/// A float reduction the device refuses for its loop limit (llvmpipe) is a counted skip, not a pass.
fn reduced(test: &str, what: &str, t: kiln::Result<Tensor>) -> kiln::Result<Option<Vec<f64>>> {
    match t.and_then(|t| read(&t)) {
        Err(e) if e.to_string().contains("llvmpipe") => {
            skip(test, what, &e.to_string());
            Ok(None)
        }
        other => other.map(Some),
    }
}

#[test]
fn long_sums_and_means_are_accurate() -> kiln::Result<()> {
    const TEST: &str = "long_sums_and_means_are_accurate";
    for device in devices() {
        let name = device.name();
        // 2^22 copies of 0.1f32: a serial f32 accumulator gives 402,740 (4% off).
        let tenth = Tensor::full_on(&[1 << 22], 0.1, DType::F32, &device)?;
        let exact = f64::from(0.1f32) * f64::from(1u32 << 22);
        if let Some(got) = reduced(TEST, &format!("sum of 0.1 on {name}"), tenth.sum(&[], false))? {
            assert!((got[0] - exact).abs() <= 1e-6 * exact, "sum of 2^22 x 0.1 on {name}: {} vs {exact}", got[0]);
        }
        // Mean of 2^24 benign values, against the f64 sum of the same f32 values.
        let n = 1usize << 24;
        let values: Vec<f32> = (0..n).map(|i| ((i as u64 * 2_654_435_761) % 1000) as f32 * 1e-3 + 0.5).collect();
        let exact = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let t = Tensor::from_slice_on(&values, &[4096, 4096], &device)?;
        if let Some(got) = reduced(TEST, &format!("mean of 2^24 on {name}"), t.mean(&[], false))? {
            assert!((got[0] - exact).abs() <= 1e-6 * exact, "mean of 2^24 on {name}: {} vs {exact}", got[0]);
        }
        // f16 sums accumulate in f32 (a half accumulator stops growing at 2048 + 1 = 2048).
        let halves = Tensor::full_on(&[4096], 1.0, DType::F16, &device)?;
        if let Some(got) = reduced(TEST, &format!("f16 sum on {name}"), halves.sum(&[], false))? {
            assert_eq!(got, vec![4096.0], "f16 sum on {name}");
        }
    }
    Ok(())
}
