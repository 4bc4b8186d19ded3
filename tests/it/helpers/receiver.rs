//! A loopback webhook receiver for the digests' tests: answers each request as its script
//! says and keeps what it got.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A path token standing in for the secret part of a webhook URL.
pub const URL_TOKEN: &str = "T0KEN-in-the-url-7f3a";

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// 429 with `Retry-After: n`.
    TooMany(u64),
    /// Reads the request and never answers.
    Hang,
    /// Closes the connection without answering.
    Close,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A loopback webhook receiver: answers request `i` with `script[i]` (the last one repeats).
pub struct Receiver {
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Got>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/{URL_TOKEN}", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let answer = {
                        let mut all = seen.lock().unwrap();
                        all.push(request);
                        script[(all.len() - 1).min(script.len() - 1)]
                    };
                    let reply = match answer {
                        Answer::Status(s) => format!(
                            "HTTP/1.1 {s} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        ),
                        Answer::TooMany(n) => format!(
                            "HTTP/1.1 429 Too Many\r\nRetry-After: {n}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        Answer::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Answer::Close => return,
                    };
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver { url, got, task }
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Got> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let headers: Vec<(String, String)> = head
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            let body = buf[end + 4..end + 4 + length].to_vec();
            return Some(Got { headers, body });
        }
    }
}
