//! Behaviour beyond Node's suite: cancellation of the async adapters, RAII guards, and the
//! documented `Send` / `Sync` promises.

mod api_guard;
mod api_send_sync;
mod async_cancellation;
