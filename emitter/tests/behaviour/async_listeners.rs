//! `on_async`: ordering and concurrency, failures (errors and panics) never lost, the emitter
//! dropped while calls run, the backlog bound, and the runtime requirement.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_emitter::{ASYNC_BACKLOG, AsyncFailure, Emitter};
use tokio::sync::{Barrier, Semaphore, mpsc};

#[tokio::test]
async fn calls_of_one_listener_run_one_at_a_time_in_emit_order() {
    let emitter: Emitter<u32> = Emitter::new();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let g = Arc::clone(&gate);
    emitter.on_async("job", move |n: u32| {
        let (started, gate) = (started_tx.clone(), Arc::clone(&g));
        async move {
            started.send(n).unwrap();
            gate.acquire().await.unwrap().forget();
            Ok(())
        }
    });
    for n in 1..=3 {
        assert_eq!(emitter.emit("job", n), Ok(true));
    }
    assert_eq!(started.recv().await, Some(1));
    tokio::task::yield_now().await;
    assert!(
        started.try_recv().is_err(),
        "the second call waits for the first"
    );
    gate.add_permits(1);
    assert_eq!(started.recv().await, Some(2));
    gate.add_permits(2);
    assert_eq!(started.recv().await, Some(3));
}

#[tokio::test(start_paused = true)]
async fn different_async_listeners_run_concurrently() {
    // Each listener waits for the other at a barrier: run one after the other, they would never
    // get past it, and the (paused-time) timeout would fire.
    let emitter: Emitter<u32> = Emitter::new();
    let barrier = Arc::new(Barrier::new(3));
    for _ in 0..2 {
        let barrier = Arc::clone(&barrier);
        emitter.on_async("job", move |_| {
            let barrier = Arc::clone(&barrier);
            async move {
                barrier.wait().await;
                Ok(())
            }
        });
    }
    emitter.emit("job", 1).unwrap();
    tokio::time::timeout(Duration::from_secs(60), barrier.wait())
        .await
        .expect("both listeners reached the barrier together");
}

