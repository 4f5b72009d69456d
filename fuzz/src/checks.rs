//! Shared fuzz checks: turn arbitrary bytes into registries, Accept headers and names, call
//! the library, and assert invariants with an independent, strict mini-parser.
//!
//! This file is compiled twice: by the cargo-fuzz crate (`fuzz/`, nightly, libFuzzer) and by
//! the stable test `tests/tests/fuzz_replay.rs` (`#[path]` include), so that the
//! committed corpus and a seeded random run are checked in CI with exactly the same code.
//! It therefore depends on nothing but `promenade_core` and `std`: the input decoding is a
//! small byte cursor ([`Source`]) rather than the `arbitrary` crate, so the stable side needs
//! no extra dependency and a corpus file means the same program on both sides.
//!
//! Every check panics (assert) on a violated invariant; library errors are fine.

use std::collections::{HashMap, HashSet};

use promenade_core::encoding::{
    EscapingScheme, FamilyHeader, LabelSet, MetricEncoder, Negotiated, escape_label_value,
    escape_name, escape_name_for_exposition, negotiate, protobuf::decode_delimited, unescape_name,
    write_go_float, write_openmetrics_float,
};
use promenade_core::name::{
    check_label_name, check_metric_name, check_utf8_metric_name, is_valid_label_name,
    is_valid_metric_name,
};
use promenade_core::{
    Buckets, Collector, Counter, Descriptor, Family, Format, Gauge, GaugeHistogram, Histogram,
    Metric, MetricType, NativeBuckets, QuantileOptions, QuantileSummary, Registry, StateSet,
    States, Summary, Unknown,
};

// ---------------------------------------------------------------------------------------------
// Input decoding
// ---------------------------------------------------------------------------------------------

/// A cursor over fuzz bytes; reads past the end yield zeros, so every input is a program.
#[derive(Debug)]
pub struct Source<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Characters strings are mostly built from: name characters, every delimiter and escape the
/// formats care about, and a few multi-byte ones.
const CHARS: [char; 40] = [
    'a', 'b', 'x', 'A', 'Z', '_', '_', ':', '0', '9', '.', '-', ' ', '"', '\\', '\n', '\r', '\t',
    '{', '}', '=', ',', '#', '\0', 'é', '😱', '花', '\u{FFFD}', '\u{7f}', 'U', 'd', 'o', 't', 'e',
    '+', 'I', 'n', 'f', 'N', '/',
];

/// Name fragments that make collisions and suffix games likely.
const PIECES: [&str; 24] = [
    "a",
    "b",
    "a_total",
    "a_info",
    "a_created",
    "a_bucket",
    "a_count",
    "a_sum",
    "a_seconds",
    "seconds",
    "le",
    "quantile",
    "U__a",
    "a_dot_b",
    "a.b",
    "a:b",
    "_",
    "__a",
    "a_b",
    "total",
    "x_gcount",
    "info",
    "a__b",
    "0a",
];

/// Floats worth trying on purpose; the rest come from raw bits.
const FLOATS: [f64; 26] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    1e6,
    999_999.5,
    1e-5,
    1e-4,
    1e21,
    1e23,
    0.1,
    0.5,
    1.0,
    2.0,
    -1.0,
    1.5,
    123_456_789.0,
    9_007_199_254_740_993.0,
    1.8446744073709552e19,
    1.458_255_915e9,
    0.95,
];

