//! kiln-runtime: the `Device` interface, the CPU device and the on-disk kernel cache.
