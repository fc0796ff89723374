// Shared helpers of the CUDA C++ microbenchmarks (see run.sh): error checks, medians, and the
// bench's timing method (the L2 flushed by a 1 GiB device copy queued before each timed call, CUDA
// events around the call, the median of 30 timed calls after 3 warm-ups).
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <cuda_runtime.h>

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t err_ = (x);                                                                     \
    if (err_ != cudaSuccess) {                                                                  \
      printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(err_));                       \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

static float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times `launch` as kiln's bench does; prints microseconds and GB/s for `bytes` moved.
struct Flushed {
  cudaStream_t s;
  char *f0, *f1;
  size_t fl = 1ull << 30;
  cudaEvent_t e0, e1;
  explicit Flushed(cudaStream_t stream) : s(stream) {
    CK(cudaMalloc(&f0, fl));
    CK(cudaMalloc(&f1, fl));
    CK(cudaMemset(f0, 1, fl));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
  }
  template <class F>
  void time(const char* name, double bytes, F launch, bool flush = true) {
    std::vector<float> t;
    for (int r = 0; r < 33; r++) {
      if (flush) CK(cudaMemcpyAsync(f1, f0, fl, cudaMemcpyDeviceToDevice, s));
      CK(cudaEventRecord(e0, s));
      launch();
      CK(cudaEventRecord(e1, s));
      CK(cudaEventSynchronize(e1));
      float ms;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      if (r >= 3) t.push_back(ms);
    }
    CK(cudaGetLastError());
    float m = median(t);
    printf("%-40s %s %9.2f us %8.0f GB/s\n", name, flush ? "flushed" : "warm   ", m * 1000, bytes / (m * 1e-3) / 1e9);
  }
};
