//! The labels a builder declares ([`AppLabelDecls`]) and their checks. The HTTP and gRPC
//! builders each keep their own public setters (their docs speak of headers or of
//! metadata), but every setter only records its declaration here, so both builders take
//! labels the same way and refuse the same mistakes with the same messages.

use std::fmt;

use super::resolve::AppLabels;
use super::source::{Side, Source, extension_fn};
use super::values::LabelValues;
use crate::error::{Error, Result};
use crate::name::check_label_name;

/// One label as declared on a builder, checked by [`AppLabelDecls::compile`].
#[derive(Clone)]
pub(crate) struct AppLabelDecl {
    pub(crate) name: String,
    pub(crate) side: Side,
    pub(crate) source: Source,
    pub(crate) values: LabelValues,
    /// The builder method that declared it, for error messages.
    pub(crate) setter: &'static str,
}

/// The labels from the application declared on one builder, in declaration order. Nothing
/// is checked when a label is declared (builder setters cannot fail); [`compile`](Self::compile)
/// checks them all when the metrics are built.
#[derive(Clone, Default)]
pub(crate) struct AppLabelDecls(Vec<AppLabelDecl>);

/// The label names only: the value readers are closures, and the lists can be long.
impl fmt::Debug for AppLabelDecls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|d| &d.name))
            .finish()
    }
}

impl AppLabelDecls {
    /// A label read from a header on `side`; `setter` names the builder method in error
    /// messages (HTTP says header, gRPC metadata).
    pub(crate) fn header(
        &mut self,
        side: Side,
        setter: &'static str,
        name: &str,
        header: &str,
        values: LabelValues,
    ) {
        // Header lookups are by lowercase name (`HeaderLookup`).
        let source = Source::Header(header.to_ascii_lowercase().into());
        self.push(setter, side, name, source, values);
    }

    /// A label read from the extensions on `side`: `f` maps the `T` found there to the value.
    /// Both builders name these setters alike, so the setter follows from the side.
    pub(crate) fn extension<T, F>(&mut self, side: Side, name: &str, values: LabelValues, f: F)
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        let setter = match side {
            Side::Request => "request_extension_label",
            Side::Response => "response_extension_label",
        };
        let source = Source::Extension(extension_fn::<T, F>(f));
        self.push(setter, side, name, source, values);
    }

    fn push(
        &mut self,
        setter: &'static str,
        side: Side,
        name: &str,
        source: Source,
        values: LabelValues,
    ) {
        self.0.push(AppLabelDecl {
            name: name.to_owned(),
            side,
            source,
            values,
            setter,
        });
    }

    /// Puts the request labels before the response labels, keeping declaration order within
    /// each: gRPC's `started_total` then takes a prefix of a call's values.
    pub(crate) fn requests_first(&mut self) {
        // Stable: declaration order is kept within each side.
        self.0.sort_by_key(|d| d.side == Side::Response);
    }

    /// Checks the declarations against each other and against the names already taken
    /// (`taken`: label names and who uses them), then builds their value tables.
    pub(crate) fn compile(self, taken: &[(&str, &str)]) -> Result<AppLabels> {
        check(&self.0, taken)?;
        Ok(AppLabels::new(&self.0))
    }

    #[cfg(test)]
    pub(crate) fn from_decls(decls: Vec<AppLabelDecl>) -> Self {
        Self(decls)
    }
}

/// The checks of [`AppLabelDecls::compile`], in declaration order; the first problem found
/// is the error, naming the setter and the label.
fn check(decls: &[AppLabelDecl], taken: &[(&str, &str)]) -> Result<()> {
    for (i, d) in decls.iter().enumerate() {
        let what = format!("{}({:?}, ..)", d.setter, d.name);
        check_label_name(&d.name).map_err(|e| Error::InvalidConfig(format!("{what}: {e}")))?;
        if let Some((_, by)) = taken.iter().find(|(n, _)| *n == d.name) {
            return Err(Error::InvalidConfig(format!(
                "{what}: the label name {:?} is already used by {by}",
                d.name
            )));
        }
        if let Some(prev) = decls[..i].iter().find(|p| p.name == d.name) {
            return Err(Error::InvalidConfig(format!(
                "{what}: the label name {:?} is already declared by {}",
                d.name, prev.setter
            )));
        }
        if let Source::Header(h) = &d.source
            && http::HeaderName::from_bytes(h.as_bytes()).is_err()
        {
            return Err(Error::InvalidConfig(format!(
                "{what}: {h:?} is not a valid header name"
            )));
        }
        match &d.values.allowed {
            Some(allowed) if allowed.is_empty() => {
                return Err(Error::InvalidConfig(format!(
                    "{what}: LabelValues::one_of was given no values; list at least one \
                     allowed value, or use LabelValues::any to bound the label by the series cap"
                )));
            }
            // Value tables are indexed by `u32` (`resolve`).
            Some(allowed) if u32::try_from(allowed.len()).is_err() => {
                return Err(Error::InvalidConfig(format!(
                    "{what}: too many declared values"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}
