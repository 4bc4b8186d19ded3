//! A real SMTP server for the email tests: `tests/smtp/sink.py` (aiosmtpd, installed into
//! `tests/.venv` by `scripts/test`) on a free loopback port, one per test, answering as each
//! message's first recipient says (`accept`, `refuse@` 550, `defer@`/`defer<n>@` 451, `hang@`
//! no answer; see the script), and keeping what it got.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::AsyncBufReadExt;

/// One message (or refused recipient) the sink got.
#[derive(Debug, Clone)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The message as received (empty for a refused recipient).
    pub data: Vec<u8>,
    /// What the sink answered: `250`, `451`, `550` or `hang`.
    pub reply: String,
}

impl Mail {
    /// The message, parsed by a standard MIME parser (`mailparse`).
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("a MIME message")
    }

    /// The value of header `name` (decoded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        use mailparse::MailHeaderMap as _;
        self.parsed().headers.get_first_value(name)
    }
}

/// The running sink; stopped on drop.
pub struct SmtpSink {
    pub port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink on a free port and waits (20 s at most) for its `ready` line.
    pub async fn start() -> SmtpSink {
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/.venv/bin/python");
        assert!(
            std::path::Path::new(python).exists(),
            "{python} is missing: run the tests with scripts/test, which installs the SMTP sink"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("mail.jsonl");
        let port = super::free_port();
        let mut child = Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py"))
            .args(["--port", &port.to_string(), "--log"])
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = tokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref l))) if l == "ready"),
            "the SMTP sink did not start: {ready:?}"
        );
        SmtpSink {
            port,
            log,
            child,
            _dir: dir,
        }
    }

    /// The handler's settings for this sink: `SMTP_HOST`, `SMTP_PORT`, `SMTP_FROM` (plain
    /// SMTP to loopback needs `ALLOW_INSECURE_WEBHOOKS=true`, and `SMTP_HOST` needs
    /// `PUBLIC_BASE_URL`).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("SMTP_HOST", "127.0.0.1".to_string()),
            ("SMTP_PORT", self.port.to_string()),
            (
                "SMTP_FROM",
                "Call analytics <reports@contoso.example>".into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Everything got so far, in order.
    pub fn got(&self) -> Vec<Mail> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Mail {
                    mail_from: s("mail_from"),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    data: base64::engine::general_purpose::STANDARD
                        .decode(s("data"))
                        .unwrap(),
                    reply: s("reply"),
                }
            })
            .collect()
    }

    /// [`SmtpSink::got`] once it holds `n` entries (waiting 10 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.got();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
