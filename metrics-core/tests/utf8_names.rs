//! UTF-8 names: quoted with `allow-utf-8`, escaped otherwise, collisions refused (see
//! <https://prometheus.io/docs/instrumenting/escaping_schemes/>).

use promenade_core::encoding::{EscapingScheme, Negotiated, negotiate};
use promenade_core::{Buckets, Counter, Error, Family, Format, Histogram, Registry};

fn registry() -> Registry {
    let r = Registry::new();
    let c = Family::<Counter>::builder("my.dotted.requests", "Dotted requests.")
        .labels(&["error.message", "code"])
        .allow_utf8_names()
        .build()
        .unwrap();
    c.get(&["Not Found", "404"]).unwrap().inc();
    r.register(c).unwrap();
    let h = Family::<Histogram>::builder_with_options(
        "rpc.duration",
        "Durations.",
        Buckets::new(vec![1.0]).unwrap(),
    )
    .allow_utf8_names()
    .build()
    .unwrap();
    h.get(&[] as &[&str]).unwrap().observe(0.5);
    r.register(h).unwrap();
    r
}

fn text(r: &Registry, format: Format, escaping: EscapingScheme) -> String {
    String::from_utf8(
        r.encode_negotiated(&Negotiated { format, escaping })
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn allow_utf8_uses_quoted_syntax() {
    let t = text(&registry(), Format::Text, EscapingScheme::AllowUtf8);
    assert!(
        t.contains("# HELP \"my.dotted.requests_total\" Dotted requests.\n"),
        "{t}"
    );
    assert!(t.contains("# TYPE \"my.dotted.requests_total\" counter\n"));
    assert!(t.contains(
        "{\"my.dotted.requests_total\",\"error.message\"=\"Not Found\",code=\"404\"} 1\n"
    ));
    assert!(t.contains("{\"rpc.duration_bucket\",le=\"1\"} 1\n"));
    assert!(t.contains("{\"rpc.duration_count\"} 1\n"));
    let om = text(&registry(), Format::OpenMetrics, EscapingScheme::AllowUtf8);
    assert!(
        om.contains("# TYPE \"my.dotted.requests\" counter\n"),
        "{om}"
    );
    assert!(om.contains(
        "{\"my.dotted.requests_total\",\"error.message\"=\"Not Found\",code=\"404\"} 1.0\n"
    ));
}

#[test]
fn underscores_is_the_default() {
    let t = registry().encode_to_string(Format::Text).unwrap();
    assert!(
        t.contains("my_dotted_requests_total{error_message=\"Not Found\",code=\"404\"} 1\n"),
        "{t}"
    );
    assert!(t.contains("rpc_duration_bucket{le=\"1\"} 1\n"));
    for line in t.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.split(['{', ' ']).next().unwrap().contains('.'),
            "{line}"
        );
    }
}

#[test]
fn dots_and_values_escape_the_whole_sample_name() {
    let t = text(&registry(), Format::Text, EscapingScheme::Dots);
    assert!(
        t.contains(
            "my_dot_dotted_dot_requests__total{error_dot_message=\"Not Found\",code=\"404\"} 1\n"
        ),
        "{t}"
    );
    let v = text(&registry(), Format::Text, EscapingScheme::Values);
    assert!(
        v.contains(
            "U__my_2e_dotted_2e_requests__total{U__error_2e_message=\"Not Found\",code=\"404\"} 1\n"
        ),
        "{v}"
    );
    let om = text(&registry(), Format::OpenMetrics, EscapingScheme::Values);
    assert!(
        om.contains("# TYPE U__my_2e_dotted_2e_requests_ counter\n"),
        "{om}"
    );
}

#[test]
fn negotiated_scrape_gets_what_it_asked_for() {
    let r = registry();
    let n = negotiate(Some("text/plain;version=0.0.4;escaping=allow-utf-8"));
    assert!(
        String::from_utf8(r.encode_negotiated(&n).unwrap())
            .unwrap()
            .contains("{\"my.dotted.requests_total\"")
    );
    // Prometheus 2.x sends no escaping parameter: underscores.
    let n = negotiate(Some(
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    ));
    assert!(
        String::from_utf8(r.encode_negotiated(&n).unwrap())
            .unwrap()
            .contains("my_dotted_requests_total{")
    );
}

#[test]
fn collisions_after_escaping_are_refused() {
    let r = Registry::new();
    r.counter("a_b_total", "Legacy.").unwrap();
    let dotted = Family::<Counter>::builder("a.b", "Dotted.")
        .allow_utf8_names()
        .build()
        .unwrap();
    assert!(matches!(
        r.register(dotted),
        Err(Error::AlreadyRegistered { .. })
    ));
    // Two label names that escape alike.
    let clash = Family::<Counter>::builder("x", "X.")
        .labels(&["a.b", "a_b"])
        .allow_utf8_names()
        .build();
    assert!(clash.is_err());
    // Without opting in, UTF-8 names are invalid.
    assert!(
        Family::<Counter>::builder("a.b", "Dotted.")
            .build()
            .is_err()
    );
    // Delimiters are never allowed.
    assert!(
        Family::<Counter>::builder("a\"b", "Q.")
            .allow_utf8_names()
            .build()
            .is_err()
    );
    assert!(
        Family::<Counter>::builder("ok", "Q.")
            .labels(&["__x"])
            .allow_utf8_names()
            .build()
            .is_err()
    );
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_names_follow_the_scheme() {
    use promenade_core::encoding::protobuf::decode_delimited;
    let r = registry();
    let under = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
    assert!(
        under
            .iter()
            .any(|f| f.name.as_deref() == Some("my_dotted_requests_total"))
    );
    let utf8 = decode_delimited(
        &r.encode_negotiated(&Negotiated {
            format: Format::Protobuf,
            escaping: EscapingScheme::AllowUtf8,
        })
        .unwrap(),
    )
    .unwrap();
    let f = utf8
        .iter()
        .find(|f| f.name.as_deref() == Some("my.dotted.requests_total"))
        .unwrap();
    assert_eq!(f.metric[0].label[0].name.as_deref(), Some("error.message"));
}
