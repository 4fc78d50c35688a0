//! `tollgate contracts verify-pacts` and `can-i-deploy` against a real HTTP provider.
//!
//! The provider is a fake written for these tests: a `std::net::TcpListener` thread serving a
//! few fixed JSON endpoints (bounded in time, stopped on drop). The pact files are hand-written
//! in the exact format pact-js emits (V3 and V4) and verified by the Pact reference crates.

use crate::support::{run, text, tollgate};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The fake provider: `GET /users/1` (200), `GET /orders/7` (200, `total` is a string),
/// anything else 404. Serves until dropped, or for 120 s at most.
struct FakeProvider {
    url: String,
    stop: Arc<AtomicBool>,
}

impl FakeProvider {
    fn start() -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        serve(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeProvider { url, stop }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One request, one response, then the connection closes.
fn serve(mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET", "/users/1") => ("200 OK", r#"{"id":1,"name":"Ada","email":"ada@example.com"}"#),
        ("GET", "/orders/7") => ("200 OK", r#"{"id":"7","total":"12.50"}"#),
        _ => ("404 Not Found", r#"{"error":"not found"}"#),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// A V3 pact as pact-js (`PactV3`) writes it: one interaction the provider honours.
const WEB_APP_V3: &str = r#"{
  "consumer": {
    "name": "web-app"
  },
  "interactions": [
    {
      "description": "a request for user 1",
      "providerStates": [
        {
          "name": "user 1 exists"
        }
      ],
      "request": {
        "headers": {
          "Accept": "application/json"
        },
        "method": "GET",
        "path": "/users/1"
      },
      "response": {
        "body": {
          "id": 1,
          "name": "Ada"
        },
        "headers": {
          "Content-Type": "application/json"
        },
        "matchingRules": {
          "body": {
            "$.id": {
              "combine": "AND",
              "matchers": [
                {
                  "match": "integer"
                }
              ]
            },
            "$.name": {
              "combine": "AND",
              "matchers": [
                {
                  "match": "type"
                }
              ]
            }
          }
        },
        "status": 200
      }
    }
  ],
  "metadata": {
    "pact-js": {
      "version": "12.1.0"
    },
    "pactRust": {
      "ffi": "0.4.9",
      "models": "1.1.11"
    },
    "pactSpecification": {
      "version": "3.0.0"
    }
  },
  "provider": {
    "name": "user-service"
  }
}
"#;

/// A V4 pact as pact-js (`PactV4`) writes it: one interaction that passes, one whose body
/// field has the wrong type (`total` is a string) and one answered with 404.
const BILLING_V4: &str = r#"{
  "consumer": {
    "name": "billing"
  },
  "interactions": [
    {
      "description": "a request for user 1",
      "pending": false,
      "request": {
        "method": "GET",
        "path": "/users/1"
      },
      "response": {
        "body": {
          "content": {
            "id": 1
          },
          "contentType": "application/json",
          "encoded": false
        },
        "headers": {
          "Content-Type": [
            "application/json"
          ]
        },
        "status": 200
      },
      "type": "Synchronous/HTTP"
    },
    {
      "description": "a request for order 7",
      "pending": false,
      "providerStates": [
        {
          "name": "order 7 exists"
        }
      ],
      "request": {
        "method": "GET",
        "path": "/orders/7"
      },
      "response": {
        "body": {
          "content": {
            "id": "7",
            "total": 12.5
          },
          "contentType": "application/json",
          "encoded": false
        },
        "headers": {
          "Content-Type": [
            "application/json"
          ]
        },
        "matchingRules": {
          "body": {
            "$.total": {
              "combine": "AND",
              "matchers": [
                {
                  "match": "number"
                }
              ]
            }
          }
        },
        "status": 200
      },
      "type": "Synchronous/HTTP"
    },
    {
      "description": "a request for user 2",
      "pending": false,
      "request": {
        "method": "GET",
        "path": "/users/2"
      },
      "response": {
        "status": 200
      },
      "type": "Synchronous/HTTP"
    }
  ],
  "metadata": {
    "pact-js": {
      "version": "13.1.0"
    },
    "pactRust": {
      "ffi": "0.4.22",
      "models": "1.2.3"
    },
    "pactSpecification": {
      "version": "4.0"
    }
  },
  "provider": {
    "name": "user-service"
  }
}
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn tg(dir: &Path, args: &[&str]) -> Output {
    run(tollgate(dir).arg("contracts").args(args))
}

fn findings(output: &Output) -> Vec<Value> {
    let report: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)));
    let report = &report["reports"][0];
    assert_eq!(report["gate"], "contracts-pact", "{report:#}");
    report["findings"].as_array().unwrap().clone()
}

