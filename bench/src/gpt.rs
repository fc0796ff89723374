//! W9: a GPT-2-shaped decoder (pre-LN attention and tanh-GELU MLP blocks, a final LayerNorm without
//! affine), its random f16 weights, the safetensors file the reference scripts read them from, and an
//! f64 host forward to check kiln's output against. Causal attention makes the first tokens of a
//! sequence depend on those tokens alone, so the host checks a prefix of each checked sequence.

use crate::data::Rng;
use crate::suite::Gpt;
use kiln::half::f16;
use kiln::Tensor;
use serde_json::{json, Map, Value};
use std::path::Path;

/// One named host tensor, its values already rounded to f16.
pub struct Param {
    /// Name in the safetensors file.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values (f16 values as f64).
    pub host: Vec<f64>,
}

/// The input and every weight of the decoder.
pub struct Model {
    /// Shape of the decoder.
    pub gpt: Gpt,
    /// Input `[batch, tokens, width]`.
    pub x: Param,
    /// Per layer, in [`LAYER_PARAMS`] order.
    pub layers: Vec<Vec<Param>>,
}

/// Names of one layer's parameters, in order; linear weights are `[in, out]` (`x @ w + b`).
pub const LAYER_PARAMS: [&str; 12] = [
    "ln1.weight",
    "ln1.bias",
    "qkv.weight",
    "qkv.bias",
    "proj.weight",
    "proj.bias",
    "ln2.weight",
    "ln2.bias",
    "fc.weight",
    "fc.bias",
    "out.weight",
    "out.bias",
];

fn param(name: String, shape: Vec<usize>, rng: &mut Rng, offset: f64, scale: f32) -> Param {
    let n = shape.iter().product();
    let host = (0..n).map(|_| f16::from_f64(offset + f64::from(rng.next() * scale)).to_f64()).collect();
    Param { name, shape, host }
}

impl Model {
    /// Random weights with about GPT-2's init scale (uniform, std about 0.02) and LayerNorm weights
    /// near 1, from a fixed seed.
    pub fn random(gpt: Gpt) -> Model {
        let mut rng = Rng::new(99);
        let d = gpt.width;
        let x = param("x".into(), vec![gpt.batch, gpt.tokens, d], &mut rng, 0.0, 1.0);
        let layers = (0..gpt.layers)
            .map(|l| {
                let shapes = [
                    vec![d],
                    vec![d],
                    vec![d, 3 * d],
                    vec![3 * d],
                    vec![d, d],
                    vec![d],
                    vec![d],
                    vec![d],
                    vec![d, 4 * d],
                    vec![4 * d],
                    vec![4 * d, d],
                    vec![d],
                ];
                LAYER_PARAMS
                    .iter()
                    .zip(shapes)
                    .map(|(name, shape)| {
                        let offset = if name.starts_with("ln") && name.ends_with("weight") { 1.0 } else { 0.0 };
                        param(format!("h.{l}.{name}"), shape, &mut rng, offset, 0.035)
                    })
                    .collect()
            })
            .collect();
        Model { gpt, x, layers }
    }

    fn params(&self) -> impl Iterator<Item = &Param> {
        std::iter::once(&self.x).chain(self.layers.iter().flatten())
    }

