//! The interned UOp graph: `UOp` handles, hash-consing and memory reclamation.
//!
//! Reclamation scheme: reference counts. A `UOp` is an `Arc` to its node; the interner holds only weak
//! entries keyed by `(op, dtype, child ids, arg)`. When the last handle to a node drops, its entry and
//! its small integer id are released (ids are reused from a free list), so a program that builds and
//! drops graphs in a loop runs in flat memory. Dropping is iterative, so deep chains cannot overflow the
//! stack.

use crate::dtype::{ConstValue, DType};
use crate::op::{Arg, Op, RangeKind};
use crate::shape;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak};

/// Small integer identity of a live node. Two live nodes are structurally equal iff their ids are.
pub type UOpId = u32;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    op: Op,
    dtype: DType,
    /// Source ids, inline up to four (nearly every node): a lookup allocates nothing for them.
    src: SmallVec<[UOpId; 4]>,
    arg: Arg,
}

struct Node {
    id: UOpId,
    op: Op,
    dtype: DType,
    src: Vec<UOp>,
    arg: Arg,
    shape: Option<Box<[usize]>>,
    bounds: OnceLock<(i64, i64)>,
}

#[derive(Default)]
struct Interner {
    map: FxHashMap<Key, Weak<Node>>,
    free_ids: Vec<UOpId>,
    next_id: UOpId,
}

static INTERNER: LazyLock<Mutex<Interner>> = LazyLock::new(Mutex::default);

fn interner() -> std::sync::MutexGuard<'static, Interner> {
    // A panic while holding the lock cannot leave the map inconsistent (every update is one insert or
    // remove), so a poisoned lock is safe to keep using.
    INTERNER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Number of live interned nodes (for memory tests and `KILN_DEBUG` statistics).
pub fn live_uops() -> usize {
    interner().map.len()
}

/// A handle to an interned node. Cloning is cheap; equality and hashing use the node id.
#[derive(Clone)]
pub struct UOp(Arc<Node>);

/// A handle to a node that does not keep it alive (see [`UOp::downgrade`]).
#[derive(Clone)]
pub struct WeakUOp(Weak<Node>);

impl WeakUOp {
    /// The node, if something else still holds it.
    pub fn upgrade(&self) -> Option<UOp> {
        self.0.upgrade().map(UOp)
    }
}

impl UOp {
    /// Builds (or finds) the node `(op, dtype, src, arg)`.
    pub fn new(op: Op, dtype: DType, src: Vec<UOp>, arg: Arg) -> UOp {
        let key = Key { op, dtype, src: src.iter().map(UOp::id).collect(), arg };
        let mut table = interner();
        if let Some(existing) = table.map.get(&key).and_then(Weak::upgrade) {
            return UOp(existing);
        }
        let id = table.free_ids.pop().unwrap_or_else(|| {
            table.next_id += 1;
            table.next_id - 1
        });
        let shape = shape::infer(op, &src, &key.arg);
        let node = Arc::new(Node { id, op, dtype, src, arg: key.arg.clone(), shape, bounds: OnceLock::new() });
        table.map.insert(key, Arc::downgrade(&node));
        UOp(node)
    }

    /// The node's id.
    pub fn id(&self) -> UOpId {
        self.0.id
    }
    /// The node's op.
    pub fn op(&self) -> Op {
        self.0.op
    }
    /// The node's dtype.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// The node's sources.
    pub fn src(&self) -> &[UOp] {
        &self.0.src
    }
    /// The node's argument.
    pub fn arg(&self) -> &Arg {
        &self.0.arg
    }
    /// Tensor-level shape, where the op has one (scalars have `[]`).
    pub fn shape(&self) -> Option<&[usize]> {
        self.0.shape.as_deref()
    }

    /// A handle that does not keep the node alive.
    pub fn downgrade(&self) -> WeakUOp {
        WeakUOp(Arc::downgrade(&self.0))
    }

    pub(crate) fn cached_bounds(&self, compute: impl FnOnce() -> (i64, i64)) -> (i64, i64) {
        *self.0.bounds.get_or_init(compute)
    }

