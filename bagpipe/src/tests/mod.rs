//! Model checks under loom (`--cfg bagpipe_loom`); see CONTRIBUTING.md.

mod loom_handoff;
mod loom_slots;
