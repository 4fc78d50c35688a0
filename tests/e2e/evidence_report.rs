//! The auditor's HTML report, opened by a real browser: an evidence bundle is built with the
//! `tollgate` binary from the `report-run` fixture run directory, extracted, and its
//! `report.html` is loaded from disk by Debian's headless Chromium (`$TOLLGATE_CHROMIUM`,
//! installed by `cargo xtask test`) with no server and no network. The rendered DOM must show
//! the verdict, the coverage table and the SVG heatmap; every link must resolve to a file of the
//! extracted archive (or an element of the page); the browser log must hold no console message,
//! no Content-Security-Policy violation and no failed load; axe-core (`$TOLLGATE_AXE_CORE`,
//! installed from npm by `cargo xtask test`) must find no WCAG 2.x A/AA or best-practice
//! violation; and a screenshot is kept at `target/evidence-report.png` for people to look at.

use crate::support::{copy_tree, fixture, repo_root, run, text, tollgate};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tollgate_evidence::report;

/// The Chromium binary from `$TOLLGATE_CHROMIUM` (set by `cargo xtask test`).
fn chromium() -> PathBuf {
    let path = std::env::var_os("TOLLGATE_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "TOLLGATE_CHROMIUM is not set: run the tests with `cargo xtask test`, which installs \
             Debian's chromium package and exports TOLLGATE_CHROMIUM=/usr/bin/chromium"
        )
    });
    assert!(path.exists(), "TOLLGATE_CHROMIUM={} does not exist", path.display());
    path
}

/// Headless Chromium on `page` with `args`, as root (no sandbox), offline, in a fresh profile,
/// killed after two minutes.
fn headless(page: &Path, args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let output = run(Command::new("timeout")
        .args(["--kill-after=10", "120"])
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display())));
    assert_ne!(output.status.code(), Some(124), "chromium timed out: {}", text(&output));
    assert!(output.status.success(), "chromium failed: {}", text(&output));
    output
}

/// The lines of a Chromium log that say the page misbehaved: console messages (scripts,
/// CSP violations, blocked or failed loads are all reported through the console), and any
/// network or local-resource error.
fn page_problems(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            line.contains(":CONSOLE")
                || line.contains("Content Security Policy")
                || line.contains("net::ERR_")
                || line.contains("Refused to")
                || line.contains("Not allowed to load local resource")
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {s}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Attributes that make a browser load or navigate to a URL.
const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "srcset", "action", "formaction", "data", "poster", "background"];

/// Checks every URL in `dom` (the page at `root/report.html`): fragments name an element of
/// the page, everything else is a relative path to an existing file under `root`; no scheme,
/// no absolute path. Returns the files linked (decoded, relative to `root`).
fn check_links(dom: &scraper::Html, root: &Path) -> BTreeSet<String> {
    let all = scraper::Selector::parse("*").unwrap();
    let ids: BTreeSet<&str> = dom.select(&all).filter_map(|e| e.value().id()).collect();
    let mut files = BTreeSet::new();
    let mut checked = 0;
    for element in dom.select(&all) {
        for (name, value) in element.value().attrs() {
            if !URL_ATTRIBUTES.contains(&name) {
                continue;
            }
            checked += 1;
            let context = format!("<{} {name}=\"{value}\">", element.value().name());
            if let Some(fragment) = value.strip_prefix('#') {
                assert!(ids.contains(fragment), "{context}: no element with id {fragment:?}");
                continue;
            }
            let path = value.split(['#', '?']).next().unwrap();
            let scheme = path.split('/').next().unwrap().contains(':');
            assert!(!scheme, "{context}: absolute URL (the report must link inside the archive)");
            assert!(!path.starts_with('/'), "{context}: absolute path");
            let decoded = percent_decode(path);
            assert!(!decoded.split('/').any(|c| c == ".."), "{context}: climbs out of the archive");
            assert!(
                root.join(&decoded).is_file(),
                "{context}: {} is not a file of the extracted archive",
                root.join(&decoded).display()
            );
            files.insert(decoded);
        }
    }
    assert!(checked > 0, "no links at all in the DOM");
    files
}

