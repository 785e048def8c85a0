//! A loopback HTTP JSON-RPC proxy in front of a node, for fault tests: it
//! passes requests through, delays them (a slow RPC), answers garbage, or
//! rewrites `eth_getBlockByNumber` results (adding or removing Arbitrum's
//! `l1BlockNumber`). It runs on its own thread and runtime, binds
//! 127.0.0.1:0 and stops when dropped.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Forward as is.
    Pass,
    /// Wait this long, then forward.
    Delay(Duration),
    /// Answer HTTP 200 with this body, whatever was asked.
    Garbage(String),
    /// Forward; set `l1BlockNumber` (hex quantity) in block results.
    SetL1BlockNumber(u64),
    /// Forward; remove `l1BlockNumber` from block results.
    StripL1BlockNumber,
}

/// The running proxy.
pub struct RpcProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<String>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RpcProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> RpcProxy {
        assert!(
            upstream.starts_with("http://127.0.0.1:"),
            "the proxy only forwards to loopback"
        );
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (m, r, up) = (mode.clone(), requests.clone(), upstream.to_string());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                let client = reqwest::Client::new();
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let (m, r, up, client) = (m.clone(), r.clone(), up.clone(), client.clone());
                            tokio::spawn(async move {
                                let _ = serve(stream, &m, &r, &up, &client).await;
                            });
                        }
                    }
                }
            });
        });
        let port = port_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        RpcProxy {
            url: format!("http://127.0.0.1:{port}"),
            mode,
            requests,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Switches what it does.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The JSON-RPC methods seen so far.
    pub fn methods(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap_or(0))
                .unwrap_or(0);
            let body_start = end + 4;
            while buf.len() < body_start + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(buf[body_start..body_start + len].to_vec());
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    mode: &Mutex<Mode>,
    seen: &Mutex<Vec<String>>,
    upstream: &str,
    client: &reqwest::Client,
) -> std::io::Result<()> {
    let body = read_request(&mut stream).await?;
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let method = request["method"].as_str().unwrap_or("").to_string();
    seen.lock().unwrap().push(method.clone());
    let mode = mode.lock().unwrap().clone();
    let (status, answer) = match &mode {
        Mode::Garbage(g) => (200, g.clone().into_bytes()),
        _ => {
            if let Mode::Delay(d) = &mode {
                tokio::time::sleep(*d).await;
            }
            match client
                .post(upstream)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
            {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let bytes = resp.bytes().await.unwrap_or_default().to_vec();
                    (status, rewrite(&mode, &method, bytes))
                }
                Err(_) => (502, b"upstream down".to_vec()),
            }
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        answer.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&answer).await?;
    stream.shutdown().await
}

fn rewrite(mode: &Mode, method: &str, bytes: Vec<u8>) -> Vec<u8> {
    if method != "eth_getBlockByNumber" {
        return bytes;
    }
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return bytes;
    };
    if let Some(block) = v.get_mut("result").and_then(|r| r.as_object_mut()) {
        match mode {
            Mode::SetL1BlockNumber(n) => {
                block.insert(
                    "l1BlockNumber".into(),
                    serde_json::Value::String(format!("{n:#x}")),
                );
            }
            Mode::StripL1BlockNumber => {
                block.remove("l1BlockNumber");
            }
            _ => {}
        }
    }
    serde_json::to_vec(&v).unwrap()
}
