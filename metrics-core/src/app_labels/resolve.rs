//! The checked labels: each one's value table and lookup, a request's resolved values
//! (kept without allocating for the usual few labels), and handing them, after the
//! built-in labels, to the series lookup.

use std::collections::HashMap;

use super::declare::AppLabelDecl;
use super::source::{ExtensionsRef, HeaderLookup, NoHeaders, Side, Source};

/// which is faster for a handful of values.
const LINEAR_LOOKUP_MAX: usize = 8;

/// One checked label: where it is read and its value table.
struct AppLabel {
    side: Side,
    source: Source,
    /// The declared values, then the `other` value, then the `absent` value; `None` entries
    /// are not used. For [`LabelValues::any`], only `absent`.
    table: Box<[Box<str>]>,
    index: Option<HashMap<Box<str>, u32, foldhash::fast::RandomState>>,
    /// Number of declared values (`None`: any value).
    declared: Option<u32>,
}

impl AppLabel {
    fn absent(&self) -> Resolved {
        Resolved::Table(u32::try_from(self.table.len() - 1).unwrap_or(0))
    }

    /// The resolved form of a raw value: its table index, or a copy when any value is allowed.
    fn resolve(&self, raw: Option<&str>) -> Resolved {
        let Some(raw) = raw else {
            return self.absent();
        };
        let Some(declared) = self.declared else {
            return Resolved::Owned(raw.into());
        };
        let found = match &self.index {
            Some(index) => index.get(raw).copied(),
            None => self
                .table
                .iter()
                .take(declared as usize)
                .position(|v| &**v == raw)
                .and_then(|i| u32::try_from(i).ok()),
        };
        // The `other` value sits right after the declared ones.
        Resolved::Table(found.unwrap_or(declared))
    }

    fn read(&self, headers: &dyn HeaderLookup, map: Option<ExtensionsRef<'_>>) -> Resolved {
        match &self.source {
            Source::Header(name) => self.resolve(headers.header(name)),
            Source::Extension(f) => self.resolve(map.and_then(|m| f(m))),
        }
    }
}

/// A label value of one request: an index into its label's table, or (any value allowed)
/// its own copy.
#[derive(Clone)]
pub(crate) enum Resolved {
    Table(u32),
    Owned(Box<str>),
}

/// Label values kept in the tracker without a heap allocation for the usual few labels.
const INLINE: usize = 4;

/// The application label values of one request, in declaration order. Small, because a
/// tracker carries it through every move of the response future and body: nothing without
/// labels, table indexes for a few labels with declared values.
pub(crate) enum AppValues {
    /// No label declared.
    None,
    /// Up to [`INLINE`] labels, all with declared values: their table indexes.
    Table([u32; INLINE]),
    /// More labels, or a label that keeps any value: every value, on the heap.
    Resolved(Box<[Resolved]>),
}

impl AppValues {
    fn set(&mut self, i: usize, value: Resolved) {
        match (self, value) {
            (Self::Table(table), Resolved::Table(j)) => {
                if let Some(slot) = table.get_mut(i) {
                    *slot = j;
                }
            }
            (Self::Resolved(all), value) => {
                if let Some(slot) = all.get_mut(i) {
                    *slot = value;
                }
            }
            // A table-only request never resolves an owned value (see `AppLabels::start`).
            (Self::Table(_) | Self::None, _) => {}
        }
    }
}

/// The checked application labels of one [`HttpMetrics`](crate::http_metrics::HttpMetrics)
/// or [`GrpcMetrics`](crate::grpc_metrics::GrpcMetrics).
#[derive(Default)]
pub(crate) struct AppLabels {
    labels: Box<[AppLabel]>,
    names: Box<[Box<str>]>,
    request_headers: bool,
    request_extensions: bool,
    response: bool,
    /// At most [`INLINE`] labels, all with declared values: values fit [`AppValues::Table`].
    table_only: bool,
}

