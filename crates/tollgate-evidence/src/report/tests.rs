//! The report on the `tests/fixtures/report-run` run directory (a NO-GO release with findings
//! in two of three gates, a file name with a space, HTML-looking messages): snapshot,
//! escaping, determinism, and the errors for bad run directories.

use super::view::href;
use super::*;
use crate::controls::natural_cmp;
use std::path::PathBuf;
use tollgate_core::{Finding, Severity};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-run")
}

/// The run directory's files as the manifest lists them (hashed here, sorted by path).
fn files(dir: &Path) -> Vec<ReportArtifact> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<ReportArtifact>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.push(ReportArtifact {
                    size: bytes.len() as u64,
                    sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                    media_type: crate::media_type(&name).to_owned(),
                    path: name,
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn tool() -> Tool {
    Tool { name: "tollgate".into(), version: "0.1.0".into() }
}

fn control(catalog: &str, id: &str, title: &str, evidence: &[&str]) -> ReportControl {
    let catalog_title = match catalog {
        "soc2" => "SOC 2 (2017 TSC)",
        _ => "NIST SSDF (SP 800-218)",
    };
    ReportControl {
        catalog: catalog.into(),
        catalog_title: catalog_title.into(),
        id: id.into(),
        title: title.into(),
        evidence: evidence.iter().map(|e| (*e).to_owned()).collect(),
    }
}

/// Deliberately unsorted, with an id that sorts wrongly as plain text (CC8.10 vs CC8.9) and
/// evidence that is not in the bundle.
fn controls() -> Vec<ReportControl> {
    vec![
        control("ssdf", "PW.4.1", "Acquire well-secured components", &["sbom/cyclonedx.json"]),
        control("soc2", "CC8.10", "Hypothetical later control", &[]),
        control("soc2", "CC8.1", "Change management", &["contracts.json", "release.json"]),
        control("soc2", "CC8.9", "Hypothetical control", &["missing/evidence.json"]),
        control(
            "ssdf",
            "PS.2.1",
            "Make integrity verification information available",
            &["attest/provenance.dsse.json"],
        ),
        control("ssdf", "PW.8.2", "Test executable code", &["test-results/unit tests.xml"]),
    ]
}

fn input() -> ReportInput {
    let dir = fixture();
    ReportInput::from_run_dir(&dir, files(&dir), &tool(), controls()).unwrap()
}

#[test]
fn reads_the_run_directory() {
    let input = input();
    assert_eq!(input.run_id, "20231114T221320Z");
    assert_eq!(input.started.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(input.verdict, Verdict::Fail);
    assert_eq!(input.tool, "tollgate 0.1.0");
    let gates: Vec<(&str, &str)> =
        input.gates.iter().map(|g| (g.path.as_str(), g.report.gate.as_str())).collect();
    assert_eq!(
        gates,
        [("sbom.json", "sbom"), ("contracts.json", "contracts"), ("attest.json", "attest")]
    );
    assert_eq!(input.gates[1].report.findings.len(), 2);
    assert_eq!(input.artifacts.len(), 8);
}

#[test]
fn rendered_page_matches_snapshot() {
    insta::assert_snapshot!(render(&input()).unwrap());
}

#[test]
fn page_has_the_required_structure() {
    let html = render(&input()).unwrap();
    for needle in [
        "<html lang=\"en\">",
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"",
        "<a class=\"skip\" href=\"#main\">",
        "<header>",
        "<nav aria-labelledby=\"toc\">",
        "<main id=\"main\" tabindex=\"-1\">",
        "<footer>",
        "Verdict: NO-GO",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"heatmap-svg\" role=\"img\"",
        "<title>contracts: 1 error</title>",
        "<title>sbom: 2 warnings</title>",
        // The space in the file name is percent-encoded in the link, not in the text.
        "href=\"test-results/unit%20tests.xml\">test-results/unit tests.xml</a>",
        // Evidence outside the bundle is named but not linked.
        "missing/evidence.json <span class=\"muted\">(not in the bundle)</span>",
        "SOC 2 (2017 TSC): 1 of 3 controls have evidence",
        "NIST SSDF (SP 800-218): 3 of 3 controls have evidence",
    ] {
        assert!(html.contains(needle), "{needle:?} missing from the page");
    }
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the SVG namespace"
    );
    assert!(!html.contains("https://"));
    // Controls sort naturally within a catalog: CC8.1, CC8.9, CC8.10.
    let (a, b, c) = (
        html.find(">CC8.1<").unwrap(),
        html.find(">CC8.9<").unwrap(),
        html.find(">CC8.10<").unwrap(),
    );
    assert!(a < b && b < c, "CC8.1 < CC8.9 < CC8.10");
    // Catalogs sort by id: soc2 before ssdf.
    assert!(html.find("(soc2)").unwrap() < html.find("(ssdf)").unwrap());
}

#[test]
fn every_input_value_is_escaped() {
    let mut input = input();
    let evil = "<script>alert(\"x\")</script>";
    input.run_id = evil.into();
    input.tool = format!("tollgate {evil}");
    input.gates[2].report.gate = format!("attest{evil}");
    input.gates[2].report.findings.push(
        Finding::new("attest/evil", Severity::Error, format!("message {evil} & more"))
            .about(evil)
            .fix(evil),
    );
    input.controls.push(control("soc2", evil, evil, &[evil]));
    input.artifacts[0].media_type = evil.into();
    input.gates[0].report.findings[0].message = "it's <b>bold</b>".into();
    let html = render(&input).unwrap();
    assert!(html.contains("it&#x27;s &lt;b&gt;bold&lt;/b&gt;"), "single quotes are escaped");
    assert!(!html.contains("<script"), "an unescaped <script> got through");
    assert!(!html.contains("alert(\"x\")"), "an unescaped quote got through");
    assert!(html.contains("message &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"));
    // The fixture's own HTML-looking text is escaped too.
    assert!(html.contains("optional property &quot;&lt;note&gt;&quot;"));
    assert!(html.contains("404 &amp; fail"));
}

#[test]
fn same_input_same_bytes_whatever_the_input_order() {
    let first = render(&input()).unwrap();
    assert_eq!(first, render(&input()).unwrap());
    let mut shuffled = input();
    shuffled.controls.reverse();
    shuffled.artifacts.reverse();
    for gate in &mut shuffled.gates {
        gate.report.findings.reverse();
    }
    assert_eq!(first, render(&shuffled).unwrap());
    // And the input does matter: a different verdict is a different page.
    shuffled.verdict = Verdict::Pass;
    let go = render(&shuffled).unwrap();
    assert_ne!(first, go);
    assert!(go.contains("Verdict: GO") && !go.contains("NO-GO"));
}

#[test]
fn write_replaces_the_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(REPORT_HTML);
    std::fs::write(&path, "old").unwrap();
    write(&input(), &path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&input()).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left");
}

#[test]
fn without_release_json_gates_are_found_and_the_verdict_computed() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-7");
    std::fs::create_dir(&run).unwrap();
    for name in ["sbom.json", "contracts.json", "attest.json"] {
        std::fs::copy(fixture().join(name), run.join(name)).unwrap();
    }
    // Not a gate report: ignored.
    std::fs::write(run.join("cyclonedx.json"), "{\"bomFormat\": \"CycloneDX\"}").unwrap();
    let input = ReportInput::from_run_dir(&run, files(&run), &tool(), Vec::new()).unwrap();
    assert_eq!(input.run_id, "run-7");
    assert_eq!(input.started, None);
    assert_eq!(input.verdict, Verdict::Fail, "contracts failed");
    let gates: Vec<&str> = input.gates.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(gates, ["attest.json", "contracts.json", "sbom.json"]);
    let html = render(&input).unwrap();
    assert!(html.contains("No control mapping was supplied for this run."));
    assert!(html.contains("<dt>Started</dt><dd>not recorded</dd>"));
}

