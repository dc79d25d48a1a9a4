//! The strategies the simulation compares, with the settings their users get by default.

use std::time::Duration;

use nodebook_bagpipe::limit::{Aimd, Gradient2, Vegas};
use nodebook_bagpipe::{Bagpipe, QueueDiscipline};

use super::{Limiter, Scenario, TowerAcc, bagpipe};

/// Fixed limits tried to find the best one for each phase in hindsight.
pub(crate) const FIXED: [usize; 8] = [20, 30, 40, 50, 65, 80, 100, 120];

/// Every limiter of the comparison, by name: no limit, the fixed candidates, a fixed limit 4x
/// the first phase's capacity, and the adaptive strategies with their defaults.
pub(crate) fn lineup(scenario: &Scenario) -> Vec<(String, Limiter)> {
    let mut limiters = vec![("no limit".to_string(), Limiter::None)];
    for limit in FIXED {
        limiters.push((
            format!("fixed {limit}"),
            bagpipe(move || Bagpipe::builder(limit)),
        ));
    }
    let too_high = scenario.capacities[0] * 4;
    limiters.push((
        format!("fixed {too_high} (4x too high)"),
        bagpipe(move || Bagpipe::builder(too_high)),
    ));
    limiters.extend(adaptive());
    limiters.extend(peers());
    limiters
}

/// tower-acc's algorithm that the paused clock measures fairly: its AIMD, which decides on
/// errors alone. Its Gradient2 and Vegas time calls with `std::time::Instant`, which tokio's
/// paused clock does not move, so on it they would see the wall-clock time the simulation took,
/// not the simulated latency: they are compared in [`real_clock`] instead.
pub(crate) fn peers() -> Vec<(String, Limiter)> {
    vec![(
        "tower-acc AIMD".to_string(),
        Limiter::TowerAcc(TowerAcc::Aimd),
    )]
}

/// The comparison on the real clock, where tower-acc's `Instant` and tokio's clock agree: our
/// delay-based strategies and tower-acc's, defaults only, then both AIMDs for reference, ours
/// with the queue discipline (which tower-acc has no counterpart for), and a fixed limit at the
/// first phase's capacity as a yardstick.
pub(crate) fn real_clock(scenario: &Scenario) -> Vec<(String, Limiter)> {
    let mut limiters: Vec<(String, Limiter)> = strategies()
        .into_iter()
        .filter(|(name, _)| name != "AIMD")
        .collect();
    limiters.extend([
        (
            "tower-acc Gradient2".to_string(),
            Limiter::TowerAcc(TowerAcc::Gradient2),
        ),
        (
            "tower-acc Vegas".to_string(),
            Limiter::TowerAcc(TowerAcc::Vegas),
        ),
    ]);
    limiters.extend(strategies().into_iter().filter(|(name, _)| name == "AIMD"));
    limiters.extend(peers());
    limiters.extend(
        adaptive()
            .into_iter()
            .filter(|(name, _)| name.ends_with("LIFO/CoDel")),
    );
    let capacity = scenario.capacities[0];
    limiters.push((
        format!("fixed {capacity}"),
        bagpipe(move || Bagpipe::builder(capacity)),
    ));
    limiters
}

/// The queue discipline of the `+ LIFO/CoDel` rows: adaptive LIFO once the oldest waiter has
/// waited 20 ms, CoDel with a 20 ms target over 100 ms, both well under the 100 ms queue
/// deadline.
pub(crate) fn discipline() -> QueueDiscipline {
    let ms = Duration::from_millis;
    QueueDiscipline::fifo()
        .adaptive_lifo(ms(20))
        .codel(ms(20), ms(100))
}

/// The adaptive strategies, defaults only, each with and without the queue discipline.
pub(crate) fn adaptive() -> Vec<(String, Limiter)> {
    let mut limiters = strategies();
    let disciplined: Vec<(String, Limiter)> = vec![
        (
            "AIMD + LIFO/CoDel".to_string(),
            bagpipe(|| {
                Bagpipe::builder(0)
                    .limit(Aimd::default())
                    .queue_discipline(discipline())
            }),
        ),
        (
            "Gradient2 + LIFO/CoDel".to_string(),
            bagpipe(|| {
                Bagpipe::builder(0)
                    .limit(Gradient2::default())
                    .queue_discipline(discipline())
            }),
        ),
        (
            "Vegas + LIFO/CoDel".to_string(),
            bagpipe(|| {
                Bagpipe::builder(0)
                    .limit(Vegas::default())
                    .queue_discipline(discipline())
            }),
        ),
    ];
    limiters.extend(disciplined);
    limiters
}

/// The adaptive strategies, defaults only.
pub(crate) fn strategies() -> Vec<(String, Limiter)> {
    vec![
        (
            "AIMD".to_string(),
            bagpipe(|| Bagpipe::builder(0).limit(Aimd::default())),
        ),
        (
            "Gradient2".to_string(),
            bagpipe(|| Bagpipe::builder(0).limit(Gradient2::default())),
        ),
        (
            "Vegas".to_string(),
            bagpipe(|| Bagpipe::builder(0).limit(Vegas::default())),
        ),
    ]
}
