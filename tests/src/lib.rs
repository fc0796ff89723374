//! Cross-backend conformance tests for kiln live in `tests/`; this library is empty.
