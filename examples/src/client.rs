//! A minimal HTTP/1.1 client for the load generator and the service tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Error;

/// A pooled HTTP/1.1 client (hyper), cheap to clone.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let client = examples::HttpClient::new();
/// let answer = client.get("http://127.0.0.1:3000/stats").await?;
/// println!("{} {}", answer.status, String::from_utf8_lossy(&answer.body));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

/// A whole HTTP answer: status, headers and the collected body.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl HttpAnswer {
    /// The body as text, with invalid UTF-8 replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// let answer = examples::HttpAnswer {
    ///     status: hyper::StatusCode::OK,
    ///     headers: Default::default(),
    ///     body: "hi".into(),
    /// };
    /// assert_eq!(answer.text(), "hi");
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with hyper's connection pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let _client = examples::HttpClient::new();
    /// ```
    #[must_use]
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            inner: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// `GET url`, body collected.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] when the request cannot be sent or its body cannot be read; any status code
    /// is an `Ok`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request and its connection.
    ///
    /// # Examples
    ///
    /// See [`HttpClient`].
    pub async fn get(&self, url: &str) -> Result<HttpAnswer, Error> {
        self.send(Method::GET, url, Bytes::new()).await
    }

    /// Sends `method url` with `body`, body of the answer collected.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] when the request cannot be sent or its body cannot be read; any status code
    /// is an `Ok`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request and its connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use hyper::Method;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let client = examples::HttpClient::new();
    /// let body = r#"{"title":"New","body":"Text"}"#;
    /// let answer = client.send(Method::PUT, "http://127.0.0.1:3000/articles/1", body.into()).await?;
    /// assert!(answer.status.is_success());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&self, method: Method, url: &str, body: Bytes) -> Result<HttpAnswer, Error> {
        let response = self.open(method, url, body).await?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|err| http_error(url, "reading the body", &err))?
            .to_bytes();
        Ok(HttpAnswer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends `method url` with `body` and returns the response with its body still streaming (for
    /// server-sent events).
    ///
    /// # Errors
    ///
    /// [`Error::Http`] when the request cannot be built or sent.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request and its connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use http_body_util::BodyExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let client = examples::HttpClient::new();
    /// let mut events = client
    ///     .open(hyper::Method::GET, "http://127.0.0.1:3000/events", Default::default())
    ///     .await?
    ///     .into_body();
    /// while let Some(Ok(frame)) = events.frame().await {
    ///     if let Some(data) = frame.data_ref() {
    ///         print!("{}", String::from_utf8_lossy(data));
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
    ) -> Result<hyper::Response<Incoming>, Error> {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body))
            .map_err(|err| http_error(url, "building the request", &err))?;
        self.inner
            .request(request)
            .await
            .map_err(|err| http_error(url, "sending the request", &err))
    }
}

fn http_error(url: &str, step: &str, err: &dyn std::error::Error) -> Error {
    let mut reason = format!("{step}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Http {
        url: url.to_owned(),
        reason,
    }
}
