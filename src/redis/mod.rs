//! The Redis backend: BullMQ's key layout, our own Lua scripts.

pub mod admin;
pub mod connection;
pub mod events;
pub mod jobs;
pub mod queue;
pub mod reply;
pub mod scripts;
pub mod worker;