/// Unpacks a `.tar.gz` into `to`.
fn extract(bundle: &Path, to: &Path) {
    let file = std::fs::File::open(bundle).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    std::fs::create_dir_all(to).unwrap();
    archive.unpack(to).unwrap();
}

/// `report.html` of the extracted archive at `root`: `tollgate evidence build` writes it.
fn report_html(root: &Path) -> PathBuf {
    let path = root.join(report::REPORT_HTML);
    assert!(path.is_file(), "the bundle has no {}", report::REPORT_HTML);
    path
}

/// axe-core's `axe.min.js` from `$TOLLGATE_AXE_CORE` (set by `cargo xtask test`).
fn axe_core() -> PathBuf {
    let path = std::env::var_os("TOLLGATE_AXE_CORE").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "TOLLGATE_AXE_CORE is not set: run the tests with `cargo xtask test`, which installs \
             axe-core from npm into target/axe and exports its axe.min.js"
        )
    });
    assert!(path.is_file(), "TOLLGATE_AXE_CORE={} is not a file", path.display());
    path
}

/// The rules axe runs: WCAG 2.0, 2.1 and 2.2 level A and AA, and Deque's best practices.
const AXE_TAGS: &str =
    r#"["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]"#;

/// Runs axe-core over `html` in headless Chromium and returns its results
/// (`{"violations": [{id, impact, help, nodes}], "passes": [rule ids]}`). The page's own CSP
/// forbids scripts, so axe runs on a copy without the CSP `<meta>` and with two scripts added
/// at the end of `<body>` (axe, and a runner that writes the results into `#axe-results`):
/// the DOM audited is otherwise the page's.
fn axe(html: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(axe_core(), dir.path().join("axe.min.js")).unwrap();
    let mut page = html.to_owned();
    if let Some(start) = page.find("<meta http-equiv=\"Content-Security-Policy\"") {
        let end = start + page[start..].find('>').unwrap() + 1;
        page.replace_range(start..end, "");
    }
    let runner = format!(
        "<script src=\"axe.min.js\"></script>\n<script>\n\
         function report(value) {{ var pre = document.createElement(\"pre\"); \
         pre.id = \"axe-results\"; pre.textContent = JSON.stringify(value); \
         document.body.appendChild(pre); }}\n\
         axe.run(document, {{ runOnly: {{ type: \"tag\", values: {AXE_TAGS} }} }})\n\
         .then(function (r) {{ report({{ violations: r.violations.map(function (v) {{ return {{ \
         id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {{ \
         return n.target.join(\" \"); }}) }}; }}), passes: r.passes.map(function (p) {{ \
         return p.id; }}) }}); }})\n\
         .catch(function (e) {{ report({{ error: String(e) }}); }});\n</script>\n</body>"
    );
    assert!(page.contains("</body>"), "no </body> to add axe before");
    let page = page.replacen("</body>", &runner, 1);
    let path = dir.path().join("axe.html");
    std::fs::write(&path, page).unwrap();
    let output =
        headless(&path, &["--virtual-time-budget=30000", "--window-size=1280,2400", "--dump-dom"]);
    let dom = scraper::Html::parse_document(&String::from_utf8_lossy(&output.stdout));
    let selector = scraper::Selector::parse("pre#axe-results").unwrap();
    let results: String = dom
        .select(&selector)
        .next()
        .unwrap_or_else(|| panic!("axe wrote no results: {}", text(&output)))
        .text()
        .collect();
    let results: serde_json::Value = serde_json::from_str(&results).unwrap();
    assert!(results.get("error").is_none(), "axe failed: {results}");
    results
}

/// Loads `page` in Chromium with logging on; asserts the log shows no problem; returns the DOM.
fn load_cleanly(page: &Path) -> String {
    let output = headless(page, &["--enable-logging=stderr", "--v=0", "--dump-dom"]);
    let log = String::from_utf8_lossy(&output.stderr);
    let problems = page_problems(&log);
    assert!(problems.is_empty(), "the page logged problems:\n{}", problems.join("\n"));
    String::from_utf8(output.stdout).unwrap()
}

