//! A simulated overloaded backend, and clients that call it through a bagpipe, so that limit
//! strategies can be compared.
//!
//! The backend is an M/M/c queue: `capacity` servers, a FIFO queue in front of them, service
//! times drawn from an exponential distribution. Its capacity changes at the start of each
//! phase. Work a client gave up on is still served: a backend does not know its caller left,
//! which is what makes an overloaded backend collapse.
//!
//! Clients arrive at a steady Poisson rate above every phase's capacity. Each call goes through
//! `Bagpipe::run` with a queue deadline and an execution deadline that together make the
//! client's deadline; without a limiter the client applies its deadline itself.
//!
//! Everything is seeded. On tokio's paused clock ([`Clock::Paused`], what the tests use) a run is
//! deterministic and takes a fraction of its simulated time. On the real clock ([`Clock::Real`])
//! the same simulation takes its full time: that is for limiters that time calls with
//! `std::time::Instant`, which the paused clock does not move (tower-acc's).

#![allow(dead_code)]

pub(crate) mod lineup;
mod peer;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::{Instant, sleep};

/// The scenario every strategy is run through.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// Backend capacity of each phase, in servers.
    pub(crate) capacities: Vec<usize>,
    /// How long each phase lasts.
    pub(crate) phase: Duration,
    /// Mean service time of one call on an idle server.
    pub(crate) service: Duration,
    /// Client arrivals per second.
    pub(crate) rate: f64,
    /// How long a call may wait in the limiter's queue.
    pub(crate) queue_deadline: Duration,
    /// How long a call may run once admitted.
    pub(crate) exec_deadline: Duration,
    /// The seed of the arrival and service-time draws.
    pub(crate) seed: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            capacities: vec![50, 20, 80],
            phase: Duration::from_secs(5),
            service: Duration::from_millis(50),
            rate: 2000.0,
            queue_deadline: Duration::from_millis(100),
            exec_deadline: Duration::from_millis(400),
            seed: 0x5eed,
        }
    }
}

impl Scenario {
    /// The client's whole deadline.
    pub(crate) fn deadline(&self) -> Duration {
        self.queue_deadline + self.exec_deadline
    }

    /// Calls per second the backend completes at full use in phase `i`.
    pub(crate) fn throughput(&self, i: usize) -> f64 {
        self.capacities[i] as f64 / self.service.as_secs_f64()
    }
}

/// How the clients limit their calls.
pub(crate) enum Limiter {
    /// No limiter: every call goes to the backend, under the client's deadline.
    None,
    /// A bagpipe built by this function (the scenario's deadlines are added).
    Bagpipe(Box<dyn Fn() -> nodebook_bagpipe::Builder + Send + Sync>),
    /// tower-acc's layer with one of its algorithms (defaults), over tower's `Timeout` with the
    /// execution deadline (its errors are what tower-acc's default classifier counts as
    /// overload); the client waits for readiness at most the queue deadline. tower-acc's limit
    /// is not readable from outside, so its rows have no limit series.
    TowerAcc(TowerAcc),
}

/// tower-acc's algorithms.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TowerAcc {
    Aimd,
    Gradient2,
    Vegas,
}

/// What one call did.
#[derive(Debug, Clone, Copy)]
struct Call {
    /// When it arrived, since the start.
    arrived: Duration,
    /// From arrival to its answer.
    latency: Duration,
    ok: bool,
}

/// Measurements of one phase.
#[derive(Debug, Clone, Default)]
pub(crate) struct Phase {
    /// Calls answered successfully within the deadline, per second.
    pub(crate) goodput: f64,
    /// Median latency of the successful calls.
    pub(crate) p50: Duration,
    /// 99th percentile latency of the successful calls.
    pub(crate) p99: Duration,
    /// Calls that hit a deadline (queue or execution) or were refused.
    pub(crate) timeouts: usize,
    /// From the phase's start to the moment the limit entered `[0.9 C, 2 C]` for good, if it
    /// did (`None` without a moving limit).
    pub(crate) converged: Option<Duration>,
    /// The mean limit over the phase's second half (`None` without a limit to read).
    pub(crate) settled_limit: Option<f64>,
}

