//! Trains an MLP and a small CNN on the 8x8 handwritten digits (1,797 images shipped in
//! `examples/data/digits.safetensors`, from scikit-learn's copy; see `examples/data/LICENSE-digits.md`)
//! with kiln's autograd and Adam, and reports test accuracy: the MLP reaches >= 95%, the CNN >= 97%.
//!
//! ```sh
//! cargo run --release --example train_digits            # both models on the best device
//! KILN_DEVICE=cpu cargo run --release --example train_digits -- --epochs 30
//! ```
//! Flags: `--epochs N` (default 30), `--batch N` (default 64), `--model mlp|cnn|both`, `--lr X` (peak
//! learning rate, default 3e-3).

use indicatif::{ProgressBar, ProgressStyle};
use kiln::nn::{self, Module};
use kiln::optim::{self, LrSchedule};
use kiln::{DType, Device, Tensor};
use std::time::Instant;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/digits.safetensors");
const TEST_FRACTION: f64 = 0.2;

struct Split {
    images: Vec<f32>,
    labels: Vec<i32>,
}

impl Split {
    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Fisher-Yates with a xorshift generator seeded by `seed`.
fn shuffle(items: &mut [usize], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// The data set, shuffled with a fixed seed and split into train and test, pixels scaled to [0, 1].
fn load(device: &Device) -> kiln::Result<(Split, Split)> {
    let tensors = kiln::safetensors::load_on(DATA, device)?;
    let get = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone());
    let missing = |name: &str| kiln::Error::Invalid { op: "train_digits", reason: format!("no `{name}` in {DATA}") };
    let images = get("images").ok_or_else(|| missing("images"))?.cast(DType::F32)?.to_vec::<f32>()?;
    let labels = get("labels").ok_or_else(|| missing("labels"))?.cast(DType::I32)?.to_vec::<i32>()?;
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, 0x2545_f491_4f6c_dd1d);
    let n_test = (n as f64 * TEST_FRACTION) as usize;
    let take = |idx: &[usize]| Split {
        images: idx.iter().flat_map(|&i| images[i * 64..(i + 1) * 64].iter().map(|p| p / 16.0)).collect(),
        labels: idx.iter().map(|&i| labels[i]).collect(),
    };
    Ok((take(&order[n_test..]), take(&order[..n_test])))
}

fn mlp() -> kiln::Result<nn::Sequential> {
    Ok(nn::Sequential::new(vec![
        Box::new(Flatten),
        Box::new(nn::Linear::new(64, 256)?),
        Box::new(Relu),
        Box::new(nn::Linear::new(256, 10)?),
    ]))
}

fn cnn() -> kiln::Result<nn::Sequential> {
    Ok(nn::Sequential::new(vec![
        Box::new(nn::Conv2d::new(1, 32, 3, 1, 1)?),
        Box::new(Relu),
        Box::new(nn::Conv2d::new(32, 32, 3, 1, 1)?),
        Box::new(Relu),
        Box::new(MaxPool),
        Box::new(nn::Dropout::new(0.25)?),
        Box::new(Flatten),
        Box::new(nn::Linear::new(32 * 4 * 4, 128)?),
        Box::new(Relu),
        Box::new(nn::Dropout::new(0.5)?),
        Box::new(nn::Linear::new(128, 10)?),
    ]))
}

