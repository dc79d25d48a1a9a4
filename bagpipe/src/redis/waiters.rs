//! # Implementation details
//!
//! This process's waiters in the Redis queue, by id, so that a grant (from a `g:` message on
//! the events channel, or from the reply of this process's own release) reaches the waiter it
//! names without another round trip. A waiter registers *before* its first attempt, so a grant
//! that arrives between an attempt and the wait is kept (the slot stores it and `Notify` keeps
//! the wake-up).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::store::Granted;

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    by_id: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One waiter's mailbox.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    granted: Mutex<Option<Granted>>,
    wake: Notify,
}

impl Waiters {
    pub(crate) fn register(&self, id: &str) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        self.lock().insert(id.to_string(), Arc::clone(&slot));
        slot
    }

    pub(crate) fn unregister(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Hands `granted` to the waiter `id`, if it is one of this process's.
    pub(crate) fn grant(&self, id: &str, granted: Granted) {
        let slot = self.lock().get(id).cloned();
        if let Some(slot) = slot {
            *slot.granted.lock().unwrap_or_else(PoisonError::into_inner) = Some(granted);
            slot.wake.notify_one();
        }
    }

    /// Makes every waiter look at Redis again (grant messages may have been missed).
    pub(crate) fn wake_all(&self) {
        for slot in self.lock().values() {
            slot.wake.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot {
    /// The grant delivered to this waiter, if any.
    pub(crate) fn take(&self) -> Option<Granted> {
        self.granted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Resolves at the next wake-up (or at once if one came since the last).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(fence: u64) -> Granted {
        Granted {
            fence,
            epoch: "1".to_string(),
        }
    }

    #[tokio::test]
    async fn a_grant_before_the_wait_is_kept() {
        let waiters = Waiters::default();
        let slot = waiters.register("a");
        waiters.grant("a", granted(7));
        slot.woken().await;
        assert_eq!(slot.take(), Some(granted(7)));
        assert_eq!(slot.take(), None);
    }

    #[tokio::test]
    async fn a_grant_for_another_process_is_ignored() {
        let waiters = Waiters::default();
        let slot = waiters.register("a");
        waiters.grant("b", granted(1));
        assert_eq!(slot.take(), None);
        waiters.unregister("a");
        waiters.grant("a", granted(2));
        assert_eq!(slot.take(), None, "unregistered: nothing delivered");
    }
}
