//! The rendered label-set format, in one place.
//!
//! A series keeps its labels as one string, `name="escaped value",...` without braces: the
//! exact bytes the text formats write between `{` and `}`. Storing them rendered means a
//! scrape copies them instead of escaping every value again, and a lookup compares a
//! caller's values against them in place. Everything that writes, compares, reads back or
//! renames such a string lives here, so the escaping rules cannot drift apart between the
//! writer and its readers.
//!
//! This is the bottom of the crate: it imports nothing from it.

use std::borrow::Cow;

/// Appends a label value escaped for both text formats: `\` → `\\`, `"` → `\"`, LF → `\n`.
///
/// ```
/// let mut s = String::new();
/// promenade_core::encoding::escape_label_value(&mut s, "C:\\DIR\\FILE.TXT");
/// assert_eq!(s, r"C:\\DIR\\FILE.TXT");
/// ```
pub fn escape_label_value(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(pos) = rest.find(['\\', '\n', '"']) {
        out.push_str(&rest[..pos]);
        out.push_str(match rest.as_bytes()[pos] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

/// Renders `name="value",...` (no braces) with escaped values.
pub(crate) fn render_labels<N: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    names: &[N],
    values: &[V],
) {
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(n.as_ref());
        out.push_str("=\"");
        escape_label_value(out, v.as_ref());
        out.push('"');
    }
}

/// Whether a word holds the byte `b` (exact as a yes/no: the borrow of the subtraction can
/// only mark bytes above a real match).
#[inline(always)]
fn has_byte(word: u64, b: u8) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether a word holds `"` or `\`.
#[inline(always)]
fn has_special(w: u64) -> bool {
    has_byte(w, b'"') | has_byte(w, b'\\')
}

/// Words that together hold every byte of `b` (at most 16 bytes long): two overlapping
/// 8-byte words from 8 bytes on, two overlapping 4-byte halves of one word from 4, the bytes
/// themselves below that. Two slices of one length are equal exactly when their words are.
/// (Slice patterns: no bounds check is left to do.)
#[inline(always)]
fn words(b: &[u8]) -> (u64, u64) {
    if let (Some(head), Some(tail)) = (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        return (u64::from_le_bytes(*head), u64::from_le_bytes(*tail));
    }
    if let (Some(head), Some(tail)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        let half = |c: &[u8; 4]| u64::from(u32::from_le_bytes(*c));
        return (half(head) | half(tail) << 32, 0);
    }
    let w = match *b {
        [x] => u64::from(x),
        [x, y] => u64::from(x) | u64::from(y) << 8,
        [x, y, z] => u64::from(x) | u64::from(y) << 8 | u64::from(z) << 16,
        _ => 0,
    };
    (w, 0)
}

/// Whether `stored` (a stretch of rendered text) equals `value` and `value` holds neither `"`
/// nor `\`: then the stored value is `value` itself, unescaped (see
/// [`rendered_labels_match`]). Same lengths assumed.
#[inline(always)]
fn equal_and_plain(stored: &[u8], value: &[u8]) -> bool {
    let n = value.len();
    if n > 16 {
        return stored == value && memchr::memchr2(b'"', b'\\', value).is_none();
    }
    let (v1, v2) = words(value);
    (words(stored) == (v1, v2)) & !has_special(v1) & !has_special(v2)
}

/// Whether two slices of the same length are equal (by words up to 16 bytes).
#[inline(always)]
fn same_bytes(stored: &[u8], value: &[u8]) -> bool {
    let n = value.len();
    if n > 16 {
        return stored == value;
    }
    words(stored) == words(value)
}

/// The shape of a label set no value of which needs escaping: the byte length of each of
/// its (at most four) values, one byte each, first value lowest; [`NO_SHAPE`] for any other
/// (more than four values, a value longer than 254 bytes, or one holding `"`, `\` or a line
/// feed). With a shape, the rendered text of the set is determined by its names and these
/// lengths, and each value's stretch is the value itself: [`labels_match`] compares lengths
/// and bytes only.
pub(crate) fn plain_shape<V: AsRef<str>>(values: &[V]) -> u32 {
    let plain = values.len() <= 4
        && values.iter().all(|v| {
            let v = v.as_ref();
            v.len() <= 254 && !v.contains(['"', '\\', '\n'])
        });
    if plain {
        value_lengths(values)
    } else {
        NO_SHAPE
    }
}

/// The byte lengths of the first four of `values`, one byte each, first value lowest, 255
/// for any longer than 254 (never a length in a shape): a set's shape when it has one, and
/// what a lookup compares with it.
#[inline(always)]
fn value_lengths<V: AsRef<str>>(values: &[V]) -> u32 {
    let mut lengths = 0;
    for (i, v) in values.iter().take(4).enumerate() {
        lengths |= (v.as_ref().len().min(255) as u32) << (8 * i);
    }
    lengths
}

/// See [`plain_shape`]: no shape (255 in every length byte cannot be four lengths up to 254).
pub(crate) const NO_SHAPE: u32 = u32::MAX;

/// Whether the label set rendered as `rendered`, of shape `shape` (see [`plain_shape`]), holds
/// exactly `values` for `names`. With a shape, the lengths of all values are compared at
/// once and then the bytes, with no check for characters that need escaping (a stored
/// value of that shape has none, so an equal one has none either); without, the values are
/// compared against the escaped text ([`rendered_labels_match`]).
#[inline(always)]
pub(crate) fn labels_match<N: AsRef<str>, V: AsRef<str>>(
    rendered: &str,
    shape: u32,
    names: &[N],
    values: &[V],
) -> bool {
    if shape == NO_SHAPE {
        return escaped_labels_match(rendered, names, values);
    }
    if value_lengths(values) != shape || values.len() > 4 {
        return false;
    }
    // Shaped: each value's stretch is the value itself, then `",` and the next label.
    walk_values(rendered.as_bytes(), names, values, |r, start, v| {
        let end = start + v.len();
        match r.get(start..end) {
            Some(stored) if same_bytes(stored, v) => Some(end + 2),
            _ => None,
        }
    })
    .is_some()
}

/// Walks the rendered label text along `names` and `values`: `value_end(text, start, value)`
/// compares one value with the text where it starts (after `name="`) and returns where the
/// next label starts, or `None` when they differ. The position after the last value, or
/// `None` at the first difference.
#[inline(always)]
fn walk_values<N: AsRef<str>, V: AsRef<str>>(
    r: &[u8],
    names: &[N],
    values: &[V],
    value_end: impl Fn(&[u8], usize, &[u8]) -> Option<usize>,
) -> Option<usize> {
    let mut pos = 0;
    for (name, value) in names.iter().zip(values) {
        pos = value_end(r, pos + name.as_ref().len() + 2, value.as_ref().as_bytes())?;
    }
    Some(pos)
}

/// [`rendered_labels_match`] out of line: the lookup's code stays small for shaped sets.
#[inline(never)]
fn escaped_labels_match<N: AsRef<str>, V: AsRef<str>>(
    rendered: &str,
    names: &[N],
    values: &[V],
) -> bool {
    rendered_labels_match(rendered, names, values)
}

/// Whether a rendered label string holds exactly `values` for `names` (compares the escaped
/// form in place, so a lookup allocates nothing).
#[inline]
pub(crate) fn rendered_labels_match<N: AsRef<str>, V: AsRef<str>>(
    rendered: &str,
    names: &[N],
    values: &[V],
) -> bool {
    let r = rendered.as_bytes();
    walk_values(r, names, values, |r, start, v| {
        let end = start + v.len();
        // Common case: the rendered bytes are the value itself, followed by a quote. That
        // proves a match when the value holds no `"` and no `\`: the stored stretch then holds
        // neither, so it is plain text (escapes start with `\`) that stops at the first `"`
        // after it, the value's closing quote. A raw line feed never equals rendered text
        // (it is always escaped there), so it needs no check.
        if let (Some(stored), Some(b'"')) = (r.get(start..end), r.get(end))
            && equal_and_plain(stored, v)
        {
            return Some(end + 2);
        }
        escaped_value_end(r, start, v)
    })
    .is_some_and(|pos| pos >= r.len())
}

/// Compares `value`, escaped byte by byte, with the rendered text at `pos`; the position
/// after its closing quote and comma when they match.
#[cold]
#[inline(never)]
fn escaped_value_end(r: &[u8], mut pos: usize, value: &[u8]) -> Option<usize> {
    for &b in value {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => {
                if r.get(pos) != Some(&b) {
                    return None;
                }
                pos += 1;
                continue;
            }
        };
        if r.get(pos..pos + 2) != Some(escaped) {
            return None;
        }
        pos += 2;
    }
    (r.get(pos) == Some(&b'"')).then_some(pos + 2)
}

