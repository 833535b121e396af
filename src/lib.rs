//! bullrush: a BullMQ-compatible job queue core.
//!
//! `engine` holds backend-neutral queue semantics, `redis` the Redis backend,
//! `memory` the in-process one,
//! `binding` the napi surface that JS calls. The binding holds no queue logic.

pub mod binding;
pub mod engine;
pub mod memory;
pub mod redis;