    /// The same node with other sources.
    pub fn with_src(&self, src: Vec<UOp>) -> UOp {
        UOp::new(self.op(), self.dtype(), src, self.arg().clone())
    }

    /// All nodes reachable from `self`, children before parents, each once.
    pub fn toposort(&self) -> Vec<UOp> {
        let mut order = Vec::new();
        let mut seen = FxHashSet::default();
        let mut stack = vec![(self.clone(), false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                order.push(node);
                continue;
            }
            if !seen.insert(node.id()) {
                continue;
            }
            stack.push((node.clone(), true));
            for s in node.src().iter().rev() {
                if !seen.contains(&s.id()) {
                    stack.push((s.clone(), false));
                }
            }
        }
        order
    }

    /// `self` with every node that is a key of `replace` swapped for its value (children first, so
    /// the walk needs no stack depth). Nodes above a replacement are rebuilt; the rest are shared.
    pub fn substitute(&self, replace: &HashMap<UOp, UOp>) -> UOp {
        if replace.is_empty() {
            return self.clone();
        }
        let mut done: FxHashMap<UOp, UOp> = FxHashMap::default();
        for u in self.toposort() {
            let new = match replace.get(&u) {
                Some(r) => r.clone(),
                None => {
                    let src: Vec<UOp> = u.src().iter().map(|s| done[s].clone()).collect();
                    if src.iter().zip(u.src()).all(|(a, b)| a == b) {
                        u.clone()
                    } else {
                        u.with_src(src)
                    }
                }
            };
            done.insert(u, new);
        }
        done[self].clone()
    }

    // ---- constructors ----

    /// A constant of `dtype` (the value is cast to it).
    pub fn constant(dtype: DType, value: ConstValue) -> UOp {
        UOp::new(Op::Const, dtype, vec![], Arg::Const(value.cast(dtype)))
    }
    /// An `Index` constant.
    pub fn index(value: i64) -> UOp {
        UOp::constant(DType::Index, ConstValue::Int(value))
    }
    /// A boolean constant.
    pub fn boolean(value: bool) -> UOp {
        UOp::constant(DType::Bool, ConstValue::Bool(value))
    }
    /// An `Index` variable with inclusive bounds.
    pub fn var(name: &str, min: i64, max: i64) -> UOp {
        UOp::new(Op::DefineVar, DType::Index, vec![], Arg::Var { name: name.into(), min, max })
    }
    /// A loop variable `0..end`.
    pub fn range(end: i64, id: u32, kind: RangeKind) -> UOp {
        UOp::new(Op::Range, DType::Index, vec![UOp::index(end)], Arg::Range { id, kind })
    }
    /// An ALU node; comparisons get dtype `Bool`, everything else the dtype of the last source
    /// (so `Where` takes its value type).
    pub fn alu(op: Op, src: Vec<UOp>) -> UOp {
        let dtype = if op.is_comparison() { DType::Bool } else { src.last().map_or(DType::Void, UOp::dtype) };
        UOp::new(op, dtype, src, Arg::None)
    }
    /// A value conversion.
    pub fn cast(&self, dtype: DType) -> UOp {
        if self.dtype() == dtype {
            return self.clone();
        }
        UOp::new(Op::Cast, dtype, vec![self.clone()], Arg::None)
    }

    /// The constant value, if this is a `Const`.
    pub fn const_value(&self) -> Option<ConstValue> {
        match (self.op(), self.arg()) {
            (Op::Const, Arg::Const(v)) => Some(*v),
            _ => None,
        }
    }
    /// The integer value, if this is an integer `Const`.
    pub fn const_int(&self) -> Option<i64> {
        match self.const_value()? {
            ConstValue::Int(i) => Some(i),
            ConstValue::Bool(b) => Some(i64::from(b)),
            ConstValue::Float(_) => None,
        }
    }
}

macro_rules! binary_builders {
    ($($name:ident => $op:ident),* $(,)?) => {
        impl UOp {
            $(
                #[doc = concat!("`", stringify!($op), "` of `self` and `other`.")]
                pub fn $name(&self, other: &UOp) -> UOp {
                    UOp::alu(Op::$op, vec![self.clone(), other.clone()])
                }
            )*
        }
    };
}
binary_builders!(add => Add, mul => Mul, idiv => Idiv, modulo => Mod, fdiv => Fdiv, max => Max,
    lt => CmpLt, ne => CmpNe, eq => CmpEq, and => And, or => Or, xor => Xor);

