//! Scalars are kernel parameters: a loop over changing scalars compiles each kernel once.

use kiln::{Device, Tensor};

#[test]
fn a_loop_over_twenty_scalars_compiles_each_kernel_once() -> kiln::Result<()> {
    let d = Device::default_device()?;
    let x = Tensor::from_slice_on(&[1.0f32, -2.0, 4.0], &[3], &d)?;
    kiln_runtime::set_profiling(true);
    kiln_runtime::take_phases();
    for i in 0..20 {
        let s = 0.5 + f64::from(i) * 0.25;
        let y = (&(&x * s)? + s)?.clamp(-s, s)?;
        let want: Vec<f32> =
            [1.0f32, -2.0, 4.0].iter().map(|v| (v * s as f32 + s as f32).clamp(-s as f32, s as f32)).collect();
        assert_eq!(y.to_vec::<f32>()?, want, "scale {s}");
    }
    let phases = kiln_runtime::take_phases();
    kiln_runtime::set_profiling(false);
    assert_eq!(phases.kernels, 20, "one kernel per step");
    assert_eq!(phases.compiled, 1, "the kernel is compiled once, not once per scalar");
    Ok(())
}
