//! Autograd unit tests: the contract calls, accumulation, `no_grad`, errors, and graph depth.

use crate::{no_grad, DType, Device, Tensor};

fn cpu() -> Device {
    Device::cpu().unwrap()
}

#[test]
fn gradient_of_a_sum_of_squares_is_twice_the_input() -> crate::Result<()> {
    let x = Tensor::from_slice_on(&[1.0f32, -2.0, 3.0], &[3], &cpu())?;
    let g = x.mul(&x)?.sum(&[], false)?.gradient(&[&x])?;
    assert_eq!(g[0].to_vec::<f32>()?, vec![2.0, -4.0, 6.0]);
    Ok(())
}

#[test]
fn backward_fills_and_accumulates_grads_of_marked_leaves() -> crate::Result<()> {
    let d = cpu();
    let w = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
    let x = Tensor::from_slice_on(&[3.0f32, 4.0], &[2], &d)?;
    w.set_requires_grad(true);
    let loss = || w.mul(&x)?.sum(&[], false);
    loss()?.backward()?;
    assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![3.0, 4.0]);
    assert!(x.grad().is_none(), "x does not require grad");
    loss()?.backward()?;
    assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![6.0, 8.0]);
    w.zero_grad();
    assert!(w.grad().is_none());
    Ok(())
}

#[test]
fn no_grad_values_are_constants() -> crate::Result<()> {
    let d = cpu();
    let w = Tensor::from_slice_on(&[2.0f32], &[1], &d)?;
    w.set_requires_grad(true);
    let frozen = no_grad(|| &w * 3.0)?;
    let loss = w.mul(&frozen)?.sum(&[], false)?;
    loss.backward()?;
    // d(w * c)/dw with c = 3w held constant is c = 6, not 12.
    assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![6.0]);
    Ok(())
}

#[test]
fn gradients_survive_an_assign_to_their_leaf() -> crate::Result<()> {
    let d = cpu();
    let w = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
    let g = w.mul(&w)?.sum(&[], false)?.gradient(&[&w])?.remove(0);
    w.assign(&Tensor::from_slice_on(&[5.0f32, 5.0], &[2], &d)?)?;
    assert_eq!(g.to_vec::<f32>()?, vec![2.0, 4.0]);
    Ok(())
}

#[test]
fn bad_gradient_calls_are_errors() -> crate::Result<()> {
    let d = cpu();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
    let unused = Tensor::from_slice_on(&[1.0f32], &[1], &d)?;
    assert!(x.mul(&x)?.gradient(&[&x]).is_err(), "output of two elements");
    assert!(x.sum(&[], false)?.gradient(&[&unused]).is_err(), "unused target");
    assert!(x.sum(&[], false)?.backward().is_err(), "nothing requires grad");
    let s = x.sum(&[], false)?.realize()?;
    assert!(s.gradient(&[&x]).is_err(), "realized output");
    let i = Tensor::from_slice_on(&[1i32, 2], &[2], &d)?;
    assert!(i.sum(&[], false)?.gradient(&[&i]).is_err(), "integer output");
    Ok(())
}

#[test]
fn gradient_of_a_hundred_thousand_op_chain() -> crate::Result<()> {
    let x = Tensor::from_slice_on(&[1.0f32], &[1], &cpu())?;
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.add(&x)?;
    }
    let g = y.sum(&[], false)?.gradient(&[&x])?;
    assert_eq!(g[0].to_vec::<f32>()?, vec![100_001.0]);
    Ok(())
}

#[test]
fn half_precision_gradients_keep_their_dtype() -> crate::Result<()> {
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &cpu())?.cast(DType::F16)?.realize()?;
    let g = x.mul(&x)?.sum(&[], false)?.gradient(&[&x])?;
    assert_eq!(g[0].dtype(), DType::F16);
    assert_eq!(g[0].cast(DType::F32)?.to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
    Ok(())
}
