//! `Jit` on the default device (`KILN_DEVICE` picks CUDA or Vulkan on a GPU machine): replays match
//! eager results over 1,000 steps of changing inputs, each misuse is refused with a clear error, outputs
//! outlive the jit and are never overwritten by a later call, and values the step reads are read anew.
//! (The jitted training step is in `jit_training.rs`, alone, so its buffer count sees no other test.)

use kiln::{DType, Device, Error, Jit, Tensor};

fn device() -> Device {
    Device::default_device().expect("a default device")
}

fn step(inputs: &[&Tensor]) -> kiln::Result<Vec<Tensor>> {
    let (x, y) = (inputs[0], inputs[1]);
    let h = (&(x * y)? + 1.0)?;
    let rows = h.sum(&[1], true)?;
    Ok(vec![h.relu()?, (&h - &rows)?.exp()?.sum(&[1], false)?])
}

fn host(x: &[f32], y: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let h: Vec<f32> = x.iter().zip(y).map(|(a, b)| a * b + 1.0).collect();
    let relu = h.iter().map(|v| v.max(0.0)).collect();
    let sums = h
        .chunks(8)
        .map(|r| {
            let s: f32 = r.iter().sum();
            r.iter().map(|v| (v - s).exp()).sum()
        })
        .collect();
    (relu, sums)
}

fn close(got: &[f32], want: &[f32]) {
    kiln_testkit::assert_close(got, want, 1e-5);
}

#[test]
fn a_thousand_replays_match_the_eager_results() -> kiln::Result<()> {
    let d = device();
    let mut jit = Jit::new(step);
    for i in 0..1000 {
        let x: Vec<f32> = (0..32).map(|j| ((i * 7 + j) % 13) as f32 * 0.1 - 0.6).collect();
        let y: Vec<f32> = (0..32).map(|j| ((i * 3 + j * 5) % 11) as f32 * 0.2 - 1.0).collect();
        let (tx, ty) = (Tensor::from_slice_on(&x, &[4, 8], &d)?, Tensor::from_slice_on(&y, &[4, 8], &d)?);
        let out = jit.call(&[&tx, &ty])?;
        let (relu, sums) = host(&x, &y);
        close(&out[0].to_vec::<f32>()?, &relu);
        close(&out[1].to_vec::<f32>()?, &sums);
        if i >= 2 {
            assert!(jit.kernels() >= 2, "the step's kernels are captured");
        }
    }
    Ok(())
}

#[test]
fn outputs_outlive_the_jit_and_later_calls() -> kiln::Result<()> {
    let d = device();
    let runs = std::cell::Cell::new(0);
    let mut jit = Jit::new(|i: &[&Tensor]| {
        runs.set(runs.get() + 1);
        Ok(vec![(i[0] * 2.0)?])
    });
    let mut kept = Vec::new();
    for v in 0..6 {
        let x = Tensor::from_slice_on(&[v as f32; 4], &[4], &d)?;
        kept.push(jit.call(&[&x])?.remove(0));
    }
    drop(jit);
    assert_eq!(runs.get(), 2, "the function runs on calls 1 and 2 only; later calls replay");
    for (v, t) in kept.iter().enumerate() {
        assert_eq!(t.to_vec::<f32>()?, vec![2.0 * v as f32; 4], "output of call {}", v + 1);
    }
    Ok(())
}

