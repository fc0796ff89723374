//! The interner returns to its baseline after varied graphs are built and dropped: every node's entry
//! is removed when its last handle goes, including children released while their parent drops. Alone
//! in its file, so no other test's nodes are counted.

use kiln_uop::{live_uops, Arg, DType, Op, UOp};

fn varied_graph(i: i64) -> UOp {
    let x = UOp::var("x", 0, 100 + i % 7);
    let mut e = x.mul(&UOp::index(i)).add(&UOp::index(i % 11));
    for k in 0..(i % 9) {
        e = match (i + k) % 4 {
            0 => e.modulo(&UOp::index(k + 2)),
            1 => e.idiv(&UOp::index(k + 3)),
            2 => e.max(&x.add(&UOp::index(k))),
            _ => UOp::select(&e.lt(&UOp::index(i)), &e, &x),
        };
    }
    let shape = vec![1 + (i % 5) as usize, 3];
    let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id: i as u64, numel: shape[0] * 3 });
    let r = UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(shape));
    UOp::new(Op::Sink, DType::Void, vec![e, r], Arg::None)
}

/// The two tests count the same global interner: they take turns.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn live_nodes_return_to_baseline_after_100_000_varied_graphs() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let baseline = live_uops();
    let mut kept = Vec::new();
    for i in 0..100_000 {
        let g = varied_graph(i);
        if i % 1000 == 0 {
            kept.push(g);
        }
    }
    assert!(live_uops() > baseline, "kept graphs are live");
    drop(kept);
    assert_eq!(live_uops(), baseline, "every entry is released");
}

#[test]
fn a_deep_chain_releases_every_entry() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let baseline = live_uops();
    let mut e = UOp::var("deep", 0, 3);
    for i in 0..200_000 {
        e = e.add(&UOp::index(i));
    }
    drop(e);
    assert_eq!(live_uops(), baseline);
}
