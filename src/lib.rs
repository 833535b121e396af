//! bullrush: a BullMQ-compatible job queue core.
//!
//! `engine` holds backend-neutral queue semantics, `redis` the Redis backend,
//! `binding` the napi surface that JS calls. The binding holds no queue logic.

pub mod binding;
pub mod engine;
pub mod redis;
