//! A jitted training step (the parameter assigned inside the step) ends where the eager loop does, in
//! flat memory. Alone in its file, so no other test's buffers are counted.

use kiln::{DType, Device, Jit, Tensor};

fn close(got: &[f32], want: &[f32]) {
    kiln_testkit::assert_close(got, want, 1e-5);
}

/// Gradient descent on a least-squares fit, jitted with the parameter assigned inside the step: the
/// replayed run ends where the eager one does, and live buffers stay flat.
#[test]
fn a_jitted_training_step_matches_eager_in_flat_memory() -> kiln::Result<()> {
    let d = Device::default_device()?;
    let xs: Vec<f32> = (0..64).map(|i| ((i * 37) % 17) as f32 / 17.0 - 0.5).collect();
    let ys: Vec<f32> = xs.chunks(4).map(|r| r[0] - 2.0 * r[1] + 0.5 * r[2] + r[3]).collect();
    let (x, y) = (Tensor::from_slice_on(&xs, &[16, 4], &d)?, Tensor::from_slice_on(&ys, &[16, 1], &d)?);
    let train = |w: &Tensor, x: &Tensor, y: &Tensor| -> kiln::Result<Tensor> {
        let err = (&x.matmul(w)? - y)?;
        let grad = x.transpose(0, 1)?.matmul(&err)?;
        let loss = (&err * &err)?.mean(&[], false)?;
        w.assign(&(w - &(&grad * 0.05)?)?)?;
        Ok(loss)
    };
    let eager = Tensor::zeros(&[4, 1], DType::F32)?.to(&d)?.realize()?;
    for _ in 0..300 {
        train(&eager, &x, &y)?;
    }
    let w = Tensor::zeros(&[4, 1], DType::F32)?.to(&d)?.realize()?;
    let w_step = w.clone();
    let mut jit = Jit::new(move |i: &[&Tensor]| Ok(vec![train(&w_step, i[0], i[1])?]));
    let mut buffers = 0;
    let mut first = None;
    let mut last = 0.0;
    for k in 0..300 {
        last = jit.call(&[&x, &y])?[0].to_vec::<f32>()?[0];
        first.get_or_insert(last);
        if k == 50 {
            buffers = kiln_runtime::live_buffers();
        }
    }
    assert!(
        kiln_runtime::live_buffers() <= buffers,
        "live buffers grew: {buffers} -> {}",
        kiln_runtime::live_buffers()
    );
    assert!(last < first.unwrap_or(0.0) * 0.01, "the loss falls: {first:?} -> {last}");
    close(&w.to_vec::<f32>()?, &eager.to_vec::<f32>()?);
    Ok(())
}
