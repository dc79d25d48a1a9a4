//! The strategies the simulation compares, with the settings their users get by default.

use nodebook_bagpipe::Bagpipe;
use nodebook_bagpipe::limit::{Aimd, Gradient2, Vegas};

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

/// tower-acc's algorithms, defaults only.
pub(crate) fn peers() -> Vec<(String, Limiter)> {
    vec![
        (
            "tower-acc AIMD".to_string(),
            Limiter::TowerAcc(TowerAcc::Aimd),
        ),
        (
            "tower-acc Gradient2".to_string(),
            Limiter::TowerAcc(TowerAcc::Gradient2),
        ),
        (
            "tower-acc Vegas".to_string(),
            Limiter::TowerAcc(TowerAcc::Vegas),
        ),
    ]
}

/// The adaptive strategies, defaults only.
pub(crate) fn adaptive() -> Vec<(String, Limiter)> {
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
