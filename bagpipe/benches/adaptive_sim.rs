//! The adaptive-limit simulation as a report (see `tests/sim/mod.rs`), in two parts.
//!
//! First every strategy through the same overloaded backend on tokio's paused clock: a table
//! per phase, the best fixed limit per phase in hindsight, then each strategy's limit and
//! goodput every 500 ms.
//!
//! Then the delay-based comparison with tower-acc on the real clock. tower-acc times calls with
//! `std::time::Instant`, which the paused clock does not move, so there its Gradient2 and Vegas
//! would judge the wall-clock time the simulation took instead of the simulated latency. On a
//! normal runtime the two clocks agree: the same scenario then takes its full 15 s (and 1 s to
//! let the last calls end) per row, and the rows run one after another, under three minutes.
//! Side by side (each row on its own thread and runtime) would take 16 s, but on the project's
//! 2-core machine the crowd cost tower-acc's Vegas about a fifth of its goodput in the first
//! phase (410 to 431 calls/s in three runs of seven rows at once; 420 to 646, median 511, in
//! five runs alone), while our rows and its other ones stayed within their run-to-run spread: a
//! row waits on timers most of the time, but seven threads on two cores delay wake-ups, and a
//! delay-based algorithm reads the delay as latency. The machine's other load still reaches a
//! row that runs alone: these figures are noisier than the paused clock's, which are exact.
//! Only `cargo bench` runs this part (it passes `--bench`): `cargo test --benches` stays fast
//! and free of real time.
//!
//! The bench report (`examples/src/bin/bench_report`) reads both tables back by their heading
//! lines (`<clock> clock (<why>): <scenario>`) and `|`-separated columns.
//!
//! Run with `cargo bench -p nodebook-bagpipe --bench adaptive_sim`.

#[path = "../tests/sim/mod.rs"]
mod sim;

use sim::{Clock, Row, Scenario};

/// How many real-clock rows run at once: one, so that no row delays another's timers (see the
/// module docs).
const REAL_CLOCK_THREADS: usize = 1;

fn main() {
    let scenario = Scenario::default();
    let rows = sim::compare(&scenario, sim::lineup::lineup(&scenario));
    println!(
        "{}\n",
        sim::heading(
            &scenario,
            "paused clock (simulated time: exact and deterministic)"
        )
    );
    print!("{}", sim::table(&scenario, &rows));
    println!();
    best_fixed(&scenario, &rows);
    println!();
    print!("{}", sim::series(&rows));

    if !std::env::args().any(|arg| arg == "--bench") {
        println!("\nreal clock: left out (only `cargo bench` runs it; it takes three minutes)");
        return;
    }
    let limiters = sim::lineup::real_clock(&scenario);
    let rows = sim::compare_on(Clock::Real, REAL_CLOCK_THREADS, &scenario, limiters);
    println!(
        "\n{}\n",
        sim::heading(
            &scenario,
            "real clock (tower-acc times calls with std::time::Instant, which the paused clock \
             does not move; here it agrees with tokio's clock; 15 s per row, one row at a time)"
        )
    );
    print!("{}", sim::table(&scenario, &rows));
}

/// The best fixed limit of each phase in hindsight: the fixed candidates (not the one 4x too
/// high) with the most goodput.
fn best_fixed(scenario: &Scenario, rows: &[Row]) {
    for (i, capacity) in scenario.capacities.iter().enumerate() {
        let best = rows
            .iter()
            .filter(|row| row.name.starts_with("fixed") && !row.name.contains("too high"))
            .max_by(|a, b| {
                a.report.phases[i]
                    .goodput
                    .total_cmp(&b.report.phases[i].goodput)
            })
            .map(|row| (row.name.clone(), row.report.phases[i].goodput));
        if let Some((name, goodput)) = best {
            println!(
                "phase {i} (C = {capacity}): best fixed in hindsight is {name}, {goodput:.0}/s"
            );
        }
    }
}