impl UOp {
    /// `self - other`, built as `self + other * -1` (there is no subtraction op).
    pub fn sub(&self, other: &UOp) -> UOp {
        self.add(&other.mul(&UOp::constant(other.dtype(), ConstValue::Int(-1))))
    }
    /// `cond ? self : other`.
    pub fn select(cond: &UOp, then: &UOp, otherwise: &UOp) -> UOp {
        UOp::alu(Op::Where, vec![cond.clone(), then.clone(), otherwise.clone()])
    }
}

impl Node {
    /// Removes this node's interner entry (if it is still ours) and frees its id. Called exactly once
    /// per node, while `src` still holds the children its key was built from.
    fn release(&mut self, table: &mut Interner) {
        let key = Key {
            op: self.op,
            dtype: self.dtype,
            src: self.src.iter().map(UOp::id).collect(),
            arg: std::mem::replace(&mut self.arg, Arg::None),
        };
        // Remove the entry only if it is ours: a node with the same key may have been built after our
        // strong count reached zero, and that one must stay.
        if table.map.get(&key).is_some_and(|w| w.strong_count() == 0) {
            table.map.remove(&key);
        }
        table.free_ids.push(self.id);
        self.id = RELEASED;
    }
}

/// The id of a node whose entry has been released (its `Drop` then has nothing left to do).
const RELEASED: UOpId = UOpId::MAX;

impl Drop for Node {
    fn drop(&mut self) {
        if self.id == RELEASED {
            return;
        }
        let mut table = interner();
        self.release(&mut table);
        // Children whose last handle is ours are released here, each while its own `src` is intact, and
        // their children queued: dropping a deep chain needs no stack depth.
        // A child that another thread still holds is dropped only after the lock is let go: should
        // that thread drop its handle meanwhile, ours becomes the last and its `Drop` needs the lock.
        let mut stack = std::mem::take(&mut self.src);
        let mut shared = Vec::new();
        while let Some(child) = stack.pop() {
            match Arc::try_unwrap(child.0) {
                Ok(mut node) => {
                    node.release(&mut table);
                    stack.append(&mut node.src);
                }
                Err(still_shared) => shared.push(still_shared),
            }
        }
        drop(table);
        drop(shared);
    }
}

impl PartialEq for UOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for UOp {}
impl Hash for UOp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}
impl fmt::Debug for UOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_structure_is_one_node() {
        let x = UOp::var("x", 0, 10);
        let a = x.add(&UOp::index(1));
        let b = UOp::var("x", 0, 10).add(&UOp::index(1));
        assert_eq!(a, b);
        assert_eq!(a.id(), b.id());
        assert_ne!(a, x.add(&UOp::index(2)));
    }

    #[test]
    fn toposort_puts_children_first() {
        let x = UOp::var("x", 0, 10);
        let e = x.add(&x).mul(&x);
        let order = e.toposort();
        assert_eq!(order.last(), Some(&e));
        assert_eq!(order.iter().filter(|u| **u == x).count(), 1);
        assert_eq!(order.first(), Some(&x));
    }

    #[test]
    fn substitute_rebuilds_only_what_is_above_a_replacement() {
        let (x, y) = (UOp::var("x", 0, 10), UOp::var("y", 0, 10));
        let e = x.add(&UOp::index(1)).mul(&y);
        let mut map = HashMap::new();
        map.insert(x.add(&UOp::index(1)), UOp::index(5));
        assert_eq!(e.substitute(&map), UOp::index(5).mul(&y));
        assert_eq!(y.substitute(&map), y, "untouched graphs are shared");
    }

    #[test]
    fn weak_handles_do_not_keep_nodes_alive() {
        let e = UOp::var("weak", 0, 3).add(&UOp::index(9));
        let w = e.downgrade();
        assert_eq!(w.upgrade(), Some(e.clone()));
        drop(e);
        assert!(w.upgrade().is_none());
    }
}
