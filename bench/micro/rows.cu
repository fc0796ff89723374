// Row reductions of the bench's shapes, timed as the bench times them:
// - W3's f16 rows (4096 x 4096, 32 MiB, a row max) in several thread shapes, against a kernel that
//   only reads the same 32 MiB and against device copies of 32 and 256 MiB: after the flush, any read
//   of 32 MiB runs at about half the 256 MiB copy's rate (the flush leaves the L2 full of dirty lines);
// - W2's (4096 x 16384 f32) and W4's (8192 x 4096 f32) row sums with plain and evict-first loads.
#include <cuda_fp16.h>
#include "common.cuh"

struct __align__(16) h8 { __half v[8]; };
__device__ __forceinline__ float hmax8(h8 x, float m) {
#pragma unroll
  for (int j = 0; j < 8; j++) m = fmaxf(m, __half2float(x.v[j]));
  return m;
}
// T threads per row, each V vectors of 8 halves (T * V * 8 == 4096), one row per block
template <int T, int V>
__global__ void __launch_bounds__(T) max_rows(__half* __restrict__ o, const __half* __restrict__ a) {
  const h8* row = (const h8*)(a + (size_t)blockIdx.x * 4096);
  h8 x[V];
#pragma unroll
  for (int j = 0; j < V; j++) x[j] = row[j * T + threadIdx.x];
  float m = -INFINITY;
#pragma unroll
  for (int j = 0; j < V; j++) m = hmax8(x[j], m);
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, d));
  __shared__ float sh[32];
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    float r = sh[0];
    for (int w = 1; w < T / 32; w++) r = fmaxf(r, sh[w]);
    o[blockIdx.x] = __float2half(r);
  }
}
// one warp per row, R rows per block
template <int R>
__global__ void __launch_bounds__(32 * R) max_rows_warp(__half* __restrict__ o, const __half* __restrict__ a) {
  int r = blockIdx.x * R + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  const h8* row = (const h8*)(a + (size_t)r * 4096);
  h8 x[16];
#pragma unroll
  for (int j = 0; j < 16; j++) x[j] = row[j * 32 + lane];
  float m = -INFINITY;
#pragma unroll
  for (int j = 0; j < 16; j++) m = hmax8(x[j], m);
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, d));
  if (lane == 0) o[r] = __float2half(m);
}
// reads every float4 once, stores nothing (unless a sum hits a sentinel)
__global__ void __launch_bounds__(256) read_only(float* __restrict__ o, const float4* __restrict__ a) {
  float4 v = a[(size_t)blockIdx.x * 256 + threadIdx.x];
  float m = v.x + v.y + v.z + v.w;
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) m += __shfl_xor_sync(0xffffffff, m, d);
  if (m == 12345.f) o[0] = m;
}
// T threads per row, V vectors per round, R rounds: rows of T * V * R float4
template <int T, int V, int R, bool CS>
__global__ void __launch_bounds__(T) sum_rows(float* __restrict__ o, const float4* __restrict__ a) {
  const float4* row = a + (size_t)blockIdx.x * T * V * R;
  float acc = 0.f;
#pragma unroll
  for (int k = 0; k < R; k++) {
    float4 v[V];
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float4* p = row + (k * V + j) * T + threadIdx.x;
      v[j] = CS ? __ldcs(p) : *p;
    }
#pragma unroll
    for (int j = 0; j < V; j++) acc += (v[j].x + v[j].y) + (v[j].z + v[j].w);
  }
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) acc += __shfl_xor_sync(0xffffffff, acc, d);
  __shared__ float sh[32];
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float r = 0;
    for (int w = 0; w < T / 32; w++) r += sh[w];
    o[blockIdx.x] = r;
  }
}

int main() {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  Flushed f(s);
  size_t n = 1ull << 26;  // floats: 256 MiB
  float4 *a, *b;
  float* o;
  CK(cudaMalloc(&a, n * 4));
  CK(cudaMalloc(&b, n * 4));
  CK(cudaMalloc(&o, 1 << 20));
  CK(cudaMemset(a, 0, n * 4));
  __half* h = (__half*)a;
  __half* ho = (__half*)o;
  size_t w3 = 32ull << 20;
  for (int rep = 0; rep < 2; rep++) {
    for (bool flush : {true, false}) {
      f.time("memcpy 256 MiB (bytes read + written)", 2.0 * n * 4, [&] { CK(cudaMemcpyAsync(b, a, n * 4, cudaMemcpyDeviceToDevice, s)); }, flush);
      f.time("memcpy 32 MiB (bytes read + written)", 2.0 * w3, [&] { CK(cudaMemcpyAsync(b, a, w3, cudaMemcpyDeviceToDevice, s)); }, flush);
      f.time("read only 256 MiB", 4.0 * n, [&] { read_only<<<n / 4 / 256, 256, 0, s>>>(o, a); }, flush);
      f.time("read only 32 MiB", w3, [&] { read_only<<<w3 / 16 / 256, 256, 0, s>>>(o, a); }, flush);
      f.time("W3 row max, 256 threads x 2 (kiln)", w3, [&] { max_rows<256, 2><<<4096, 256, 0, s>>>(ho, h); }, flush);
      f.time("W3 row max, 512 x 1", w3, [&] { max_rows<512, 1><<<4096, 512, 0, s>>>(ho, h); }, flush);
      f.time("W3 row max, 128 x 4", w3, [&] { max_rows<128, 4><<<4096, 128, 0, s>>>(ho, h); }, flush);
      f.time("W3 row max, a warp per row, 8 rows", w3, [&] { max_rows_warp<8><<<512, 256, 0, s>>>(ho, h); }, flush);
    }
    f.time("W2 row sum 512 x 4 x 2, plain loads", 4.0 * n, [&] { sum_rows<512, 4, 2, false><<<4096, 512, 0, s>>>(o, a); });
    f.time("W2 row sum 512 x 4 x 2, __ldcs", 4.0 * n, [&] { sum_rows<512, 4, 2, true><<<4096, 512, 0, s>>>(o, a); });
    f.time("W4 row sum 256 x 4, plain loads", 2.0 * n, [&] { sum_rows<256, 4, 1, false><<<8192, 256, 0, s>>>(o, a); });
    f.time("W4 row sum 256 x 4, __ldcs", 2.0 * n, [&] { sum_rows<256, 4, 1, true><<<8192, 256, 0, s>>>(o, a); });
    f.time("W4 row sum 512 x 2, plain loads", 2.0 * n, [&] { sum_rows<512, 2, 1, false><<<8192, 512, 0, s>>>(o, a); });
    f.time("W4 row sum 512 x 2, __ldcs", 2.0 * n, [&] { sum_rows<512, 2, 1, true><<<8192, 512, 0, s>>>(o, a); });
  }
  return 0;
}
