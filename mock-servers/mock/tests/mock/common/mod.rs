//! Test helpers: spawn real bc-mock processes, talk the line protocol, call the control API,
//! and follow the event stream. Everything is bounded by short timeouts and killed on drop.

use bc_protocol::{decode_line, encode_line, Heartbeat, Message, ObservedEvent, StreamLine};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub const T: Duration = Duration::from_secs(5);

pub fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config/default.yaml")
}

/// A running bc-mock process (killed on drop).
pub struct Mock {
    pub child: Child,
    pub listen: String,
    pub control: String,
    pub sync: Option<String>,
    pub ready: String,
}

impl Mock {
    /// Spawns `bc-mock <kind> --site <site> --role <role> <extra>` and waits for the ready line.
    pub async fn spawn(kind: &str, site: &str, role: &str, extra: &[&str]) -> Mock {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bc-mock"));
        cmd.arg(kind)
            .args(["--site", site, "--role", role])
            .arg("--config")
            .arg(config_path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn bc-mock");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(T, lines.next_line())
            .await
            .expect("ready line in time")
            .expect("read stdout")
            .expect("a ready line");
        let field = |k: &str| {
            ready
                .split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
        };
        Mock {
            listen: field("listen").expect("listen"),
            control: format!("http://{}", field("control").expect("control")),
            sync: field("sync"),
            ready: ready.clone(),
            child,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.listen).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        http_post(&format!("{}{path}", self.control), body).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = http()
            .get(format!("{}{path}", self.control))
            .send()
            .await
            .expect("get");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn events(&self, from: u64) -> Events {
        Events::open(&self.control, &format!("from={from}")).await
    }

    /// `GET /events?{query}`.
    pub async fn events_with(&self, query: &str) -> Events {
        Events::open(&self.control, query).await
    }

    /// Waits for the process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("process exits in time")
            .expect("wait")
            .code()
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(T)
        .no_proxy()
        .build()
        .expect("client")
}

pub async fn http_post(url: &str, body: Value) -> (u16, Value) {
    let r = http().post(url).json(&body).send().await.expect("post");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A protocol client.
pub struct Client {
    pub rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    pub wr: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (rd, wr) = s.into_split();
        Client {
            rd: BufReader::new(rd),
            wr,
        }
    }

    pub async fn send(&mut self, m: &Message) {
        self.wr
            .write_all(encode_line(m).as_bytes())
            .await
            .expect("write");
    }

    /// Next message, or None at EOF / reset.
    pub async fn recv(&mut self) -> Option<Message> {
        let mut line = String::new();
        match tokio::time::timeout(T, self.rd.read_line(&mut line)).await {
            Ok(Ok(0)) | Ok(Err(_)) => None,
            Ok(Ok(_)) => Some(decode_line(&line).expect("server sends valid lines")),
            Err(_) => panic!("no message within {T:?}"),
        }
    }

    /// Next message, which must exist.
    pub async fn next(&mut self) -> Message {
        self.recv().await.expect("a message, not EOF")
    }

    /// Asserts the link gets closed (EOF) soon, ignoring nothing: returns messages seen before EOF.
    pub async fn until_eof(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        while let Some(m) = self.recv().await {
            seen.push(m);
        }
        seen
    }

    /// True if the server closed the link (EOF or reset) within `d`.
    pub async fn closed_within(&mut self, d: Duration) -> bool {
        let mut b = [0u8; 1024];
        let end = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(end, self.rd.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    pub async fn register(&mut self, rid: i64, user: Option<(&str, &str)>) -> Message {
        self.send(&Message::RequestRegisterClient {
            reference_id: rid,
            client_name: "test".into(),
            protocol_version: 1,
            user_name: user.map(|u| u.0.to_string()),
            password: user.map(|u| u.1.to_string()),
        })
        .await;
        self.next().await
    }

    /// Register client + DN + agent login; returns the EventAgentLogin.
    pub async fn sip_login(&mut self, dn: &str, agent: &str) -> Message {
        assert!(matches!(
            self.register(1, None).await,
            Message::EventClientRegistered { .. }
        ));
        self.send(&Message::RequestRegisterAddress {
            reference_id: 2,
            this_dn: dn.into(),
        })
        .await;
        assert!(matches!(self.next().await, Message::EventRegistered { .. }));
        self.send(&Message::RequestAgentLogin {
            reference_id: 3,
            this_dn: dn.into(),
            agent_id: agent.into(),
        })
        .await;
        self.next().await
    }

    /// `sip_login`, then the agent made Ready (routed calls reach only a Ready agent).
    pub async fn sip_login_ready(&mut self, dn: &str, agent: &str) {
        assert!(matches!(
            self.sip_login(dn, agent).await,
            Message::EventAgentLogin { .. }
        ));
        self.send(&Message::RequestAgentReady {
            reference_id: 4,
            this_dn: dn.into(),
            agent_id: agent.into(),
        })
        .await;
        assert!(matches!(self.next().await, Message::EventAgentReady { .. }));
    }
}

/// A follower of `GET /events`.
pub struct Events {
    resp: reqwest::Response,
    buf: Vec<u8>,
    pub seen: Vec<ObservedEvent>,
    /// Heartbeats read so far (between events), in order.
    pub heartbeats: Vec<Heartbeat>,
}

impl Events {
    pub async fn open(control: &str, query: &str) -> Events {
        let resp = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{control}/events?{query}"))
            .send()
            .await
            .expect("events");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/x-ndjson"
        );
        Events {
            resp,
            buf: Vec::new(),
            seen: Vec::new(),
            heartbeats: Vec::new(),
        }
    }

    /// Next event, heartbeats kept aside (panics after the timeout).
    pub async fn next(&mut self) -> ObservedEvent {
        loop {
            match self.next_line().await {
                StreamLine::Event(ev) => return ev,
                StreamLine::Heartbeat(hb) => self.heartbeats.push(hb),
            }
        }
    }

    /// Next line, event or heartbeat (panics after the timeout).
    pub async fn next_line(&mut self) -> StreamLine {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let parsed = StreamLine::parse(&line).expect("event json");
                if let StreamLine::Event(ev) = &parsed {
                    self.seen.push(ev.clone());
                }
                return parsed;
            }
            let chunk = tokio::time::timeout(T, self.resp.chunk())
                .await
                .expect("event in time")
                .expect("stream")
                .expect("stream open");
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Waits for the first event whose JSON `kind` is `kind` and which satisfies `pred`.
    pub async fn wait(&mut self, kind: &str, pred: impl Fn(&Value) -> bool) -> ObservedEvent {
        loop {
            let ev = self.next().await;
            let v = serde_json::to_value(&ev).unwrap();
            if v["kind"] == kind && pred(&v) {
                return ev;
            }
        }
    }
}
