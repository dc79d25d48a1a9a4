//! Stress: 4 tasks on a multi-thread runtime emit, add and remove listeners on one emitter
//! concurrently, 10^5 operations in all; every call is counted and must match exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nodebook_emitter::Emitter;
use tokio::sync::Barrier;

const TASKS: usize = 4;
const OPS_PER_TASK: usize = 25_000;

struct Counters {
    /// Calls of task t's permanent `"all"` listener.
    permanent: Vec<AtomicU64>,
    /// Emits of `"all"`, by anyone.
    all_emits: AtomicU64,
    /// Calls of task t's listeners on its own event.
    own: Vec<AtomicU64>,
    once_added: AtomicU64,
    once_calls: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_emit_add_remove_loses_and_duplicates_nothing() {
    let emitter: Emitter<u64> = Emitter::new();
    emitter.set_max_listeners(0);
    let counters = Arc::new(Counters {
        permanent: (0..TASKS).map(|_| AtomicU64::new(0)).collect(),
        all_emits: AtomicU64::new(0),
        own: (0..TASKS).map(|_| AtomicU64::new(0)).collect(),
        once_added: AtomicU64::new(0),
        once_calls: AtomicU64::new(0),
    });
    for t in 0..TASKS {
        let counters = Arc::clone(&counters);
        emitter.on("all", move |_| {
            counters.permanent[t].fetch_add(1, Ordering::Relaxed);
        });
    }
    let barrier = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (emitter, counters, barrier) =
                (emitter.clone(), Arc::clone(&counters), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let own_event = format!("own-{t}");
                let mut own_ids = Vec::new();
                let mut expected_own = 0u64;
                for i in 0..OPS_PER_TASK {
                    match i % 5 {
                        0 => {
                            counters.all_emits.fetch_add(1, Ordering::Relaxed);
                            assert_eq!(emitter.emit("all", t as u64), Ok(true));
                        }
                        1 => {
                            let counters = Arc::clone(&counters);
                            own_ids.push(emitter.on(own_event.as_str(), move |_| {
                                counters.own[t].fetch_add(1, Ordering::Relaxed);
                            }));
                        }
                        2 => {
                            expected_own += own_ids.len() as u64;
                            let had = emitter.emit(&own_event, 0).unwrap();
                            assert_eq!(had, !own_ids.is_empty());
                        }
                        3 => {
                            if i % 2 == 0
                                && let Some(id) = own_ids.pop()
                            {
                                assert!(emitter.off(&own_event, id));
                            }
                        }
                        _ => {
                            let counters2 = Arc::clone(&counters);
                            counters.once_added.fetch_add(1, Ordering::Relaxed);
                            emitter.once("shared", move |_| {
                                counters2.once_calls.fetch_add(1, Ordering::Relaxed);
                            });
                            emitter.emit("shared", 0).unwrap();
                        }
                    }
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                (own_event, own_ids, expected_own)
            })
        })
        .collect();

    let results = tokio::time::timeout(Duration::from_secs(120), async {
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    })
    .await
    .expect("no deadlock");
    emitter.emit("shared", 0).unwrap();

    let all_emits = counters.all_emits.load(Ordering::Relaxed);
    assert_eq!(all_emits, (TASKS * OPS_PER_TASK / 5) as u64);
    for (t, result) in results.into_iter().enumerate() {
        let (own_event, own_ids, expected_own) = result;
        assert_eq!(
            counters.permanent[t].load(Ordering::Relaxed),
            all_emits,
            "task {t}"
        );
        assert_eq!(
            counters.own[t].load(Ordering::Relaxed),
            expected_own,
            "task {t}"
        );
        assert_eq!(
            emitter.listener_count(&own_event),
            own_ids.len(),
            "task {t}"
        );
    }
    assert_eq!(
        counters.once_calls.load(Ordering::Relaxed),
        counters.once_added.load(Ordering::Relaxed),
        "every once listener ran exactly once"
    );
    assert_eq!(emitter.listener_count("shared"), 0);
    assert_eq!(emitter.listener_count("all"), TASKS);
}
