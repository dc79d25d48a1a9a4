//! tower-acc (a tower layer with Netflix's algorithms) over the simulated backend: the peer
//! column of the comparison, with its default settings.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tower::util::BoxCloneService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_acc::ConcurrencyLimitLayer;

use super::{Backend, TowerAcc};

pub(crate) type Peer = BoxCloneService<Duration, bool, BoxError>;

/// tower-acc's layer over tower's `Timeout` over the backend.
pub(crate) fn service(kind: TowerAcc, backend: Arc<Backend>, exec_deadline: Duration) -> Peer {
    let backend = tower::service_fn(move |work: Duration| {
        let backend = Arc::clone(&backend);
        async move {
            let (tx, rx) = oneshot::channel();
            tokio::spawn(async move {
                backend.serve(work).await;
                let _ = tx.send(());
            });
            rx.await.map(|()| true).map_err(BoxError::from)
        }
    });
    let timed = ServiceBuilder::new()
        .timeout(exec_deadline)
        .service(backend);
    match kind {
        TowerAcc::Aimd => BoxCloneService::new(
            ServiceBuilder::new()
                .layer(ConcurrencyLimitLayer::new(tower_acc::Aimd::default()))
                .service(timed),
        ),
        TowerAcc::Gradient2 => BoxCloneService::new(
            ServiceBuilder::new()
                .layer(ConcurrencyLimitLayer::new(tower_acc::Gradient2::default()))
                .service(timed),
        ),
        TowerAcc::Vegas => BoxCloneService::new(
            ServiceBuilder::new()
                .layer(ConcurrencyLimitLayer::new(tower_acc::Vegas::default()))
                .service(timed),
        ),
    }
}

/// One client call: waits for readiness (a slot) at most `queue_deadline`, then calls.
pub(crate) async fn call(mut peer: Peer, work: Duration, queue_deadline: Duration) -> bool {
    match tokio::time::timeout(queue_deadline, peer.ready()).await {
        Ok(Ok(ready)) => matches!(ready.call(work).await, Ok(true)),
        _ => false,
    }
}
