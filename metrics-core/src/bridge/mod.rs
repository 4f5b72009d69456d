//! Bridges from other metrics libraries onto a Promenade [`Registry`](crate::Registry), one feature each.

#[cfg(feature = "bridge-prometheus")]
pub mod prometheus;
