//! The crate's one error type.

use std::convert::Infallible;
use std::sync::Arc;

/// Everything that can go wrong in this crate.
///
/// `E` is the loader's own error type; it defaults to [`Infallible`] for the calls that run no
/// loader (building a map). A loader error is shared by every caller that waited on that load, so
/// it travels as an [`Arc<E>`].
///
/// `Error<E>` is [`Clone`] whatever `E` is, because one error goes to many waiters.
///
/// # Examples
///
/// ```
/// use nodebook_cache::{Error, LimitableMap};
///
/// let err = LimitableMap::<u32, u32>::new(0).unwrap_err();
/// assert!(matches!(err, Error::ZeroLimit));
/// assert_eq!(err.to_string(), "limit must be at least 1, got 0");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E = Infallible> {
    /// A map was built with `limit` 0: it could never hold a key. Pick a limit of at least 1.
    #[error("limit must be at least 1, got 0")]
    ZeroLimit,
    /// A map was built with a duration of zero for `option` (`time_to_live`, `refresh_after`
    /// or `negative_caching`): every entry would expire, or be due for a refresh, as it was
    /// written. Leave the option unset to turn it off.
    #[error("{option} must be greater than zero")]
    ZeroDuration {
        /// The builder method given zero.
        option: &'static str,
    },
    /// A map was built with `max_weight` but no `weigher` to weigh the entries with. Set a
    /// weigher, or bound the map by its count limit only.
    #[error("max_weight needs a weigher: set one with Builder::weigher")]
    MaxWeightWithoutWeigher,
    /// A load had to start but the call was not made inside a tokio runtime, where loads run.
    #[error("no tokio runtime to run the load on: call from within a tokio runtime")]
    NoRuntime,
    /// The loader returned an error. Every caller that waited on that load gets this same error;
    /// it is not remembered (unless the map caches errors, see
    /// [`Builder::negative_caching`](crate::Builder::negative_caching)), so the next call starts
    /// a fresh load.
    #[error("the loader failed: {0}")]
    Load(Arc<E>),
    /// The loader panicked. Every caller that waited on that load gets this error; the next call
    /// starts a fresh load.
    #[error("the loader panicked: {message}")]
    LoaderPanicked {
        /// The panic message, when the payload was a string; otherwise a placeholder.
        message: Arc<str>,
    },
    /// A loader asked for its own key (through the queue or map that runs it): it would wait
    /// for its own result forever. Load the value without going through the cache.
    #[error("a loader asked for its own key and would wait for itself")]
    Reentrant,
    /// The load was stopped before it finished: its task was aborted or the runtime shut down.
    /// Retry the call to start a fresh load.
    #[error("the load was cancelled before it finished")]
    LoadCancelled,
}

impl<E> Clone for Error<E> {
    fn clone(&self) -> Self {
        match self {
            Self::ZeroLimit => Self::ZeroLimit,
            Self::ZeroDuration { option } => Self::ZeroDuration { option },
            Self::MaxWeightWithoutWeigher => Self::MaxWeightWithoutWeigher,
            Self::NoRuntime => Self::NoRuntime,
            Self::Load(e) => Self::Load(Arc::clone(e)),
            Self::LoaderPanicked { message } => Self::LoaderPanicked {
                message: Arc::clone(message),
            },
            Self::Reentrant => Self::Reentrant,
            Self::LoadCancelled => Self::LoadCancelled,
        }
    }
}

impl Error<Infallible> {
    /// Turns a configuration error into one of any loader error type.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::Error;
    ///
    /// let err: Error<std::io::Error> = Error::ZeroLimit.widen();
    /// assert!(matches!(err, Error::ZeroLimit));
    /// ```
    #[must_use]
    pub fn widen<E>(self) -> Error<E> {
        match self {
            Self::ZeroLimit => Error::ZeroLimit,
            Self::ZeroDuration { option } => Error::ZeroDuration { option },
            Self::MaxWeightWithoutWeigher => Error::MaxWeightWithoutWeigher,
            Self::NoRuntime => Error::NoRuntime,
            Self::Load(never) => match *never {},
            Self::LoaderPanicked { message } => Error::LoaderPanicked { message },
            Self::Reentrant => Error::Reentrant,
            Self::LoadCancelled => Error::LoadCancelled,
        }
    }
}

/// Renders a panic payload as the message the waiters see.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Arc<str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Arc::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Arc::from(s.as_str())
    } else {
        Arc::from("a non-string panic payload")
    }
}