/// Iterates `(name, unescaped value)` over a rendered label string; values are borrowed
/// unless they contain escapes.
pub(crate) fn parse_rendered_labels(rendered: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    let mut rest = rendered;
    std::iter::from_fn(move || {
        let eq = rest.find("=\"")?;
        let name = &rest[..eq];
        let start = eq + 2;
        let (j, escaped) = closing_quote(rest, start);
        let raw = rest.get(start..j.min(rest.len())).unwrap_or("");
        let value = if escaped {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('n') => out.push('\n'),
                        Some(other) => out.push(other),
                        None => {}
                    }
                } else {
                    out.push(c);
                }
            }
            Cow::Owned(out)
        } else {
            Cow::Borrowed(raw)
        };
        rest = rest.get(j + 2..).unwrap_or("");
        Some((name, value))
    })
}

/// The byte index of the unescaped `"` that closes a value starting at `start` (or the
/// string's length when there is none), and whether the value holds any escape.
fn closing_quote(rendered: &str, start: usize) -> (usize, bool) {
    let bytes = rendered.as_bytes();
    let mut j = start;
    let mut escaped = false;
    while j < bytes.len() && bytes[j] != b'"' {
        if bytes[j] == b'\\' {
            escaped = true;
            j += 2;
        } else {
            j += 1;
        }
    }
    (j, escaped)
}

