//! kiln-codegen: lowers kernel ASTs to linear programs and renders them (C, CUDA C, SPIR-V).
