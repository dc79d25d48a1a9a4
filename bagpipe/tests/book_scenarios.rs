//! The book's algorithm, run by Node, replayed on `Bagpipe`.
//!
//! `fixtures/gen.js` runs the book's bagpipe (section 4.3.1) on Node's EventEmitter through
//! scripted sequences of pushes and completions and writes what it saw to
//! `fixtures/book_scenarios.txt`. Here every script is replayed with `push`, and the limiter must
//! show the same counts after every step, the same `full` lengths, the same dispatch order and
//! the same refusals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nodebook_bagpipe::{Bagpipe, Error, Event, Push};
use tokio::sync::oneshot;

const FIXTURE: &str = include_str!("fixtures/book_scenarios.txt");

#[derive(Debug, Default)]
struct Scenario {
    name: String,
    limit: usize,
    queue_length: usize,
    refuse: bool,
    steps: Vec<Step>,
    full: Vec<usize>,
    dispatched: Vec<usize>,
    refused: Vec<usize>,
}

#[derive(Debug)]
struct Step {
    push: bool,
    id: usize,
    active: usize,
    queued: usize,
    full_so_far: usize,
}

fn numbers(words: std::str::SplitWhitespace<'_>) -> Vec<usize> {
    words.map(|word| word.parse().expect("a number")).collect()
}

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    let mut current = Scenario::default();
    for line in FIXTURE.lines().filter(|line| !line.starts_with('#')) {
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut words = rest.split_whitespace();
        match head {
            "scenario" => current.name = rest.to_owned(),
            "options" => {
                current.limit = words.next().unwrap().parse().unwrap();
                current.queue_length = words.next().unwrap().parse().unwrap();
                current.refuse = words.next().unwrap() == "true";
            }
            "push" | "finish" => {
                let values = numbers(words);
                current.steps.push(Step {
                    push: head == "push",
                    id: values[0],
                    active: values[1],
                    queued: values[2],
                    full_so_far: values[3],
                });
            }
            "full" => current.full = numbers(words),
            "dispatched" => current.dispatched = numbers(words),
            "refused" => current.refused = numbers(words),
            "end" => all.push(std::mem::take(&mut current)),
            other => panic!("unknown fixture line {other:?}"),
        }
    }
    all
}

async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn bagpipe_matches_the_books_algorithm_step_by_step() {
    let scenarios = scenarios();
    assert_eq!(scenarios.len(), 5);
    for scenario in scenarios {
        let name = &scenario.name;
        let pipe = Bagpipe::builder(scenario.limit)
            .queue_length(scenario.queue_length)
            .refuse(scenario.refuse)
            .build();
        let full = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&full);
        pipe.events().on(Event::FULL, move |event: &Event| {
            if let Event::Full { queued } = event {
                sink.lock().unwrap().push(*queued);
            }
        });
        let dispatched = Arc::new(Mutex::new(Vec::new()));
        let mut handles: HashMap<usize, (Push<usize>, oneshot::Sender<()>)> = HashMap::new();
        let mut refused = Vec::new();
        for step in &scenario.steps {
            if step.push {
                let (finish, finished) = oneshot::channel();
                let log = Arc::clone(&dispatched);
                let id = step.id;
                let handle = pipe.push(async move {
                    log.lock().unwrap().push(id);
                    finished.await.expect("the test keeps the sender");
                    id
                });
                if handle.is_finished() {
                    match handle.await {
                        Err(Error::TooMuchAsyncCall { .. }) => refused.push(id),
                        other => panic!("{name}: call {id} finished at push with {other:?}"),
                    }
                } else {
                    handles.insert(id, (handle, finish));
                }
            } else {
                let (handle, finish) = handles.remove(&step.id).expect("a running call");
                finish.send(()).unwrap();
                assert_eq!(handle.await.unwrap(), step.id);
            }
            settle().await;
            assert_eq!(
                (pipe.active(), pipe.queued(), full.lock().unwrap().len()),
                (step.active, step.queued, step.full_so_far),
                "{name}: after {step:?}"
            );
        }
        assert_eq!(*full.lock().unwrap(), scenario.full, "{name}: full events");
        assert_eq!(
            *dispatched.lock().unwrap(),
            scenario.dispatched,
            "{name}: dispatch order"
        );
        assert_eq!(refused, scenario.refused, "{name}: refusals");
        pipe.close();
    }
}
