//! Property test: arbitrary label values and help texts always produce output that a strict
//! parser reads back to exactly the original strings, in both text formats.

use promenade_core::{Format, Registry};
use proptest::prelude::*;

/// Reads a quoted, escaped string starting after the opening quote; returns (value, rest).
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                _ => return None,
            },
            '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

fn unescape_help(s: &str, openmetrics: bool) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' if openmetrics => out.push('"'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Parses `name{l="v",...} value` strictly; returns the label values in order.
type Sample = (String, Vec<(String, String)>, String);

fn parse_sample(line: &str) -> Option<Sample> {
    let brace = line.find(['{', ' '])?;
    let name = line[..brace].to_owned();
    let mut rest = &line[brace..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            let eq = rest.find("=\"")?;
            let label = rest[..eq].to_owned();
            let (value, r) = read_quoted(&rest[eq + 2..])?;
            labels.push((label, value));
            if let Some(r) = r.strip_prefix(',') {
                rest = r;
            } else {
                rest = r.strip_prefix('}')?;
                break;
            }
        }
    }
    let value = rest.strip_prefix(' ')?;
    if value.contains(' ') || value.is_empty() {
        return None;
    }
    Some((name, labels, value.to_owned()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_and_help_round_trip(values in proptest::collection::vec(any::<String>(), 1..5), help in any::<String>()) {
        let registry = Registry::new();
        let family = registry.counter_family("c", &help, &["v"]).unwrap();
        for v in &values {
            family.get(&[v]).unwrap().inc();
        }
        let distinct: std::collections::BTreeSet<&String> = values.iter().collect();
        for (format, om) in [(Format::Text, false), (Format::OpenMetrics, true)] {
            let text = registry.encode_to_string(format).unwrap();
            let mut seen = std::collections::BTreeSet::new();
            let mut help_seen = None;
            for line in text.lines() {
                if let Some(h) = line.strip_prefix(if om { "# HELP c " } else { "# HELP c_total " }) {
                    help_seen = Some(unescape_help(h, om).expect("help unescapes"));
                } else if line.starts_with('#') {
                    continue;
                } else {
                    let (name, labels, value) = parse_sample(line).unwrap_or_else(|| panic!("unparsable line {line:?}"));
                    prop_assert_eq!(name, "c_total");
                    prop_assert_eq!(labels.len(), 1);
                    prop_assert!(value.parse::<f64>().is_ok());
                    seen.insert(labels[0].1.clone());
                }
            }
            if !help.is_empty() {
                prop_assert_eq!(help_seen.as_deref(), Some(help.as_str()));
            }
            let seen_refs: std::collections::BTreeSet<&String> = seen.iter().collect();
            prop_assert_eq!(&seen_refs, &distinct);
        }
    }
}