impl<'a> Source<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn f64(&mut self) -> f64 {
        let b = self.byte();
        let i = usize::from(b);
        if i < FLOATS.len() {
            FLOATS[i]
        } else if b < 128 {
            f64::from(b) - 64.0
        } else if b < 192 {
            f64::from(b) / 8.0
        } else {
            let mut bits = [0u8; 8];
            for x in &mut bits {
                *x = self.byte();
            }
            f64::from_bits(u64::from_le_bytes(bits))
        }
    }

    fn char(&mut self) -> char {
        let b = self.byte();
        if b < 0xf0 {
            CHARS[usize::from(b) % CHARS.len()]
        } else {
            let v = u32::from_le_bytes([self.byte(), self.byte(), b & 0x01, 0]);
            char::from_u32(v).unwrap_or('\u{FFFD}')
        }
    }

    fn string(&mut self, max: u8) -> String {
        let len = self.below(max.saturating_add(1));
        (0..len).map(|_| self.char()).collect()
    }

    /// A name: mostly valid-looking pieces joined by `_`, sometimes anything.
    fn name(&mut self) -> String {
        match self.below(8) {
            0..=4 => PIECES[usize::from(self.byte()) % PIECES.len()].to_owned(),
            5 | 6 => {
                let a = PIECES[usize::from(self.byte()) % PIECES.len()];
                let b = PIECES[usize::from(self.byte()) % PIECES.len()];
                format!("{a}_{b}")
            }
            _ => self.string(10),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strict mini-parser for the two text formats
// ---------------------------------------------------------------------------------------------

fn is_legacy_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, p: &str) -> bool {
        if self.s[self.i..].starts_with(p) {
            self.i += p.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {c:?} at byte {} of {:?}", self.i, self.s))
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric) or without `:` (label).
    fn legacy(&mut self, metric: bool) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') {
                self.i += 1;
            } else {
                break;
            }
        }
        let name = &self.s[start..self.i];
        let ok = if metric {
            is_legacy_metric_name(name)
        } else {
            is_legacy_label_name(name)
        };
        if ok {
            Ok(name.to_owned())
        } else {
            Err(format!("invalid legacy name {name:?} in {:?}", self.s))
        }
    }

    /// After an opening quote: a string with only `\\`, `\"` and `\n` escapes.
    fn quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or("unterminated quoted string")?;
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or("dangling backslash")?;
                    self.i += e.len_utf8();
                    match e {
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        'n' => out.push('\n'),
                        other => return Err(format!("undefined escape \\{other}")),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// A name that may be quoted (only when UTF-8 names were negotiated).
    fn name(&mut self, metric: bool, utf8: bool) -> Result<String, String> {
        if self.eat('"') {
            if !utf8 {
                return Err(format!("quoted name without allow-utf-8: {:?}", self.s));
            }
            let n = self.quoted()?;
            if n.is_empty() {
                return Err("empty quoted name".into());
            }
            Ok(n)
        } else {
            self.legacy(metric)
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == ' ' {
                break;
            }
            self.i += c.len_utf8();
        }
        &self.s[start..self.i]
    }

    /// `name="value"` pairs up to and including the closing brace.
    fn labels(
        &mut self,
        utf8: bool,
        out: &mut Vec<(String, String)>,
        allow_empty: bool,
    ) -> Result<(), String> {
        if self.eat('}') {
            return if allow_empty {
                Ok(())
            } else {
                Err(format!("empty label braces in {:?}", self.s))
            };
        }
        loop {
            let n = self.name(false, utf8)?;
            self.expect('=')?;
            self.expect('"')?;
            let v = self.quoted()?;
            if out.iter().any(|(k, _)| *k == n) {
                return Err(format!("label {n:?} repeated in {:?}", self.s));
            }
            out.push((n, v));
            if self.eat(',') {
                continue;
            }
            return self.expect('}');
        }
    }
}

/// Strict value grammar: `NaN`, `+Inf`, `-Inf` or `-?D+(.D+)?(e[+-]D+)?`.
fn parse_value(tok: &str) -> Result<f64, String> {
    match tok {
        "NaN" => return Ok(f64::NAN),
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let b = tok.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    let mut ok = digits(&mut i);
    if ok && b.get(i) == Some(&b'.') {
        i += 1;
        ok = digits(&mut i);
    }
    if ok && b.get(i) == Some(&b'e') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        } else {
            ok = false;
        }
        ok = ok && digits(&mut i);
    }
    if !ok || i != b.len() {
        return Err(format!("bad value {tok:?}"));
    }
    tok.parse::<f64>().map_err(|e| format!("{tok:?}: {e}"))
}

fn is_integer_token(tok: &str) -> bool {
    !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit())
}

/// Checks escapes of help text: 0.0.4 knows `\\` and `\n`; OpenMetrics also `\"`, and a raw
/// `"` is not allowed there.
fn check_help(text: &str, om: bool) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | 'n') => {}
                Some('"') if om => {}
                other => return Err(format!("bad help escape {other:?} in {text:?}")),
            },
            '"' if om => return Err(format!("raw quote in OpenMetrics help {text:?}")),
            _ => {}
        }
    }
    Ok(())
}

struct TextFamily {
    name: String,
    kind: Option<String>,
    help: bool,
    unit: bool,
    samples: usize,
}

#[derive(Default)]
struct HistGroup {
    last_le: Option<f64>,
    last_count: u64,
    inf_count: Option<u64>,
    total: Option<u64>,
}

fn suffixes(kind: &str, om: bool) -> &'static [&'static str] {
    match (kind, om) {
        ("counter", true) => &["_total", "_created"],
        ("histogram", true) => &["_bucket", "_count", "_sum", "_created"],
        ("gaugehistogram", true) => &["_bucket", "_gcount", "_gsum"],
        ("summary", true) => &["", "_count", "_sum", "_created"],
        ("info", true) => &["_info"],
        ("histogram", false) => &["_bucket", "_sum", "_count"],
        ("summary", false) => &["", "_sum", "_count"],
        _ => &[""],
    }
}