/// `[n, 1, 8, 8]` (or any `[n, ...]`) to `[n, features]`.
struct Flatten;
impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> kiln::Result<Tensor> {
        x.reshape(&[x.shape()[0] as isize, -1])
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

struct Relu;
impl Module for Relu {
    fn forward(&self, x: &Tensor) -> kiln::Result<Tensor> {
        x.relu()
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

struct MaxPool;
impl Module for MaxPool {
    fn forward(&self, x: &Tensor) -> kiln::Result<Tensor> {
        nn::max_pool2d(x, 2)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

fn argmax_rows(logits: &[f32], classes: usize) -> Vec<i32> {
    logits
        .chunks(classes)
        .map(|row| row.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0 as i32)
        .collect()
}

fn accuracy(predicted: &[i32], labels: &[i32]) -> f64 {
    predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len().max(1) as f64
}

struct Args {
    epochs: usize,
    batch: usize,
    model: String,
    lr: Option<f64>,
}

fn args() -> Args {
    let mut a = Args { epochs: 30, batch: 64, model: "both".into(), lr: None };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--epochs", Some(v)) => a.epochs = v.parse().unwrap_or(a.epochs),
            ("--batch", Some(v)) => a.batch = v.parse().unwrap_or(a.batch).max(1),
            ("--model", Some(v)) => a.model = v.clone(),
            ("--lr", Some(v)) => a.lr = v.parse().ok(),
            (flag, _) => eprintln!("ignoring unknown flag {flag}"),
        }
    }
    a
}

/// Trains `model` on `train` with Adam under a warm-up + cosine schedule and returns the test accuracy.
fn train(
    name: &str,
    model: &nn::Sequential,
    image_shape: &[usize],
    base_lr: f64,
    data: &(Split, Split),
    a: &Args,
) -> kiln::Result<f64> {
    let (train, test) = data;
    let device = Device::default_device()?;
    let steps_per_epoch = train.len() / a.batch;
    let total = steps_per_epoch * a.epochs;
    let schedule = optim::Warmup {
        steps: steps_per_epoch,
        then: optim::CosineLr { base: a.lr.unwrap_or(base_lr), min: 1e-4, total },
    };
    let mut opt = optim::Adam::new(model.parameters(), schedule.lr(0))?;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>4} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    let shape_of = |n: usize| -> Vec<usize> { std::iter::once(n).chain(image_shape.iter().copied()).collect() };
    let mut order: Vec<usize> = (0..train.len()).collect();
    let start = Instant::now();
    let mut epoch_times = Vec::new();
    let mut step = 0;
    for epoch in 0..a.epochs {
        let epoch_start = Instant::now();
        shuffle(&mut order, epoch as u64 + 1);
        let (mut correct, mut seen, mut loss_sum) = (0.0, 0, 0.0);
        for b in 0..steps_per_epoch {
            let idx = &order[b * a.batch..(b + 1) * a.batch];
            let x: Vec<f32> = idx.iter().flat_map(|&i| train.images[i * 64..(i + 1) * 64].iter().copied()).collect();
            let y: Vec<i32> = idx.iter().map(|&i| train.labels[i]).collect();
            let x = Tensor::from_slice_on(&x, &shape_of(a.batch), &device)?;
            let y_t = Tensor::from_slice_on(&y, &[a.batch], &device)?;
            opt.set_lr(schedule.lr(step));
            opt.zero_grad();
            let logits = model.forward(&x)?;
            let loss = nn::cross_entropy(&logits, &y_t)?;
            loss.backward()?;
            opt.step_with(&[&loss, &logits])?;
            let l = loss.to_vec::<f32>()?[0];
            correct += accuracy(&argmax_rows(&logits.to_vec::<f32>()?, 10), &y) * a.batch as f64;
            seen += a.batch;
            loss_sum += f64::from(l);
            step += 1;
            let rate = step as f64 / start.elapsed().as_secs_f64();
            bar.set_message(format!(
                "epoch {:>2} loss {:.4} acc {:5.1}% {rate:6.1} steps/s",
                epoch + 1,
                loss_sum / (b + 1) as f64,
                100.0 * correct / seen as f64
            ));
            bar.inc(1);
        }
        epoch_times.push(epoch_start.elapsed().as_secs_f64());
    }
    bar.finish();
    model.set_training(false);
    let test_acc = kiln::no_grad(|| -> kiln::Result<f64> {
        let x = Tensor::from_slice_on(&test.images, &shape_of(test.len()), &device)?;
        let logits = model.forward(&x)?.to_vec::<f32>()?;
        Ok(accuracy(&argmax_rows(&logits, 10), &test.labels))
    })?;
    let mean_epoch = epoch_times.iter().skip(1).sum::<f64>() / (epoch_times.len().saturating_sub(1)).max(1) as f64;
    println!(
        "{name}: test accuracy {:.2}% on {} images; first epoch {:.2} s (compiles kernels), then {:.3} s per epoch",
        100.0 * test_acc,
        test.len(),
        epoch_times.first().copied().unwrap_or(0.0),
        mean_epoch
    );
    Ok(test_acc)
}

fn main() -> kiln::Result<()> {
    let a = args();
    let device = Device::default_device()?;
    Tensor::manual_seed(1);
    let data = load(&device)?;
    println!(
        "digits on {}: {} train / {} test images, {} epochs of batch {}",
        device.name(),
        data.0.len(),
        data.1.len(),
        a.epochs,
        a.batch
    );
    if a.model == "mlp" || a.model == "both" {
        let acc = train("mlp", &mlp()?, &[64], 3e-3, &data, &a)?;
        println!("mlp target >= 95%: {}", if acc >= 0.95 { "reached" } else { "MISSED" });
    }
    if a.model == "cnn" || a.model == "both" {
        let acc = train("cnn", &cnn()?, &[1, 8, 8], 5e-3, &data, &a)?;
        println!("cnn target >= 97%: {}", if acc >= 0.97 { "reached" } else { "MISSED" });
    }
    Ok(())
}
