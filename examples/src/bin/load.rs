//! Fires N requests at a running service and prints requests/s, latency, statuses and SQLite
//! queries.
//!
//! ```text
//! cargo run --release -p examples --bin load -- --requests 10000 --concurrency 1000
//! cargo run --release -p examples --bin load -- --spread 1000 --requests 20000
//! ```

use std::process::ExitCode;

use examples::{Flags, LoadPlan};

const USAGE: &str = "usage: load [--url http://127.0.0.1:3000] [--requests N] [--concurrency C]
            [--path /articles/1 | --spread K]
  --requests     how many GET requests to send in all (default 1000)
  --concurrency  how many are in flight at once (default: all of them)
  --path         the one path every request asks for (default /articles/1: one hot key)
  --spread       ask for /articles/1 to /articles/K in turn instead";

#[tokio::main]
async fn main() -> ExitCode {
    let known = ["--url", "--requests", "--concurrency", "--path", "--spread"];
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
            let report = plan.run().await;
            println!("{report}");
            if report.failures == report.requests {
                eprintln!("load: no request got an answer; is the service running?");
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
    let requests: usize = flags.value("--requests")?.unwrap_or(1000);
    let concurrency: usize = flags.value("--concurrency")?.unwrap_or(requests);
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
    Ok(LoadPlan::new(url)
        .paths(paths)
        .requests(requests)
        .concurrency(concurrency))
}