/// What a text exposition held.
#[derive(Debug, Default)]
pub struct TextSummary {
    /// Number of families (TYPE lines).
    pub families: usize,
    /// Number of families with at least one sample.
    pub nonempty: usize,
    /// Number of sample lines.
    pub samples: usize,
}

/// Validates a whole text exposition (0.0.4 when `om` is false, else OpenMetrics 1.0);
/// `utf8` says whether quoted UTF-8 names are allowed.
pub fn validate_text(body: &str, om: bool, utf8: bool) -> Result<TextSummary, String> {
    let mut lines: Vec<&str> = if body.is_empty() {
        Vec::new()
    } else {
        body.strip_suffix('\n')
            .ok_or("exposition does not end with LF")?
            .split('\n')
            .collect()
    };
    if om && lines.pop() != Some("# EOF") {
        return Err("OpenMetrics exposition does not end with # EOF".into());
    }
    let mut families: Vec<TextFamily> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut series: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
    let mut groups: HashMap<(String, Vec<(String, String)>), HistGroup> = HashMap::new();
    let mut summary = TextSummary::default();
    for line in lines {
        if line.is_empty() {
            return Err("blank line".into());
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut c = Cursor { s: rest, i: 0 };
            let kw = if c.eat_str("HELP ") {
                "HELP"
            } else if c.eat_str("TYPE ") {
                "TYPE"
            } else if om && c.eat_str("UNIT ") {
                "UNIT"
            } else {
                return Err(format!("unexpected comment line {line:?}"));
            };
            let name = c.name(true, utf8)?;
            c.expect(' ')?;
            let text = c.rest();
            if families.last().is_none_or(|f| f.name != name) {
                if !names.insert(name.clone()) {
                    return Err(format!("family {name:?} interleaved or repeated"));
                }
                families.push(TextFamily {
                    name: name.clone(),
                    kind: None,
                    help: false,
                    unit: false,
                    samples: 0,
                });
            }
            let fam = families.last_mut().ok_or("no family")?;
            if fam.samples > 0 {
                return Err(format!("metadata after samples in {name:?}"));
            }
            match kw {
                "HELP" => {
                    if std::mem::replace(&mut fam.help, true) {
                        return Err(format!("two HELP lines for {name:?}"));
                    }
                    check_help(text, om)?;
                }
                "TYPE" => {
                    let known: &[&str] = if om {
                        &[
                            "counter",
                            "gauge",
                            "histogram",
                            "gaugehistogram",
                            "stateset",
                            "info",
                            "summary",
                            "unknown",
                        ]
                    } else {
                        &["counter", "gauge", "histogram", "summary", "untyped"]
                    };
                    if !known.contains(&text) {
                        return Err(format!("unknown type {text:?}"));
                    }
                    if fam.kind.replace(text.to_owned()).is_some() {
                        return Err(format!("two TYPE lines for {name:?}"));
                    }
                    summary.families += 1;
                }
                _ => {
                    if std::mem::replace(&mut fam.unit, true) {
                        return Err(format!("two UNIT lines for {name:?}"));
                    }
                    if text.is_empty()
                        || !text
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    {
                        return Err(format!("bad unit {text:?}"));
                    }
                    if !name.ends_with(&format!("_{text}")) {
                        return Err(format!("unit {text:?} is not the suffix of {name:?}"));
                    }
                }
            }
            continue;
        }
        // A sample.
        let mut c = Cursor { s: line, i: 0 };
        let mut labels = Vec::new();
        let sample_name = if c.eat('{') {
            if !utf8 {
                return Err(format!("name inside braces without allow-utf-8: {line:?}"));
            }
            c.expect('"')?;
            let n = c.quoted()?;
            if c.eat(',') {
                c.labels(utf8, &mut labels, false)?;
            } else {
                c.expect('}')?;
            }
            n
        } else {
            let n = c.legacy(true)?;
            if c.eat('{') {
                c.labels(utf8, &mut labels, false)?;
            }
            n
        };
        c.expect(' ')?;
        let value_tok = c.token();
        let value = parse_value(value_tok)?;
        let mut exemplar = false;
        if !c.at_end() {
            if !(om && c.eat_str(" # {")) {
                return Err(format!("trailing text in {line:?}"));
            }
            let mut ex_labels = Vec::new();
            c.labels(false, &mut ex_labels, true)?;
            let runes: usize = ex_labels
                .iter()
                .map(|(n, v)| n.chars().count() + v.chars().count())
                .sum();
            if runes > 128 {
                return Err(format!("exemplar labels over 128 runes: {line:?}"));
            }
            c.expect(' ')?;
            parse_value(c.token())?;
            if c.eat(' ') {
                parse_value(c.token())?;
            }
            if !c.at_end() {
                return Err(format!("trailing text after exemplar in {line:?}"));
            }
            exemplar = true;
        }
        summary.samples += 1;
        let fam = families
            .last_mut()
            .ok_or_else(|| format!("sample before any TYPE: {line:?}"))?;
        let kind = fam
            .kind
            .clone()
            .ok_or_else(|| format!("sample of {:?} without TYPE", fam.name))?;
        fam.samples += 1;
        let suffix = suffixes(&kind, om)
            .iter()
            .find(|s| sample_name.strip_suffix(**s) == Some(fam.name.as_str()))
            .copied()
            .ok_or_else(|| {
                format!(
                    "sample {sample_name:?} does not belong to {kind} family {:?}",
                    fam.name
                )
            })?;
        let mut key_labels = labels.clone();
        key_labels.sort();
        if !series.insert((sample_name.clone(), key_labels)) {
            return Err(format!("duplicate series {line:?}"));
        }
        if exemplar
            && !matches!(
                (kind.as_str(), suffix),
                ("counter", "_total") | ("histogram" | "gaugehistogram", "_bucket")
            )
        {
            return Err(format!("exemplar not allowed here: {line:?}"));
        }
        let label = |n: &str| labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let canonical = |v: &str| !om || v.contains(['.', 'e']) || v.ends_with("Inf") || v == "NaN";
        match (kind.as_str(), suffix) {
            ("counter", "_total") if om && (value.is_nan() || value < 0.0) => {
                return Err(format!("counter total {value_tok} in {line:?}"));
            }
            ("histogram" | "gaugehistogram", _) => {
                let mut rest: Vec<(String, String)> =
                    labels.iter().filter(|(k, _)| k != "le").cloned().collect();
                rest.sort();
                let g = groups.entry((fam.name.clone(), rest)).or_default();
                match suffix {
                    "_bucket" => {
                        let le_s =
                            label("le").ok_or_else(|| format!("bucket without le: {line:?}"))?;
                        if !canonical(&le_s) {
                            return Err(format!("non-canonical le {le_s:?}"));
                        }
                        let le = parse_value(&le_s)?;
                        if !is_integer_token(value_tok) {
                            return Err(format!("bucket count {value_tok:?} is not an integer"));
                        }
                        let count: u64 = value_tok.parse().map_err(|e| format!("{e}"))?;
                        if g.inf_count.is_some() {
                            return Err(format!("bucket after +Inf: {line:?}"));
                        }
                        if g.last_le
                            .is_some_and(|p| p.partial_cmp(&le) != Some(std::cmp::Ordering::Less))
                        {
                            return Err(format!("le not increasing: {line:?}"));
                        }
                        if g.last_le.is_some() && count < g.last_count {
                            return Err(format!("bucket count decreasing: {line:?}"));
                        }
                        g.last_le = Some(le);
                        g.last_count = count;
                        if le == f64::INFINITY {
                            g.inf_count = Some(count);
                        }
                    }
                    "_count" | "_gcount" => {
                        if !is_integer_token(value_tok) {
                            return Err(format!("count {value_tok:?} is not an integer"));
                        }
                        g.total = Some(value_tok.parse().map_err(|e| format!("{e}"))?);
                    }
                    _ => {}
                }
            }
            ("summary", "") => {
                let q_s = label("quantile")
                    .ok_or_else(|| format!("summary sample without quantile: {line:?}"))?;
                if !canonical(&q_s) {
                    return Err(format!("non-canonical quantile {q_s:?}"));
                }
                let q = parse_value(&q_s)?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(format!("quantile {q} outside [0, 1]"));
                }
            }
            ("summary", "_count") if om && !is_integer_token(value_tok) => {
                return Err(format!("summary count {value_tok:?} is not an integer"));
            }
            ("stateset", _) => {
                if label(&fam.name).is_none() {
                    return Err(format!("stateset sample without its state label: {line:?}"));
                }
                if value_tok != "0" && value_tok != "1" {
                    return Err(format!("stateset value {value_tok:?}"));
                }
            }
            ("info", _) if value_tok != "1" => {
                return Err(format!("info value {value_tok:?}"));
            }
            _ => {}
        }
    }
    summary.nonempty = families.iter().filter(|f| f.samples > 0).count();
    for fam in &families {
        if fam.kind.is_none() {
            return Err(format!("family {:?} has no TYPE", fam.name));
        }
    }
    for ((name, labels), g) in &groups {
        if g.inf_count.is_none() && g.last_le.is_some() {
            return Err(format!("histogram {name:?} {labels:?} has no +Inf bucket"));
        }
        if let (Some(inf), Some(total)) = (g.inf_count, g.total)
            && inf != total
        {
            return Err(format!(
                "histogram {name:?} {labels:?}: +Inf {inf} != count {total}"
            ));
        }
    }
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// Protobuf
// ---------------------------------------------------------------------------------------------

