//! A small HTTP/1.1 server on a real 127.0.0.1 socket that replays GitHub API answers, for
//! tests of code that talks to GitHub (there is no network here).
//!
//! Answers are keyed by method and request target (path and query, exactly as sent). Each key
//! holds a queue: every request takes the next answer, and the last one repeats — so "a 403
//! rate limit, then success" is a queue of two. A request with no answer gets a 501 whose body
//! names it (5xx that the client does not retry). Every request is recorded (method, target,
//! headers with lower-case names, body) for assertions. One request per connection
//! (`connection: close`), which keeps the parser to request line, headers and a
//! `content-length` or chunked body.
//!
//! Used by `crates/tollgate-evidence/tests/github_replay.rs` and by the end-to-end tests in
//! `tests/e2e/` (included there with `#[path]`).

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (content-type and content-length are set from the body).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> Answer {
        Answer { status, headers: Vec::new(), body: body.into().into_bytes() }
    }

    /// GitHub's error shape: `{"message": …, "documentation_url": …}`.
    pub fn error(status: u16, message: &str) -> Answer {
        Answer::json(
            status,
            serde_json::json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": status.to_string(),
            })
            .to_string(),
        )
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    answers: BTreeMap<(String, String), Vec<Answer>>,
    requests: Vec<Recorded>,
}

/// The running server; it stops when the test process ends.
pub struct Replay {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Replay {
    /// Binds 127.0.0.1 on a free port and serves in a background thread.
    pub fn start() -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Replay { url, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues answers for `method target` (the last one repeats).
    pub fn on(&self, method: &str, target: &str, answers: Vec<Answer>) -> &Replay {
        assert!(!answers.is_empty(), "{method} {target}: no answers");
        self.state.lock().unwrap().answers.insert((method.to_owned(), target.to_owned()), answers);
        self
    }

    /// One JSON answer with status 200 for `GET target`.
    pub fn get(&self, target: &str, body: impl Into<String>) -> &Replay {
        self.on("GET", target, vec![Answer::json(200, body)])
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests that had no answer queued.
    pub fn unanswered(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| !state.answers.contains_key(&(r.method.clone(), r.target.clone())))
            .map(|r| format!("{} {}", r.method, r.target))
            .collect()
    }
}

/// A fixture body from `dir`, with `{{name}}` placeholders replaced.
pub fn fixture(dir: &Path, file: &str, vars: &[(&str, &str)]) -> String {
    let path = dir.join(file);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (name, value) in vars {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(!text.contains("{{"), "{}: unreplaced placeholder in {text}", path.display());
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|e| panic!("{}: not JSON after substitution: {e}", path.display()));
    text
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Ok(request) = read_request(&stream) else { return };
    let answer = {
        let mut state = state.lock().unwrap();
        let key = (request.method.clone(), request.target.clone());
        state.requests.push(request);
        match state.answers.get_mut(&key) {
            Some(queue) if queue.len() > 1 => queue.remove(0),
            Some(queue) => queue[0].clone(),
            None => Answer::error(501, &format!("replay: no answer for {} {}", key.0, key.1)),
        }
    };
    let mut out = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    out.push_str("content-type: application/json; charset=utf-8\r\n");
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n", answer.body.len()));
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&answer.body);
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> std::io::Result<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2]; // data and CRLF
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Recorded { method, target, headers, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
