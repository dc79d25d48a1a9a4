//! A tower `Layer` that limits a service with a bagpipe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project::pin_project;
use tower::{Layer, Service};

use crate::bagpipe::Bagpipe;
use crate::error::Error;
use crate::execute::{Classified, Execute};
use crate::shared::Shared;
use crate::waiter::Ticket;

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
/// Under an adaptive [`Limit`](crate::limit::Limit), every call is measured, and the
/// [classifier](crate::Builder::classify) sees the inner service's `Result<S::Response,
/// S::Error>` (hence the `'static` bounds on both).
///
/// # Examples
///
/// See [`BagpipeLayer`].
#[derive(Clone)]
pub struct BagpipeService<S> {
    inner: S,
    pipe: Bagpipe,
}

impl<S> BagpipeService<S> {
    /// A service that limits `inner` with `pipe` (what [`BagpipeLayer`] makes).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, BagpipeService};
    ///
    /// let service = BagpipeService::new(tower::service_fn(|n: u32| async move {
    ///     Ok::<_, std::convert::Infallible>(n + 1)
    /// }), Bagpipe::new(4));
    /// assert_eq!(service.bagpipe().limit(), 4);
    /// ```
    pub fn new(inner: S, pipe: Bagpipe) -> Self {
        Self { inner, pipe }
    }

    /// The wrapped service.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, BagpipeService};
    ///
    /// let service = BagpipeService::new(String::from("inner"), Bagpipe::new(1));
    /// assert_eq!(service.get_ref(), "inner");
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, BagpipeService};
    ///
    /// let mut service = BagpipeService::new(String::from("inner"), Bagpipe::new(1));
    /// service.get_mut().push_str(" service");
    /// assert_eq!(service.get_ref(), "inner service");
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, BagpipeService};
    ///
    /// let service = BagpipeService::new(String::from("inner"), Bagpipe::new(1));
    /// assert_eq!(service.into_inner(), "inner");
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The bagpipe that limits the service.
    ///
    /// # Examples
    ///
    /// See [`BagpipeService::new`].
    pub fn bagpipe(&self) -> &Bagpipe {
        &self.pipe
    }
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
    S: Service<Request> + Clone,
    S::Response: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Request>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|error| Error::Service(error.into()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness serves this request; the fresh clone stays for
        // the next `poll_ready` (tower's advice for services that call later).
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let state = match Ticket::admit(Arc::clone(self.pipe.shared())) {
            Ok(ticket) => State::Waiting {
                ticket,
                call: Some((ready, request)),
            },
            Err(error) => State::Failed { error: Some(error) },
        };
        ResponseFuture { state }
    }
}

/// The response future of [`BagpipeService`]: waits for the slot, then calls the inner service
/// and polls its future under the execution timeout, all in its own state: no boxed future per
/// request (only a deadline's timer is boxed, when the bagpipe has one).
///
/// # Cancel safety
///
/// Dropping it while the request waits takes the request out of the queue (it is never sent);
/// dropping it while the inner call runs drops that call and frees the slot.
///
/// # Examples
///
/// See [`BagpipeLayer`].
#[pin_project]
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct ResponseFuture<S: Service<Request>, Request> {
    #[pin]
    state: State<S, Request>,
}

#[pin_project(project = StateProj)]
enum State<S: Service<Request>, Request> {
    Waiting {
        ticket: Ticket<Arc<Shared>>,
        call: Option<(S, Request)>,
    },
    Running {
        #[pin]
        call: Execute<Arc<Shared>, S::Future, Classified>,
    },
    Failed {
        error: Option<Error>,
    },
}

impl<S, Request> Future for ResponseFuture<S, Request>
where
    S: Service<Request>,
    S::Response: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    type Output = Result<S::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Waiting { ticket, call } => {
                    let permit = match ready!(Pin::new(ticket).poll(cx)) {
                        Ok(permit) => permit,
                        Err(error) => {
                            state.set(State::Failed { error: None });
                            return Poll::Ready(Err(error));
                        }
                    };
                    let Some((mut service, request)) = call.take() else {
                        return Poll::Pending;
                    };
                    let call = Execute::classified(permit, service.call(request));
                    state.set(State::Running { call });
                }
                StateProj::Running { call } => {
                    let result = ready!(call.poll(cx));
                    state.set(State::Failed { error: None });
                    return Poll::Ready(match result {
                        Ok(Ok(response)) => Ok(response),
                        Ok(Err(error)) => Err(Error::Service(error.into())),
                        Err(error) => Err(error),
                    });
                }
                StateProj::Failed { error } => {
                    return match error.take() {
                        Some(error) => Poll::Ready(Err(error)),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
}

impl<S: Service<Request>, Request> fmt::Debug for ResponseFuture<S, Request> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Waiting { .. } => "waiting",
            State::Running { .. } => "running",
            State::Failed { error: Some(_) } => "failed",
            State::Failed { error: None } => "resolved",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