/// Every file of the run in the manifest of the bundle extracted at `root` is linked from the
/// report (generated exports such as the OSCAL document need not be; the report itself not).
fn assert_run_files_linked(root: &Path, linked: &BTreeSet<String>) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        if file["kind"] == "export" || path == report::REPORT_HTML {
            continue;
        }
        assert!(linked.contains(path), "{path} is not linked from the report");
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

#[test]
fn report_opens_offline_in_chromium_with_working_links() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-evidence", "report-run"), &dir.path().join("run"));
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    let output = run(tollgate(dir.path()).args([
        "evidence",
        "build",
        "run",
        "--key",
        "keys/tollgate.key",
        "--output",
        "bundle.tar.gz",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = run(tollgate(dir.path()).args([
        "evidence",
        "verify",
        "--key",
        "keys/tollgate.pub",
        "bundle.tar.gz",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let root = dir.path().join("extracted");
    extract(&dir.path().join("bundle.tar.gz"), &root);
    let page = report_html(&root);

    // (a) and (b): the DOM after load, and the browser's log of the same load.
    let dom_text = load_cleanly(&page);
    let dom = scraper::Html::parse_document(&dom_text);
    let select = |css: &str| {
        let selector = scraper::Selector::parse(css).unwrap();
        dom.select(&selector).collect::<Vec<_>>()
    };
    let verdict: Vec<String> = select("#verdict").iter().map(|e| e.text().collect()).collect();
    assert_eq!(verdict.len(), 1, "one verdict");
    assert!(verdict[0].contains("NO-GO"), "verdict is NO-GO: {verdict:?}");
    assert_eq!(select("h1").len(), 1);
    assert_eq!(select("html[lang=en]").len(), 1);
    for landmark in ["header", "nav", "main", "footer"] {
        assert_eq!(select(landmark).len(), 1, "one <{landmark}>");
    }
    let coverage = select("table#coverage-summary th[scope=row]");
    assert!(!coverage.is_empty(), "the coverage table has a row per catalog");
    assert!(!select("table.coverage tbody tr").is_empty(), "the coverage matrix has controls");
    let heatmap = select("svg#heatmap-svg[role=img]");
    assert_eq!(heatmap.len(), 1, "the SVG heatmap is in the DOM");
    let cells: Vec<String> =
        select("svg#heatmap-svg g > title").iter().map(|t| t.text().collect()).collect();
    assert!(cells.contains(&"contracts: 1 error".to_owned()), "{cells:?}");
    assert!(cells.contains(&"sbom: 2 warnings".to_owned()), "{cells:?}");
    for table in select("table") {
        let selector = scraper::Selector::parse("caption").unwrap();
        assert!(table.select(&selector).next().is_some(), "every table has a caption");
    }
    // The fixture's HTML-looking message arrived as text, not markup.
    assert!(dom_text.contains("optional property \"&lt;note&gt;\""));
    assert!(select("note").is_empty());

    let linked = check_links(&dom, &root);
    assert_run_files_linked(&root, &linked);
    assert!(linked.contains("test-results/unit tests.xml"), "the name with a space resolves");

    // The log check is not vacuous: a page that breaks its CSP and misses a file is caught.
    let bad = root.join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html lang=\"en\"><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <link rel=\"stylesheet\" href=\"https://example.invalid/x.css\"></head>\
         <body><img src=\"missing.png\" alt=\"\"><script>console.log('x')</script></body></html>",
    )
    .unwrap();
    let output = headless(&bad, &["--enable-logging=stderr", "--v=0", "--dump-dom"]);
    let log = String::from_utf8_lossy(&output.stderr);
    let problems = page_problems(&log);
    assert!(problems.len() >= 3, "CSP violations not seen in the log:\n{log}");
    std::fs::remove_file(&bad).unwrap();

    // Accessibility: axe-core finds no violation, and did check what matters here.
    let results = axe(&std::fs::read_to_string(&page).unwrap());
    let violations = results["violations"].as_array().unwrap();
    assert!(violations.is_empty(), "axe-core found accessibility violations:\n{results:#}");
    let passes: Vec<&str> =
        results["passes"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for rule in [
        "color-contrast",
        "html-has-lang",
        "landmark-one-main",
        "page-has-heading-one",
        "heading-order",
        "bypass",
        "skip-link",
        "th-has-data-cells",
        "svg-img-alt",
        "link-name",
    ] {
        assert!(passes.contains(&rule), "axe rule {rule} did not pass: {passes:?}");
    }
    // And the axe check is not vacuous: a page with no language, an image without text and
    // grey-on-grey text is flagged.
    let results = axe("<!DOCTYPE html><html><head><title>t</title></head><body><main><h1>x</h1>\
         <img src=\"data:,\"><p style=\"color:#999;background:#aaa\">faint</p></main></body></html>");
    let flagged: Vec<&str> = results["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    for rule in ["html-has-lang", "image-alt", "color-contrast"] {
        assert!(flagged.contains(&rule), "axe did not flag {rule}: {results:#}");
    }

    // (c) a screenshot, kept for people to look at.
    let png = target_dir().join("evidence-report.png");
    let _ = std::fs::remove_file(&png);
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    headless(&page, &[&format!("--screenshot={}", png.display()), "--window-size=1280,2400"]);
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2400), "screenshot size");
    assert!(bytes.len() > 10_000, "a blank page would compress to almost nothing");
}

/// The report of a real `tollgate release` (the cargo-workspace fixture, all gates passing):
/// the bundle the release stage wrote, extracted, opens cleanly with GO and working links.
#[test]
fn report_of_a_real_release_opens_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    let output = run(tollgate(dir.path()).args(["release", "--key", "keys/tollgate.key"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = dir.path().join("target/tollgate");
    let bundles: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(bundles.len(), 1, "one bundle in {}: {bundles:?}", out.display());

    let root = dir.path().join("extracted");
    extract(&bundles[0], &root);
    let page = report_html(&root);
    let dom_text = load_cleanly(&page);
    let dom = scraper::Html::parse_document(&dom_text);
    let verdict = scraper::Selector::parse("#verdict").unwrap();
    let verdict: String = dom.select(&verdict).next().unwrap().text().collect();
    assert!(verdict.contains("GO") && !verdict.contains("NO-GO"), "{verdict}");
    let rows = scraper::Selector::parse("#gate-table tbody th[scope=row]").unwrap();
    let gates: Vec<String> = dom.select(&rows).map(|e| e.text().collect()).collect();
    assert_eq!(gates, ["sbom", "contracts", "attest"], "gates in the order the release ran them");
    let linked = check_links(&dom, &root);
    assert_run_files_linked(&root, &linked);
}

/// The link check is not vacuous: each kind of bad link makes it fail (no browser needed).
#[test]
fn link_check_rejects_missing_absolute_and_escaping_links() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sbom")).unwrap();
    std::fs::write(dir.path().join("sbom/a b.json"), "{}").unwrap();
    let page = |body: &str| {
        scraper::Html::parse_document(&format!(
            "<!DOCTYPE html><html><body><h2 id=\"top\">t</h2>{body}</body></html>"
        ))
    };
    let good = page("<a href=\"#top\">top</a> <a href=\"sbom/a%20b.json\">a b</a>");
    let linked = check_links(&good, dir.path());
    assert_eq!(linked.into_iter().collect::<Vec<_>>(), ["sbom/a b.json"]);
    for bad in [
        "<a href=\"sbom/missing.json\">x</a>",
        "<a href=\"https://example.com/x\">x</a>",
        "<a href=\"http://example.com/x\">x</a>",
        "<a href=\"/etc/passwd\">x</a>",
        "<a href=\"../outside.json\">x</a>",
        "<a href=\"#nowhere\">x</a>",
        "<img src=\"sbom/missing.png\" alt=\"\">",
        "<a href=\"sbom\">a directory</a>",
    ] {
        let dom = page(bad);
        let check = std::panic::AssertUnwindSafe(|| check_links(&dom, dir.path()));
        let result = std::panic::catch_unwind(check);
        assert!(result.is_err(), "the link check accepted {bad}");
    }
}
