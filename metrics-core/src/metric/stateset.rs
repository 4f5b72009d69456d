//! StateSet: a set of named boolean states.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::encoding::{LabelSet, MetricEncoder};
use crate::error::{Error, Result};
use crate::metric::{Metric, MetricType};

/// The states of a [`StateSet`], fixed at creation.
///
/// ```
/// let states = promenade_core::States::new(["starting", "running", "stopped"]).unwrap();
/// assert_eq!(states.names().len(), 3);
/// assert!(promenade_core::States::new(["a", "a"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct States {
    names: Arc<[String]>,
}

impl States {
    /// Fixes the state names; they must be non-empty and unique.
    ///
    /// ```
    /// assert!(promenade_core::States::new(Vec::<String>::new()).is_err());
    /// ```
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err(Error::InvalidConfig(
                "a state set needs at least one state".into(),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Error::InvalidConfig(format!("state {n:?} appears twice")));
            }
        }
        Ok(Self {
            names: names.into(),
        })
    }

    /// The state names, in order.
    ///
    /// ```
    /// let s = promenade_core::States::new(["on"]).unwrap();
    /// assert_eq!(s.names(), &["on".to_string()]);
    /// ```
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl Default for States {
    fn default() -> Self {
        Self {
            names: Arc::from(vec!["default".to_string()]),
        }
    }
}

/// One boolean per state; in OpenMetrics one sample per state, labelled with the family name.
///
/// ```
/// let s = promenade_core::StateSet::new(promenade_core::States::new(["up", "down"]).unwrap());
/// s.set("down").unwrap();
/// assert_eq!(s.get("down"), Some(true));
/// assert_eq!(s.get("up"), Some(false));
/// assert!(s.set("sideways").is_err());
/// ```
#[derive(Debug)]
pub struct StateSet {
    states: States,
    values: Box<[AtomicBool]>,
}

impl StateSet {
    /// A state set with every state false.
    ///
    /// ```
    /// let s = promenade_core::StateSet::new(promenade_core::States::new(["a"]).unwrap());
    /// assert_eq!(s.get("a"), Some(false));
    /// ```
    pub fn new(states: States) -> Self {
        let values = states
            .names()
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Self { states, values }
    }

    fn index(&self, state: &str) -> Result<usize> {
        self.states
            .names()
            .iter()
            .position(|n| n == state)
            .ok_or_else(|| Error::UnknownState(state.to_owned()))
    }

    /// Makes `state` the only true state (enum semantics).
    ///
    /// ```
    /// let s = promenade_core::StateSet::new(promenade_core::States::new(["a", "b"]).unwrap());
    /// s.set("a").unwrap();
    /// s.set("b").unwrap();
    /// assert_eq!(s.get("a"), Some(false));
    /// ```
    pub fn set(&self, state: &str) -> Result<()> {
        let idx = self.index(state)?;
        for (i, v) in self.values.iter().enumerate() {
            v.store(i == idx, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sets one state without touching the others (flag-set semantics).
    ///
    /// ```
    /// let s = promenade_core::StateSet::new(promenade_core::States::new(["a", "b"]).unwrap());
    /// s.set_state("a", true).unwrap();
    /// s.set_state("b", true).unwrap();
    /// assert_eq!(s.get("a"), Some(true));
    /// ```
    pub fn set_state(&self, state: &str, value: bool) -> Result<()> {
        let idx = self.index(state)?;
        self.values[idx].store(value, Ordering::Relaxed);
        Ok(())
    }

    /// The value of one state, or `None` for an unknown state.
    ///
    /// ```
    /// let s = promenade_core::StateSet::new(promenade_core::States::new(["a"]).unwrap());
    /// assert_eq!(s.get("z"), None);
    /// ```
    pub fn get(&self, state: &str) -> Option<bool> {
        self.index(state)
            .ok()
            .map(|i| self.values[i].load(Ordering::Relaxed))
    }
}

impl Metric for StateSet {
    type Options = States;
    const TYPE: MetricType = MetricType::StateSet;

    fn build(states: &States) -> Self {
        Self::new(states.clone())
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        let mut states = enc.take_states();
        states.extend(
            self.states
                .names()
                .iter()
                .zip(self.values.iter())
                .map(|(n, v)| (n.clone(), v.load(Ordering::Relaxed))),
        );
        enc.stateset(labels, &states);
        enc.put_states(states);
    }
}