    /// The model as safetensors bytes (every tensor F16, little-endian).
    pub fn safetensors(&self) -> Vec<u8> {
        let mut header = Map::new();
        let mut offset = 0usize;
        for p in self.params() {
            let end = offset + 2 * p.host.len();
            header.insert(p.name.clone(), json!({"dtype": "F16", "shape": p.shape, "data_offsets": [offset, end]}));
            offset = end;
        }
        let g = self.gpt;
        let meta =
            json!({"batch": g.batch, "tokens": g.tokens, "width": g.width, "heads": g.heads, "layers": g.layers});
        header.insert("__metadata__".into(), json!({"gpt": meta.to_string()}));
        let mut text = Value::Object(header).to_string().into_bytes();
        text.resize(text.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + text.len() + offset);
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&text);
        for p in self.params() {
            out.extend(p.host.iter().flat_map(|&v| f16::from_f64(v).to_le_bytes()));
        }
        out
    }

    /// Writes [`Model::safetensors`] to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.safetensors())
    }

    /// The input and weights as f16 tensors on the default device (input first, then each layer's).
    pub fn upload(&self) -> kiln::Result<Vec<Tensor>> {
        self.params()
            .map(|p| {
                let values: Vec<f16> = p.host.iter().map(|&v| f16::from_f64(v)).collect();
                Tensor::from_slice(&values, &p.shape)
            })
            .collect()
    }
}

/// kiln's forward over the tensors of [`Model::upload`] (builds the graph; nothing runs).
pub fn forward(g: Gpt, tensors: &[Tensor]) -> kiln::Result<Tensor> {
    let (b, t, d, h) = (g.batch as isize, g.tokens as isize, g.width as isize, g.heads as isize);
    let ln = |x: &Tensor, w: &Tensor, bias: &Tensor| x.layernorm(-1, 1e-5)?.mul(w)?.add(bias);
    let linear = |x: &Tensor, w: &Tensor, bias: &Tensor| x.matmul(w)?.add(bias);
    let heads = |x: &Tensor| x.reshape(&[b, t, h, d / h])?.permute(&[0, 2, 1, 3]);
    let (x, layers) = tensors.split_first().ok_or(kiln::Error::Invalid { op: "W9", reason: "no input".into() })?;
    let mut x = x.clone();
    for p in layers.chunks(LAYER_PARAMS.len()) {
        let [ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, outw, outb] = p else {
            return Err(kiln::Error::Invalid { op: "W9", reason: "a layer needs 12 parameters".into() });
        };
        let qkv = linear(&ln(&x, ln1w, ln1b)?, qkvw, qkvb)?;
        let part = |i: usize| qkv.shrink(&[(0, g.batch), (0, g.tokens), (i * g.width, (i + 1) * g.width)]);
        let (q, k, v) = (heads(&part(0)?)?, heads(&part(1)?)?, heads(&part(2)?)?);
        let attn = q.scaled_dot_product_attention(&k, &v, true)?.permute(&[0, 2, 1, 3])?.reshape(&[b, t, d])?;
        x = x.add(&linear(&attn, projw, projb)?)?;
        let mlp = linear(&linear(&ln(&x, ln2w, ln2b)?, fcw, fcb)?.gelu()?, outw, outb)?;
        x = x.add(&mlp)?;
    }
    x.layernorm(-1, 1e-5)
}

/// `[rows, k] @ [k, n] + bias`.
fn linear(x: &[f64], w: &Param, bias: &Param) -> Vec<f64> {
    let (k, n) = (w.shape[0], w.shape[1]);
    let rows: Vec<usize> = (0..x.len() / k).collect();
    let mut out = crate::host::matmul_rows(x, &w.host, k, n, &rows);
    for row in out.chunks_mut(n) {
        row.iter_mut().zip(&bias.host).for_each(|(o, b)| *o += b);
    }
    out
}

fn gelu_tanh(v: f64) -> f64 {
    0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044_715 * v * v * v)).tanh())
}

/// Causal multi-head attention over `qkv` `[tokens, 3 * width]`; returns `[tokens, width]`.
fn attention(qkv: &[f64], tokens: usize, width: usize, heads: usize) -> Vec<f64> {
    let hd = width / heads;
    let at = |t: usize, part: usize, head: usize, i: usize| qkv[t * 3 * width + part * width + head * hd + i];
    let mut out = vec![0.0; tokens * width];
    for head in 0..heads {
        for t in 0..tokens {
            let scores: Vec<f64> = (0..=t)
                .map(|s| (0..hd).map(|i| at(t, 0, head, i) * at(s, 1, head, i)).sum::<f64>() / (hd as f64).sqrt())
                .collect();
            let weights = crate::host::softmax_rows(&scores, scores.len());
            for i in 0..hd {
                out[t * width + head * hd + i] = weights.iter().enumerate().map(|(s, w)| w * at(s, 2, head, i)).sum();
            }
        }
    }
    out
}

