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

/// tower-acc's algorithms, defaults only. It times calls with `std::time::Instant`, which
/// tokio's paused clock does not move: its delay-based algorithms see the wall-clock time the
/// simulation took, not the simulated latency, so their rows say nothing about them (their
/// names say so). Its AIMD decides on errors alone and is measured fairly.
pub(crate) fn peers() -> Vec<(String, Limiter)> {
    vec![
        (
            "tower-acc AIMD".to_string(),
            Limiter::TowerAcc(TowerAcc::Aimd),
        ),
        (
            "tower-acc Gradient2 (wall)".to_string(),
            Limiter::TowerAcc(TowerAcc::Gradient2),
        ),
        (
            "tower-acc Vegas (wall)".to_string(),
            Limiter::TowerAcc(TowerAcc::Vegas),
        ),
    ]
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
