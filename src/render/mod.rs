//! Everything the HTML pages share: the [`Html`] escaper every template uses, number and date
//! formats ([`mod@format`]) and chart geometry ([`chart`]).
//!
//! The pages themselves are askama templates under `templates/` (one base layout,
//! `base.html`, with the shared stylesheet `base.css` inlined; one template per page). A page
//! module builds a small view-model (already formatted numbers, chart geometry) and renders
//! it with [`page`]. Everything a template prints is escaped unless the template says `|safe`,
//! so data never becomes markup.
//!
//! This module is a leaf: it knows numbers, dates and SVG coordinates, no report types.

pub mod chart;
pub mod format;

use std::fmt;

/// The escaper of every `.html` template (set in `askama.toml`): `&`, `<`, `>`, `"` and `'`
/// become `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;`, so escaped text is safe in element
/// content and in quoted attribute values.
///
/// askama's own HTML escaper writes numeric references (`&#60;`); the named ones keep the
/// pages' markup as it always was and readable in tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        let mut done = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&s[done..i])?;
            dest.write_str(entity)?;
            done = i + 1;
        }
        dest.write_str(&s[done..])
    }
}

/// Renders a page template. Writing into a `String` cannot fail, and the templates call no
/// fallible filter on data, so an error here is a bug in a template.
pub fn page(template: &impl askama::Template) -> String {
    template.render().expect("render a page template")
}

/// Asserts that a page refers to nothing outside itself: no external URL in markup or CSS, no
/// stylesheet link or image, and no link but the inline favicon (which keeps browsers from
/// fetching `/favicon.ico`). For the pages' unit tests.
#[cfg(test)]
pub(crate) fn assert_self_contained(html: &str) {
    for needle in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "src='http",
        "href='http",
        "url('http",
        "url(\"http",
        "<link rel=\"stylesheet",
        "<img",
    ] {
        assert!(!html.contains(needle), "external reference {needle:?}");
    }
    assert_eq!(
        html.matches("<link").count(),
        html.matches("<link rel=\"icon\" href=\"data:,\">").count()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper as _;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, s).unwrap();
        out
    }

    #[test]
    fn escapes_markup_and_both_quotes() {
        assert_eq!(
            escaped("</script><img src=x onerror=alert(1)>"),
            "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escaped("a & \"b\" 'c'"),
            "a &amp; &quot;b&quot; &#39;c&#39;"
        );
        assert_eq!(escaped("plain · ünïcode"), "plain · ünïcode");
        assert_eq!(escaped(""), "");
    }
}
