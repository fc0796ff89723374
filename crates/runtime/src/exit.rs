//! Closing devices when the process exits. Devices opened through `kiln` live in statics, which Rust
//! never drops, so a program that returns from `main` with work still queued would tear the process
//! down under a running queue and would never save what a device keeps on disk. Each device
//! registered here gets [`Device::close_at_exit`] once, before any driver's own teardown runs.
//!
//! "Before" needs care. `atexit` handlers run last registered first, and a driver may register its
//! own while it works: lavapipe compiles each kernel on its queue thread when the kernel is first
//! dispatched, and the C++ statics LLVM creates then register their destructors after ours, so they
//! would run first and tear LLVM down under the compile still going on (a heap corruption or a hang
//! at exit, about one exit in two in `kiln/tests/exit.rs` with only an `atexit` handler). glibc's
//! `exit` runs the exiting thread's thread-local destructors before every `atexit` handler, so on Linux
//! a thread-local armed on the main thread before `main` closes the devices first; the `atexit`
//! handler stays for an exit from another thread and for other systems.

use crate::device::Device;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, TryLockError, Weak};

static OPEN: Mutex<Vec<Weak<dyn Device>>> = Mutex::new(Vec::new());

/// Closes `device` at process exit if it is still alive then (a device dropped before is skipped).
pub fn close_at_exit(device: &Arc<dyn Device>) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `close_open_devices` is a plain `extern "C"` function that never unwinds.
        if unsafe { libc::atexit(close_open_devices) } != 0 {
            tracing::warn!("cannot register the exit handler: devices will not wait for queued work at exit");
        }
    });
    OPEN.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(device));
}

/// Closes every registered device still alive, once (from the main thread's guard or `atexit`).
extern "C" fn close_open_devices() {
    static CLOSED: AtomicBool = AtomicBool::new(false);
    if CLOSED.swap(true, Ordering::AcqRel) {
        return;
    }
    // A panic must not cross into C or out of a thread-local destructor; a device that panics while
    // closing is skipped.
    let _ = std::panic::catch_unwind(|| {
        // `try_lock`: a thread that died holding the list must not hang the exit.
        let devices: Vec<Arc<dyn Device>> = match OPEN.try_lock() {
            Ok(open) => open.iter().filter_map(Weak::upgrade).collect(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().iter().filter_map(Weak::upgrade).collect(),
            Err(TryLockError::WouldBlock) => return,
        };
        for d in devices {
            d.close_at_exit();
        }
    });
}

/// The main thread's guard: armed before `main`, dropped by glibc's `exit` before any `atexit` handler.
#[cfg(target_os = "linux")]
mod main_thread {
    struct Guard;

    impl Drop for Guard {
        fn drop(&mut self) {
            super::close_open_devices();
        }
    }

    thread_local! {
        static GUARD: Guard = const { Guard };
    }

    extern "C" fn arm() {
        GUARD.with(|_| {});
    }

    /// Run by the loader on the main thread before `main`, as every `.init_array` entry is.
    #[used]
    #[link_section = ".init_array"]
    static ARM: extern "C" fn() = arm;
}