/// Measurements of a whole run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub(crate) phases: Vec<Phase>,
    /// (time, limit, goodput over the last 500 ms) every 500 ms.
    pub(crate) series: Vec<(Duration, usize, f64)>,
}

/// A seeded xorshift generator: enough for arrival and service draws.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.next()).ln()
    }

    fn poisson(&mut self, mean: f64) -> usize {
        let limit = (-mean).exp();
        let mut product = self.next();
        let mut count = 0;
        while product > limit {
            count += 1;
            product *= self.next();
        }
        count
    }
}

/// The M/M/c backend.
#[derive(Debug)]
struct Backend {
    state: Mutex<Servers>,
}

#[derive(Debug)]
struct Servers {
    capacity: usize,
    busy: usize,
    queue: VecDeque<oneshot::Sender<()>>,
}

impl Backend {
    fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Servers {
                capacity,
                busy: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    fn set_capacity(&self, capacity: usize) {
        let mut servers = self.state.lock().unwrap();
        servers.capacity = capacity;
        servers.dispatch();
    }

    /// Serves one call of `work`: waits for a server, then works. Runs to the end whether or
    /// not anyone still waits for the answer.
    async fn serve(self: Arc<Self>, work: Duration) {
        let turn = {
            let mut servers = self.state.lock().unwrap();
            if servers.busy < servers.capacity {
                servers.busy += 1;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                servers.queue.push_back(tx);
                Some(rx)
            }
        };
        if let Some(turn) = turn {
            turn.await.unwrap();
        }
        sleep(work).await;
        let mut servers = self.state.lock().unwrap();
        servers.busy -= 1;
        servers.dispatch();
    }
}

impl Servers {
    fn dispatch(&mut self) {
        while self.busy < self.capacity {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            self.busy += 1;
            let _ = next.send(());
        }
    }
}

/// Which clock a run's runtime has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// tokio's paused clock: time jumps to the next timer, so a run is exact and fast, but
    /// `std::time::Instant` stands still meanwhile.
    Paused,
    /// The real clock: a run takes the scenario's full time, and `std::time::Instant` agrees
    /// with tokio's clock (up to the timer's 1 ms granularity and the machine's scheduling).
    Real,
}

/// Runs `limiter` through `scenario` on a fresh paused runtime.
pub(crate) fn run(scenario: &Scenario, limiter: &Limiter) -> Report {
    run_on(Clock::Paused, scenario, limiter)
}

/// Runs `limiter` through `scenario` on a fresh current-thread runtime with `clock`.
pub(crate) fn run_on(clock: Clock, scenario: &Scenario, limiter: &Limiter) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(clock == Clock::Paused)
        .build()
        .unwrap();
    runtime.block_on(simulate(scenario, limiter))
}

