//! The book's two patterns, run on Node by `tests/fixtures/gen.js`, replayed here: our
//! LimitableMap answers every `get` and keeps every eviction order as the book's code does, and
//! the once-queue answers every caller with the query the book's emitter gave it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nodebook_cache::{EvictionPolicy, LimitableMap, OnceQueue};
use tokio::time::{Instant, sleep, sleep_until};

const MAP_FIXTURE: &str = include_str!("fixtures/limitable_map.txt");
const QUEUE_FIXTURE: &str = include_str!("fixtures/once_queue.txt");

fn num(word: Option<&str>, line: &str) -> u32 {
    word.and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("bad fixture line {line:?}"))
}

#[test]
fn limitable_map_matches_the_books_code_on_node() {
    let mut map: Option<LimitableMap<u32, u32>> = None;
    let mut checked = 0;
    for line in MAP_FIXTURE.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let op = words.next().unwrap_or_default();
        if op == "limit" {
            map = Some(
                LimitableMap::builder(num(words.next(), line) as usize)
                    .eviction_policy(EvictionPolicy::Fifo)
                    .build()
                    .unwrap(),
            );
            continue;
        }
        let map = map.as_ref().expect("a limit line comes first");
        match op {
            "set" => {
                let key = num(words.next(), line);
                map.insert(key, num(words.next(), line));
            }
            "get" => {
                let key = num(words.next(), line);
                let expected = match words.next() {
                    Some("-") => None,
                    other => Some(num(other, line)),
                };
                assert_eq!(map.get(&key), expected, "{line}");
                checked += 1;
            }
            "keys" => {
                let expected: Vec<u32> = words.map(|w| num(Some(w), line)).collect();
                assert_eq!(map.keys(), expected, "{line}");
                checked += 1;
            }
            _ => panic!("unknown fixture op in {line:?}"),
        }
    }
    assert!(checked > 500, "the fixture was read ({checked} checks)");
}

#[tokio::test(start_paused = true)]
async fn once_queue_answers_each_caller_with_the_query_the_books_emitter_gave_it() {
    let callers: Vec<(u64, u64)> = QUEUE_FIXTURE
        .lines()
        .filter(|l| l.starts_with("caller "))
        .map(|l| {
            let mut w = l.split_whitespace().skip(1);
            (u64::from(num(w.next(), l)), u64::from(num(w.next(), l)))
        })
        .collect();
    let queries_run: u64 = QUEUE_FIXTURE
        .lines()
        .find_map(|l| l.strip_prefix("queries "))
        .and_then(|n| n.parse().ok())
        .expect("a queries line");
    assert!(!callers.is_empty());

    let queue: OnceQueue<&str, u64, std::io::Error> = OnceQueue::new();
    let queries = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = callers
        .iter()
        .map(|&(arrival, _)| {
            let (queue, queries) = (queue.clone(), Arc::clone(&queries));
            tokio::spawn(async move {
                sleep_until(start + Duration::from_millis(arrival)).await;
                queue
                    .run("SELECT * FROM table", move || async move {
                        let n = queries.fetch_add(1, Ordering::SeqCst) + 1;
                        sleep(Duration::from_millis(5)).await;
                        Ok(n)
                    })
                    .await
            })
        })
        .collect();
    for (task, (arrival, expected)) in tasks.into_iter().zip(callers) {
        let got = task.await.unwrap().unwrap();
        assert_eq!(got, expected, "the caller arriving at {arrival} ms");
    }
    assert_eq!(queries.load(Ordering::SeqCst), queries_run);
}