/// Decodes a delimited protobuf exposition and checks names and histogram buckets; returns
/// the number of families.
pub fn validate_protobuf(bytes: &[u8], utf8: bool) -> Result<usize, String> {
    let families = decode_delimited(bytes).map_err(|e| format!("protobuf does not decode: {e}"))?;
    let mut seen = HashSet::new();
    for f in &families {
        let name = f.name.as_deref().unwrap_or("");
        if name.is_empty() || (!utf8 && !is_legacy_metric_name(name)) {
            return Err(format!("bad protobuf family name {name:?}"));
        }
        if !seen.insert(name) {
            return Err(format!("protobuf family {name:?} repeated"));
        }
        for m in &f.metric {
            let mut label_names = HashSet::new();
            for l in &m.label {
                let n = l.name.as_deref().unwrap_or("");
                if n.is_empty() || (!utf8 && !is_legacy_label_name(n)) {
                    return Err(format!("bad protobuf label name {n:?} in {name:?}"));
                }
                if !label_names.insert(n) {
                    return Err(format!("protobuf label {n:?} repeated in {name:?}"));
                }
            }
            if let Some(h) = &m.histogram {
                let mut prev: Option<(f64, u64)> = None;
                for b in &h.bucket {
                    let (ub, cc) = (
                        b.upper_bound.unwrap_or(0.0),
                        b.cumulative_count.unwrap_or(0),
                    );
                    if let Some((pu, pc)) = prev
                        && (pu.partial_cmp(&ub) != Some(std::cmp::Ordering::Less) || cc < pc)
                    {
                        return Err(format!("protobuf buckets out of order in {name:?}"));
                    }
                    prev = Some((ub, cc));
                }
                if let Some((_, pc)) = prev
                    && pc > h.sample_count.unwrap_or(0)
                {
                    return Err(format!("protobuf bucket above sample_count in {name:?}"));
                }
            }
        }
    }
    Ok(families.len())
}

