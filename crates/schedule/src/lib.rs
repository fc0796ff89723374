//! kiln-schedule: turns a tensor graph into an ordered list of kernels with buffer assignments.
//!
//! Pipeline: [`realize`] finds the nodes that must live in memory, [`build`] cuts the graph at those
//! nodes into kernel ASTs (a `SINK` of `STORE`s whose values read `DEFINE_GLOBAL` parameters through
//! movement ops), and [`merge`] joins independent elementwise kernels of one shape into multi-output
//! kernels. This crate never sees how kernels are rendered or run.

mod build;
mod error;
mod kernel;
mod merge;
mod realize;

pub use error::ScheduleError;
pub use kernel::{BufferRef, BufferSpec, Kernel, Schedule};

use kiln_uop::UOp;

/// Schedules the tensor-level graphs `outputs` (realized together) into kernels.
pub fn schedule(outputs: &[UOp]) -> Result<Schedule, ScheduleError> {
    let points = realize::realize_points(outputs)?;
    let schedule = build::build_kernels(outputs, &points)?;
    Ok(merge::merge_elementwise(schedule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::{Arg, DType, Op, ReduceOp};

    fn buffer(id: u64, shape: &[usize]) -> UOp {
        let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id, numel: shape.iter().product() });
        UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(shape.to_vec()))
    }
    fn reduce(x: &UOp, op: ReduceOp, axes: &[usize]) -> UOp {
        UOp::new(Op::ReduceAxis, x.dtype(), vec![x.clone()], Arg::ReduceAxis(op, axes.to_vec()))
    }
    fn expand(x: &UOp, shape: &[usize]) -> UOp {
        UOp::new(Op::Expand, x.dtype(), vec![x.clone()], Arg::Shape(shape.to_vec()))
    }

    #[test]
    fn seed_case_is_one_kernel_with_four_inputs_and_two_outputs() {
        let (a, b, c, d) = (buffer(1, &[16]), buffer(2, &[16]), buffer(3, &[16]), buffer(4, &[16]));
        let ab = a.add(&b);
        let s = schedule(&[ab.add(&c), ab.add(&d)]).unwrap();
        assert_eq!(s.kernels.len(), 1);
        let k = &s.kernels[0];
        assert_eq!(k.output_count(), 2);
        assert_eq!(k.args.len(), 6);
        assert_eq!(s.outputs, vec![BufferRef::New(0), BufferRef::New(1)]);
    }

    #[test]
    fn sum_without_keepdim_is_one_kernel() {
        let x = buffer(1, &[4, 8]);
        let r = reduce(&x, ReduceOp::Add, &[1]);
        let out = UOp::new(Op::Reshape, DType::F32, vec![r], Arg::Shape(vec![4]));
        assert_eq!(schedule(&[out]).unwrap().kernels.len(), 1);
    }

    #[test]
    fn softmax_realizes_broadcast_reductions() {
        let x = buffer(1, &[4, 8]);
        let m = expand(&reduce(&x, ReduceOp::Max, &[1]), &[4, 8]);
        let e = x.add(&m.mul(&UOp::constant(DType::F32, kiln_uop::ConstValue::Float(-1.0))));
        let s = expand(&reduce(&e, ReduceOp::Add, &[1]), &[4, 8]);
        let out = e.fdiv(&s);
        // max, sum (which recomputes x - max), and the normalising elementwise kernel.
        let sched = schedule(&[out]).unwrap();
        assert_eq!(sched.kernels.len(), 3);
        assert_eq!(sched.buffers.len(), 3);
    }

    #[test]
    fn realizing_an_existing_buffer_needs_no_kernel() {
        let x = buffer(7, &[2, 3]);
        let s = schedule(&[x]).unwrap();
        assert!(s.kernels.is_empty());
        assert_eq!(s.outputs, vec![BufferRef::Input(7)]);
    }
}