/// The f64 forward of sequence `batch` over its first `tokens` tokens: `[tokens, width]`.
pub fn host_forward(model: &Model, batch: usize, tokens: usize) -> Vec<f64> {
    let g = model.gpt;
    let d = g.width;
    let start = batch * g.tokens * d;
    let mut x = model.x.host[start..start + tokens * d].to_vec();
    let ln = |x: &[f64], w: &Param, b: &Param| crate::host::layernorm_rows(x, d, 1e-5, Some((&w.host, &b.host)));
    for p in &model.layers {
        let qkv = linear(&ln(&x, &p[0], &p[1]), &p[2], &p[3]);
        let attn = linear(&attention(&qkv, tokens, d, g.heads), &p[4], &p[5]);
        x.iter_mut().zip(&attn).for_each(|(x, a)| *x += a);
        let hidden: Vec<f64> = linear(&ln(&x, &p[6], &p[7]), &p[8], &p[9]).into_iter().map(gelu_tanh).collect();
        let mlp = linear(&hidden, &p[10], &p[11]);
        x.iter_mut().zip(&mlp).for_each(|(x, m)| *x += m);
    }
    crate::host::layernorm_rows(&x, d, 1e-5, None)
}

/// The checked part of the output: the first [`CHECKED_TOKENS`] tokens of the first and last
/// sequence, as (sequence, tokens) pairs.
pub fn checked(g: Gpt) -> Vec<(usize, usize)> {
    let tokens = g.tokens.min(CHECKED_TOKENS);
    let mut seqs = vec![(0, tokens)];
    if g.batch > 1 {
        seqs.push((g.batch - 1, tokens));
    }
    seqs
}

/// Tokens of each checked sequence compared with the host forward.
pub const CHECKED_TOKENS: usize = 64;

/// The part of a full output `[batch, tokens, width]` that [`checked`] names, and the host reference
/// for it.
pub fn checked_pair(model: &Model, output: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let g = model.gpt;
    let mut got = Vec::new();
    let mut want = Vec::new();
    for (seq, tokens) in checked(g) {
        let start = seq * g.tokens * g.width;
        got.extend_from_slice(&output[start..start + tokens * g.width]);
        want.extend(host_forward(model, seq, tokens));
    }
    (got, want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Gpt {
        Gpt { batch: 2, tokens: 4, width: 8, heads: 2, layers: 1 }
    }

    #[test]
    fn the_safetensors_header_names_every_tensor_and_its_bytes() {
        let model = Model::random(tiny());
        let bytes = model.safetensors();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(len % 8, 0);
        let header: Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        assert_eq!(header["x"]["shape"], json!([2, 4, 8]));
        assert_eq!(header["h.0.qkv.weight"]["shape"], json!([8, 24]));
        let end = header["h.0.out.bias"]["data_offsets"][1].as_u64().unwrap() as usize;
        assert_eq!(8 + len + end, bytes.len());
        let first = f16::from_le_bytes([bytes[8 + len], bytes[9 + len]]).to_f64();
        assert_eq!(first, model.x.host[0]);
    }

    #[test]
    fn the_host_forward_is_causal_and_normalised() {
        let model = Model::random(tiny());
        let full = host_forward(&model, 1, 4);
        let prefix = host_forward(&model, 1, 2);
        assert!(full[..16].iter().zip(&prefix).all(|(a, b)| (a - b).abs() < 1e-12));
        for row in full.chunks(8) {
            let mean = row.iter().sum::<f64>() / 8.0;
            assert!(mean.abs() < 1e-9);
        }
    }
}
