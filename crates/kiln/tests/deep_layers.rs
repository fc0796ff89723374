//! No quadratic blow-up with depth: in a stack of `x = x + gelu(layernorm(x) @ w)` layers, each layer's
//! kernels read the stored residual stream instead of recomputing it from layer 0, so layers share
//! compiled kernels and a kernel's size does not grow with depth.

use kiln::{DType, Device, Tensor};

struct Stats {
    kernels: usize,
    compiled: usize,
    largest_kernel: usize,
}

fn run(layers: usize) -> kiln::Result<(Stats, Vec<f32>)> {
    let d = Device::default_device()?;
    Tensor::manual_seed(7);
    let mut x = Tensor::randn(&[8, 64], DType::F32)?;
    for _ in 0..layers {
        let w = (&Tensor::randn(&[64, 64], DType::F32)? * 0.05)?;
        x = x.add(&x.layernorm(-1, 1e-5)?.matmul(&w)?.gelu()?)?;
    }
    assert_eq!(x.device(), d);
    kiln_runtime::set_profiling(true);
    kiln_runtime::take_phases();
    let largest_kernel =
        kiln_schedule::schedule(&[x.uop()])?.kernels.iter().map(|k| k.ast.toposort().len()).max().unwrap_or(0);
    let out = x.to_vec::<f32>()?;
    let phases = kiln_runtime::take_phases();
    kiln_runtime::set_profiling(false);
    Ok((Stats { kernels: phases.kernels, compiled: phases.compiled, largest_kernel }, out))
}

#[test]
fn deep_stacks_share_kernels_and_keep_them_small() -> kiln::Result<()> {
    let (four, out4) = run(4)?;
    let (many, out64) = run(64)?;
    assert!(out4.iter().chain(&out64).all(|v| v.is_finite()));
    // 16 times the layers, at most 16 times the kernels (plus one per layer of slack).
    assert!(
        many.kernels <= (four.kernels + 4) * 16,
        "kernels grow linearly: {} for 4, {} for 64",
        four.kernels,
        many.kernels
    );
    assert!(
        many.compiled <= four.compiled * 2,
        "layers share kernels: {} compiled for 4, {} for 64",
        four.compiled,
        many.compiled
    );
    assert!(
        many.largest_kernel <= four.largest_kernel * 2,
        "kernel size does not grow with depth: {} nodes for 4 layers, {} for 64",
        four.largest_kernel,
        many.largest_kernel
    );
    Ok(())
}
