//! JSON pointers (RFC 6901) into a snapshot, and ignore rules matching them.

use std::fmt;

/// Escapes one reference token: `~` → `~0`, `/` → `~1`.
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The pointer `/seg1/seg2/…` of the given unescaped segments.
pub fn pointer<'a>(segments: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&escape_segment(s));
    }
    out
}

/// Unescaped segments of `p`, or `None` when `p` is not a JSON pointer (non-empty without a
/// leading `/`, or a `~` not followed by `0` or `1`).
fn segments(p: &str) -> Option<Vec<String>> {
    if p.is_empty() {
        return Some(Vec::new());
    }
    let rest = p.strip_prefix('/')?;
    rest.split('/')
        .map(|raw| {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return None,
                    }
                } else {
                    out.push(c);
                }
            }
            Some(out)
        })
        .collect()
}

/// An `ignore` entry: a JSON pointer that ignores itself and everything below it; a segment that
/// is exactly `*` matches any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    raw: String,
    segments: Vec<String>,
}

impl IgnoreRule {
    /// Parses `spec.ignore[index]`; the error names the place and says what is wrong.
    pub fn parse(raw: &str, index: usize) -> Result<IgnoreRule, String> {
        let segments = segments(raw).ok_or_else(|| {
            format!(
                "/spec/ignore/{index}: {raw:?} is not a JSON pointer (empty, or '/'-separated with ~0 and ~1 escapes)"
            )
        })?;
        Ok(IgnoreRule { raw: raw.to_owned(), segments })
    }

    /// Whether the rule ignores the drift at `pointer` (a pointer built by [`pointer`]).
    pub fn matches(&self, pointer: &str) -> bool {
        let Some(target) = segments(pointer) else { return false };
        self.segments.len() <= target.len()
            && self.segments.iter().zip(&target).all(|(rule, seg)| rule == "*" || rule == seg)
    }
}

impl fmt::Display for IgnoreRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(pointer(["configMaps", "app", "a/b~c"]), "/configMaps/app/a~1b~0c");
        assert_eq!(segments("/configMaps/app/a~1b~0c").unwrap(), ["configMaps", "app", "a/b~c"]);
        assert_eq!(pointer([]), "");
    }

    #[test]
    fn rules_match_prefixes_and_wildcards() {
        let r = IgnoreRule::parse("/images/*/istio-proxy", 0).unwrap();
        assert!(r.matches("/images/web/istio-proxy"));
        assert!(r.matches("/images/api/istio-proxy"));
        assert!(!r.matches("/images/web/app"));
        assert!(!r.matches("/images/web"));
        let r = IgnoreRule::parse("/secrets", 0).unwrap();
        assert!(r.matches("/secrets/db/password"));
        assert!(r.matches("/secrets"));
        assert!(!r.matches("/secretsx/db"));
        let r = IgnoreRule::parse("/configMaps/app/a~1b", 0).unwrap();
        assert!(r.matches(&pointer(["configMaps", "app", "a/b"])));
        assert!(!r.matches(&pointer(["configMaps", "app", "a"])));
        assert!(IgnoreRule::parse("", 0).unwrap().matches("/anything/at/all"));
    }

    #[test]
    fn bad_rules_name_their_place() {
        let e = IgnoreRule::parse("images/web", 3).unwrap_err();
        assert!(e.starts_with("/spec/ignore/3:"), "{e}");
        let e = IgnoreRule::parse("/images/a~2b", 1).unwrap_err();
        assert!(e.contains("/spec/ignore/1"), "{e}");
    }
}
