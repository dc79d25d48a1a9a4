//! What the service tells its operators: request logs and spans through `tracing`, and
//! `GET /metrics` in Prometheus text through the `metrics` facade.
//!
//! # Implementation details
//!
//! Each [`Service`](crate::Service) has its own Prometheus recorder, used through
//! `metrics::with_local_recorder`, so two services in one process (as in the tests) never mix
//! their figures and nothing is installed process-wide. Request latencies are recorded as they
//! happen; the limiter, cache, emitter and connection figures are read from their live counters
//! when `/metrics` is scraped, so they cost nothing between scrapes.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use tokio::time::Instant;

use crate::StoreStats;

const LATENCY: &str = "http_request_duration_seconds";
/// Latency buckets from 1 ms to 10 s: the range between a cache hit and the request timeout.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the process-wide log subscriber of the binaries: human-readable lines on standard
/// error (coloured when it is a terminal), filtered by `RUST_LOG` (`RUST_LOG=debug`, `RUST_LOG=examples=debug,tower_http=warn`,
/// the `tracing-subscriber` `EnvFilter` syntax), or by `default_filter` when it is unset.
///
/// Does nothing if a subscriber is already installed.
///
/// # Examples
///
/// ```
/// examples::install_log_subscriber("info");
/// tracing::info!("shown unless RUST_LOG says otherwise");
/// ```
pub fn install_log_subscriber(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The figures read from live counters at scrape time.
pub(crate) struct Snapshot {
    pub(crate) store: StoreStats,
    pub(crate) database_queries: u64,
    pub(crate) connections: usize,
    pub(crate) requests: usize,
}

/// One service's metrics.
pub(crate) struct Telemetry {
    recorder: PrometheusRecorder,
    started: Instant,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    pub(crate) fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), &LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let telemetry = Self {
            recorder,
            started: Instant::now(),
        };
        telemetry.describe();
        telemetry
    }

    fn describe(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::describe_histogram!(
                LATENCY,
                metrics::Unit::Seconds,
                "Time from the request's arrival to its response head, by route, method and status"
            );
            metrics::describe_gauge!("http_connections_open", "Client connections open now");
            metrics::describe_gauge!("http_requests_in_flight", "Requests being handled now");
            metrics::describe_gauge!("bagpipe_active", "Database queries running now");
            metrics::describe_gauge!("bagpipe_queued", "Database queries waiting for a slot");
            metrics::describe_gauge!("bagpipe_limit", "Database queries allowed at once");
            metrics::describe_gauge!("bagpipe_queue_length", "Database queries allowed to wait");
            metrics::describe_counter!("bagpipe_refused_total", "Queries refused (answered 503)");
            metrics::describe_counter!(
                "bagpipe_timeouts_total",
                "Queries that waited (stage=queue) or ran (stage=run) too long (answered 504)"
            );
            metrics::describe_gauge!(
                "bagpipe_global_connected",
                "With --redis: 1 while the database limit is counted in Redis across the \
                 replicas, 0 while its outage policy decides"
            );
            metrics::describe_gauge!(
                "bagpipe_global_held",
                "With --redis: permits of the global database limit this replica holds now"
            );
            metrics::describe_counter!(
                "bagpipe_global_lease_lost_total",
                "With --redis: permits that outlived their lease (another replica may have had \
                 the slot meanwhile)"
            );
            metrics::describe_counter!(
                "bagpipe_global_grants_total",
                "With --redis: permits by who granted them: redis (the global count), fallback or \
                 open (the outage policy, Redis away)"
            );
            metrics::describe_counter!(
                "bagpipe_global_unavailable_total",
                "With --redis-outage closed: calls refused because Redis did not answer"
            );
            metrics::describe_gauge!(
                "emitter_bridge_connected",
                "With --redis: 1 while updates of the other replicas reach this replica's event \
                 subscribers, 0 while they do not"
            );
            metrics::describe_counter!(
                "emitter_bridge_events_total",
                "With --redis: updates by direction: published (to the other replicas), \
                 received (from them), dropped (not published, queue full)"
            );
            metrics::describe_counter!(
                "emitter_bridge_gaps_total",
                "With --redis: times updates of other replicas were, or may have been, lost here"
            );
            metrics::describe_counter!(
                "emitter_bridge_reconnects_total",
                "With --redis: times the bridge's subscription came back after dropping"
            );
            metrics::describe_counter!("cache_hits_total", "Reads answered from the cache");
            metrics::describe_counter!("cache_misses_total", "Reads that missed the cache");
            metrics::describe_counter!(
                "cache_loads_total",
                "Loads by outcome: started, coalesced (joined one in flight), failed"
            );
            metrics::describe_counter!(
                "cache_evictions_total",
                "Rows dropped by reason: capacity, expired, removed (by an update)"
            );
            metrics::describe_gauge!("cache_entries", "Rows cached now");
            metrics::describe_gauge!("sse_subscribers", "Server-sent event streams open now");
            metrics::describe_gauge!("sse_subscribers_limit", "Event streams allowed at once");
            metrics::describe_counter!(
                "emitter_leak_warnings_total",
                "Max-listener warnings: listeners piled up beyond the subscriber cap"
            );
            metrics::describe_gauge!(
                "cache_redis_connected",
                "1 while the cache's Redis tier is connected, 0 while this replica serves alone"
            );
            metrics::describe_counter!(
                "cache_redis_reads_total",
                "Reads by where they were answered: local, redis, load (this replica held the \
                 lease), lease_wait (waited for another replica), degraded (loaded without Redis)"
            );
            metrics::describe_counter!(
                "cache_redis_errors_total",
                "Redis calls that failed (kind=error) or timed out (kind=timeout)"
            );
            metrics::describe_counter!(
                "cache_redis_outages_total",
                "Falls of the Redis tier into degraded (event=outage) and returns (event=reconnect)"
            );
            metrics::describe_counter!(
                "cache_redis_invalidations_received_total",
                "Invalidations received from other replicas"
            );
            metrics::describe_counter!(
                "database_queries_total",
                "Article reads this replica ran against the database"
            );
            metrics::describe_gauge!(
                "process_uptime_seconds",
                metrics::Unit::Seconds,
                "Time since the service started"
            );
            metrics::describe_gauge!("service_info", "Always 1; the labels say which build");
        });
    }

    /// Records one answered request.
    pub(crate) fn record_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::histogram!(
                LATENCY,
                "route" => route.to_owned(),
                "method" => method.to_owned(),
                "status" => status.to_string()
            )
            .record(took.as_secs_f64());
        });
    }

    /// Sets the live figures and renders everything as Prometheus text.
    pub(crate) fn render(&self, now: &Snapshot) -> String {
        let to_f64 = |n: usize| u32::try_from(n).map_or(f64::from(u32::MAX), f64::from);
        metrics::with_local_recorder(&self.recorder, || {
            let (pipe, cache, events) = (&now.store.limiter, &now.store.cache, &now.store.events);
            metrics::gauge!("service_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            metrics::gauge!("process_uptime_seconds").set(self.started.elapsed().as_secs_f64());
            metrics::gauge!("http_connections_open").set(to_f64(now.connections));
            metrics::gauge!("http_requests_in_flight").set(to_f64(now.requests));
            metrics::gauge!("bagpipe_active").set(to_f64(pipe.active));
            metrics::gauge!("bagpipe_queued").set(to_f64(pipe.queued));
            metrics::gauge!("bagpipe_limit").set(to_f64(pipe.limit));
            metrics::gauge!("bagpipe_queue_length").set(to_f64(pipe.queue_length));
            metrics::counter!("bagpipe_refused_total").absolute(pipe.refused);
            metrics::counter!("bagpipe_timeouts_total", "stage" => "queue")
                .absolute(pipe.queue_timeouts);
            metrics::counter!("bagpipe_timeouts_total", "stage" => "run").absolute(pipe.timeouts);
            if let Some(global) = &now.store.global_limit {
                metrics::gauge!("bagpipe_global_connected")
                    .set(f64::from(u8::from(global.connected)));
                metrics::gauge!("bagpipe_global_held").set(to_f64(global.held));
                metrics::counter!("bagpipe_global_lease_lost_total").absolute(global.lease_lost);
                metrics::counter!("bagpipe_global_unavailable_total").absolute(global.unavailable);
                let by_policy = global.fallback_grants + global.open_grants;
                for (by, count) in [
                    ("redis", pipe.admitted.saturating_sub(by_policy)),
                    ("fallback", global.fallback_grants),
                    ("open", global.open_grants),
                ] {
                    metrics::counter!("bagpipe_global_grants_total", "by" => by).absolute(count);
                }
            }
            if let Some(bridge) = &now.store.bridge {
                metrics::gauge!("emitter_bridge_connected")
                    .set(f64::from(u8::from(bridge.connected)));
                for (direction, count) in [
                    ("published", bridge.published),
                    ("received", bridge.received),
                    ("dropped", bridge.dropped),
                ] {
                    metrics::counter!("emitter_bridge_events_total", "direction" => direction)
                        .absolute(count);
                }
                metrics::counter!("emitter_bridge_gaps_total").absolute(bridge.gaps);
                metrics::counter!("emitter_bridge_reconnects_total").absolute(bridge.reconnects);
            }
            metrics::gauge!("cache_entries").set(to_f64(cache.len));
            // The Redis tier keeps its local map's counters to itself: with it, the
            // `cache_redis_*` series below say where reads were answered instead.
            if now.store.redis.is_none() {
                metrics::counter!("cache_hits_total").absolute(cache.hits);
                metrics::counter!("cache_misses_total").absolute(cache.misses);
                for (outcome, count) in [
                    ("started", cache.loads_started),
                    ("coalesced", cache.loads_coalesced),
                    ("failed", cache.loads_failed),
                ] {
                    metrics::counter!("cache_loads_total", "outcome" => outcome).absolute(count);
                }
                for (reason, count) in [
                    ("capacity", cache.evicted),
                    ("expired", cache.expired),
                    ("removed", cache.removed),
                ] {
                    metrics::counter!("cache_evictions_total", "reason" => reason).absolute(count);
                }
            }
            metrics::gauge!("sse_subscribers").set(to_f64(events.subscribers));
            metrics::gauge!("sse_subscribers_limit").set(to_f64(events.max_subscribers));
            metrics::counter!("emitter_leak_warnings_total").absolute(events.leak_warnings);
            metrics::counter!("database_queries_total").absolute(now.database_queries);
            if let Some(redis) = &now.store.redis {
                metrics::gauge!("cache_redis_connected").set(f64::from(u8::from(redis.connected)));
                for (source, count) in [
                    ("local", redis.local_hits),
                    ("redis", redis.redis_hits),
                    ("load", redis.loads),
                    ("lease_wait", redis.lease_waits),
                    ("degraded", redis.degraded_loads),
                ] {
                    metrics::counter!("cache_redis_reads_total", "source" => source)
                        .absolute(count);
                }
                for (kind, count) in [("error", redis.redis_errors), ("timeout", redis.timeouts)] {
                    metrics::counter!("cache_redis_errors_total", "kind" => kind).absolute(count);
                }
                for (event, count) in [("outage", redis.outages), ("reconnect", redis.reconnects)] {
                    metrics::counter!("cache_redis_outages_total", "event" => event)
                        .absolute(count);
                }
                metrics::counter!("cache_redis_invalidations_received_total")
                    .absolute(redis.invalidations_received);
            }
        });
        self.recorder.handle().render()
    }
}
