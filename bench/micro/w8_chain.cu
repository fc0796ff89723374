// W8's shape as a CUDA graph: 100 dependent kernels, each y = y * 1.0001 over 1024 floats (one block
// of 256 threads, one float4 each, as kiln renders it), built node by node as kiln builds its graphs.
// Compares plain and programmatic edges, with and without the second, implied edge a chain over
// alternating buffers carries (write after write on the buffer two launches back), and the two orders
// of `griddepcontrol.launch_dependents` and `griddepcontrol.wait`; and the same kernels launched
// eagerly, one by one, for the host's launch cost.
#include <chrono>
#include "common.cuh"

template <int MODE>  // 0: wait then trigger; 1: trigger then wait; 2: neither
__global__ void __launch_bounds__(256) scale(float* __restrict__ o, const float* __restrict__ a) {
  if (MODE == 1) asm volatile("griddepcontrol.launch_dependents;");
  if (MODE != 2) asm volatile("griddepcontrol.wait;" ::: "memory");
  if (MODE == 0) asm volatile("griddepcontrol.launch_dependents;");
  int i = blockIdx.x * 256 + threadIdx.x;
  float4 v = *((const float4*)(a + i * 4));
  __stcs((float4*)(o + i * 4), make_float4(v.x * 1.0001f, v.y * 1.0001f, v.z * 1.0001f, v.w * 1.0001f));
}
typedef void (*kfn)(float*, const float*);

void chain(const char* name, kfn f, bool programmatic, bool implied, float** bufs, cudaStream_t s) {
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaGraphCreate(&g, 0));
  std::vector<cudaGraphNode_t> nodes;
  std::vector<float*> outs(100), ins(100);
  std::vector<std::vector<void*>> args(100);
  for (int k = 0; k < 100; k++) {
    ins[k] = bufs[k % 2];
    outs[k] = bufs[(k + 1) % 2];
    args[k] = {&outs[k], &ins[k]};
    cudaKernelNodeParams p = {};
    p.func = (void*)f;
    p.gridDim = 1;
    p.blockDim = 256;
    p.kernelParams = args[k].data();
    cudaGraphNode_t n;
    CK(cudaGraphAddKernelNode(&n, g, nullptr, 0, &p));
    std::vector<cudaGraphNode_t> from;
    if (k >= 1) from.push_back(nodes[k - 1]);
    if (implied && k >= 2) from.push_back(nodes[k - 2]);
    for (auto fn : from) {
      cudaGraphEdgeData ed = {};
      if (programmatic) {
        ed.from_port = cudaGraphKernelNodePortProgrammatic;
        ed.type = cudaGraphDependencyTypeProgrammatic;
      }
      CK(cudaGraphAddDependencies(g, &fn, &n, &ed, 1));
    }
    nodes.push_back(n);
  }
  CK(cudaGraphInstantiateWithFlags(&ge, g, 0));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int w = 0; w < 5; w++) CK(cudaGraphLaunch(ge, s));
  CK(cudaStreamSynchronize(s));
  std::vector<float> t;
  for (int r = 0; r < 200; r++) {
    CK(cudaEventRecord(e0, s));
    CK(cudaGraphLaunch(ge, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms);
  }
  printf("W8 chain %-48s %.3f us/kernel (median of 200 replays from idle)\n", name, median(t) * 1000 / 100);
  CK(cudaGraphExecDestroy(ge));
  CK(cudaGraphDestroy(g));
}

// The same 100 kernels launched one by one on the stream (no graph), timed with events from an idle
// device: the host's launch cost, the floor under any eager framework's W8 on this machine. Also the
// host wall time of the 100 launch calls alone.
void eager(float** bufs, cudaStream_t s) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> t, host;
  for (int r = 0; r < 203; r++) {
    CK(cudaStreamSynchronize(s));
    CK(cudaEventRecord(e0, s));
    auto h0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 100; k++) scale<2><<<1, 256, 0, s>>>(bufs[(k + 1) % 2], bufs[k % 2]);
    auto h1 = std::chrono::steady_clock::now();
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    if (r >= 3) {
      t.push_back(ms);
      host.push_back(std::chrono::duration<float, std::milli>(h1 - h0).count());
    }
  }
  CK(cudaGetLastError());
  printf("W8 chain %-48s %.3f us/kernel GPU, %.3f us/kernel host (medians of 200 from idle)\n",
         "eager launches, <<<>>> one by one", median(t) * 1000 / 100, median(host) * 1000 / 100);
}

int main() {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  float* bufs[2];
  for (auto& b : bufs) {
    CK(cudaMalloc(&b, 4096));
    CK(cudaMemset(b, 0, 4096));
  }
  for (int rep = 0; rep < 2; rep++) {
    chain("plain edges, plain kernel", scale<2>, false, false, bufs, s);
    chain("plain edges + implied, plain kernel", scale<2>, false, true, bufs, s);
    chain("programmatic + implied, trigger then wait", scale<1>, true, true, bufs, s);
    chain("programmatic, wait then trigger", scale<0>, true, false, bufs, s);
    chain("programmatic, trigger then wait (kiln)", scale<1>, true, false, bufs, s);
    eager(bufs, s);
  }
  return 0;
}
