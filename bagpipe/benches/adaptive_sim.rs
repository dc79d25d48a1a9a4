//! The adaptive-limit simulation as a report: every strategy through the same overloaded
//! backend on tokio's paused clock (see `tests/sim/mod.rs`), printed as a table per phase, then
//! the best fixed limit per phase in hindsight, then each strategy's limit and goodput every
//! 500 ms. Run with `cargo bench -p nodebook-bagpipe --bench adaptive_sim`.

#[path = "../tests/sim/mod.rs"]
mod sim;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing we need.
    let scenario = sim::Scenario::default();
    let rows = sim::compare(&scenario, sim::lineup::lineup(&scenario));
    println!(
        "capacity {:?} for {:?} each, service {:?} mean, {} calls/s, deadline {:?} (queue {:?} + run {:?})\n",
        scenario.capacities,
        scenario.phase,
        scenario.service,
        scenario.rate,
        scenario.deadline(),
        scenario.queue_deadline,
        scenario.exec_deadline
    );
    print!("{}", sim::table(&scenario, &rows));
    println!();
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
    println!();
    print!("{}", sim::series(&rows));
}
