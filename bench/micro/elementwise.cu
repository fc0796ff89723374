// W1's shape (a*b+c over 2^26 f32), timed as the bench times it: thread layouts (kiln's 256 threads
// of one float4, triton's blocked 128 x 2, a grid-stride loop) and load hints (plain, __ldg,
// evict-first __ldcs).
#include "common.cuh"

// T threads per block, V float4 per thread strided by T (triton's blocked layout); LD: 0 plain,
// 1 __ldcs, 2 __ldg
template <int T, int V, int LD>
__global__ void __launch_bounds__(T) fma4(float4* __restrict__ o, const float4* __restrict__ a, const float4* __restrict__ b,
                                          const float4* __restrict__ c) {
  size_t base = (size_t)blockIdx.x * T * V + threadIdx.x;
  float4 x[V], y[V], z[V];
#pragma unroll
  for (int j = 0; j < V; j++) {
    size_t i = base + j * T;
    if (LD == 0) { x[j] = a[i]; y[j] = b[i]; z[j] = c[i]; }
    if (LD == 1) { x[j] = __ldcs(a + i); y[j] = __ldcs(b + i); z[j] = __ldcs(c + i); }
    if (LD == 2) { x[j] = __ldg(a + i); y[j] = __ldg(b + i); z[j] = __ldg(c + i); }
  }
#pragma unroll
  for (int j = 0; j < V; j++)
    __stcs(o + base + j * T, make_float4(x[j].x * y[j].x + z[j].x, x[j].y * y[j].y + z[j].y, x[j].z * y[j].z + z[j].z,
                                         x[j].w * y[j].w + z[j].w));
}
__global__ void __launch_bounds__(256) fma4_grid_stride(float4* __restrict__ o, const float4* __restrict__ a,
                                                        const float4* __restrict__ b, const float4* __restrict__ c, size_t n4) {
  for (size_t i = (size_t)blockIdx.x * 256 + threadIdx.x; i < n4; i += (size_t)gridDim.x * 256) {
    float4 x = a[i], y = b[i], z = c[i];
    __stcs(o + i, make_float4(x.x * y.x + z.x, x.y * y.y + z.y, x.z * y.z + z.z, x.w * y.w + z.w));
  }
}

int main() {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  Flushed f(s);
  size_t n = 1ull << 26, n4 = n / 4;
  float4 *a, *b, *c, *o;
  for (auto p : {&a, &b, &c, &o}) {
    CK(cudaMalloc(p, n * 4));
    CK(cudaMemset(*p, 0, n * 4));
  }
  for (int rep = 0; rep < 2; rep++) {
    f.time("W1 256 x 1 (kiln)", 16.0 * n, [&] { fma4<256, 1, 0><<<n4 / 256, 256, 0, s>>>(o, a, b, c); });
    f.time("W1 256 x 1, __ldg", 16.0 * n, [&] { fma4<256, 1, 2><<<n4 / 256, 256, 0, s>>>(o, a, b, c); });
    f.time("W1 256 x 1, __ldcs", 16.0 * n, [&] { fma4<256, 1, 1><<<n4 / 256, 256, 0, s>>>(o, a, b, c); });
    f.time("W1 128 x 2 blocked (triton's layout)", 16.0 * n, [&] { fma4<128, 2, 0><<<n4 / 256, 128, 0, s>>>(o, a, b, c); });
    f.time("W1 128 x 1", 16.0 * n, [&] { fma4<128, 1, 0><<<n4 / 128, 128, 0, s>>>(o, a, b, c); });
    f.time("W1 512 x 1", 16.0 * n, [&] { fma4<512, 1, 0><<<n4 / 512, 512, 0, s>>>(o, a, b, c); });
    f.time("W1 grid-stride, 132 x 8 blocks", 16.0 * n, [&] { fma4_grid_stride<<<132 * 8, 256, 0, s>>>(o, a, b, c, n4); });
  }
  return 0;
}
