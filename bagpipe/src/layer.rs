//! A tower `Layer` that limits a service with a bagpipe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::bagpipe::Bagpipe;
use crate::error::Error;
use crate::shared::Shared;
use crate::stats::Counters;

/// Wraps services in [`BagpipeService`], sharing one [`Bagpipe`] among all of them.
///
/// Unlike tower's `ConcurrencyLimit`, the slot is taken in `call`, not in `poll_ready`, so a
/// connection that is ready but idle holds no slot; and the bagpipe's queue length, refusal and
/// both deadlines apply. Every service made by one layer (and every clone of them) shares the
/// same limit.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, BagpipeLayer};
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::builder(10).refuse(true).build();
/// let database = service_fn(|sql: &'static str| async move {
///     Ok::<_, std::io::Error>(format!("rows for {sql}"))
/// });
/// let mut limited = BagpipeLayer::new(pipe.clone()).layer(database);
/// let rows = limited.ready().await.unwrap().call("SELECT 1").await.unwrap();
/// assert_eq!(rows, "rows for SELECT 1");
/// assert_eq!(pipe.stats().completed, 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BagpipeLayer {
    pipe: Bagpipe,
}

impl BagpipeLayer {
    /// A layer that limits every service it wraps with `pipe`.
    ///
    /// # Examples
    ///
    /// ```
    /// let layer = nodebook_bagpipe::BagpipeLayer::new(nodebook_bagpipe::Bagpipe::new(4));
    /// # drop(layer);
    /// ```
    #[must_use]
    pub fn new(pipe: Bagpipe) -> Self {
        Self { pipe }
    }
}

impl<S> Layer<S> for BagpipeLayer {
    type Service = BagpipeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BagpipeService {
            inner,
            pipe: self.pipe.clone(),
        }
    }
}

/// A service limited by a [`Bagpipe`]; made by [`BagpipeLayer`].
///
/// `poll_ready` only asks the inner service. `call` decides at once whether the request is
/// admitted, queued or refused, like [`Bagpipe::push`]; the returned future waits for the slot,
/// then calls a clone of the inner service that was ready. Errors are the crate's [`Error`]: the
/// inner service's own error arrives as [`Error::Service`]. An execution timeout cancels the
/// inner future (the layer never detaches).
///
/// # Examples
///
/// See [`BagpipeLayer`].
#[derive(Clone)]
pub struct BagpipeService<S> {
    inner: S,
    pipe: Bagpipe,
}

impl<S> fmt::Debug for BagpipeService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BagpipeService")
            .field("pipe", &self.pipe)
            .finish_non_exhaustive()
    }
}

impl<S, Request> Service<Request> for BagpipeService<S>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Response: Send + 'static,
    Request: Send + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|error| Error::Service(error.into()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(self.pipe.shared());
        if shared.options.disabled {
            let call = ready.call(request);
            return ResponseFuture::new(async move {
                call.await.map_err(|error| Error::Service(error.into()))
            });
        }
        let ticket = Shared::admit(Arc::clone(&shared));
        ResponseFuture::new(async move {
            let permit = ticket?.ready().await?;
            let call = ready.call(request);
            let result = match shared.options.timeout {
                None => call.await,
                Some(timeout) => match Box::pin(tokio::time::timeout(timeout, call)).await {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        drop(permit);
                        Counters::bump(&shared.counters.timeouts);
                        return Err(Error::Timeout { timeout });
                    }
                },
            };
            permit.complete();
            result.map_err(|error| Error::Service(error.into()))
        })
    }
}

/// The response future of [`BagpipeService`].
///
/// # Cancel safety
///
/// Dropping it while the request waits takes the request out of the queue (it is never sent);
/// dropping it while the inner call runs drops that call and frees the slot.
///
/// # Examples
///
/// See [`BagpipeLayer`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct ResponseFuture<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>,
}

impl<T> ResponseFuture<T> {
    fn new(future: impl Future<Output = Result<T, Error>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<T> Future for ResponseFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<T> fmt::Debug for ResponseFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
