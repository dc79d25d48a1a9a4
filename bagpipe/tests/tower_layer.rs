//! The tower layer: slots are taken in `call`, not `poll_ready`; the bagpipe's rules and
//! errors apply to requests.
#![cfg(feature = "tower")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, BagpipeLayer, Error};
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt, service_fn};

fn gated(
    gate: Arc<Semaphore>,
) -> impl Service<u32, Response = u32, Error = std::io::Error, Future: Send> + Clone {
    service_fn(move |n: u32| {
        let gate = Arc::clone(&gate);
        async move {
            gate.acquire().await.expect("gate closed").forget();
            if n == 0 {
                return Err(std::io::Error::other("zero is not a row"));
            }
            Ok(n * 10)
        }
    })
}

#[tokio::test]
async fn ready_services_hold_no_slot_until_called() {
    let pipe = Bagpipe::new(1);
    let layer = BagpipeLayer::new(pipe.clone());
    let gate = Arc::new(Semaphore::new(0));
    let mut services: Vec<_> = (0..5)
        .map(|_| layer.layer(gated(Arc::clone(&gate))))
        .collect();
    for service in &mut services {
        service.ready().await.unwrap();
    }
    assert_eq!(pipe.active(), 0, "poll_ready takes no slot");
    let first = services[0].call(1);
    let second = services[1].call(2);
    assert_eq!(
        (pipe.active(), pipe.queued()),
        (1, 1),
        "call decides at once"
    );
    gate.add_permits(2);
    assert_eq!(first.await.unwrap(), 10);
    assert_eq!(second.await.unwrap(), 20);
    assert_eq!(pipe.active(), 0);
}

#[tokio::test]
async fn a_full_queue_refuses_requests() {
    let pipe = Bagpipe::builder(1).queue_length(1).refuse(true).build();
    let gate = Arc::new(Semaphore::new(0));
    let mut service = BagpipeLayer::new(pipe.clone()).layer(gated(Arc::clone(&gate)));
    let running = service.ready().await.unwrap().call(1);
    let waiting = service.ready().await.unwrap().call(2);
    let refused = service.ready().await.unwrap().call(3);
    assert!(matches!(refused.await, Err(Error::TooMuchAsyncCall { .. })));
    gate.add_permits(2);
    assert_eq!(running.await.unwrap(), 10);
    assert_eq!(waiting.await.unwrap(), 20);
}

#[tokio::test]
async fn inner_errors_arrive_as_service_errors() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(1));
    let mut service = BagpipeLayer::new(pipe.clone()).layer(gated(gate));
    match service.ready().await.unwrap().call(0).await {
        Err(Error::Service(error)) => assert_eq!(error.to_string(), "zero is not a row"),
        other => panic!("expected a service error, got {other:?}"),
    }
    assert_eq!(pipe.active(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_execution_timeout_applies_to_requests() {
    let pipe = Bagpipe::builder(1)
        .timeout(Duration::from_millis(10))
        .build();
    let gate = Arc::new(Semaphore::new(0));
    let mut service = BagpipeLayer::new(pipe.clone()).layer(gated(gate));
    let result = service.ready().await.unwrap().call(1).await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
    assert_eq!(pipe.active(), 0);
}

#[tokio::test]
async fn dropping_a_queued_response_future_never_sends_the_request() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let inner = {
        let sent = Arc::clone(&sent);
        gated(Arc::clone(&gate)).map_request(move |n: u32| {
            sent.fetch_add(1, Ordering::SeqCst);
            n
        })
    };
    let mut service = BagpipeLayer::new(pipe.clone()).layer(inner);
    let running = service.ready().await.unwrap().call(1);
    let dropped = service.ready().await.unwrap().call(2);
    assert_eq!(pipe.queued(), 1);
    drop(dropped);
    assert_eq!(pipe.queued(), 0);
    gate.add_permits(1);
    assert_eq!(running.await.unwrap(), 10);
    assert_eq!(
        sent.load(Ordering::SeqCst),
        1,
        "only one request reached the inner service"
    );
}

#[test]
fn the_service_is_debug_without_a_debug_inner_service() {
    struct Opaque;
    let service = BagpipeLayer::new(Bagpipe::new(3)).layer(Opaque);
    let shown = format!("{service:?}");
    assert!(
        shown.starts_with("BagpipeService { pipe: Bagpipe { limit: 3"),
        "{shown}"
    );
}

#[tokio::test]
async fn the_service_lends_and_returns_its_inner_service() {
    let mut service = BagpipeLayer::new(Bagpipe::new(1)).layer(vec![1, 2]);
    assert_eq!(service.get_ref(), &[1, 2]);
    service.get_mut().push(3);
    assert_eq!(service.bagpipe().limit(), 1);
    assert_eq!(service.into_inner(), [1, 2, 3]);
}

/// The response future carries the request, the waiting place and the inner call in its own
/// state (no boxed future per request; only a deadline's timer is boxed), and is `Send` when
/// they are.
#[tokio::test]
async fn the_response_future_is_send_and_resolves_across_tasks() {
    fn send<T: Send>(value: T) -> T {
        value
    }
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let mut service = BagpipeLayer::new(pipe.clone()).layer(gated(Arc::clone(&gate)));
    let first = send(service.ready().await.unwrap().call(4));
    let second = send(service.ready().await.unwrap().call(5));
    let second = tokio::spawn(second);
    gate.add_permits(2);
    assert_eq!(first.await.unwrap(), 40);
    assert_eq!(second.await.unwrap().unwrap(), 50);
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn the_layer_reports_each_call_to_an_adaptive_limit() {
    use nodebook_bagpipe::limit::{Aimd, Outcome};
    use tower::{Service, ServiceExt};

    let pipe = nodebook_bagpipe::Bagpipe::builder(0)
        .limit(Aimd::default().initial_limit(10))
        .classify(|result: &Result<u32, &'static str>| match result {
            Err("busy") => Outcome::Overload,
            _ => Outcome::Success,
        })
        .build();
    let mut service = tower::ServiceBuilder::new()
        .layer(nodebook_bagpipe::BagpipeLayer::new(pipe.clone()))
        .service(tower::service_fn(|n: u32| async move {
            if n == 0 { Err("busy") } else { Ok(n) }
        }));
    assert_eq!(service.ready().await.unwrap().call(1).await.unwrap(), 1);
    assert_eq!(
        pipe.limit(),
        10,
        "one success of ten with one in flight: no growth"
    );
    assert!(service.ready().await.unwrap().call(0).await.is_err());
    assert_eq!(pipe.limit(), 9, "an overload backs off");
    let stats = pipe.stats();
    assert_eq!((stats.samples, stats.overloads), (2, 1));
}
