//! kiln quickstart: the seed case (`a+b+c` and `a+b+d` realized together), a softmax and a small
//! matmul on the best device present (`KILN_DEVICE=cpu|cuda|vulkan` to choose), with a per-kernel
//! table of device times. `KILN_DEBUG=2` also prints kernels and phase timings.

use kiln::{DType, Device, Tensor};

fn main() -> kiln::Result<()> {
    let device = Device::default_device()?;
    println!("kiln quickstart on {}", device.name());
    kiln_runtime::set_profiling(true);
    Tensor::manual_seed(0);

    let n = 1 << 20;
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| Tensor::arange(f64::from(i), f64::from(i) + n as f64, 1.0, DType::F32));
    let (a, b, c, d) = (a?, b?, c?, d?);
    let ab = a.add(&b)?;
    let (out1, out2) = (ab.add(&c)?, ab.add(&d)?);
    Tensor::realize_all(&[&out1, &out2])?;
    let (v1, v2) = (out1.to_vec::<f32>()?, out2.to_vec::<f32>()?);
    println!("seed case: out1[..4] = {:?}, out2[..4] = {:?}", &v1[..4], &v2[..4]);

    let x = Tensor::randn(&[4, 8], DType::F32)?;
    let s = x.softmax(-1)?;
    let row_sums = s.sum(&[1], false)?.to_vec::<f32>()?;
    println!("softmax of a 4x8 randn: row sums {row_sums:?}");

    let m = Tensor::rand(&[64, 64], DType::F32)?;
    let eye = Tensor::eye(64, DType::F32)?;
    let p = m.matmul(&eye)?;
    let diff = p.sub(&m)?.abs()?.max(&[], false)?.to_vec::<f32>()?;
    println!("matmul 64x64x64 against the identity: max |error| = {}", diff[0]);

    println!("\n{:<28} {:>12} {:>12}", "kernel", "elements", "time (us)");
    for launch in kiln_runtime::take_launches() {
        println!("{:<28} {:>12} {:>12.1}", launch.name, launch.global_size, launch.seconds * 1e6);
    }
    Ok(())
}
