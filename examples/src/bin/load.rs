//! Fires N requests at a running service and prints successful requests/s, latency, statuses,
//! failures and SQLite queries. Exits with status 1 when any request failed (no answer, no
//! answer in time, or a 5xx), so a script can tell a clean run from a broken one.
//!
//! ```text
//! cargo run --release -p examples --bin load -- --requests 10000 --concurrency 1000
//! cargo run --release -p examples --bin load -- --spread 1000 --requests 20000
//! ```

use std::process::ExitCode;

use examples::{Flags, LoadPlan};

const USAGE: &str = "usage: load [--url http://127.0.0.1:3000] [--requests N] [--concurrency C]
            [--timeout 10s] [--path /articles/1 | --spread K]
  --url          the service (default http://127.0.0.1:3000); several replicas separated
                 by commas get the requests in turn (each path asked of each replica)
  --requests     how many GET requests to send in all (default 1000)
  --concurrency  how many are in flight at once (default 64)
  --timeout      the deadline of one request: 500ms, 10s, 1m (default 10s)
  --path         the one path every request asks for (default /articles/1: one hot key)
  --spread       ask for /articles/1 to /articles/K in turn instead
Throughput counts 2xx answers only. Exit status: 0 when no request failed, 1 when some got no
answer, no answer in time, or a 5xx, 2 for bad arguments.";

#[tokio::main]
async fn main() -> ExitCode {
    let known = [
        "--url",
        "--requests",
        "--concurrency",
        "--timeout",
        "--path",
        "--spread",
    ];
    let flags = match Flags::parse(std::env::args().skip(1), &known) {
        Ok(flags) if flags.help() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(flags) => flags,
        Err(err) => {
            eprintln!("load: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match plan(&flags) {
        Ok(plan) => {
            let report = plan.progress(true).run().await;
            println!("{report}");
            if report.failures == report.requests {
                eprintln!("load: no request got an answer; is the service running?");
            }
            if report.failed() > 0 {
                eprintln!(
                    "load: {} of {} requests failed",
                    report.failed(),
                    report.requests
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("load: {err}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn plan(flags: &Flags) -> Result<LoadPlan, examples::Error> {
    let url: String = flags
        .value("--url")?
        .unwrap_or_else(|| "http://127.0.0.1:3000".to_owned());
    let replicas: Vec<String> = url.split(',').map(str::to_owned).collect();
    let requests: usize = flags.value("--requests")?.unwrap_or(1000);
    let concurrency: usize = flags
        .value("--concurrency")?
        .unwrap_or(examples::DEFAULT_CONCURRENCY);
    let timeout = flags
        .duration("--timeout")?
        .unwrap_or(examples::DEFAULT_REQUEST_TIMEOUT);
    if timeout.is_zero() {
        return Err(examples::Error::Argument {
            name: "--timeout".to_owned(),
            reason: "must be longer than 0".to_owned(),
        });
    }
    let paths = match (
        flags.value::<String>("--path")?,
        flags.value::<u64>("--spread")?,
    ) {
        (Some(path), None) => vec![path],
        (None, Some(spread)) => (1..=spread.max(1))
            .map(|id| format!("/articles/{id}"))
            .collect(),
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => {
            return Err(examples::Error::Argument {
                name: "--spread".to_owned(),
                reason: "give --path or --spread, not both".to_owned(),
            });
        }
    };
    Ok(LoadPlan::new(&replicas[0])
        .replicas(replicas)
        .paths(paths)
        .requests(requests)
        .concurrency(concurrency)
        .timeout(timeout))
}