/// A reproducible run (`"durationsRecorded": false` in `release.json`) shows no duration for
/// any gate; otherwise each gate's recorded milliseconds are shown.
#[test]
fn durations_are_shown_only_when_recorded() {
    let html = render(&input()).unwrap();
    for ms in [412, 97, 1203] {
        assert!(html.contains(&format!("<td class=\"num\">{ms}</td>")), "{ms}");
    }
    assert!(!html.contains("<td class=\"num\">not recorded</td>"));

    let dir = tempfile::tempdir().unwrap();
    for name in ["sbom.json", "contracts.json", "attest.json"] {
        std::fs::copy(fixture().join(name), dir.path().join(name)).unwrap();
    }
    let mut release: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("release.json")).unwrap())
            .unwrap();
    release["durationsRecorded"] = false.into();
    std::fs::write(dir.path().join("release.json"), release.to_string()).unwrap();
    let input = ReportInput::from_run_dir(dir.path(), Vec::new(), &tool(), Vec::new()).unwrap();
    assert!(!input.durations_recorded);
    let html = render(&input).unwrap();
    assert_eq!(html.matches("<td class=\"num\">not recorded</td>").count(), 3);
    for ms in [412, 97, 1203] {
        assert!(!html.contains(&format!("<td class=\"num\">{ms}</td>")), "{ms}");
    }
}

