//! Tests across OS processes: the test binary runs again as workers, each running one ignored
//! test of its own, told what to do through environment variables and lines on its stdin, and
//! reporting on its stdout in lines that start with `@`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// A worker process and the pipe to its stdin.
#[derive(Debug)]
pub struct Worker {
    /// The process, to wait for or to kill.
    pub child: Child,
    stdin: ChildStdin,
}

impl Worker {
    /// Writes `line` to the worker's stdin.
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("a worker reads its stdin");
        self.stdin.flush().expect("flush");
    }
}

/// The lines the workers report, as `(worker index, line from its '@')`.
pub type Reports = mpsc::Receiver<(usize, String)>;

/// Starts `count` copies of this test binary, each running only the ignored test `test` (its
/// path in the binary, like `crowd::worker`), with what `configure` adds to worker `index`'s
/// command (its variables).
pub fn spawn_workers(
    test: &str,
    count: usize,
    configure: impl Fn(usize, &mut Command),
) -> (Vec<Worker>, Reports) {
    let exe = std::env::current_exe().expect("the test binary");
    let (tx, rx) = mpsc::channel();
    let workers = (0..count)
        .map(|index| {
            let mut command = Command::new(&exe);
            command.args([
                test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ]);
            configure(index, &mut command);
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("a worker process");
            let stdout = child.stdout.take().expect("piped");
            let stdin = child.stdin.take().expect("piped");
            let tx = tx.clone();
            std::thread::spawn(move || {
                // libtest may print `test worker ... ` before a report on its line.
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(at) = line.find('@')
                        && tx.send((index, line[at..].to_string())).is_err()
                    {
                        return;
                    }
                }
            });
            Worker { child, stdin }
        })
        .collect();
    (workers, rx)
}

/// The next report of any worker.
///
/// # Panics
///
/// When none comes before `deadline`.
pub fn next_line(reports: &Reports, deadline: Instant) -> (usize, String) {
    let left = deadline.saturating_duration_since(Instant::now());
    reports
        .recv_timeout(left)
        .unwrap_or_else(|e| panic!("no report from the workers in time: {e}"))
}

/// Waits until every worker has reported `@ready`, then releases them all at once with a `go`
/// line.
pub fn ready_set_go(workers: &mut [Worker], reports: &Reports, deadline: Instant) {
    let mut ready = 0;
    while ready < workers.len() {
        let (_, line) = next_line(reports, deadline);
        if line == "@ready" {
            ready += 1;
        }
    }
    for worker in workers {
        worker.send("go");
    }
}
