//! Flat memory: building, realizing and dropping 100,000 varied graphs (shapes, ops and scalars change
//! every step) returns live UOps, live buffers and the resident set to their baseline. Alone in its
//! file, so no other test's graphs are counted.

use kiln::{DType, Device, Tensor};

const SHAPES: [&[usize]; 6] = [&[7], &[3, 5], &[2, 3, 4], &[16], &[4, 1, 6], &[9, 2]];

/// One step's graph: ops chosen by `i`, a scalar from a small set, realized every 25th step.
fn step(d: &Device, i: usize) -> kiln::Result<()> {
    let shape = SHAPES[i % SHAPES.len()];
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|k| (k + i % 13) as f32 * 0.25 - 1.0).collect();
    let x = Tensor::from_slice_on(&data, shape, d)?;
    let s = 0.5 + (i % 16) as f64;
    let y = match (i / SHAPES.len()) % 8 {
        0 => (&x * s)?.relu()?,
        1 => (&x + s)?.exp()?.sum(&[-1], true)?,
        2 => x.sigmoid()?.mul(&x)?,
        3 => x.max(&[], false)?,
        4 => (&x - s)?.abs()?.sqrt()?,
        5 => x.softmax(-1)?,
        6 => x.cast(DType::F16)?.tanh()?.cast(DType::F32)?,
        _ => x.reshape(&[-1])?.flip(&[0])?.mean(&[], false)?,
    };
    if i.is_multiple_of(25) {
        y.realize()?;
    }
    Ok(())
}

#[test]
fn a_hundred_thousand_varied_graphs_run_in_flat_memory() -> kiln::Result<()> {
    let d = Device::default_device()?;
    // Warm-up fills every bounded cache (kernels, scalars, simplifier) with this workload's entries.
    for i in 0..5_000 {
        step(&d, i)?;
    }
    let (uops, buffers, rss) = (kiln_uop::live_uops(), kiln_runtime::live_buffers(), kiln_testkit::resident_bytes());
    for i in 0..100_000 {
        step(&d, i)?;
    }
    let (uops_after, buffers_after, rss_after) =
        (kiln_uop::live_uops(), kiln_runtime::live_buffers(), kiln_testkit::resident_bytes());
    assert_eq!(buffers_after, buffers, "live buffers");
    assert!(uops_after <= uops + 64, "live UOps grew from {uops} to {uops_after}");
    assert!(rss_after <= rss + (16 << 20), "resident memory grew from {rss} to {rss_after} bytes");
    Ok(())
}