impl AppLabels {
    /// Builds the value tables of declarations that [`AppLabelDecls::compile`] has checked.
    ///
    /// [`AppLabelDecls::compile`]: super::AppLabelDecls::compile
    pub(super) fn new(decls: &[AppLabelDecl]) -> Self {
        let mut labels = Vec::with_capacity(decls.len());
        let mut names: Vec<Box<str>> = Vec::with_capacity(decls.len());
        for d in decls {
            let v = &d.values;
            let absent = v.absent.clone().unwrap_or_else(|| v.other.clone());
            let (table, declared, index) = match &v.allowed {
                Some(allowed) => {
                    // The checks refused lists longer than `u32` counts.
                    let n = u32::try_from(allowed.len()).unwrap_or(u32::MAX);
                    let mut table = allowed.clone();
                    table.push(v.other.clone());
                    table.push(absent);
                    let index = (allowed.len() > LINEAR_LOOKUP_MAX).then(|| {
                        let mut m = HashMap::with_hasher(foldhash::fast::RandomState::default());
                        // Zipped with indices that fit `u32` (checked above); the first of
                        // repeated values wins, as in the linear lookup.
                        for (j, value) in (0u32..).zip(allowed) {
                            m.entry(value.clone()).or_insert(j);
                        }
                        m
                    });
                    (table, Some(n), index)
                }
                None => (vec![absent], None, None),
            };
            names.push(d.name.as_str().into());
            labels.push(AppLabel {
                side: d.side,
                source: d.source.clone(),
                table: table.into_boxed_slice(),
                index,
                declared,
            });
        }
        let any = |side: Side, ext: bool| {
            labels
                .iter()
                .any(|l| l.side == side && matches!(l.source, Source::Extension(_)) == ext)
        };
        Self {
            table_only: labels.len() <= INLINE && labels.iter().all(|l| l.declared.is_some()),
            request_headers: any(Side::Request, false),
            request_extensions: any(Side::Request, true),
            response: labels.iter().any(|l| l.side == Side::Response),
            labels: labels.into_boxed_slice(),
            names: names.into_boxed_slice(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }

    /// How many labels are read from the request.
    pub(crate) fn request_len(&self) -> usize {
        self.labels
            .iter()
            .filter(|l| l.side == Side::Request)
            .count()
    }

    /// The label names, in the order of their values.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    #[inline]
    pub(crate) fn reads_request_extensions(&self) -> bool {
        self.request_extensions
    }

    #[inline]
    pub(crate) fn reads_response(&self) -> bool {
        self.response
    }

    /// A request's values when it starts: request headers read, everything else absent.
    pub(crate) fn start(&self, headers: &dyn HeaderLookup) -> AppValues {
        let mut values = if self.labels.is_empty() {
            return AppValues::None;
        } else if self.table_only {
            AppValues::Table([0; INLINE])
        } else {
            AppValues::Resolved(vec![Resolved::Table(0); self.labels.len()].into_boxed_slice())
        };
        for (i, label) in self.labels.iter().enumerate() {
            let value = match (&label.source, label.side) {
                (Source::Header(_), Side::Request) if self.request_headers => {
                    label.read(headers, None)
                }
                _ => label.absent(),
            };
            values.set(i, value);
        }
        values
    }

    /// Reads the request extension labels.
    pub(crate) fn request_extensions(&self, values: &mut AppValues, map: ExtensionsRef<'_>) {
        if !self.request_extensions {
            return;
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.side == Side::Request && matches!(label.source, Source::Extension(_)) {
                values.set(i, label.read(&NoHeaders, Some(map)));
            }
        }
    }

    /// Reads the response labels from the response head.
    pub(crate) fn response(
        &self,
        values: &mut AppValues,
        headers: &dyn HeaderLookup,
        map: Option<ExtensionsRef<'_>>,
    ) {
        if !self.response {
            return;
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.side == Side::Response {
                values.set(i, label.read(headers, map));
            }
        }
    }

    /// The value of label `i` in `values`.
    pub(crate) fn value<'a>(&'a self, values: &'a AppValues, i: usize) -> &'a str {
        let j = match values {
            AppValues::Table(table) => table.get(i).copied(),
            AppValues::Resolved(all) => match all.get(i) {
                Some(Resolved::Owned(v)) => return v,
                Some(Resolved::Table(j)) => Some(*j),
                None => None,
            },
            AppValues::None => None,
        };
        j.and_then(|j| self.labels.get(i)?.table.get(j as usize))
            .map_or("", |v| &**v)
    }
}

/// As many label values as fit here are passed to the series lookup from the stack.
const STACK_VALUES: usize = 12;

/// Calls `f` with the full request series label values: `base` (method, route, status),
/// then the derived labels, then the application labels. Allocation-free for up to
/// [`STACK_VALUES`] labels.
pub(crate) fn with_request_values<R>(
    base: [&str; 3],
    derived: &[String],
    app: &AppLabels,
    values: &AppValues,
    f: impl FnOnce(&[&str]) -> R,
) -> R {
    let n = 3 + derived.len() + app.len();
    let all = base
        .into_iter()
        .chain(derived.iter().map(String::as_str))
        .chain((0..app.len()).map(|i| app.value(values, i)));
    on_stack(n, all, f)
}

/// Calls `f` with `base`, then the first `n_app` application label values. Allocation-free
/// for up to [`STACK_VALUES`] labels. gRPC declares request labels first, so its started
/// series take a prefix and its end-of-call series all of them.
pub(crate) fn with_values<R>(
    base: &[&str],
    app: &AppLabels,
    values: &AppValues,
    n_app: usize,
    f: impl FnOnce(&[&str]) -> R,
) -> R {
    let n_app = n_app.min(app.len());
    let n = base.len() + n_app;
    let all = base
        .iter()
        .copied()
        .chain((0..n_app).map(|i| app.value(values, i)));
    on_stack(n, all, f)
}

/// Calls `f` with the `n` values of `all`, from a stack buffer when they fit: the series
/// lookup of every request goes through here, and most have a handful of labels.
#[inline]
fn on_stack<'a, R>(
    n: usize,
    all: impl Iterator<Item = &'a str>,
    f: impl FnOnce(&[&str]) -> R,
) -> R {
    if n <= STACK_VALUES {
        let mut buf = [""; STACK_VALUES];
        for (slot, v) in buf.iter_mut().zip(all) {
            *slot = v;
        }
        f(&buf[..n])
    } else {
        let v: Vec<&str> = all.collect();
        f(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_labels::{AppLabelDecls, LabelValues};

    fn decl(name: &str, values: LabelValues) -> AppLabelDecl {
        AppLabelDecl {
            name: name.into(),
            side: Side::Request,
            source: Source::Header("x-v".into()),
            values,
            setter: "request_header_label",
        }
    }

    /// Short and long lists (linear and hashed lookup) resolve the same way: declared values
    /// to themselves, anything else to `other`, absence to `absent`.
    #[test]
    fn lookup_is_the_same_for_short_and_long_lists() {
        for n in [1usize, 3, LINEAR_LOOKUP_MAX, LINEAR_LOOKUP_MAX + 1, 200] {
            let allowed: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            let labels = AppLabelDecls::from_decls(vec![decl(
                "l",
                LabelValues::one_of(&allowed, "other").when_absent("none"),
            )])
            .compile(&[])
            .unwrap();
            let label = &labels.labels[0];
            for (i, v) in allowed.iter().enumerate() {
                let r = label.resolve(Some(v));
                let values = AppValues::Resolved(Box::new([r]));
                assert_eq!(labels.value(&values, 0), v.as_str(), "{n} {i}");
            }
            for (raw, want) in [(Some("v-1"), "other"), (Some(""), "other"), (None, "none")] {
                let values = AppValues::Resolved(Box::new([label.resolve(raw)]));
                assert_eq!(labels.value(&values, 0), want, "{n} {raw:?}");
            }
        }
    }

    #[test]
    fn more_labels_than_inline_slots_keep_their_values() {
        let decls = (0..INLINE + 3)
            .map(|i| {
                let mut d = decl(&format!("l{i}"), LabelValues::any("absent"));
                d.source = Source::Header(format!("x-{i}").into());
                d
            })
            .collect();
        let labels = AppLabelDecls::from_decls(decls).compile(&[]).unwrap();
        let mut headers = http::HeaderMap::new();
        for i in 0..INLINE + 3 {
            if i != 1 {
                headers.insert(
                    http::HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                    format!("h{i}").parse().unwrap(),
                );
            }
        }
        let values = labels.start(&headers);
        let got: Vec<&str> = (0..labels.len())
            .map(|i| labels.value(&values, i))
            .collect();
        let want: Vec<String> = (0..INLINE + 3)
            .map(|i| {
                if i == 1 {
                    "absent".into()
                } else {
                    format!("h{i}")
                }
            })
            .collect();
        assert_eq!(got, want);
        let all = with_request_values(["GET", "/", "200"], &[], &labels, &values, |v| v.join(","));
        assert_eq!(all, format!("GET,/,200,{}", want.join(",")));
    }
}
