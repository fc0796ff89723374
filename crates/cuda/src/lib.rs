//! kiln-cuda: the CUDA device (cudarc driver API and NVRTC, loaded dynamically at run time), so kiln
//! builds with no CUDA installed and a machine without a driver reports the device unavailable.
//! [`compile_ptx`] needs only NVRTC, no GPU: CI uses it to check every rendered CUDA kernel.
// Kernel launches and the raw driver calls (allocation, copies) are `unsafe` in cudarc.
#![allow(unsafe_code)]

mod device;
mod graph;
mod nvrtc;
mod pool;

pub use device::CudaDevice;
pub use nvrtc::{compile_ptx, cuda_include_dir, nvrtc_available, nvrtc_version};
