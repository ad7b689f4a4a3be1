//! The models that run on the engine, one file each.
//!
//! Each implements [`crate::sim::scenario::Scenario`], exports its parameter,
//! metric and series tables for [`crate::sim::registry`], and validates its own
//! parameters into engine units.

pub mod backpressure;
pub mod balance;
pub mod chat;
pub mod heartbeat;
pub mod herd;
pub mod racer;
#[cfg(test)]
mod test_support;
