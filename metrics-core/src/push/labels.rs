//! The check that no pushed sample already carries `job` or a grouping-key label, which the
//! gateway would overwrite.

use super::PushError;

/// Reads a quoted string starting after its opening quote; returns the unescaped content
/// and the rest after the closing quote.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The sample name and label names of one text-format sample line.
fn sample_labels(line: &str) -> (String, Vec<String>) {
    let (name, mut rest) = match line.find(['{', ' ']) {
        Some(i) if line.as_bytes()[i] == b'{' => (line[..i].to_owned(), &line[i + 1..]),
        _ => return (line.split(' ').next().unwrap_or("").to_owned(), Vec::new()),
    };
    let mut name = name;
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() || rest.starts_with('}') {
            break;
        }
        let (token, after) = if let Some(q) = rest.strip_prefix('"') {
            match read_quoted(q) {
                Some(t) => t,
                None => break,
            }
        } else {
            let end = rest.find(['=', ',', '}']).unwrap_or(rest.len());
            (rest[..end].trim().to_owned(), &rest[end..])
        };
        if let Some(value) = after.trim_start().strip_prefix('=') {
            labels.push(token);
            match value.trim_start().strip_prefix('"').and_then(read_quoted) {
                Some((_, r)) => rest = r,
                None => break,
            }
        } else {
            // A quoted metric name inside the braces (UTF-8 names).
            name = token;
            rest = after;
        }
    }
    (name, labels)
}

/// Refuses samples carrying `job` or a grouping-key label (checklist K6).
pub(super) fn check_sample_labels(text: &str, forbidden: &[String]) -> Result<(), PushError> {
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') || !line.contains('{') {
            continue;
        }
        let (metric, labels) = sample_labels(line);
        if let Some(label) = labels.into_iter().find(|l| forbidden.contains(l)) {
            return Err(PushError::LabelCollision { metric, label });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;
    use crate::push::{PushError, Pushgateway};

    #[test]
    fn sample_label_parsing() {
        assert_eq!(sample_labels("up 1"), ("up".to_owned(), vec![]));
        assert_eq!(
            sample_labels(r#"x{a="1",job="q\"},job=\\"} 2"#),
            ("x".to_owned(), vec!["a".to_owned(), "job".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"{"my.metric",instance="i"} 2"#),
            ("my.metric".to_owned(), vec!["instance".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"y{"odd.label"="v"} 2"#),
            ("y".to_owned(), vec!["odd.label".to_owned()])
        );
    }

    #[test]
    fn refuses_job_and_grouping_labels() {
        let r = Registry::new();
        r.counter_family("c_total", "C.", &["job"])
            .unwrap()
            .get(&["x"])
            .unwrap()
            .inc();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        let err = g.body(&r).unwrap_err();
        assert!(
            matches!(&err, PushError::LabelCollision { metric, label } if metric == "c_total" && label == "job"),
            "{err}"
        );

        let r = Registry::builder()
            .const_label("instance", "a")
            .build()
            .unwrap();
        r.gauge("g", "G.").unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .grouping("instance", "b")
            .build()
            .unwrap();
        assert!(matches!(g.body(&r), Err(PushError::LabelCollision { .. })));
        // A label value that merely mentions job= is fine.
        let r = Registry::new();
        r.info("build", "B.", &[("note", "job=\"x\"")]).unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        assert!(g.body(&r).is_ok());
    }
}
