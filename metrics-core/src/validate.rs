//! The rules a family definition must follow, written once and checked in two places: by
//! [`FamilyBuilder::build`](crate::FamilyBuilder::build) for the family it builds, and by
//! [`Registry::register`](crate::Registry::register) for every family a collector describes.
//!
//! The rules: valid metric and label names; no label the type reserves for itself (`le`
//! on histograms, `quantile` on summaries); no label named like a state set, which writes
//! its own name as the state label; label names that stay distinct whatever escaping
//! scheme a scrape asks for; and a unit that is the name's `_<unit>` suffix.
//!
//! The two callers know different things: the registry adds its prefix and its constant
//! labels, and accepts any usable UTF-8 name (legacy strictness is the builder's choice).
//! They have also always reported some problems in their own words and order, and the
//! first rule that fails decides the error a caller gets, so [`Origin`] keeps each one's
//! order and wording (`tests/validation_errors.rs` pins them).
//!
//! Layer: above the character-level checks of `name`, the name escaping of `encoding` and
//! the metric types; below `family` and `registry`, which call it.

use std::borrow::Cow;

use crate::encoding::{EscapingScheme, escape_name_for_exposition};
use crate::error::{Error, Result};
use crate::metric::MetricType;
use crate::name::{
    check_label_names, check_metric_name, check_utf8_label_names, check_utf8_metric_name,
};

/// A family as it will be exposed: what a family builder holds, or what a
/// [`Descriptor`](crate::Descriptor) declares.
pub(crate) struct Definition<'a> {
    /// The exposed family name: counters without `_total` (the builder normalises it),
    /// with the registry's prefix when the registry checks it.
    pub name: &'a str,
    /// The type.
    pub metric_type: MetricType,
    /// The label names of every series.
    pub label_names: &'a [String],
    /// The unit, if any (an empty unit is no unit).
    pub unit: Option<&'a str>,
}

/// Who checks a definition, and what it knows there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// The family builder: no prefix and no constant labels yet; legacy names unless the
    /// builder allowed UTF-8 names.
    Builder {
        /// Whether names outside the legacy character set are allowed.
        utf8_names: bool,
    },
    /// Registration in a registry, with the registry's constant labels.
    Registry {
        /// The registry's constant labels (name, value), written on every series.
        const_labels: &'a [(String, String)],
    },
}

/// Why a state set's own name may not be one of its labels (the family builder's wording).
const STATE_LABEL_CONTEXT: &str = " (a state set uses its own name as the state label)";

/// Checks a definition against every rule, in the order its [`Origin`] has always used.
pub(crate) fn check_definition(def: &Definition<'_>, origin: Origin<'_>) -> Result<()> {
    match origin {
        Origin::Builder { utf8_names } => {
            check_names(def, utf8_names)?;
            if utf8_names {
                check_escaped_label_names(def)?;
            }
            check_reserved_label(def, &[])?;
            check_state_label_not_taken(def)?;
            check_unit(def)
        }
        Origin::Registry { const_labels } => {
            // Any usable UTF-8 name passes here; the escaped forms below catch collisions.
            check_names(def, true)?;
            check_state_label_name(def)?;
            check_written_labels_distinct(def, const_labels)?;
            check_unit(def)?;
            check_reserved_label(def, const_labels)
        }
    }
}

/// The metric name, then the label names: valid characters, no `__` prefix, no repeats.
fn check_names(def: &Definition<'_>, utf8_names: bool) -> Result<()> {
    if utf8_names {
        check_utf8_metric_name(def.name)?;
        check_utf8_label_names(def.label_names)
    } else {
        check_metric_name(def.name)?;
        check_label_names(def.label_names)
    }
}

/// The label names as a scrape under `scheme` writes them.
fn written_label_names<'a>(
    label_names: &'a [String],
    scheme: EscapingScheme,
) -> impl Iterator<Item = Cow<'a, str>> {
    label_names
        .iter()
        .map(move |l| escape_name_for_exposition(l, scheme))
}

/// UTF-8 label names must stay valid, unreserved and distinct once escaped for a scrape
/// that did not ask for UTF-8 names: two names that escape alike would write one label twice.
fn check_escaped_label_names(def: &Definition<'_>) -> Result<()> {
    for scheme in [
        EscapingScheme::Underscores,
        EscapingScheme::Dots,
        EscapingScheme::Values,
    ] {
        let escaped: Vec<Cow<'_, str>> = written_label_names(def.label_names, scheme).collect();
        check_label_names(&escaped).map_err(|_| {
            Error::DuplicateLabelName(format!(
                "{:?} after {} escaping",
                def.label_names,
                scheme.as_str()
            ))
        })?;
    }
    Ok(())
}

/// The label a type writes itself (`le`, `quantile`) may come neither from the family's
/// label names nor from the registry's constant labels.
fn check_reserved_label(def: &Definition<'_>, const_labels: &[(String, String)]) -> Result<()> {
    if let Some(reserved) = def.metric_type.reserved_label()
        && (def.label_names.iter().any(|l| l == reserved)
            || const_labels.iter().any(|(c, _)| c == reserved))
    {
        return Err(Error::ReservedLabelName {
            name: reserved.to_owned(),
            context: " for this metric type",
        });
    }
    Ok(())
}

/// A state set writes its own name as the label of its states, so no label may have it.
fn check_state_label_not_taken(def: &Definition<'_>) -> Result<()> {
    if def.metric_type == MetricType::StateSet && def.label_names.iter().any(|l| l == def.name) {
        return Err(Error::ReservedLabelName {
            name: def.name.to_owned(),
            context: STATE_LABEL_CONTEXT,
        });
    }
    Ok(())
}

/// A state set's full name becomes a label name, and a `:` is fine in metric names but not
/// in label names.
fn check_state_label_name(def: &Definition<'_>) -> Result<()> {
    if def.metric_type == MetricType::StateSet && def.name.contains(':') {
        return Err(Error::InvalidLabelName(def.name.to_owned()));
    }
    Ok(())
}

/// Under every escaping scheme a scrape may ask for, the label names as written (a state
/// set adds its full name as a label) must differ from each other and from every constant
/// label; the first clash is reported by its written name.
fn check_written_labels_distinct(
    def: &Definition<'_>,
    const_labels: &[(String, String)],
) -> Result<()> {
    for scheme in [
        EscapingScheme::AllowUtf8,
        EscapingScheme::Underscores,
        EscapingScheme::Dots,
        EscapingScheme::Values,
    ] {
        let mut written: Vec<Cow<'_, str>> = written_label_names(def.label_names, scheme).collect();
        if def.metric_type == MetricType::StateSet {
            written.push(escape_name_for_exposition(def.name, scheme));
        }
        let clash = written.iter().enumerate().find(|(i, w)| {
            written[..*i].contains(w) || const_labels.iter().any(|(c, _)| c == w.as_ref())
        });
        if let Some((_, w)) = clash {
            return Err(Error::DuplicateLabelName(w.clone().into_owned()));
        }
    }
    Ok(())
}

/// OpenMetrics requires a family with a unit to end its name in `_<unit>`.
fn check_unit(def: &Definition<'_>) -> Result<()> {
    if let Some(unit) = def.unit.filter(|u| !u.is_empty())
        && !def.name.ends_with(&format!("_{unit}"))
    {
        return Err(Error::UnitMismatch {
            name: def.name.to_owned(),
            unit: unit.to_owned(),
        });
    }
    Ok(())
}