async fn simulate(scenario: &Scenario, limiter: &Limiter) -> Report {
    let start = Instant::now();
    let backend = Arc::new(Backend::new(scenario.capacities[0]));
    let calls = Arc::new(Mutex::new(Vec::<Call>::new()));
    let pipe = match limiter {
        Limiter::None => None,
        Limiter::Bagpipe(build) => Some(
            build()
                .queue_timeout(scenario.queue_deadline)
                .timeout(scenario.exec_deadline)
                .build(),
        ),
        Limiter::TowerAcc(_) => None,
    };
    let peer = match limiter {
        Limiter::TowerAcc(kind) => Some(peer::service(
            *kind,
            Arc::clone(&backend),
            scenario.exec_deadline,
        )),
        _ => None,
    };
    let total = scenario.phase * scenario.capacities.len() as u32;
    // The limit every 10 ms.
    let limits = Arc::new(Mutex::new(Vec::<(Duration, usize)>::new()));
    let sampler = pipe.clone().map(|pipe| {
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tick.tick().await;
                limits.lock().unwrap().push((start.elapsed(), pipe.limit()));
            }
        })
    });
    let mut rng = Rng(scenario.seed);
    let per_ms = scenario.rate / 1000.0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut phase = 0;
    while start.elapsed() < total {
        tick.tick().await;
        let now = start.elapsed();
        let current = (now.as_nanos() / scenario.phase.as_nanos()) as usize;
        if current != phase && current < scenario.capacities.len() {
            phase = current;
            backend.set_capacity(scenario.capacities[phase]);
        }
        for _ in 0..rng.poisson(per_ms) {
            let work = Duration::from_secs_f64(rng.exponential(scenario.service.as_secs_f64()));
            let request = {
                let backend = Arc::clone(&backend);
                async move {
                    // The backend's work runs on a task of its own: it goes on when the
                    // client gives up.
                    let (tx, rx) = oneshot::channel();
                    tokio::spawn(async move {
                        backend.serve(work).await;
                        let _ = tx.send(());
                    });
                    rx.await.is_ok()
                }
            };
            let calls = Arc::clone(&calls);
            let pipe = pipe.clone();
            let peer = peer.clone();
            let deadline = scenario.deadline();
            let queue_deadline = scenario.queue_deadline;
            tokio::spawn(async move {
                let arrived = Instant::now();
                let ok = match (pipe, peer) {
                    (Some(pipe), _) => matches!(pipe.run(request).await, Ok(true)),
                    (None, Some(peer)) => peer::call(peer, work, queue_deadline).await,
                    (None, None) => {
                        matches!(tokio::time::timeout(deadline, request).await, Ok(true))
                    }
                };
                calls.lock().unwrap().push(Call {
                    arrived: arrived - start,
                    latency: arrived.elapsed(),
                    ok,
                });
            });
        }
    }
    // Let every call end.
    sleep(scenario.deadline() * 2).await;
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let calls = calls.lock().unwrap().clone();
    let limits = limits.lock().unwrap().clone();
    report(scenario, &calls, &limits)
}

fn report(scenario: &Scenario, calls: &[Call], limits: &[(Duration, usize)]) -> Report {
    let mut phases = Vec::new();
    for (i, &capacity) in scenario.capacities.iter().enumerate() {
        let from = scenario.phase * i as u32;
        let to = from + scenario.phase;
        let in_phase: Vec<&Call> = calls
            .iter()
            .filter(|call| call.arrived >= from && call.arrived < to)
            .collect();
        let mut ok: Vec<Duration> = in_phase
            .iter()
            .filter(|call| call.ok)
            .map(|call| call.latency)
            .collect();
        ok.sort();
        let quantile = |q: f64| {
            ok.get(((ok.len() as f64 * q) as usize).min(ok.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let phase_limits: Vec<(Duration, usize)> = limits
            .iter()
            .copied()
            .filter(|(at, _)| *at >= from && *at < to)
            .collect();
        let band = |limit: usize| (limit as f64) >= 0.9 * capacity as f64 && limit <= 2 * capacity;
        let converged = if phase_limits.is_empty() {
            None
        } else {
            let last_out = phase_limits.iter().rev().find(|(_, limit)| !band(*limit));
            match last_out {
                None => Some(Duration::ZERO),
                Some((at, _)) if *at + Duration::from_millis(10) < to => {
                    Some(*at + Duration::from_millis(10) - from)
                }
                Some(_) => None,
            }
        };
        let half = from + scenario.phase / 2;
        let settled: Vec<usize> = phase_limits
            .iter()
            .filter(|(at, _)| *at >= half)
            .map(|(_, limit)| *limit)
            .collect();
        phases.push(Phase {
            goodput: ok.len() as f64 / scenario.phase.as_secs_f64(),
            p50: quantile(0.5),
            p99: quantile(0.99),
            timeouts: in_phase.iter().filter(|call| !call.ok).count(),
            converged: if limits.is_empty() { None } else { converged },
            settled_limit: (!settled.is_empty())
                .then(|| settled.iter().sum::<usize>() as f64 / settled.len() as f64),
        });
    }
    let window = Duration::from_millis(500);
    let total = scenario.phase * scenario.capacities.len() as u32;
    let mut series = Vec::new();
    let mut at = window;
    while at <= total {
        let done = calls
            .iter()
            .filter(|call| {
                call.ok
                    && call.arrived + call.latency >= at - window
                    && call.arrived + call.latency < at
            })
            .count();
        let limit = limits
            .iter()
            .rev()
            .find(|(when, _)| *when < at)
            .map_or(0, |(_, limit)| *limit);
        series.push((at, limit, done as f64 / window.as_secs_f64()));
        at += window;
    }
    Report { phases, series }
}

/// One row of the comparison.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) report: Report,
}

/// The comparison table, one line per strategy and phase (the strategy named on its first),
/// columns separated by `|` so that a report can read it back.
pub(crate) fn table(scenario: &Scenario, rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|row| row.name.len())
        .chain(["strategy".len()])
        .max()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} | {:>4} | {:>9} | {:>6} | {:>6} | {:>8} | {:>8} | {:>5}",
        "strategy", "C", "goodput/s", "p50 ms", "p99 ms", "timeouts", "converge", "limit"
    );
    for row in rows {
        for (i, phase) in row.report.phases.iter().enumerate() {
            let converged = phase
                .converged
                .map_or("-".to_string(), |at| format!("{:.2} s", at.as_secs_f64()));
            let _ = writeln!(
                out,
                "{:<width$} | {:>4} | {:>9.0} | {:>6} | {:>6} | {:>8} | {:>8} | {:>5}",
                if i == 0 { row.name.as_str() } else { "" },
                scenario.capacities[i],
                phase.goodput,
                phase.p50.as_millis(),
                phase.p99.as_millis(),
                phase.timeouts,
                converged,
                phase
                    .settled_limit
                    .map_or("-".to_string(), |limit| format!("{limit:.0}")),
            );
        }
    }
    out
}