// ---------------------------------------------------------------------------------------------
// Target `encode`
// ---------------------------------------------------------------------------------------------

/// A collector that writes whatever header and gauge/unknown values it was given.
struct Custom {
    name: String,
    help: String,
    unit: Option<String>,
    metric_type: MetricType,
    label: String,
    series: Vec<(String, f64)>,
}

impl Collector for Custom {
    fn descriptors(&self) -> Vec<Descriptor> {
        let mut d = Descriptor::new(&self.name, &self.help, self.metric_type, &[&self.label]);
        d.unit.clone_from(&self.unit);
        vec![d]
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        enc.family(&FamilyHeader {
            name: &self.name,
            help: &self.help,
            unit: self.unit.as_deref(),
            metric_type: self.metric_type,
        });
        for (value, v) in &self.series {
            if let Ok(labels) = LabelSet::from_pairs(&[(self.label.as_str(), value.as_str())]) {
                if self.metric_type == MetricType::Gauge {
                    enc.gauge(&labels, *v);
                } else {
                    enc.unknown(&labels, *v);
                }
            }
        }
    }
}

struct Spec {
    name: String,
    help: String,
    labels: Vec<String>,
    unit: Option<String>,
    utf8: bool,
    max_series: Option<usize>,
}

fn spec(src: &mut Source<'_>) -> Spec {
    let name = src.name();
    let help = src.string(12);
    let labels = (0..src.below(3)).map(|_| src.name()).collect();
    let unit = match src.below(4) {
        0 => name.rsplit('_').next().map(str::to_owned),
        1 => Some(src.name()),
        _ => None,
    };
    let flags = src.byte();
    Spec {
        name,
        help,
        labels,
        unit,
        utf8: flags & 1 == 1,
        max_series: (flags & 6 == 0).then_some(usize::from(flags >> 3) % 4),
    }
}

