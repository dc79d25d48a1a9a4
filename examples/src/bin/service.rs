//! The article service: axum over SQLite with every crate of the toolkit in the request path.
//!
//! ```text
//! cargo run --release -p examples --bin service -- --port 3000 --data-dir /tmp/articles
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use examples::{Flags, Service, ServiceConfig, shutdown_signal};

const USAGE: &str = "usage: service [--port 3000] [--data-dir DIR] [--connections 4]
  --port         the TCP port on 127.0.0.1 (default 3000; 0 picks a free one)
  --data-dir     where the SQLite database and files/ live (default: under the system temp dir)
  --connections  SQLite connections, which is also the limiter's limit (default 4)";

#[tokio::main]
async fn main() -> ExitCode {
    let known = ["--port", "--data-dir", "--connections"];
    let flags = match Flags::parse(std::env::args().skip(1), &known) {
        Ok(flags) if flags.help() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(flags) => flags,
        Err(err) => {
            eprintln!("service: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&flags).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("service: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: &Flags) -> Result<(), examples::Error> {
    let port: u16 = flags.value("--port")?.unwrap_or(3000);
    let data_dir: PathBuf = flags
        .value("--data-dir")?
        .unwrap_or_else(ServiceConfig::default_data_dir);
    let mut config = ServiceConfig::new(&data_dir);
    if let Some(connections) = flags.value::<usize>("--connections")? {
        if connections == 0 {
            return Err(examples::Error::Argument {
                name: "--connections".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        config.store.connections = connections;
    }
    let service = Service::open(config).await?;
    let address = format!("127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|err| examples::Error::Io {
            path: PathBuf::from(&address),
            source: err.into(),
        })?;
    let bound = listener.local_addr().map_or(address, |a| a.to_string());
    println!(
        "serving http://{bound} from {}",
        service.database().path().display()
    );
    println!("  GET/PUT /articles/{{id}}   GET /events   POST /import?charset=gbk");
    println!("  GET /files/poem.txt   GET /stats        Ctrl-C stops (running requests finish)");
    service.serve(listener, shutdown_signal()).await?;
    println!("stopped");
    Ok(())
}
