//! kiln-cuda: the CUDA device (cudarc driver API and NVRTC, loaded dynamically).
