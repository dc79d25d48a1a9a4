//! Property: under any sequence of latencies and outcomes, an adaptive limit stays within
//! `[min, max]`, never reaches 0, and a call is admitted only while fewer than the current limit
//! hold a slot.

use std::time::Duration;

use nodebook_bagpipe::Bagpipe;
use nodebook_bagpipe::limit::{Aimd, Gradient2, Limit, Outcome, Sample, Vegas};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// Try to take a slot.
    Acquire,
    /// Give back the `index`-th held slot (modulo how many are held) after `latency_us`, as
    /// `outcome`.
    Release {
        index: usize,
        latency_us: u64,
        outcome: Outcome,
    },
    /// Set the limit by hand.
    SetLimit(usize),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        1 => Just(Outcome::Error),
        1 => Just(Outcome::Overload),
        1 => Just(Outcome::Timeout),
        1 => Just(Outcome::Dropped),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Acquire),
        4 => (any::<usize>(), 0..2_000_000u64, outcome())
            .prop_map(|(index, latency_us, outcome)| Step::Release { index, latency_us, outcome }),
        1 => (0..300usize).prop_map(Step::SetLimit),
    ]
}

#[derive(Debug, Clone)]
enum Kind {
    Aimd,
    Vegas,
    Gradient2,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Aimd), Just(Kind::Vegas), Just(Kind::Gradient2)]
}

/// The builder for `kind` with bounds `[min, max]` and a start anywhere (clamped).
fn builder(kind: &Kind, min: usize, max: usize, initial: usize) -> nodebook_bagpipe::Builder {
    let pipe = Bagpipe::builder(0);
    match kind {
        Kind::Aimd => pipe.limit(
            Aimd::default()
                .min_limit(min)
                .max_limit(max)
                .initial_limit(initial),
        ),
        Kind::Vegas => pipe.limit(
            Vegas::default()
                .min_limit(min)
                .max_limit(max)
                .initial_limit(initial),
        ),
        Kind::Gradient2 => pipe.limit(
            Gradient2::default()
                .min_limit(min)
                .max_limit(max)
                .initial_limit(initial),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_limit_stays_in_bounds_and_admission_respects_it(
        kind in kind(),
        min in 0..20usize,
        span in 0..200usize,
        initial in 0..400usize,
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let max = min.max(1) + span;
        let floor = min.max(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let pipe = builder(&kind, min, max, initial).build();
            let mut held = Vec::new();
            prop_assert!((floor..=max).contains(&pipe.limit()));
            for step in steps {
                match step {
                    Step::Acquire => {
                        let (limit, active) = (pipe.limit(), pipe.active());
                        match pipe.try_acquire_owned() {
                            Ok(permit) => {
                                prop_assert!(active < limit, "admitted at {active} of {limit}");
                                held.push(permit);
                            }
                            Err(_) => prop_assert!(active >= limit, "refused at {active} of {limit}"),
                        }
                    }
                    Step::Release { index, latency_us, outcome } => {
                        if held.is_empty() {
                            continue;
                        }
                        tokio::time::advance(Duration::from_micros(latency_us)).await;
                        let mut permit = held.swap_remove(index % held.len());
                        permit.set_outcome(outcome);
                        drop(permit);
                        let limit = pipe.limit();
                        prop_assert!((floor..=max).contains(&limit), "{limit} outside [{floor}, {max}]");
                    }
                    Step::SetLimit(limit) => pipe.set_limit(limit),
                }
                prop_assert_eq!(pipe.active(), held.len());
            }
            Ok(())
        })?;
    }

    #[test]
    fn a_strategy_alone_answers_within_its_bounds(
        kind in kind(),
        min in 0..20usize,
        span in 0..200usize,
        samples in proptest::collection::vec(
            (0..5_000_000u64, outcome(), 0..500usize, 0..500usize), 1..500),
    ) {
        let max = min.max(1) + span;
        let mut strategy: Box<dyn Limit> = match kind {
            Kind::Aimd => Box::new(Aimd::default().min_limit(min).max_limit(max)),
            Kind::Vegas => Box::new(Vegas::default().min_limit(min).max_limit(max)),
            Kind::Gradient2 => Box::new(Gradient2::default().min_limit(min).max_limit(max)),
        };
        for (latency_us, outcome, in_flight, limit) in samples {
            let sample = Sample::new(Duration::from_micros(latency_us), outcome, in_flight, limit);
            let next = strategy.update(&sample);
            prop_assert!((min.max(1)..=max).contains(&next), "{next} outside [{min}, {max}]");
        }
    }
}
