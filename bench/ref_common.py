"""Tables the reference scripts share with each other and with kiln-bench (bench/src/suite.rs,
bench/src/gpt.rs): workload sizes per suite, tolerances per dtype, and W9's parameter names per layer.
numpy_ref.py keeps its own (CPU-only) table."""

SIZES = {  # the same tables as bench/src/suite.rs
    "gpu": {"W1": 1 << 26, "W2": (4096, 16384), "W3": (4096, 4096, "f16"), "W4": (8192, 4096),
            "W5": [(4096, "f16"), (4096, "bf16"), (4096, "f32")], "W6": (64, 256, 14), "W7": 1 << 24,
            "W8": True, "W9": (4, 256, 768, 12, 4)},
    "quick": {"W1": 1 << 16, "W2": (64, 256), "W3": (64, 128, "f16"), "W4": (64, 128),
              "W5": [(128, "f16"), (128, "bf16"), (128, "f32")], "W6": (2, 16, 8), "W7": 1 << 12,
              "W8": True, "W9": (1, 16, 64, 4, 2)},
    "cpu": {"W1": 1 << 24, "W2": (1024, 16384), "W3": (1024, 4096, "f32"), "W4": None,
            "W5": [(1024, "f32"), (2048, "f32")], "W6": None, "W7": None, "W8": False, "W9": None},
}
TOLS = {"f16": 2e-3, "bf16": 1e-2, "f32": 1e-4}
LAYER_PARAMS = ["ln1.weight", "ln1.bias", "qkv.weight", "qkv.bias", "proj.weight", "proj.bias",
                "ln2.weight", "ln2.bias", "fc.weight", "fc.bias", "out.weight", "out.bias"]
