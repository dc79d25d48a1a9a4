//! The signal that starts a graceful shutdown.

/// Resolves on the first Ctrl-C (SIGINT) or, on Unix, SIGTERM.
///
/// Give it to [`Service::serve`](crate::Service::serve) (or to axum's
/// `with_graceful_shutdown`): the server then stops accepting connections and lets the requests
/// already running finish. To also stop at once on a second signal, use [`shutdown_signals`].
/// If a signal handler cannot be installed, that signal is simply not waited for.
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

/// Every Ctrl-C (SIGINT) and, on Unix, SIGTERM from now on, one item each.
///
/// Give it to [`Service::serve_until`](crate::Service::serve_until): the first signal starts
/// the graceful drain, the second stops at once. The handlers are installed when this function
/// is called, so a signal that arrives before the stream is first polled is not lost. A handler
/// that cannot be installed is left out (the other signal still counts).
///
/// # Cancel safety
///
/// Cancel safe: a signal that arrived while nobody polled is still yielded by the next poll.
///
/// # Examples
///
/// ```no_run
/// use futures::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut signals = Box::pin(examples::shutdown_signals());
/// signals.next().await;
/// println!("draining; press Ctrl-C again to stop at once");
/// signals.next().await;
/// # }
/// ```
pub fn shutdown_signals() -> impl futures::Stream<Item = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        futures::stream::unfold(
            (interrupt, terminate),
            |(mut interrupt, mut terminate)| async move {
                let on_interrupt = async {
                    match interrupt.as_mut() {
                        Some(stream) => stream.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let on_terminate = async {
                    match terminate.as_mut() {
                        Some(stream) => stream.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = on_interrupt => {}
                    _ = on_terminate => {}
                }
                Some(((), (interrupt, terminate)))
            },
        )
    }
    #[cfg(not(unix))]
    {
        futures::stream::unfold((), |()| async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Some(((), ()))
        })
    }
}
