//! The signal that starts a graceful shutdown.

/// Resolves on the first Ctrl-C (SIGINT) or, on Unix, SIGTERM.
///
/// Give it to `axum::serve(..).with_graceful_shutdown(..)`: the server then stops accepting
/// connections and lets the requests already running finish. If a signal handler cannot be
/// installed, that signal is simply not waited for.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future only stops waiting.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// examples::shutdown_signal().await;
/// println!("shutting down");
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