/// The label value at `index` of a rendered label string, unescaped (borrowed when no escape).
pub(crate) fn rendered_label_value(rendered: &str, index: usize) -> Cow<'_, str> {
    parse_rendered_labels(rendered)
        .nth(index)
        .map_or(Cow::Borrowed(""), |(_, v)| v)
}

/// Appends a rendered label string to `out` with its first `new_names.len()` label names
/// replaced, in order, by `new_names`; later labels keep their names. Values are copied as
/// rendered (still escaped), so renaming never re-escapes.
pub(crate) fn rename_rendered_labels(out: &mut String, rendered: &str, new_names: &[&str]) {
    let mut rest = rendered;
    let mut i = 0;
    while let Some(eq) = rest.find("=\"") {
        let name = &rest[..eq];
        out.push_str(new_names.get(i).copied().unwrap_or(name));
        // Copy `="value"` up to the unescaped closing quote.
        let (j, _) = closing_quote(rest, eq + 2);
        let end = (j + 1).min(rest.len());
        out.push_str(&rest[eq..end]);
        rest = rest[end..].strip_prefix(',').map_or("", |r| {
            out.push(',');
            r
        });
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaping vector of the Prometheus exposition format documentation.
    #[test]
    fn label_value_escaping_matches_the_format_documentation() {
        let mut s = String::new();
        escape_label_value(&mut s, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(s, r#"Cannot find file:\n\"FILE.TXT\""#);
    }

    #[test]
    fn match_is_exact_on_escapes() {
        let mut r = String::new();
        render_labels(&mut r, &["a", "b"], &["x\n", "y"]);
        assert!(rendered_labels_match(&r, &["a", "b"], &["x\n", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\\n", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x", "y"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\n", "yy"]));
        assert!(!rendered_labels_match(&r, &["a", "b"], &["x\n", ""]));
    }

    /// Label values from characters that matter to the comparison (escapes, quotes, the
    /// separators of the rendered form), of lengths across the word-size boundaries.
    fn tricky_values() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let value = proptest::collection::vec(
            // Mostly plain, so escapes often come after a long plain run.
            proptest::sample::select(vec![
                'a', 'b', 'a', 'b', 'a', 'b', '"', '\\', '\n', ',', '=',
            ]),
            0..20,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>());
        proptest::collection::vec(value, 3)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// A lookup matches a stored label set exactly when the values are equal: never for
        /// values that only look alike once escaped, or whose boundaries fall elsewhere.
        #[test]
        fn comparison_is_exact(stored in tricky_values(), other in tricky_values(), cut in 0usize..40) {
            let names = ["a", "bb", "c"];
            let mut r = String::new();
            render_labels(&mut r, &names, &stored);
            proptest::prop_assert!(rendered_labels_match(&r, &names, &stored));
            proptest::prop_assert_eq!(rendered_labels_match(&r, &names, &other), stored == other);
            let shape = plain_shape(&stored);
            proptest::prop_assert!(labels_match(&r, shape, &names, &stored));
            proptest::prop_assert_eq!(labels_match(&r, shape, &names, &other), stored == other);
            // Each value replaced by raw stretches of the rendered text where it starts (the
            // escaped form, quotes and following labels): equal only to the value itself.
            let mut start = 0;
            for (i, name) in names.iter().enumerate() {
                start += name.len() + 2;
                for end in start..=r.len() {
                    let Some(raw) = r.get(start..end) else { continue };
                    let mut probe = stored.clone();
                    probe[i] = raw.to_owned();
                    proptest::prop_assert_eq!(
                        rendered_labels_match(&r, &names, &probe),
                        probe == stored,
                        "{:?} looked up with {:?}", r, probe
                    );
                    proptest::prop_assert_eq!(
                        labels_match(&r, shape, &names, &probe),
                        probe == stored,
                        "{:?} (shape {:x}) looked up with {:?}", r, shape, probe
                    );
                }
                let mut escaped = String::new();
                escape_label_value(&mut escaped, &stored[i]);
                start += escaped.len() + 2;
            }
            // The same text with the boundary between the first two values moved.
            let joined = format!("{}{}", stored[0], stored[1]);
            if let Some((x, y)) = joined.split_at_checked(cut.min(joined.len())) {
                let moved = [x.to_owned(), y.to_owned(), stored[2].clone()];
                proptest::prop_assert_eq!(
                    rendered_labels_match(&r, &names, &moved),
                    moved[..] == stored[..]
                );
                proptest::prop_assert_eq!(
                    labels_match(&r, shape, &names, &moved),
                    moved[..] == stored[..]
                );
            }
        }

        /// The same for label sets that mostly have a shape (plain values, one to five of
        /// them, some longer than a shape holds): the shaped comparison of lengths and bytes
        /// agrees with equality, for other sets, for values with one byte changed, with a
        /// character moved between neighbours, and cut or grown by one byte.
        #[test]
        fn shaped_comparison_is_exact(
            stored in plain_values(),
            other in plain_values(),
            cut in 0usize..300,
        ) {
            let names = ["a", "bb", "c", "dddd", "e"];
            let names = &names[..stored.len()];
            let mut r = String::new();
            render_labels(&mut r, names, &stored);
            let shape = plain_shape(&stored);
            let check = |probe: &[String]| {
                let want = probe == stored.as_slice();
                (labels_match(&r, shape, names, probe) == want
                    && rendered_labels_match(&r, names, probe) == want)
                    .then_some(())
                    .ok_or_else(|| format!("{r:?} (shape {shape:x}) looked up with {probe:?}"))
            };
            proptest::prop_assert!(check(&stored).is_ok());
            if other.len() == stored.len() {
                proptest::prop_assert!(check(&other).is_ok(), "{:?}", check(&other));
            }
            for i in 0..stored.len() {
                // One byte changed, the length kept: at every position of a short value,
                // around both ends of a long one.
                let n = stored[i].len();
                for j in (0..n).filter(|&j| j < 20 || j + 4 > n) {
                    let mut bytes = stored[i].clone().into_bytes();
                    if bytes[j] == b'a' {
                        bytes[j] = b'b';
                        let probe_value = String::from_utf8(bytes).map_err(|e| e.to_string());
                        let mut probe = stored.clone();
                        probe[i] = probe_value.map_err(proptest::test_runner::TestCaseError::fail)?;
                        proptest::prop_assert!(check(&probe).is_ok(), "{:?}", check(&probe));
                    }
                }
                let mut probe = stored.clone();
                probe[i].push('a');
                proptest::prop_assert!(check(&probe).is_ok(), "{:?}", check(&probe));
                let mut probe = stored.clone();
                if probe[i].pop().is_some() {
                    proptest::prop_assert!(check(&probe).is_ok(), "{:?}", check(&probe));
                }
                if i + 1 < stored.len() {
                    let joined = format!("{}{}", stored[i], stored[i + 1]);
                    if let Some((x, y)) = joined.split_at_checked(cut.min(joined.len())) {
                        let mut probe = stored.clone();
                        probe[i] = x.to_owned();
                        probe[i + 1] = y.to_owned();
                        proptest::prop_assert!(check(&probe).is_ok(), "{:?}", check(&probe));
                    }
                }
            }
        }
    }

    /// One to five values, mostly without characters that need escaping (one in ~50 has
    /// one), of lengths around the word sizes and sometimes around the 254-byte limit of a
    /// shape.
    fn plain_values() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let ch = proptest::sample::select(vec!['a', 'b', 'a', 'b', ',', '=', 'é']);
        let short = proptest::collection::vec(ch.clone(), 0..20);
        let long = proptest::collection::vec(ch, 250..258);
        let value =
            prop_oneof![8 => short, 1 => long].prop_map(|cs| cs.into_iter().collect::<String>());
        let value = prop_oneof![
            49 => value,
            1 => proptest::sample::select(vec!["q\"", "b\\", "\n"]).prop_map(str::to_owned),
        ];
        proptest::collection::vec(value, 1..=5)
    }

    #[test]
    fn rendered_values_round_trip() {
        let mut r = String::new();
        render_labels(&mut r, &["a", "b", "c"], &["x", "q\"uo\\te\n", ""]);
        assert_eq!(rendered_label_value(&r, 0), "x");
        assert_eq!(rendered_label_value(&r, 1), "q\"uo\\te\n");
        assert_eq!(rendered_label_value(&r, 2), "");
        // `=` and `="` inside values do not confuse the scan.
        let mut r = String::new();
        render_labels(&mut r, &["a", "b", "c"], &["x=\"y", "=", "k=v"]);
        assert_eq!(rendered_label_value(&r, 0), "x=\"y");
        assert_eq!(rendered_label_value(&r, 1), "=");
        assert_eq!(rendered_label_value(&r, 2), "k=v");
        assert_eq!(rendered_label_value(&r, 3), "");
    }

    #[test]
    fn rename_replaces_leading_names_and_keeps_escaped_values() {
        let mut r = String::new();
        render_labels(
            &mut r,
            &["method", "route", "tenant"],
            &["GET", "/a\"b,c=\"d\"", "t"],
        );
        let mut out = String::from("env=\"p\",");
        rename_rendered_labels(&mut out, &r, &["m", "r"]);
        assert_eq!(out, r#"env="p",m="GET",r="/a\"b,c=\"d\"",tenant="t""#);
        let mut empty = String::new();
        rename_rendered_labels(&mut empty, "", &["m"]);
        assert_eq!(empty, "");
    }
}
