//! GPT-2-shaped decoder inference: a model of random weights is saved to a safetensors file, a second
//! model loads it back, and tokens are generated greedily. The context is a fixed window (later
//! positions padded; attention is causal, so they change nothing), so every step runs the same kernels
//! and they compile once.
//!
//! `cargo run --release --example gpt2_infer` runs a small model (d 128, 4 heads, 2 layers, vocabulary
//! 512, context 32); `-- --full` the GPT-2 small shape (d 768, 12 heads, 12 layers, vocabulary 50257,
//! context 64). `-- --tokens N` sets how many tokens to generate (default 16).

use kiln::nn::{self, Module};
use kiln::{DType, Device, Tensor};
use std::time::Instant;

struct Config {
    dim: usize,
    heads: usize,
    layers: usize,
    vocab: usize,
    context: usize,
}

/// One pre-norm decoder block: causal self-attention and a GELU MLP, each around a residual.
struct Block {
    ln_1: nn::LayerNorm,
    attn: nn::Linear,
    proj: nn::Linear,
    ln_2: nn::LayerNorm,
    fc: nn::Linear,
    out: nn::Linear,
    heads: usize,
}

impl Block {
    fn new(dim: usize, heads: usize) -> kiln::Result<Block> {
        Ok(Block {
            ln_1: nn::LayerNorm::new(dim)?,
            attn: nn::Linear::new(dim, 3 * dim)?,
            proj: nn::Linear::new(dim, dim)?,
            ln_2: nn::LayerNorm::new(dim)?,
            fc: nn::Linear::new(dim, 4 * dim)?,
            out: nn::Linear::new(4 * dim, dim)?,
            heads,
        })
    }

    /// `x` is `[t, dim]`.
    fn forward(&self, x: &Tensor) -> kiln::Result<Tensor> {
        let (t, dim) = (x.shape()[0], x.shape()[1]);
        let (h, hd) = (self.heads, dim / self.heads);
        // [t, 3, h, hd] -> [3, h, t, hd]
        let qkv = self.attn.forward(&self.ln_1.forward(x)?)?.reshape(&[t as isize, 3, h as isize, hd as isize])?;
        let qkv = qkv.permute(&[1, 2, 0, 3])?;
        let part = |i: usize| {
            qkv.shrink(&[(i, i + 1), (0, h), (0, t), (0, hd)])?.reshape(&[h as isize, t as isize, hd as isize])
        };
        let attended = part(0)?.scaled_dot_product_attention(&part(1)?, &part(2)?, true)?;
        let merged = attended.permute(&[1, 0, 2])?.reshape(&[t as isize, dim as isize])?;
        let x = x.add(&self.proj.forward(&merged)?)?;
        let mlp = self.out.forward(&self.fc.forward(&self.ln_2.forward(&x)?)?.gelu()?)?;
        x.add(&mlp)
    }

    fn named_parameters(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let parts: [(&str, &dyn Module); 6] = [
            ("ln_1", &self.ln_1),
            ("attn", &self.attn),
            ("proj", &self.proj),
            ("ln_2", &self.ln_2),
            ("fc", &self.fc),
            ("out", &self.out),
        ];
        parts
            .iter()
            .flat_map(|(name, m)| {
                m.named_parameters().into_iter().map(move |(n, t)| (format!("{prefix}.{name}.{n}"), t))
            })
            .collect()
    }
}

/// Token and position embeddings, the blocks, a final norm, and the output head tied to the token
/// embedding.
struct Gpt {
    wte: nn::Embedding,
    wpe: nn::Embedding,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    positions: Tensor,
}

impl Gpt {
    fn new(c: &Config) -> kiln::Result<Gpt> {
        let wte = nn::Embedding::new(c.vocab, c.dim)?;
        wte.weight.assign(&(&wte.weight * 0.02)?)?;
        let wpe = nn::Embedding::new(c.context, c.dim)?;
        wpe.weight.assign(&(&wpe.weight * 0.01)?)?;
        Ok(Gpt {
            wte,
            wpe,
            blocks: (0..c.layers).map(|_| Block::new(c.dim, c.heads)).collect::<kiln::Result<_>>()?,
            ln_f: nn::LayerNorm::new(c.dim)?,
            positions: Tensor::arange(0.0, c.context as f64, 1.0, DType::I32)?,
        })
    }
}

impl Module for Gpt {
    /// `tokens` (`[context]`, i32) to logits `[context, vocab]`.
    fn forward(&self, tokens: &Tensor) -> kiln::Result<Tensor> {
        let mut x = self.wte.forward(tokens)?.add(&self.wpe.forward(&self.positions)?)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        self.ln_f.forward(&x)?.matmul(&self.wte.weight.transpose(0, 1)?)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p: Vec<(String, Tensor)> = Vec::new();
        p.extend(self.wte.named_parameters().into_iter().map(|(n, t)| (format!("wte.{n}"), t)));
        p.extend(self.wpe.named_parameters().into_iter().map(|(n, t)| (format!("wpe.{n}"), t)));
        for (i, b) in self.blocks.iter().enumerate() {
            p.extend(b.named_parameters(&format!("h.{i}")));
        }
        p.extend(self.ln_f.named_parameters().into_iter().map(|(n, t)| (format!("ln_f.{n}"), t)));
        p
    }
}

fn main() -> kiln::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--full");
    let tokens: usize =
        args.iter().position(|a| a == "--tokens").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(16);
    let c = if full {
        Config { dim: 768, heads: 12, layers: 12, vocab: 50257, context: 64 }
    } else {
        Config { dim: 128, heads: 4, layers: 2, vocab: 512, context: 32 }
    };
    let device = Device::default_device()?;
    println!(
        "GPT-2-shaped decoder on {}: d {}, {} heads, {} layers, vocabulary {}, context {}",
        device.name(),
        c.dim,
        c.heads,
        c.layers,
        c.vocab,
        c.context
    );
    Tensor::manual_seed(2);
    let path = std::env::temp_dir().join(format!("kiln-gpt2-{}.safetensors", std::process::id()));
    {
        let random = Gpt::new(&c)?;
        let named = random.named_parameters();
        let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
        kiln::safetensors::save(&refs, &path)?;
    }
    let model = Gpt::new(&c)?;
    model.load_state_dict(&kiln::safetensors::load_on(&path, &device)?)?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_file(&path).ok();
    println!(
        "weights: {} tensors, {:.1} MB through {}",
        model.named_parameters().len(),
        bytes as f64 / 1e6,
        path.display()
    );
    let mut sequence: Vec<i32> = vec![1, 2, 3];
    let start = Instant::now();
    let mut first = None;
    for _ in 0..tokens.min(c.context - sequence.len()) {
        let mut window = sequence.clone();
        window.resize(c.context, 0);
        let input = Tensor::from_slice_on(&window, &[c.context], &device)?;
        let last = sequence.len() - 1;
        let logits =
            kiln::no_grad(|| model.forward(&input)?.shrink(&[(last, last + 1), (0, c.vocab)]))?.to_vec::<f32>()?;
        let next = logits.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
        sequence.push(next as i32);
        first.get_or_insert(start.elapsed());
    }
    let first = first.unwrap_or_default();
    let steps = sequence.len() - 3;
    let rest = (start.elapsed() - first).as_secs_f64() / (steps.max(2) - 1) as f64;
    println!("tokens: {sequence:?}");
    println!("first token {:.2} s (compiles kernels), then {:.1} ms per token", first.as_secs_f64(), rest * 1e3);
    Ok(())
}
