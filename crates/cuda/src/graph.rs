//! CUDA graphs: a captured list of launches built explicitly as one `CUgraph` (a kernel node per launch,
//! edges only from buffer hazards), instantiated once and launched with one `cuGraphLaunch` per
//! replay. A replay patches the kernel nodes whose arguments changed (`cuGraphExecKernelNodeSetParams`)
//! and nothing else. On sm_90 and later a kernel that waits for exactly one other follows it through a
//! programmatic edge (Hopper's programmatic dependent launch): it is scheduled once every block of the
//! one before has started, and its `griddepcontrol.wait` holds it until that one's writes are visible.
//! The edges are the transitive reduction of the hazards (`kiln_runtime::capture`), without which a
//! chain's nodes would carry redundant second edges and lose the overlap.

use crate::device::{describe, CudaKernel};
use cudarc::driver::{sys, CudaContext, CudaStream, DriverError};
use kiln_runtime::{apply_patches, check_launch_args, DeviceGraph, Launch, Patch, RawBuffer, RuntimeError};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, PoisonError};

/// Live allocations of a device and their sizes, shared with its graphs (patched buffers are checked).
pub(crate) type Allocations = Arc<Mutex<HashMap<u64, usize>>>;

/// An instantiated CUDA graph of kernel nodes.
pub(crate) struct CudaGraph {
    label: String,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    allocations: Allocations,
    graph: sys::CUgraph,
    exec: sys::CUgraphExec,
    nodes: Vec<sys::CUgraphNode>,
    /// The launches with their current arguments; they keep the kernels' modules loaded.
    launches: Vec<Launch>,
}

// SAFETY: the graph handles are used only through `&mut self` (one thread at a time) with the
// context bound, and CUDA graph objects may be used from any thread.
unsafe impl Send for CudaGraph {}

/// A kernel node's parameters for `launch`; `values` must outlive the call that reads them.
fn node_params(
    launch: &Launch,
    function: sys::CUfunction,
    values: &mut [u64],
    pointers: &mut Vec<*mut c_void>,
) -> sys::CUDA_KERNEL_NODE_PARAMS {
    pointers.clear();
    pointers.extend(values.iter_mut().map(|v| std::ptr::from_mut(v).cast::<c_void>()));
    let [gx, gy, gz] = launch.program.launch.global;
    let [lx, ly, lz] = launch.program.launch.local;
    sys::CUDA_KERNEL_NODE_PARAMS {
        func: function,
        gridDimX: gx,
        gridDimY: gy,
        gridDimZ: gz,
        blockDimX: lx,
        blockDimY: ly,
        blockDimZ: lz,
        sharedMemBytes: 0,
        kernelParams: pointers.as_mut_ptr(),
        extra: std::ptr::null_mut(),
        kern: std::ptr::null_mut(),
        ctx: std::ptr::null_mut(),
    }
}

impl CudaGraph {
    /// Builds and instantiates the graph of `launches` (`deps[i]`: the launches `i` waits for), with
    /// programmatic edges where `programmatic` (every kernel was compiled for sm_90 or later, so each
    /// begins with `griddepcontrol.wait`) and a node has one dependency.
    pub(crate) fn new(
        label: &str,
        ctx: &Arc<CudaContext>,
        stream: &Arc<CudaStream>,
        allocations: &Allocations,
        launches: &[Launch],
        deps: &[Vec<usize>],
        programmatic: bool,
    ) -> Result<CudaGraph, RuntimeError> {
        let error = |what: &str, e: DriverError| RuntimeError::Device {
            device: label.to_string(),
            what: what.into(),
            detail: describe(e),
        };
        ctx.bind_to_thread().map_err(|e| error("graph capture", e))?;
        let mut graph = CudaGraph {
            label: label.to_string(),
            ctx: Arc::clone(ctx),
            stream: Arc::clone(stream),
            allocations: Arc::clone(allocations),
            graph: std::ptr::null_mut(),
            exec: std::ptr::null_mut(),
            nodes: Vec::with_capacity(launches.len()),
            launches: launches.to_vec(),
        };
        // SAFETY: creates an empty graph; destroyed in `Drop`.
        unsafe { sys::cuGraphCreate(&mut graph.graph, 0) }.result().map_err(|e| error("cuGraphCreate", e))?;
        let mut pointers = Vec::new();
        for (i, launch) in launches.iter().enumerate() {
            let function = graph.function(launch)?;
            graph.check(launch)?;
            let mut values: Vec<u64> = launch.args.iter().map(|a| a.0).collect();
            let params = node_params(launch, function, &mut values, &mut pointers);
            let waits: Vec<sys::CUgraphNode> = deps[i].iter().map(|&d| graph.nodes[d]).collect();
            // A kernel that waits for exactly one other follows it through a programmatic edge; a
            // node with several incoming edges gains nothing from them (measured), so it keeps plain ones.
            let programmatic_edge = programmatic && waits.len() == 1;
            let plain = if programmatic_edge { &[][..] } else { &waits[..] };
            let mut node = std::ptr::null_mut();
            // SAFETY: the parameters point at `values`, alive across the call (the driver copies them);
            // the kernel takes one device pointer per slot, each checked to be large enough.
            unsafe { sys::cuGraphAddKernelNode_v2(&mut node, graph.graph, plain.as_ptr(), plain.len(), &params) }
                .result()
                .map_err(|e| error(&format!("cuGraphAddKernelNode({})", launch.program.name), e))?;
            if programmatic_edge {
                let edge = sys::CUgraphEdgeData {
                    from_port: sys::CU_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC as u8,
                    to_port: 0,
                    type_: sys::CUgraphDependencyType::CU_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC as u8,
                    reserved: [0; 5],
                };
                // SAFETY: one edge from a node of this graph to the node just added.
                unsafe { sys::cuGraphAddDependencies_v2(graph.graph, waits.as_ptr(), &node, &edge, 1) }
                    .result()
                    .map_err(|e| error(&format!("cuGraphAddDependencies({})", launch.program.name), e))?;
            }
            graph.nodes.push(node);
        }
        // SAFETY: the graph is complete; the executable graph is destroyed in `Drop`.
        unsafe { sys::cuGraphInstantiateWithFlags(&mut graph.exec, graph.graph, 0) }
            .result()
            .map_err(|e| error("cuGraphInstantiate", e))?;
        Ok(graph)
    }

