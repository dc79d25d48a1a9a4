//! # Implementation details
//!
//! Wake-ups for the processes waiting on another's lease. A waiter registers for its key
//! *before* it checks Redis, so a `done` that arrives between the check and the wait is not
//! lost (subscribe, re-check, wait). The namespace's channel is subscribed once per replica for
//! its lifetime, so registering costs no round trip. One `watch` sender per key with waiters;
//! the last waiter to leave removes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

#[derive(Debug, Default)]
pub(crate) struct Wakers {
    keys: Mutex<HashMap<String, watch::Sender<()>>>,
}

/// A registration; `changed` resolves once a message for its key arrives after it was made.
pub(crate) struct Registration<'a> {
    wakers: &'a Wakers,
    key: &'a str,
    rx: Option<watch::Receiver<()>>,
}

impl Wakers {
    pub(crate) fn register<'a>(self: &'a Arc<Self>, key: &'a str) -> Registration<'a> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = match keys.get(key) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(());
                keys.insert(key.to_string(), tx);
                rx
            }
        };
        Registration {
            wakers: self,
            key,
            rx: Some(rx),
        }
    }

    /// Wakes every waiter registered for `key`.
    pub(crate) fn wake(&self, key: &str) {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = keys.get(key) {
            tx.send_replace(());
        }
    }

    /// Wakes every waiter (the subscription came back: messages may have been missed).
    pub(crate) fn wake_all(&self) {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        for tx in keys.values() {
            tx.send_replace(());
        }
    }
}

impl Registration<'_> {
    /// Resolves when a message for the key arrived since the registration (or the last
    /// `changed`).
    pub(crate) async fn changed(&mut self) {
        if let Some(rx) = &mut self.rx {
            // The sender lives while a receiver does (removed only by the last one), so this
            // does not fail; if it did, the poll timer still ends the wait.
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut keys = self
            .wakers
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if keys
            .get(self.key)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            keys.remove(self.key);
        }
    }
}
