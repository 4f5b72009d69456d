//! Independent parsers from the Python reference client (`prometheus_client`), used as a
//! second opinion on our encoders' output.
//!
//! * [`python_openmetrics_parse`] uses `prometheus_client.openmetrics.parser`, a strict
//!   OpenMetrics 1.0 parser: it requires the final `# EOF`, rejects blank lines, mixed
//!   timestamp presence in a group, bad suffixes for the declared type, etc.
//! * [`python_text_parse`] uses `prometheus_client.parser`, the lenient text 0.0.4
//!   parser.
//!
//! Both run `python3` (see [`PYTHON_PROMETHEUS_CLIENT`]) with the exposition on stdin
//! and read the parsed families back as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::process::run_with_input;
use crate::tools::{PYTHON_PROMETHEUS_CLIENT, find_tool};

/// One metric family as parsed by `prometheus_client`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFamily {
    /// Family name as the parser reports it (for OpenMetrics counters: without `_total`).
    pub name: String,
    /// The TYPE keyword: `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`,
    /// `info`, `stateset` or `unknown` (the Python parsers report untyped as `unknown`).
    pub kind: String,
    /// HELP text after unescaping; empty when absent.
    pub help: String,
    /// UNIT; empty when absent (always empty from the 0.0.4 parser).
    pub unit: String,
    /// Samples in exposition order.
    pub samples: Vec<ParsedSample>,
}

/// One sample line as parsed by `prometheus_client`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// Full sample name, suffix included (`foo_total`, `h_bucket`).
    pub name: String,
    /// Label pairs, `le`/`quantile` included, values unescaped.
    pub labels: BTreeMap<String, String>,
    /// Sample value (NaN for samples that carry no float value, such as Python's native
    /// histogram samples).
    pub value: f64,
    /// Timestamp in seconds, when the line had one.
    pub timestamp: Option<f64>,
    /// Exemplar, when the line had one (OpenMetrics only).
    pub exemplar: Option<ParsedExemplar>,
}

/// An OpenMetrics exemplar as parsed by `prometheus_client`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedExemplar {
    /// Exemplar label pairs.
    pub labels: BTreeMap<String, String>,
    /// Exemplar value.
    pub value: f64,
    /// Exemplar timestamp in seconds, when present.
    pub timestamp: Option<f64>,
}

impl ParsedFamily {
    /// The first sample named `name` whose labels include every `(name, value)` pair of
    /// `labels`.
    pub fn sample(&self, name: &str, labels: &[(&str, &str)]) -> Option<&ParsedSample> {
        self.samples.iter().find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

/// Finds the family called `name` in `families`.
pub fn find_family<'a>(families: &'a [ParsedFamily], name: &str) -> Option<&'a ParsedFamily> {
    families.iter().find(|f| f.name == name)
}

const SCRIPT: &str = r#"
import json, sys, traceback
mode = sys.argv[1]
try:
    data = sys.stdin.buffer.read().decode("utf-8")
    if mode == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
    else:
        from prometheus_client.parser import text_string_to_metric_families as parse
    families = list(parse(data))
except Exception:
    traceback.print_exc()
    sys.exit(1)

def num(v):
    if v is None:
        return None
    return repr(float(v))

def exemplar(e):
    if e is None:
        return None
    return {"labels": dict(e.labels), "value": num(e.value), "timestamp": num(e.timestamp)}

out = []
for f in families:
    out.append({
        "name": f.name,
        "type": f.type,
        "help": f.documentation or "",
        "unit": getattr(f, "unit", "") or "",
        "samples": [
            {
                "name": s.name,
                "labels": dict(s.labels),
                "value": num(s.value),
                "timestamp": num(s.timestamp),
                "exemplar": exemplar(getattr(s, "exemplar", None)),
            }
            for s in f.samples
        ],
    })
json.dump(out, sys.stdout)
"#;

/// Parses `text` with `prometheus_client.openmetrics.parser.text_string_to_metric_families`
/// (strict OpenMetrics 1.0; the text must end with `# EOF`).
///
/// `Err` holds the Python traceback when the parser rejects the input. If python3 with
/// `prometheus_client` is not installed this returns `Err` too: guard the test with
/// [`require_tool!`](crate::require_tool!)`(PYTHON_PROMETHEUS_CLIENT)`.
pub fn python_openmetrics_parse(text: &str) -> Result<Vec<ParsedFamily>, String> {
    run_parser("openmetrics", text)
}

/// Parses `text` with `prometheus_client.parser.text_string_to_metric_families` (the
/// text format 0.0.4 parser). Same error and guard conventions as
/// [`python_openmetrics_parse`].
pub fn python_text_parse(text: &str) -> Result<Vec<ParsedFamily>, String> {
    run_parser("text", text)
}

fn run_parser(mode: &str, text: &str) -> Result<Vec<ParsedFamily>, String> {
    let python = find_tool(PYTHON_PROMETHEUS_CLIENT).ok_or_else(|| {
        "python3 with prometheus_client not installed \
         (guard the test with require_tool!(PYTHON_PROMETHEUS_CLIENT))"
            .to_owned()
    })?;
    let out = run_with_input(
        &python,
        &["-c", SCRIPT, mode],
        text.as_bytes(),
        Duration::from_secs(30),
    )?;
    if !out.status_ok {
        return Err(format!(
            "prometheus_client {mode} parser rejected the input ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "bad JSON from the python helper: {e}\n{}",
            out.combined().trim_end()
        )
    })?;
    decode_families(&json)
}

fn as_str(v: &Value, what: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("python helper: {what} is not a string: {v}"))
}

fn as_float(v: &Value, what: &str) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s
            .parse::<f64>()
            .map(Some)
            .map_err(|e| format!("python helper: {what} {s:?}: {e}")),
        other => Err(format!("python helper: {what} is not a string: {other}")),
    }
}

fn as_labels(v: &Value) -> Result<BTreeMap<String, String>, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("python helper: labels are not an object: {v}"))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), as_str(v, "label value")?)))
        .collect()
}

fn decode_families(json: &Value) -> Result<Vec<ParsedFamily>, String> {
    let families = json
        .as_array()
        .ok_or("python helper: top level is not an array")?;
    families
        .iter()
        .map(|f| {
            let samples = f["samples"]
                .as_array()
                .ok_or("python helper: samples is not an array")?
                .iter()
                .map(|s| {
                    let exemplar = match &s["exemplar"] {
                        Value::Null => None,
                        e => Some(ParsedExemplar {
                            labels: as_labels(&e["labels"])?,
                            value: as_float(&e["value"], "exemplar value")?.unwrap_or(f64::NAN),
                            timestamp: as_float(&e["timestamp"], "exemplar timestamp")?,
                        }),
                    };
                    Ok(ParsedSample {
                        name: as_str(&s["name"], "sample name")?,
                        labels: as_labels(&s["labels"])?,
                        value: as_float(&s["value"], "sample value")?.unwrap_or(f64::NAN),
                        timestamp: as_float(&s["timestamp"], "timestamp")?,
                        exemplar,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(ParsedFamily {
                name: as_str(&f["name"], "family name")?,
                kind: as_str(&f["type"], "family type")?,
                help: as_str(&f["help"], "help")?,
                unit: as_str(&f["unit"], "unit")?,
                samples,
            })
        })
        .collect()
}