#[test]
fn verify_pacts_records_results_and_answers_can_i_deploy() {
    let provider = FakeProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("pacts"), "web-app-user-service.json", WEB_APP_V3);
    write(&root.join("pacts"), "billing-user-service.json", BILLING_V4);
    let results = root.join("results");
    let results_arg = results.to_str().unwrap();

    let output = tg(
        root,
        &[
            "verify-pacts",
            "--provider-url",
            &provider.url,
            "pacts",
            "--provider-version",
            "2.0.0",
            "--results-dir",
            results_arg,
            "--report-format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let findings = findings(&output);
    let failed: Vec<&Value> =
        findings.iter().filter(|f| f["rule"] == "pact/interaction-failed").collect();
    let passed: Vec<&Value> =
        findings.iter().filter(|f| f["rule"] == "pact/interaction-passed").collect();
    assert_eq!(failed.len(), 2, "{findings:#?}");
    assert_eq!(passed.len(), 2, "{findings:#?}");

    // Wrong body field type: path, expected and actual values.
    let order = failed
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("a request for order 7"))
        .unwrap_or_else(|| panic!("{findings:#?}"));
    let message = order["message"].as_str().unwrap();
    assert!(message.contains("body $.total"), "{message}");
    assert!(message.contains("expected 12.5 but was \"12.50\""), "{message}");
    assert!(message.contains("Expected '12.50' (String) to be a number"), "{message}");
    assert_eq!(order["severity"], "error");
    assert_eq!(order["location"]["file"], "pacts/billing-user-service.json");
    assert_eq!(order["location"]["pointer"], "/interactions/1");
    assert!(order["subject"].as_str().unwrap().starts_with("billing sha256-"), "{order:#}");

    // Wrong status.
    let user2 = failed
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("a request for user 2"))
        .unwrap_or_else(|| panic!("{findings:#?}"));
    let message = user2["message"].as_str().unwrap();
    assert!(message.contains("status: expected 200 but was 404"), "{message}");

    // Results recorded per consumer, with provider version, outcome and timestamp.
    let recorded: Vec<Value> = std::fs::read_dir(results.join("user-service/2.0.0"))
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(recorded.len(), 2);
    for record in &recorded {
        assert_eq!(record["providerVersion"], "2.0.0");
        assert_eq!(record["provider"], "user-service");
        assert_eq!(record["verifiedAt"], "2023-11-14T22:13:20Z");
        let expected = if record["consumer"] == "billing" { "failed" } else { "passed" };
        assert_eq!(record["outcome"], expected, "{record:#}");
        if expected == "failed" {
            let mismatch = &record["result"]["interactions"][1]["mismatches"][0];
            assert_eq!(mismatch["path"], "$.total", "{record:#}");
            assert_eq!(mismatch["expected"], "12.5");
            assert_eq!(mismatch["actual"], "\"12.50\"");
        }
    }

    // can-i-deploy: billing's pact is broken by 2.0.0, web-app's is honoured.
    let output = tg(
        root,
        &[
            "can-i-deploy",
            "--provider",
            "user-service",
            "--provider-version",
            "2.0.0",
            "--results-dir",
            results_arg,
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("web-app sha256-"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("web-app ") && l.contains(": compatible")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("billing ") && l.contains("NOT compatible")),
        "{stdout}"
    );
    assert!(
        stdout.contains("no: user-service 2.0.0 breaks or was not verified with: billing"),
        "{stdout}"
    );

    // Only web-app's pact, verified against 2.1.0: passes, exit 0.
    write(&root.join("ok"), "web-app-user-service.json", WEB_APP_V3);
    let output = tg(
        root,
        &[
            "verify-pacts",
            "--provider-url",
            &provider.url,
            "ok",
            "--provider",
            "user-service",
            "--provider-version",
            "2.1.0",
            "--results-dir",
            results_arg,
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // billing was never verified against 2.1.0: not deployable.
    let args = ["can-i-deploy", "--provider", "user-service", "--provider-version", "2.1.0"];
    let output = tg(root, &[&args[..], &["--results-dir", results_arg]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("billing ") && l.contains("NOT compatible")),
        "{stdout}"
    );

    // With billing's results for 2.1.0 removed from consideration (a fresh results dir holding
    // only web-app): deployable.
    let only = root.join("only-web-app");
    let output = tg(
        root,
        &[
            "verify-pacts",
            "--provider-url",
            &provider.url,
            "ok",
            "--provider-version",
            "2.1.0",
            "--results-dir",
            only.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = tg(root, &[&args[..], &["--results-dir", only.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("yes: user-service 2.1.0"));
}

#[test]
fn verify_pacts_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let output = tg(root, &["verify-pacts", "--provider-url", "http://127.0.0.1:9", "empty"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no pact files"), "{}", text(&output));
    write(&root.join("bad"), "x.json", "{\"not\": \"a pact\"");
    let output = tg(root, &["verify-pacts", "--provider-url", "http://127.0.0.1:9", "bad"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = tg(root, &["verify-pacts", "pacts"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = tg(
        root,
        &["can-i-deploy", "--provider", "p", "--provider-version", "1", "--results-dir", "none"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
