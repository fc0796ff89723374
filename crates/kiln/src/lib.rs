//! kiln: the lazy `Tensor` frontend; nothing runs before `realize`.