#[test]
fn misuse_is_refused_with_a_clear_error() -> kiln::Result<()> {
    let d = device();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &d)?;
    let y = Tensor::from_slice_on(&[1.0f32, 1.0, 1.0, 1.0], &[2, 2], &d)?;
    let mut jit = Jit::new(|i: &[&Tensor]| Ok(vec![(i[0] + i[1])?]));
    let refused = |r: kiln::Result<Vec<Tensor>>, what: &str| match r {
        Err(Error::Jit(msg)) => assert!(msg.contains(what), "{msg}"),
        Err(other) => panic!("expected a jit error about {what}, got {other}"),
        Ok(_) => panic!("expected a jit error about {what}"),
    };
    refused(jit.call(&[&x, &x]), "same buffer");
    refused(jit.call(&[&(&x + 1.0)?, &y]), "not realized");
    refused(jit.call(&[&x.transpose(0, 1)?, &y]), "not realized");
    for _ in 0..3 {
        assert_eq!(jit.call(&[&x, &y])?[0].to_vec::<f32>()?, vec![2.0, 3.0, 4.0, 5.0]);
    }
    let wide = Tensor::from_slice_on(&[1.0f32; 6], &[2, 3], &d)?;
    refused(jit.call(&[&wide, &wide.full_like(1.0, DType::F32)?.realize()?]), "captured with [2, 2]");
    let ints = Tensor::from_slice_on(&[1i32; 4], &[2, 2], &d)?;
    refused(jit.call(&[&ints, &y]), "i32");
    refused(jit.call(&[&x]), "1 inputs given");
    // Still replays after refusals.
    assert_eq!(jit.call(&[&y, &x])?[0].to_vec::<f32>()?, vec![2.0, 3.0, 4.0, 5.0]);

    let mut empty = Jit::new(|i: &[&Tensor]| Ok(vec![i[0].clone()]));
    empty.call(&[&x])?;
    refused(empty.call(&[&x]), "no kernels");

    let mut noisy =
        Jit::new(|i: &[&Tensor]| Ok(vec![(i[0] + &Tensor::rand(&[2, 2], DType::F32)?.to(&i[0].device())?)?]));
    noisy.call(&[&x])?;
    refused(noisy.call(&[&x]), "random numbers");
    Ok(())
}

#[test]
fn values_read_by_the_step_are_read_anew_at_each_replay() -> kiln::Result<()> {
    let d = device();
    let w = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
    let w2 = w.clone();
    let mut jit = Jit::new(move |i: &[&Tensor]| Ok(vec![(i[0] * &w2)?]));
    let x = Tensor::from_slice_on(&[3.0f32, 3.0], &[2], &d)?;
    for k in 0..5 {
        w.assign(&Tensor::from_slice_on(&[k as f32, 1.0], &[2], &d)?)?;
        assert_eq!(jit.call(&[&x])?[0].to_vec::<f32>()?, vec![3.0 * k as f32, 3.0]);
    }
    Ok(())
}

/// A jitted Adam step with a learning rate set before every call ends where the eager loop does: the
/// rate and the bias corrections are device values the replay reads, not numbers baked in at capture.
#[test]
fn a_jitted_adam_step_with_a_changing_rate_matches_eager() -> kiln::Result<()> {
    use kiln::optim::Adam;
    use std::cell::RefCell;
    let d = device();
    let xs: Vec<f32> = (0..24).map(|i| ((i * 29) % 13) as f32 / 13.0 - 0.5).collect();
    let ys: Vec<f32> = xs.chunks(3).map(|r| r[0] - r[1] + 0.5 * r[2]).collect();
    let (x, y) = (Tensor::from_slice_on(&xs, &[8, 3], &d)?, Tensor::from_slice_on(&ys, &[8, 1], &d)?);
    let rate = |k: usize| 0.05 / (1.0 + k as f64 * 0.1);
    let run = |jitted: bool| -> kiln::Result<Vec<f32>> {
        let w = Tensor::from_slice_on(&[0.1f32, 0.2, -0.1], &[3, 1], &d)?;
        let opt = RefCell::new(Adam::new(vec![w.clone()], rate(0))?);
        let step = |i: &[&Tensor]| -> kiln::Result<Vec<Tensor>> {
            let mut opt = opt.borrow_mut();
            opt.zero_grad();
            let err = (&i[0].matmul(&w)? - i[1])?;
            let loss = (&err * &err)?.mean(&[], false)?;
            loss.backward()?;
            opt.step_with(&[&loss])?;
            Ok(vec![loss])
        };
        let mut jit = Jit::new(step);
        for k in 0..40 {
            opt.borrow_mut().set_lr(rate(k));
            if jitted {
                jit.call(&[&x, &y])?;
            } else {
                step(&[&x, &y])?;
            }
        }
        w.to_vec::<f32>()
    };
    let (replayed, eager) = (run(true)?, run(false)?);
    assert_ne!(eager, vec![0.1f32, 0.2, -0.1], "the parameters moved");
    close(&replayed, &eager);
    Ok(())
}
