//! Gives freed memory back to the system once connections have gone.
//!
//! glibc keeps what a burst of connections freed in its arenas for reuse,
//! so after a flood the process stays near its peak although nothing holds
//! that memory any more (the memory bench shows it). When the number of
//! live connections has fallen since the last look, `malloc_trim(0)` hands
//! the free pages of every arena back. It runs at most every
//! [`TRIM_EVERY`], on a blocking thread; other platforms and allocators do
//! nothing here.

use std::time::Duration;

use tokio::sync::watch;

/// How often the count of live connections is looked at.
const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Starts the task: it watches `live` (connections accepted whose
/// `$disconnect` has not finished) and stops with `shutdown`.
pub(crate) fn start(mut live: watch::Receiver<usize>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The most connections seen since the last trim.
        let mut high = *live.borrow();
        let stop = async move {
            // The guard it answers is not `Send`: dropped here, not held.
            let _ = shutdown.wait_for(|s| *s).await.map(drop);
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                changed = live.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    high = high.max(*live.borrow_and_update());
                }
                _ = tick.tick() => {
                    let now = *live.borrow();
                    if now < high {
                        let _ = tokio::task::spawn_blocking(release).await;
                    }
                    high = now;
                }
            }
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release() {
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks;
    // it takes no pointer and frees nothing still in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() {}