#[tokio::test]
async fn an_err_reaches_error_after_every_emitter_handle_was_dropped() {
    let emitter: Emitter<String> = Emitter::new();
    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    let released = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(Arc::clone(&released));
    emitter.on("error", move |e: &String| {
        let _keep = &guard;
        errors_tx.send(e.clone()).unwrap();
    });
    let gate = Arc::new(Semaphore::new(0));
    let g = Arc::clone(&gate);
    emitter.on_async("save", move |name: String| {
        let gate = Arc::clone(&g);
        async move {
            gate.acquire().await.unwrap().forget();
            Err(format!("cannot save {name}"))
        }
    });
    emitter.emit("save", "a".to_string()).unwrap();
    emitter.emit("save", "b".to_string()).unwrap();
    drop(emitter);
    assert_eq!(
        released.load(Ordering::Relaxed),
        0,
        "the running call keeps the listeners"
    );
    gate.add_permits(2);
    assert_eq!(errors.recv().await.unwrap(), "cannot save a");
    assert_eq!(errors.recv().await.unwrap(), "cannot save b");
    assert_eq!(
        errors.recv().await,
        None,
        "the listeners are released after the calls"
    );
    assert_eq!(released.load(Ordering::Relaxed), 1);
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn panics_in_the_listener_or_its_future_reach_the_hook_with_their_message() {
    let emitter: Emitter<u32> = Emitter::new();
    let (failures_tx, mut failures) = mpsc::unbounded_channel();
    emitter.set_rejection_hook(move |failure: AsyncFailure<u32>| {
        failures_tx
            .send((
                failure.event().to_string(),
                failure.panic_message().map(str::to_owned),
            ))
            .unwrap();
    });
    emitter.on_async("job", |n: u32| {
        assert!(n != 1, "refused before the future");
        async move {
            tokio::task::yield_now().await;
            assert!(n != 2, "failed inside the future");
            Ok(())
        }
    });
    emitter.emit("job", 1).unwrap();
    emitter.emit("job", 2).unwrap();
    let expected = |message: &str| ("job".to_string(), Some(message.to_string()));
    assert_eq!(
        failures.recv().await.unwrap(),
        expected("refused before the future")
    );
    assert_eq!(
        failures.recv().await.unwrap(),
        expected("failed inside the future")
    );
}

#[tokio::test]
async fn a_panic_is_not_an_error_payload_and_the_queue_goes_on() {
    let emitter: Emitter<u32> = Emitter::new();
    let errors = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&errors);
    emitter.on("error", move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let (done_tx, mut done) = mpsc::unbounded_channel();
    emitter.on_async("job", move |n: u32| {
        let done = done_tx.clone();
        async move {
            assert!(n != 0, "zero");
            done.send(n).unwrap();
            Ok(())
        }
    });
    emitter.emit("job", 0).unwrap();
    emitter.emit("job", 1).unwrap();
    assert_eq!(done.recv().await, Some(1), "the call after the panic ran");
    assert_eq!(errors.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_removed_listener_finishes_what_was_emitted_and_is_not_called_again() {
    let emitter: Emitter<u32> = Emitter::new();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let g = Arc::clone(&gate);
    let id = emitter.on_async("job", move |n: u32| {
        let (started, gate) = (started_tx.clone(), Arc::clone(&g));
        async move {
            started.send(n).unwrap();
            gate.acquire().await.unwrap().forget();
            Ok(())
        }
    });
    assert_eq!(emitter.listener_count("job"), 1);
    emitter.emit("job", 1).unwrap();
    emitter.emit("job", 2).unwrap();
    assert!(emitter.off("job", id));
    assert_eq!(emitter.emit("job", 3), Ok(false));
    gate.add_permits(3);
    assert_eq!(started.recv().await, Some(1));
    assert_eq!(started.recv().await, Some(2));
    assert_eq!(started.recv().await, None, "3 was never started");
}

#[tokio::test]
async fn an_emit_beyond_the_backlog_is_reported_as_overloaded_with_its_payload() {
    let emitter: Emitter<usize> = Emitter::new();
    let overloaded = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&overloaded);
    emitter.set_rejection_hook(move |failure| {
        if let AsyncFailure::Overloaded { event, payload } = failure {
            sink.lock().unwrap().push((event.to_string(), payload));
        }
    });
    let (calls_tx, mut calls) = mpsc::unbounded_channel();
    emitter.on_async("job", move |n| {
        let calls = calls_tx.clone();
        async move {
            calls.send(n).unwrap();
            Ok(())
        }
    });
    // The first emit spawns the call (not yet run: this task has not yielded), the next
    // ASYNC_BACKLOG wait, and the last two find the backlog full.
    let total = ASYNC_BACKLOG + 3;
    for n in 0..total {
        emitter.emit("job", n).unwrap();
    }
    let skipped: Vec<(String, usize)> = (ASYNC_BACKLOG + 1..total)
        .map(|n| ("job".to_string(), n))
        .collect();
    assert_eq!(*overloaded.lock().unwrap(), skipped);
    for expected in 0..=ASYNC_BACKLOG {
        assert_eq!(calls.recv().await, Some(expected));
    }
    emitter.emit("job", total).unwrap();
    assert_eq!(
        calls.recv().await,
        Some(total),
        "room again once the backlog drained"
    );
    assert_eq!(overloaded.lock().unwrap().len(), 2);
}

#[test]
fn on_async_outside_a_runtime_panics_with_a_message() {
    let emitter: Emitter<u32> = Emitter::new();
    let panic = std::panic::catch_unwind(|| {
        emitter.on_async("job", |_| async { Ok(()) });
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("within a tokio runtime"), "{message}");
    assert_eq!(emitter.listener_count("job"), 0);
}

#[tokio::test]
async fn an_async_listener_is_announced_and_counted_like_any_listener() {
    let emitter: Emitter<u32> = Emitter::new();
    let announced = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&announced);
    emitter.on_new_listener(move |change| sink.lock().unwrap().push(change.id()));
    let id = emitter.on_async("job", |_| async { Ok(()) });
    assert_eq!(*announced.lock().unwrap(), [id]);
    assert_eq!(emitter.listeners("job"), [id]);
    assert!(emitter.contains("job", id));
}

#[cfg(feature = "tracing")]
#[test]
fn unhandled_failures_are_logged_with_the_event_name() {
    use std::io::Write;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let emitter: Emitter<String> = Emitter::new();
            let (done_tx, mut done) = mpsc::unbounded_channel();
            emitter.on_async("upload", move |file: String| {
                let done = done_tx.clone();
                async move {
                    match file.as_str() {
                        "done" => {
                            done.send(()).unwrap();
                            Ok(())
                        }
                        "panic" => panic!("upload crashed"),
                        _ => Err(format!("{file} is empty")),
                    }
                }
            });
            emitter.emit("upload", "a.txt".to_string()).unwrap();
            emitter.emit("upload", "panic".to_string()).unwrap();
            emitter.emit("upload", "done".to_string()).unwrap();
            done.recv().await.unwrap();
        });
    });
    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(output.matches("ERROR").count(), 2, "{output}");
    assert!(output.contains("event=upload"), "{output}");
    assert!(output.contains(r#""a.txt is empty""#), "{output}");
    assert!(output.contains("panicked: upload crashed"), "{output}");
}

#[test]
fn emits_from_several_threads_each_reach_the_listener_once_in_each_threads_order() {
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 200;
    const STRIDE: u32 = 1 << 16;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let emitter: Emitter<u32> = Emitter::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let failures = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&failures);
    emitter.set_rejection_hook(move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    runtime.block_on(async {
        emitter.on_async("n", move |n: u32| {
            let seen = seen_tx.clone();
            async move {
                tokio::task::yield_now().await;
                seen.send(n).unwrap();
                if n.is_multiple_of(7) { Err(n) } else { Ok(()) }
            }
        });
    });
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let emitter = emitter.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    assert_eq!(emitter.emit("n", t * STRIDE + i), Ok(true));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let all: Vec<u32> = runtime.block_on(async {
        let mut all = Vec::new();
        for _ in 0..THREADS * PER_THREAD {
            all.push(seen.recv().await.unwrap());
        }
        all
    });
    for t in 0..THREADS {
        let mine: Vec<u32> = all.iter().copied().filter(|n| n / STRIDE == t).collect();
        let expected: Vec<u32> = (0..PER_THREAD).map(|i| t * STRIDE + i).collect();
        assert_eq!(mine, expected, "thread {t}'s emits, once each and in order");
    }
    let failing = all.iter().filter(|n| n.is_multiple_of(7)).count();
    drop(emitter);
    // A call sends its value and returns its result in one poll, and its failure is routed in
    // that same poll; dropping the runtime waits for polls in progress to end.
    drop(runtime);
    assert_eq!(failures.load(Ordering::Relaxed), failing);
}

#[test]
fn calls_dropped_with_their_runtime_release_their_payloads_and_leave_the_queue_idle() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let emitter: Emitter<Arc<()>> = Emitter::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&calls);
    runtime.block_on(async {
        emitter.on_async("job", move |_payload: Arc<()>| {
            count.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        });
    });
    let token = Arc::new(());
    // Emitted from outside the runtime: the first call's task is queued there, the second
    // payload waits behind it; neither runs, since nothing drives the runtime.
    emitter.emit("job", Arc::clone(&token)).unwrap();
    emitter.emit("job", Arc::clone(&token)).unwrap();
    assert_eq!(Arc::strong_count(&token), 3);
    drop(runtime);
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the task and the queue let go"
    );
    emitter.emit("job", Arc::clone(&token)).unwrap();
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "a task spawned on a dead runtime is dropped"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}