/// A copy of the fixture with `release.json` replaced, and the error reading it.
fn error_with_release(release: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sbom.json", "contracts.json", "attest.json"] {
        std::fs::copy(fixture().join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("release.json"), release).unwrap();
    let err = ReportInput::from_run_dir(dir.path(), Vec::new(), &tool(), Vec::new()).unwrap_err();
    assert!(err.is_input_error(), "{err}");
    (dir, err.to_string())
}

#[test]
fn bad_run_directories_are_named_with_the_place() {
    let (dir, err) = error_with_release("{\n  \"runId\": \"x\",\n  oops\n}");
    let path = dir.path().join("release.json");
    assert!(err.starts_with(&format!("{}: line 3, column 3", path.display())), "{err}");

    let (_dir, err) = error_with_release(r#"{"stages": [{"gate": "sbom"}]}"#);
    assert!(err.contains("release.json: /stages/0/report: missing"), "{err}");

    let (_dir, err) =
        error_with_release(r#"{"stages": [{"report": "sbom.json"}, {"report": "../etc/passwd"}]}"#);
    assert!(
        err.contains("release.json: /stages/1/report: \"../etc/passwd\" is not a relative path"),
        "{err}"
    );

    let (_dir, err) = error_with_release(r#"{"verdict": "maybe"}"#);
    assert!(err.contains("release.json: /verdict: \"maybe\" is neither"), "{err}");

    let (_dir, err) = error_with_release(r#"{"durationsRecorded": "no"}"#);
    assert!(err.contains("release.json: /durationsRecorded: not a boolean"), "{err}");

    let (_dir, err) = error_with_release(r#"{"runId": 7}"#);
    assert!(err.contains("release.json: /runId: not a string"), "{err}");

    let (dir, err) = error_with_release(r#"{"stages": [{"report": "absent.json"}]}"#);
    assert!(err.starts_with(&dir.path().join("absent.json").display().to_string()), "{err}");

    // A stage report that is JSON but not a GateReport: named, with line and column.
    let (dir, err) = error_with_release(r#"{"stages": [{"report": "release.json"}]}"#);
    let path = dir.path().join("release.json");
    assert!(err.starts_with(&format!("{}: line 1, column", path.display())), "{err}");
    assert!(err.contains("missing field `gate`"), "{err}");
}

#[test]
fn links_are_percent_encoded_paths() {
    assert_eq!(href("sbom/cyclonedx.json"), "sbom/cyclonedx.json");
    assert_eq!(href("test results/a b#1?.xml"), "test%20results/a%20b%231%3F.xml");
    assert_eq!(href("javascript:alert(1)"), "javascript%3Aalert%281%29");
    assert_eq!(href("é.txt"), "%C3%A9.txt");
}

#[test]
fn control_ids_sort_naturally() {
    let mut ids = vec!["CC8.10", "A.5.2", "CC8.9", "A.5.10", "CC8.1", "A.5.1", "B"];
    ids.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(ids, ["A.5.1", "A.5.2", "A.5.10", "B", "CC8.1", "CC8.9", "CC8.10"]);
}
