//! kiln-schedule: turns a tensor graph into an ordered list of kernels with buffer assignments.
