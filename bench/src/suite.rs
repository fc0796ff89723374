//! Which rows a run measures and at which sizes. The reference scripts (`bench/*_ref.py`) keep the
//! same tables under the same suite names, and every line they print carries its shape: the report
//! only compares rows whose shapes are equal, so a size that drifted on one side shows as missing.

use kiln::DType;

/// A set of rows and sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// W1-W9 at full size on a GPU.
    Gpu,
    /// W1-W9 at CI sizes (any device).
    Quick,
    /// The CPU rows: `a*b+c` 2^24, row sum (1024, 16384), softmax (1024, 4096), matmul 1024^3 and
    /// 2048^3, all f32.
    Cpu,
}

/// Shape of the W9 decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpt {
    /// Batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub tokens: usize,
    /// Model width.
    pub width: usize,
    /// Attention heads.
    pub heads: usize,
    /// Decoder layers.
    pub layers: usize,
}

/// Sizes of one suite; `None` where the suite leaves a workload out.
pub struct Sizes {
    /// W1 and copy: elements.
    pub w1: usize,
    /// W2: rows, columns.
    pub w2: (usize, usize),
    /// W3: rows, columns, dtype.
    pub w3: (usize, usize, DType),
    /// W4: rows, columns.
    pub w4: Option<(usize, usize)>,
    /// W5: (n, dtype) of each square matmul.
    pub w5: Vec<(usize, DType)>,
    /// W6: batch, channels, height = width.
    pub w6: Option<(usize, usize, usize)>,
    /// W7: elements.
    pub w7: Option<usize>,
    /// W8 runs (100 dependent kernels on 1024 floats).
    pub w8: bool,
    /// W9 decoder.
    pub w9: Option<Gpt>,
}

impl Suite {
    /// The suite's name, as the reference scripts take it (`--suite`).
    pub fn name(self) -> &'static str {
        match self {
            Suite::Gpu => "gpu",
            Suite::Quick => "quick",
            Suite::Cpu => "cpu",
        }
    }

    /// The suite for a run on `device` (`cpu`, `cuda`, `vulkan`, ...), quick or not.
    pub fn pick(device: &str, quick: bool) -> Suite {
        if quick {
            Suite::Quick
        } else if device.to_ascii_lowercase().starts_with("cpu") {
            Suite::Cpu
        } else {
            Suite::Gpu
        }
    }

    /// The suite's sizes.
    pub fn sizes(self) -> Sizes {
        match self {
            Suite::Gpu => Sizes {
                w1: 1 << 26,
                w2: (4096, 16384),
                w3: (4096, 4096, DType::F16),
                w4: Some((8192, 4096)),
                w5: vec![(4096, DType::F16), (4096, DType::BF16), (4096, DType::F32)],
                w6: Some((64, 256, 14)),
                w7: Some(1 << 24),
                w8: true,
                w9: Some(Gpt { batch: 4, tokens: 256, width: 768, heads: 12, layers: 4 }),
            },
            Suite::Quick => Sizes {
                w1: 1 << 16,
                w2: (64, 256),
                w3: (64, 128, DType::F16),
                w4: Some((64, 128)),
                w5: vec![(128, DType::F16), (128, DType::BF16), (128, DType::F32)],
                w6: Some((2, 16, 8)),
                w7: Some(1 << 12),
                w8: true,
                w9: Some(Gpt { batch: 1, tokens: 16, width: 64, heads: 4, layers: 2 }),
            },
            Suite::Cpu => Sizes {
                w1: 1 << 24,
                w2: (1024, 16384),
                w3: (1024, 4096, DType::F32),
                w4: None,
                w5: vec![(1024, DType::F32), (2048, DType::F32)],
                w6: None,
                w7: None,
                w8: false,
                w9: None,
            },
        }
    }

    /// Bytes overwritten before each timed call to empty the caches (the same on every side).
    pub fn flush_bytes(self) -> usize {
        match self {
            Suite::Gpu => 2 << 30,
            Suite::Quick | Suite::Cpu => 64 << 20,
        }
    }

    /// Timed calls of a row (the median is reported); rows slower than a second take [`SLOW_CALLS`].
    pub fn calls(self) -> usize {
        match self {
            Suite::Quick => 5,
            Suite::Gpu | Suite::Cpu => 30,
        }
    }
}

/// Warm-up calls before the timed ones (a row slower than a second takes only the first).
pub const WARMUP: usize = 3;
/// Timed calls of a row whose first call took longer than [`SLOW_SECONDS`].
pub const SLOW_CALLS: usize = 3;
/// Calls slower than this get [`SLOW_CALLS`] timed calls and one warm-up.
pub const SLOW_SECONDS: f64 = 1.0;
