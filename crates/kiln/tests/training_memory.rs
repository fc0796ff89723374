//! A training loop runs in flat memory: 10,000 steps of forward, backward and an optimiser step (with
//! momentum state, assigned in place, and a learning rate that changes every step) leave live UOps,
//! live buffers and the resident set where they were after warm-up. Alone in its file, so no other
//! test's graphs are counted.

use kiln::{nn, optim, Device, Tensor};

#[test]
fn ten_thousand_training_steps_run_in_flat_memory() -> kiln::Result<()> {
    let d = Device::default_device()?;
    let x = Tensor::from_slice_on(&[0.5f32, -1.0, 2.0, 1.5, 0.0, -0.5], &[3, 2], &d)?;
    let y = Tensor::from_slice_on(&[1i32, 0, 1], &[3], &d)?;
    let model = nn::Linear::new(2, 2)?;
    let mut opt = optim::SGD::new(model.parameters(), 0.1)?.momentum(0.9)?;
    let schedule = optim::CosineLr { base: 0.1, min: 0.01, total: 20_000 };
    let mut step = |i: usize| -> kiln::Result<f32> {
        opt.set_lr(optim::LrSchedule::lr(&schedule, i));
        opt.zero_grad();
        let loss = nn::cross_entropy(&model.forward(&x)?, &y)?;
        loss.backward()?;
        opt.step_with(&[&loss])?;
        Ok(loss.to_vec::<f32>()?[0])
    };
    let first = step(0)?;
    for i in 1..500 {
        step(i)?;
    }
    let (uops, buffers, rss) = (kiln_uop::live_uops(), kiln_runtime::live_buffers(), kiln_testkit::resident_bytes());
    let mut last = first;
    for i in 500..10_500 {
        last = step(i)?;
    }
    let (uops_after, buffers_after, rss_after) =
        (kiln_uop::live_uops(), kiln_runtime::live_buffers(), kiln_testkit::resident_bytes());
    assert!(last < first, "the loss falls: {first} -> {last}");
    assert_eq!(buffers_after, buffers, "live buffers");
    assert!(uops_after <= uops + 64, "live UOps grew from {uops} to {uops_after}");
    assert!(rss_after <= rss + (16 << 20), "resident memory grew from {rss} to {rss_after} bytes");
    Ok(())
}