/// The scenario in one line, after `clock`'s name: what the table's figures are of.
pub(crate) fn heading(scenario: &Scenario, clock: &str) -> String {
    let capacities: Vec<String> = scenario.capacities.iter().map(usize::to_string).collect();
    let ms = |d: Duration| d.as_millis();
    format!(
        "{clock}: capacity {} for {} s each; service {} ms mean; {} calls/s; client deadline {} ms \
         (queue {} ms + run {} ms)",
        capacities.join(", "),
        scenario.phase.as_secs_f64(),
        ms(scenario.service),
        scenario.rate,
        ms(scenario.deadline()),
        ms(scenario.queue_deadline),
        ms(scenario.exec_deadline)
    )
}

/// The series of each row: limit and goodput every 500 ms.
pub(crate) fn series(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let _ = writeln!(out, "{} (t s, limit, goodput/s):", row.name);
        for (at, limit, goodput) in &row.report.series {
            let _ = write!(out, " {:.1}:{}/{:.0}", at.as_secs_f64(), limit, goodput);
        }
        let _ = writeln!(out);
    }
    out
}

/// Runs each named limiter through the scenario on the paused clock, two at a time (one per
/// core).
pub(crate) fn compare(scenario: &Scenario, limiters: Vec<(String, Limiter)>) -> Vec<Row> {
    compare_on(Clock::Paused, 2, scenario, limiters)
}

/// Runs each named limiter through the scenario on `clock`, `threads` at a time, each on its
/// own thread and runtime.
pub(crate) fn compare_on(
    clock: Clock,
    threads: usize,
    scenario: &Scenario,
    limiters: Vec<(String, Limiter)>,
) -> Vec<Row> {
    let results: Vec<Mutex<Option<Report>>> = limiters.iter().map(|_| Mutex::new(None)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((_, limiter)) = limiters.get(i) else {
                        break;
                    };
                    *results[i].lock().unwrap() = Some(run_on(clock, scenario, limiter));
                }
            });
        }
    });
    limiters
        .into_iter()
        .zip(results)
        .map(|((name, _), report)| Row {
            name,
            report: report.into_inner().unwrap().unwrap(),
        })
        .collect()
}

/// A bagpipe limiter from a builder function.
pub(crate) fn bagpipe(
    build: impl Fn() -> nodebook_bagpipe::Builder + Send + Sync + 'static,
) -> Limiter {
    Limiter::Bagpipe(Box::new(build))
}
