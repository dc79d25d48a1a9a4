//! Emit cost against the floor (a plain `Vec<Box<dyn Fn(&T)>>` loop) and against the channel
//! crates (tokio broadcast, async-broadcast), side by side in one run.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{PlainListener, adding_listener, counting_listener, read_each};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nodebook_emitter::Emitter;

fn emit_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit_sync");
    for listeners in [1usize, 10] {
        let counter = Arc::new(AtomicU64::new(0));

        let emitter: Emitter<u64> = Emitter::new();
        for _ in 0..listeners {
            emitter.on("data", counting_listener(&counter));
        }
        group.bench_with_input(
            BenchmarkId::new("emitter", listeners),
            &listeners,
            |b, _| {
                b.iter(|| emitter.emit(black_box("data"), black_box(1)));
            },
        );

        let plain: Vec<PlainListener> = (0..listeners)
            .map(|_| Box::new(counting_listener(&counter)) as _)
            .collect();
        group.bench_with_input(
            BenchmarkId::new("plain_vec_loop", listeners),
            &listeners,
            |b, _| {
                b.iter(|| {
                    let payload = black_box(1);
                    for listener in &plain {
                        listener(&payload);
                    }
                });
            },
        );

        let (sender, _) = tokio::sync::broadcast::channel::<u64>(16);
        let mut receivers: Vec<_> = (0..listeners).map(|_| sender.subscribe()).collect();
        group.bench_with_input(
            BenchmarkId::new("tokio_broadcast", listeners),
            &listeners,
            |b, _| {
                b.iter(|| {
                    sender.send(black_box(1)).unwrap();
                    for receiver in &mut receivers {
                        counter.fetch_add(receiver.try_recv().unwrap(), Ordering::Relaxed);
                    }
                });
            },
        );
    }
    group.finish();
}

/// The same as `emit_sync`, with listeners that do a plain add instead of an atomic one.
fn emit_sync_plain_add(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit_sync_plain_add");
    for listeners in [1usize, 10] {
        let emitter: Emitter<u64> = Emitter::new();
        for k in 0..listeners as u64 {
            emitter.on("data", adding_listener(k));
        }
        group.bench_with_input(
            BenchmarkId::new("emitter", listeners),
            &listeners,
            |b, _| {
                b.iter(|| emitter.emit(black_box("data"), black_box(1)));
            },
        );

        let plain: Vec<PlainListener> = (0..listeners as u64)
            .map(|k| Box::new(adding_listener(k)) as _)
            .collect();
        group.bench_with_input(
            BenchmarkId::new("plain_vec_loop", listeners),
            &listeners,
            |b, _| {
                b.iter(|| {
                    let payload = black_box(1);
                    for listener in &plain {
                        listener(&payload);
                    }
                });
            },
        );
    }
    group.finish();
}

fn on_off_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("on_off_churn");
    let emitter: Emitter<u64> = Emitter::new();
    for _ in 0..4 {
        emitter.on("data", |_| {});
    }
    group.bench_function("emitter", |b| {
        b.iter(|| {
            let id = emitter.on("data", |n| {
                black_box(n);
            });
            emitter.off("data", id)
        });
    });

    let mut plain: Vec<(u64, PlainListener)> =
        (0..4).map(|i| (i, Box::new(|_: &u64| {}) as _)).collect();
    let mut next_id = 4;
    group.bench_function("plain_vec", |b| {
        b.iter(|| {
            next_id += 1;
            plain.push((
                next_id,
                Box::new(|n: &u64| {
                    black_box(n);
                }),
            ));
            let position = plain.iter().rposition(|(id, _)| *id == next_id).unwrap();
            plain.remove(position)
        });
    });

    let (sender, _) = tokio::sync::broadcast::channel::<u64>(16);
    group.bench_function("tokio_broadcast", |b| {
        b.iter(|| drop(black_box(sender.subscribe())));
    });
    group.finish();
}

fn subscribe_delivery(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscribe_delivery");
    for subscribers in [1usize, 10] {
        let emitter: Emitter<u64> = Emitter::new();
        let mut subscriptions: Vec<_> = (0..subscribers)
            .map(|_| emitter.subscribe("data", 16).unwrap())
            .collect();
        group.bench_with_input(
            BenchmarkId::new("emitter", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    emitter.emit("data", black_box(1)).unwrap();
                    read_each(&mut subscriptions, subscribers);
                });
            },
        );

        let handle = emitter.event("data");
        group.bench_with_input(
            BenchmarkId::new("emitter_handle", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    handle.emit(black_box(1)).unwrap();
                    read_each(&mut subscriptions, subscribers);
                });
            },
        );

        let (sender, _) = tokio::sync::broadcast::channel::<u64>(16);
        let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
        group.bench_with_input(
            BenchmarkId::new("tokio_broadcast", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    sender.send(black_box(1)).unwrap();
                    let mut sum = 0;
                    for receiver in &mut receivers {
                        sum += receiver.try_recv().unwrap();
                    }
                    assert_eq!(sum, subscribers as u64);
                });
            },
        );

        let (mut sender, first) = async_broadcast::broadcast::<u64>(16);
        sender.set_overflow(true);
        let mut receivers: Vec<_> = (1..subscribers).map(|_| first.clone()).collect();
        receivers.push(first);
        group.bench_with_input(
            BenchmarkId::new("async_broadcast", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    sender.try_broadcast(black_box(1)).unwrap();
                    let mut sum = 0;
                    for receiver in &mut receivers {
                        sum += receiver.try_recv().unwrap();
                    }
                    assert_eq!(sum, subscribers as u64);
                });
            },
        );
    }
    group.finish();
}

criterion_group!(
    benches,
    emit_sync,
    emit_sync_plain_add,
    on_off_churn,
    subscribe_delivery
);
criterion_main!(benches);
