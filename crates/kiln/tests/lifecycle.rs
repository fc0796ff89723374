//! Tensor lifecycle: realizing a tensor keeps every tensor built from it valid, whichever is realized
//! first, after their inputs are dropped, and from two threads at once; graphs of any depth build,
//! realize and drop.

use kiln::{DType, Device, Tensor};

fn device() -> Device {
    Device::default_device().expect("a device opens (KILN_DEVICE, else the best present)")
}

fn matmul_relu() -> kiln::Result<(Tensor, Tensor, Vec<f32>, Vec<f32>)> {
    let d = device();
    let x = Tensor::from_slice_on(&[1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3], &d)?;
    let w = Tensor::from_slice_on(&[1.0f32, -1.0, 0.5, 2.0, -3.0, 1.0], &[3, 2], &d)?;
    let h = x.matmul(&w)?;
    let y = h.relu()?;
    // x @ w by hand.
    let h_ref = vec![-9.0, -2.0, 16.5, 8.0];
    let y_ref = h_ref.iter().map(|v: &f32| v.max(0.0)).collect();
    Ok((h, y, h_ref, y_ref))
}

#[test]
fn realizing_a_parent_first_keeps_its_children_valid() -> kiln::Result<()> {
    let (h, y, h_ref, y_ref) = matmul_relu()?;
    assert_eq!(h.to_vec::<f32>()?, h_ref);
    assert_eq!(y.to_vec::<f32>()?, y_ref);
    Ok(())
}

#[test]
fn realizing_a_child_first_keeps_its_parent_valid() -> kiln::Result<()> {
    let (h, y, h_ref, y_ref) = matmul_relu()?;
    assert_eq!(y.to_vec::<f32>()?, y_ref);
    assert_eq!(h.to_vec::<f32>()?, h_ref);
    Ok(())
}

#[test]
fn grandchildren_survive_a_realized_middle_tensor() -> kiln::Result<()> {
    let (h, y, h_ref, y_ref) = matmul_relu()?;
    let z = y.mul(&y)?.add(&h)?;
    let w = z.sum(&[], false)?;
    y.realize()?;
    drop(y);
    let want: Vec<f32> = y_ref.iter().zip(&h_ref).map(|(a, b)| a * a + b).collect();
    assert_eq!(z.to_vec::<f32>()?, want);
    assert_eq!(w.to_vec::<f32>()?, vec![want.iter().sum::<f32>()]);
    assert_eq!(h.to_vec::<f32>()?, h_ref);
    Ok(())
}

#[test]
fn two_threads_realize_overlapping_graphs() -> kiln::Result<()> {
    for _ in 0..20 {
        let (h, y, h_ref, y_ref) = matmul_relu()?;
        let z = y.add(&h)?;
        let want: Vec<f32> = y_ref.iter().zip(&h_ref).map(|(a, b)| a + b).collect();
        let (h2, y2, z2) = (h.clone(), y.clone(), z.clone());
        let a = std::thread::spawn(move || -> kiln::Result<_> { Ok((h2.to_vec::<f32>()?, z2.to_vec::<f32>()?)) });
        let b = std::thread::spawn(move || y2.to_vec::<f32>());
        let (ha, za) = a.join().expect("thread a")?;
        assert_eq!(ha, h_ref);
        assert_eq!(za, want);
        assert_eq!(b.join().expect("thread b")?, y_ref);
        assert_eq!(z.to_vec::<f32>()?, want);
    }
    Ok(())
}

#[test]
fn a_chain_of_100_000_ops_builds_realizes_and_drops() -> kiln::Result<()> {
    let d = device();
    let x = Tensor::from_slice_on(&[0.0f32, 1.0, 2.0, 3.0], &[4], &d)?;
    let one = Tensor::full_on(&[4], 1.0, DType::F32, &d)?;
    let mut t = x.clone();
    for _ in 0..100_000 {
        t = t.add(&one)?;
    }
    let mid = t.clone();
    for _ in 0..100_000 {
        t = t.add(&one)?;
    }
    // A child realized before its deep parent, then the parent.
    assert_eq!(t.to_vec::<f32>()?, vec![200_000.0, 200_001.0, 200_002.0, 200_003.0]);
    assert_eq!(mid.to_vec::<f32>()?, vec![100_000.0, 100_001.0, 100_002.0, 100_003.0]);
    let mut lazy = x;
    for _ in 0..100_000 {
        lazy = lazy.mul(&one)?;
    }
    drop(lazy);
    Ok(())
}
