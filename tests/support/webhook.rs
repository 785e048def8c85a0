//! A real HTTP/1.1 server on `127.0.0.1:0` standing in for a payment auth
//! webhook (`[payments.webhook] url`). Tests script its answers (HTTP
//! status, body, optional delay) and read back every request it received
//! (method, path, headers as sent on the wire, body).
//!
//! It runs on its own thread with its own tokio runtime, so it does not
//! depend on the test's runtime; dropping the [`Webhook`] stops it (the
//! runtime and every connection task go with it).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status line code.
    pub status: u16,
    /// Body (sent with `Content-Type: application/json`).
    pub body: String,
    /// Wait this long before answering (timeouts).
    pub delay: Duration,
}

impl Answer {
    /// `200` with `body`.
    pub fn ok(body: impl Into<String>) -> Answer {
        Answer {
            status: 200,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with `body`.
    pub fn http(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, …
    pub method: String,
    /// Request target (path and query).
    pub path: String,
    /// Header lines in wire order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (chunked bodies decoded).
    pub body: Vec<u8>,
}

impl Recorded {
    /// Every value of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of header `name` (panics when it appears more than once).
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.header_all(name);
        assert!(
            all.len() <= 1,
            "header {name} sent {} times: {:?}",
            all.len(),
            self.headers
        );
        all.first().copied()
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "webhook body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

struct Script {
    default: Answer,
    queue: VecDeque<Answer>,
    requests: Vec<Recorded>,
}

/// The running server.
pub struct Webhook {
    /// `http://127.0.0.1:PORT/authorize`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    script: Arc<Mutex<Script>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Starts a server whose default answer is `200 {"status":200}`.
    pub fn start() -> Webhook {
        Webhook::with(Answer::ok(r#"{"status":200}"#))
    }

    /// Starts a server whose default answer is `default`.
    pub fn with(default: Answer) -> Webhook {
        let script = Arc::new(Mutex::new(Script {
            default,
            queue: VecDeque::new(),
            requests: Vec::new(),
        }));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind webhook listener");
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s = script.clone();
        let thread = std::thread::Builder::new()
            .name(format!("webhook-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                continue;
                            };
                            let s = s.clone();
                            tokio::spawn(async move {
                                let _ = serve_connection(stream, s).await;
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime cancels every connection task.
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .unwrap();
        Webhook {
            url: format!("http://127.0.0.1:{port}/authorize"),
            port,
            script,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Sets the answer given when no one-shot answer is queued.
    pub fn answer(&self, a: Answer) {
        self.script.lock().unwrap().default = a;
    }

    /// Sets the default answer to `200` with `body`.
    pub fn answer_json(&self, body: &str) {
        self.answer(Answer::ok(body));
    }

    /// Queues a one-shot answer (used before the default).
    pub fn then(&self, a: Answer) {
        self.script.lock().unwrap().queue.push_back(a);
    }

    /// How many requests it received.
    pub fn calls(&self) -> usize {
        self.script.lock().unwrap().requests.len()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().requests.clone()
    }

    /// The last request (panics when there was none).
    pub fn last(&self) -> Recorded {
        self.requests().pop().expect("the webhook was never called")
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Serves requests on one connection (keep-alive) until the peer closes it.
async fn serve_connection(stream: TcpStream, script: Arc<Mutex<Script>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let request_line = line.trim_end().to_string();
        if request_line.is_empty() {
            continue;
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end_matches(['\r', '\n']);
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.to_string(), v.trim().to_string()));
            }
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).await?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                let mut chunk = vec![0u8; n + 2];
                reader.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body = vec![0u8; len];
            reader.read_exact(&mut body).await?;
        }
        let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let answer = {
            let mut s = script.lock().unwrap();
            s.requests.push(Recorded {
                method,
                path,
                headers,
                body,
            });
            s.queue.pop_front().unwrap_or_else(|| s.default.clone())
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
            answer.status,
            reason(answer.status),
            answer.body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(answer.body.as_bytes()).await?;
        write.flush().await?;
        if close {
            return Ok(());
        }
    }
}