    fn error(&self, what: &str, e: DriverError) -> RuntimeError {
        RuntimeError::Device { device: self.label.clone(), what: what.into(), detail: describe(e) }
    }

    fn function(&self, launch: &Launch) -> Result<sys::CUfunction, RuntimeError> {
        launch.kernel.downcast_ref::<CudaKernel>().map(|k| k.function.cu_function()).ok_or_else(|| {
            RuntimeError::Device {
                device: self.label.clone(),
                what: format!("graph node {}", launch.program.name),
                detail: "kernel was not compiled by a CUDA device".into(),
            }
        })
    }

    /// Checks that every argument of `launch` is a live allocation large enough for its slot.
    fn check(&self, launch: &Launch) -> Result<(), RuntimeError> {
        let allocations = self.allocations.lock().unwrap_or_else(PoisonError::into_inner);
        check_launch_args(&launch.program, &launch.args, |b: RawBuffer| {
            allocations.get(&b.0).copied().ok_or_else(|| RuntimeError::Device {
                device: self.label.clone(),
                what: "graph argument".into(),
                detail: format!("unknown buffer {:#x}", b.0),
            })
        })
    }
}

impl DeviceGraph for CudaGraph {
    fn replay(&mut self, patches: &[Patch]) -> Result<(), RuntimeError> {
        let mut changed: Vec<usize> = Vec::new();
        for p in patches {
            let current = self.launches.get(p.launch).and_then(|l| l.args.get(p.slot)).copied();
            if current != Some(p.buffer) && !changed.contains(&p.launch) {
                changed.push(p.launch);
            }
        }
        apply_patches(&mut self.launches, patches)?;
        self.ctx.bind_to_thread().map_err(|e| self.error("graph replay", e))?;
        let mut pointers = Vec::new();
        for &i in &changed {
            let launch = &self.launches[i];
            self.check(launch)?;
            let function = self.function(launch)?;
            let mut values: Vec<u64> = launch.args.iter().map(|a| a.0).collect();
            let params = node_params(launch, function, &mut values, &mut pointers);
            // SAFETY: the node belongs to the graph `exec` was instantiated from; the parameters are
            // checked as at capture and point at `values`, alive across the call.
            unsafe { sys::cuGraphExecKernelNodeSetParams_v2(self.exec, self.nodes[i], &params) }
                .result()
                .map_err(|e| self.error(&format!("cuGraphExecKernelNodeSetParams({})", launch.program.name), e))?;
        }
        // SAFETY: an instantiated graph launched on this device's stream, after the work queued before.
        unsafe { sys::cuGraphLaunch(self.exec, self.stream.cu_stream()) }
            .result()
            .map_err(|e| self.error("cuGraphLaunch", e))
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        let _ = self.ctx.bind_to_thread();
        // SAFETY: replays are ordered on the stream, so waiting for it ends every use of the graph;
        // both handles were created in `new` and are destroyed once.
        unsafe {
            let _ = self.stream.synchronize();
            if !self.exec.is_null() {
                let _ = sys::cuGraphExecDestroy(self.exec);
            }
            if !self.graph.is_null() {
                let _ = sys::cuGraphDestroy(self.graph);
            }
        }
    }
}
