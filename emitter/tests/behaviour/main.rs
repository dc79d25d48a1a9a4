//! Behaviour beyond Node's suite: cancellation of the async adapters, RAII guards, and the
//! documented `Send` / `Sync` promises, and a model check of random operation sequences.

mod api_guard;
mod api_send_sync;
mod api_warning_tracing;
mod async_cancellation;
mod async_listeners;
mod async_subscribe;
mod event_handle;
mod model_operations;