fn build<M: Metric>(
    registry: &Registry,
    src: &mut Source<'_>,
    options: M::Options,
) -> Option<(Family<M>, usize)> {
    let s = spec(src);
    let mut b = Family::<M>::builder_with_options(&s.name, &s.help, options).labels(&s.labels);
    if s.utf8 {
        b = b.allow_utf8_names();
    }
    if let Some(u) = &s.unit {
        b = b.unit(u);
    }
    if let Some(m) = s.max_series {
        b = b.max_series(m);
    }
    let family = b.build().ok()?;
    registry.register(family.clone()).ok()?;
    Some((family, s.labels.len()))
}

/// Runs `f` on a few series of the family (label values from the input).
fn each_series<M: Metric>(
    registry: &Registry,
    src: &mut Source<'_>,
    options: M::Options,
    mut f: impl FnMut(&mut Source<'_>, &M),
) {
    let Some((family, n)) = build::<M>(registry, src, options) else {
        return;
    };
    for _ in 0..=src.below(3) {
        let values: Vec<String> = (0..n).map(|_| src.string(6)).collect();
        if let Ok(m) = family.get(&values) {
            for _ in 0..=src.below(3) {
                f(src, &m);
            }
        }
        // Lifecycle operations interleaved with updates and scrapes: removing, clearing and
        // re-creating series must never make a scrape fail, stall or write an invalid page.
        match src.below(16) {
            0 | 1 => {
                family.remove(&values);
            }
            2 => family.clear(),
            3 => {
                let kept = family.series(&values).ok();
                family.remove(&values);
                if let Some(kept) = kept {
                    f(src, &kept);
                }
                if let Ok(m) = family.get(&values) {
                    f(src, &m);
                }
            }
            4 => {
                for format in [Format::Text, Format::OpenMetrics] {
                    if let Err(e) = registry.encode_to_string(format) {
                        panic!("a scrape between lifecycle operations failed: {e}");
                    }
                }
            }
            _ => {}
        }
    }
}

fn exemplar_labels(src: &mut Source<'_>) -> Vec<(String, String)> {
    (0..src.below(3))
        .map(|_| (src.name(), src.string(20)))
        .collect()
}

fn with_pairs<R>(pairs: &[(String, String)], f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    f(&refs)
}

fn buckets(src: &mut Source<'_>) -> Buckets {
    let bounds: Vec<f64> = (0..src.below(5)).map(|_| src.f64()).collect();
    let mut b = if src.bool() {
        Buckets::new(bounds).unwrap_or_default()
    } else {
        Buckets::default()
    };
    if src.below(3) == 0 {
        let native = NativeBuckets::with_factor(src.f64())
            .unwrap_or_default()
            .max_buckets(u32::from(src.below(6)));
        b = if src.bool() {
            b.with_native(native)
        } else {
            Buckets::native_only(native)
        };
    }
    b
}

/// Builds one family of a type chosen by the input and records into it.
fn add_family(registry: &Registry, src: &mut Source<'_>) {
    match src.below(12) {
        0 => each_series::<Counter>(registry, src, (), |src, c| match src.below(3) {
            0 => c.inc(),
            1 => {
                let _ = c.inc_by(src.f64());
            }
            _ => {
                let v = src.f64();
                let l = exemplar_labels(src);
                let _ = with_pairs(&l, |p| c.inc_by_with_exemplar(v, p));
            }
        }),
        1 => each_series::<Gauge>(registry, src, (), |src, g| {
            if src.bool() {
                g.set(src.f64());
            } else {
                g.add(src.f64());
            }
        }),
        2 => each_series::<Unknown>(registry, src, (), |src, u| {
            u.set(src.f64());
        }),
        3 => {
            let b = buckets(src);
            each_series::<Histogram>(registry, src, b, |src, h| {
                let v = src.f64();
                if src.bool() {
                    h.observe(v);
                } else {
                    let l = exemplar_labels(src);
                    let _ = with_pairs(&l, |p| h.observe_with_exemplar(v, p));
                }
            });
        }
        4 => {
            let b = buckets(src);
            each_series::<GaugeHistogram>(registry, src, b, |src, h| {
                if src.below(3) == 0 {
                    h.unobserve(src.f64());
                } else {
                    h.observe(src.f64());
                }
            });
        }
        5 => each_series::<Summary>(registry, src, (), |src, s| {
            s.observe(src.f64());
        }),
        6 => {
            let objectives: Vec<(f64, f64)> =
                (0..src.below(4)).map(|_| (src.f64(), src.f64())).collect();
            let options = QuantileOptions::new(&objectives).unwrap_or_default();
            each_series::<QuantileSummary>(registry, src, options, |src, s| s.observe(src.f64()));
        }
        7 => {
            let name = src.name();
            let help = src.string(12);
            let pairs: Vec<(String, String)> = (0..src.below(3))
                .map(|_| (src.name(), src.string(8)))
                .collect();
            let _ = with_pairs(&pairs, |p| registry.info(&name, &help, p));
        }
        8 => {
            let names: Vec<String> = (0..=src.below(4)).map(|_| src.string(6)).collect();
            let Ok(states) = States::new(names.clone()) else {
                return;
            };
            each_series::<StateSet>(registry, src, states, |src, s| {
                let state = &names[usize::from(src.byte()) % names.len()];
                if src.bool() {
                    let _ = s.set(state);
                } else {
                    let _ = s.set_state(state, src.bool());
                }
            });
        }
        9 => {
            let name = src.name();
            let help = src.string(12);
            let v = src.f64();
            let _ = registry.gauge_fn(&name, &help, move || v);
        }
        10 => {
            let name = src.name();
            let help = src.string(12);
            // Counters must not go down or be NaN; that is the caller's contract.
            let v = src.f64().abs();
            let v = if v.is_nan() { 0.0 } else { v };
            let _ = registry.counter_fn(&name, &help, move || v);
        }
        _ => {
            let custom = Custom {
                name: src.name(),
                help: src.string(12),
                unit: src.bool().then(|| src.name()),
                metric_type: if src.bool() {
                    MetricType::Gauge
                } else {
                    MetricType::Unknown
                },
                label: src.name(),
                series: {
                    let mut s: Vec<(String, f64)> = (0..src.below(3))
                        .map(|_| (src.string(6), src.f64()))
                        .collect();
                    s.sort_by(|a, b| a.0.cmp(&b.0));
                    s.dedup_by(|a, b| a.0 == b.0);
                    s
                },
            };
            let _ = registry.register(custom);
        }
    }
}

fn registry_from(src: &mut Source<'_>) -> Option<Registry> {
    let flags = src.byte();
    let mut b = Registry::builder().created_samples(flags & 1 == 1);
    if flags & 2 == 2 {
        b = b.prefix(&src.name());
    }
    if flags & 4 == 4 {
        for _ in 0..=src.below(2) {
            b = b.const_label(&src.name(), &src.string(8));
        }
    }
    b.build().ok()
}

const SCHEMES: [EscapingScheme; 4] = [
    EscapingScheme::AllowUtf8,
    EscapingScheme::Underscores,
    EscapingScheme::Dots,
    EscapingScheme::Values,
];

/// Checks every format and escaping scheme of one registry.
pub fn check_registry(registry: &Registry) {
    for escaping in SCHEMES {
        let utf8 = escaping == EscapingScheme::AllowUtf8;
        let mut counts = Vec::new();
        for format in [
            Format::Text,
            Format::OpenMetrics,
            Format::OpenMetricsV0_0_1,
            Format::Protobuf,
        ] {
            let body = registry
                .encode_negotiated(&Negotiated { format, escaping })
                .unwrap_or_else(|e| panic!("{format:?}/{escaping:?} failed to encode: {e}"));
            let families = if format == Format::Protobuf {
                validate_protobuf(&body, utf8)
            } else {
                let text = std::str::from_utf8(&body)
                    .unwrap_or_else(|e| panic!("{format:?} output is not UTF-8: {e}"));
                validate_text(text, format != Format::Text, utf8)
                    // Protobuf leaves out families without series; text keeps their metadata.
                    .map(|s| s.nonempty)
                    .map_err(|e| format!("{e}\n--- exposition ---\n{text}"))
            }
            .unwrap_or_else(|e| panic!("{format:?}/{escaping:?}: {e}"));
            counts.push((format, families));
        }
        assert!(
            counts.windows(2).all(|w| w[0].1 == w[1].1),
            "family counts differ between formats under {escaping:?}: {counts:?}"
        );
    }
}

/// Target `encode`: a registry built from the input, encoded in every format and scheme.
pub fn encode(data: &[u8]) {
    let mut src = Source::new(data);
    let Some(registry) = registry_from(&mut src) else {
        return;
    };
    for _ in 0..12 {
        if src.is_empty() {
            break;
        }
        add_family(&registry, &mut src);
    }
    check_registry(&registry);
}

// ---------------------------------------------------------------------------------------------
// Target `accept`
// ---------------------------------------------------------------------------------------------

/// Target `accept`: any header value negotiates to one of the formats we serve, with a known
/// escaping scheme, and the Content-Type echoes nothing from the request.
pub fn accept(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let n = negotiate(Some(&header));
    assert_eq!(
        n,
        negotiate(Some(&header)),
        "negotiation is not deterministic"
    );
    let base = match n.format {
        Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        Format::OpenMetricsV0_0_1 => "application/openmetrics-text; version=0.0.1; charset=utf-8",
        Format::Protobuf => {
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        }
    };
    let scheme = match n.escaping {
        EscapingScheme::AllowUtf8 => "allow-utf-8",
        EscapingScheme::Underscores => "underscores",
        EscapingScheme::Dots => "dots",
        EscapingScheme::Values => "values",
    };
    assert_eq!(n.content_type(), format!("{base}; escaping={scheme}"));
    let lower = header.to_ascii_lowercase();
    if n.format != Format::Text {
        let needle = if n.format == Format::Protobuf {
            "application/vnd.google.protobuf"
        } else {
            "application/openmetrics-text"
        };
        assert!(
            lower.contains(needle),
            "{:?} chosen for {header:?}",
            n.format
        );
    }
    if n.escaping != EscapingScheme::Underscores {
        assert!(
            header.contains("escaping") && header.contains(scheme),
            "{scheme} chosen for {header:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Target `names`
// ---------------------------------------------------------------------------------------------

fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Target `names`: validation, name escaping, label-value escaping and float formatting.
pub fn names(data: &[u8]) {
    // Floats: both formatters write the strict grammar and read back to the same bits.
    if let Some(bits) = data.get(..8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(bits);
        let v = f64::from_bits(u64::from_le_bytes(b));
        for om in [false, true] {
            let mut s = String::new();
            if om {
                write_openmetrics_float(&mut s, v);
            } else {
                write_go_float(&mut s, v);
            }
            let back = parse_value(&s).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert!(
                same_float(v, back),
                "{v:?} written as {s:?} reads back as {back:?}"
            );
            if om && v.is_finite() {
                assert!(
                    s.contains(['.', 'e']),
                    "OpenMetrics float {s:?} looks like an integer"
                );
            }
        }
    }
    let s = String::from_utf8_lossy(data);
    let s: &str = &s;
    assert_eq!(is_valid_metric_name(s), is_legacy_metric_name(s), "{s:?}");
    assert_eq!(is_valid_label_name(s), is_legacy_label_name(s), "{s:?}");
    assert_eq!(
        check_metric_name(s).is_ok(),
        is_legacy_metric_name(s),
        "{s:?}"
    );
    assert_eq!(
        check_label_name(s).is_ok(),
        is_legacy_label_name(s) && !s.starts_with("__"),
        "{s:?}"
    );
    assert_eq!(
        check_utf8_metric_name(s).is_ok(),
        !s.is_empty() && !s.contains(['"', '\\', '\n', '=', ',', '{', '}']),
        "{s:?}"
    );
    // Label values: escaping reads back exactly with the strict quoted-string reader.
    let mut escaped = String::new();
    escape_label_value(&mut escaped, s);
    escaped.push('"');
    let mut c = Cursor { s: &escaped, i: 0 };
    assert_eq!(
        c.quoted().as_deref(),
        Ok(s),
        "label value {s:?} as {escaped:?}"
    );
    assert!(c.at_end());
    if s.is_empty() {
        return;
    }
    let legacy = is_legacy_metric_name(s);
    for scheme in [
        EscapingScheme::Underscores,
        EscapingScheme::Dots,
        EscapingScheme::Values,
    ] {
        let e = escape_name(s, scheme);
        assert!(
            is_legacy_metric_name(&e),
            "{s:?} escaped with {scheme:?} is {e:?}"
        );
        let x = escape_name_for_exposition(s, scheme);
        if legacy {
            assert_eq!(x, s);
        } else {
            assert_eq!(x, e);
        }
        // Never panics, whatever it is given.
        let _ = unescape_name(s, scheme);
    }
    // The `values` escaping round-trips every name it changes.
    if !legacy {
        let e = escape_name(s, EscapingScheme::Values);
        assert_eq!(
            unescape_name(&e, EscapingScheme::Values),
            s,
            "values round trip via {e:?}"
        );
    }
    // The `dots` escaping round-trips names made of legacy characters and dots (without `_`,
    // where the documented `_dot_`-then-`__` replacement is ambiguous).
    let dots_only = s.char_indices().all(|(i, c)| {
        c == '.' || c.is_ascii_alphabetic() || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if dots_only {
        let e = escape_name(s, EscapingScheme::Dots);
        assert_eq!(
            unescape_name(&e, EscapingScheme::Dots),
            s,
            "dots round trip via {e:?}"
        );
    }
}
