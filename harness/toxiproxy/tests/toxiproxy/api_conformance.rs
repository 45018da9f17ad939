//! Raw HTTP conformance: every endpoint's status, content type and exact JSON body, as in the
//! Toxiproxy 2.12 transcript (/work/shared/reference), minus its "Logger" quirk.

use reqwest::Method;
use serde_json::{json, Value};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (u16, String, String) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        (status, ct, res.text().await.expect("body"))
    }

    /// Asserts status and exact body text.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        status: u16,
        want: &str,
    ) {
        let (s, _, b) = self.call(method.clone(), path, body).await;
        assert_eq!((s, b.as_str()), (status, want), "{method} {path} {body:?}");
    }

    async fn json(&self, method: Method, path: &str, body: Option<&str>, status: u16) -> Value {
        let (s, ct, b) = self.call(method.clone(), path, body).await;
        assert_eq!(s, status, "{method} {path}: {b}");
        assert!(
            ct.starts_with("application/json"),
            "{method} {path}: content type {ct}"
        );
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {b}"))
    }
}

async fn setup() -> (
    bc_toxiproxy::server::ServerHandle,
    Api,
    crate::common::Upstream,
) {
    let (s, _) = crate::common::server().await;
    let api = Api {
        base: s.url(),
        http: reqwest::Client::new(),
    };
    (s, api, crate::common::echo().await)
}

fn err(msg: &str, status: u16) -> String {
    format!(r#"{{"error":"{msg}","status":{status}}}"#)
}

#[tokio::test]
async fn version_answers_like_toxiproxy() {
    let (_s, api, _up) = setup().await;
    let (s, ct, b) = api.call(Method::GET, "/version", None).await;
    assert_eq!(
        (s, ct.as_str(), b.as_str()),
        (
            200,
            "application/json;charset=utf-8",
            "{\"version\": \"2.12.0\"}\n"
        )
    );
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn proxy_endpoints_match_the_transcript() {
    let (_s, api, up) = setup().await;
    let body = format!(
        r#"{{"name":"p1","listen":"127.0.0.1:0","upstream":"{}"}}"#,
        up.addr
    );
    let (status, _, text) = api.call(Method::POST, "/proxies", Some(&body)).await;
    assert_eq!(status, 201);
    let p1: Value = serde_json::from_str(&text).expect("json");
    let listen = p1["listen"].as_str().unwrap().to_string();
    assert!(!listen.ends_with(":0"));
    let want = format!(
        r#"{{"name":"p1","listen":"{listen}","upstream":"{}","enabled":true,"toxics":[]}}"#,
        up.addr
    );
    assert_eq!(text, want);
    api.expect(Method::GET, "/proxies/p1", None, 200, &want)
        .await;
    api.expect(
        Method::POST,
        "/proxies",
        Some(&body),
        409,
        &err("proxy already exists", 409),
    )
    .await;

    let dis = format!(
        r#"{{"name":"pdis","listen":"127.0.0.1:0","upstream":"{}","enabled":false}}"#,
        up.addr
    );
    let want_dis = format!(
        r#"{{"name":"pdis","listen":"127.0.0.1:0","upstream":"{}","enabled":false,"toxics":[]}}"#,
        up.addr
    );
    api.expect(Method::POST, "/proxies", Some(&dis), 201, &want_dis)
        .await;
    api.expect(
        Method::GET,
        "/proxies",
        None,
        200,
        &format!(r#"{{"p1":{want},"pdis":{want_dis}}}"#),
    )
    .await;

    let clash = format!(
        r#"{{"name":"p3","listen":"{listen}","upstream":"{}"}}"#,
        up.addr
    );
    let msg = format!("listen tcp {listen}: bind: address already in use");
    api.expect(Method::POST, "/proxies", Some(&clash), 500, &err(&msg, 500))
        .await;
    api.expect(
        Method::POST,
        "/proxies",
        Some(r#"{"listen":"127.0.0.1:0","upstream":"x:1"}"#),
        400,
        &err("missing required field: name", 400),
    )
    .await;
    api.expect(
        Method::POST,
        "/proxies",
        Some(r#"{"name":"nu","listen":"127.0.0.1:0"}"#),
        400,
        &err("missing required field: upstream", 400),
    )
    .await;
    api.expect(
        Method::GET,
        "/proxies/missing",
        None,
        404,
        &err("proxy not found", 404),
    )
    .await;
    let (s, _, b) = api.call(Method::POST, "/proxies", Some("{not json")).await;
    assert_eq!(s, 400);
    assert!(
        b.starts_with(r#"{"error":"bad request body: "#) && b.ends_with(r#","status":400}"#),
        "{b}"
    );

    // enabled:false through POST and PATCH, and back.
    let off = api
        .json(
            Method::POST,
            "/proxies/p1",
            Some(r#"{"enabled":false}"#),
            200,
        )
        .await;
    assert_eq!(off["enabled"], json!(false));
    assert_eq!(off["listen"], json!(listen));
    let on = api
        .json(
            Method::PATCH,
            "/proxies/p1",
            Some(r#"{"enabled":true}"#),
            200,
        )
        .await;
    assert_eq!(on["enabled"], json!(true));
    assert_eq!(
        on["listen"],
        json!(listen),
        "re-enabling rebinds the same address"
    );
    let (s, _, _) = api
        .call(Method::PATCH, "/proxies/p1", Some("{not json"))
        .await;
    assert_eq!(s, 400);
    api.expect(
        Method::PATCH,
        "/proxies/missing",
        Some("{}"),
        404,
        &err("proxy not found", 404),
    )
    .await;

    api.expect(Method::DELETE, "/proxies/pdis", None, 204, "")
        .await;
    api.expect(
        Method::DELETE,
        "/proxies/pdis",
        None,
        404,
        &err("proxy not found", 404),
    )
    .await;
    api.expect(
        Method::GET,
        "/nonexistent",
        None,
        404,
        "404 page not found\n",
    )
    .await;
    api.expect(Method::PUT, "/proxies", None, 405, "").await;
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn toxic_endpoints_match_the_transcript() {
    let (_s, api, up) = setup().await;
    let body = format!(
        r#"{{"name":"p1","listen":"127.0.0.1:0","upstream":"{}"}}"#,
        up.addr
    );
    api.json(Method::POST, "/proxies", Some(&body), 201).await;
    let t = "/proxies/p1/toxics";
    let cases = [
        (
            r#"{"type":"latency","attributes":{"latency":300}}"#,
            r#"{"attributes":{"latency":300,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#,
        ),
        (
            r#"{"type":"timeout","stream":"upstream","toxicity":0.5,"attributes":{"timeout":0}}"#,
            r#"{"attributes":{"timeout":0},"name":"timeout_upstream","type":"timeout","stream":"upstream","toxicity":0.5}"#,
        ),
        (
            r#"{"name":"lim","type":"limit_data","attributes":{"bytes":4}}"#,
            r#"{"attributes":{"bytes":4},"name":"lim","type":"limit_data","stream":"downstream","toxicity":1}"#,
        ),
        (
            r#"{"type":"bandwidth","attributes":{"rate":20}}"#,
            r#"{"attributes":{"rate":20},"name":"bandwidth_downstream","type":"bandwidth","stream":"downstream","toxicity":1}"#,
        ),
        (
            r#"{"type":"reset_peer","attributes":{"timeout":0}}"#,
            r#"{"attributes":{"timeout":0},"name":"reset_peer_downstream","type":"reset_peer","stream":"downstream","toxicity":1}"#,
        ),
        (
            r#"{"type":"slow_close","attributes":{"delay":10}}"#,
            r#"{"attributes":{"delay":10},"name":"slow_close_downstream","type":"slow_close","stream":"downstream","toxicity":1}"#,
        ),
        (
            r#"{"type":"slicer","attributes":{"average_size":1}}"#,
            r#"{"attributes":{"average_size":1,"size_variation":0,"delay":0},"name":"slicer_downstream","type":"slicer","stream":"downstream","toxicity":1}"#,
        ),
    ];
    for (req, want) in cases {
        api.expect(Method::POST, t, Some(req), 200, want).await;
    }
    api.expect(
        Method::POST,
        t,
        Some(cases[0].0),
        409,
        &err("toxic already exists", 409),
    )
    .await;
    // Listing order: the upstream chain, then the downstream chain, each in insertion order.
    let list: Vec<&str> = [1, 0, 2, 3, 4, 5, 6].iter().map(|&i| cases[i].1).collect();
    api.expect(Method::GET, t, None, 200, &format!("[{}]", list.join(",")))
        .await;
    api.expect(
        Method::GET,
        "/proxies/p1/toxics/latency_downstream",
        None,
        200,
        cases[0].1,
    )
    .await;
    api.expect(
        Method::GET,
        "/proxies/p1/toxics/nope",
        None,
        404,
        &err("toxic not found", 404),
    )
    .await;
    api.expect(
        Method::PATCH,
        "/proxies/p1/toxics/latency_downstream",
        Some(r#"{"attributes":{"latency":100}}"#),
        200,
        r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#,
    )
    .await;
    api.expect(
        Method::POST,
        "/proxies/p1/toxics/latency_downstream",
        Some(r#"{"toxicity":0.25}"#),
        200,
        r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":0.25}"#,
    )
    .await;
    api.expect(
        Method::DELETE,
        "/proxies/p1/toxics/latency_downstream",
        None,
        204,
        "",
    )
    .await;
    api.expect(
        Method::DELETE,
        "/proxies/p1/toxics/latency_downstream",
        None,
        404,
        &err("toxic not found", 404),
    )
    .await;
    api.expect(
        Method::DELETE,
        "/proxies/missing/toxics/x",
        None,
        404,
        &err("proxy not found", 404),
    )
    .await;
    api.expect(
        Method::POST,
        "/proxies/missing/toxics",
        Some(r#"{"type":"latency"}"#),
        404,
        &err("proxy not found", 404),
    )
    .await;
    api.expect(
        Method::GET,
        "/proxies/missing/toxics",
        None,
        404,
        &err("proxy not found", 404),
    )
    .await;
    api.expect(
        Method::POST,
        t,
        Some(r#"{"type":"no_such_toxic","attributes":{}}"#),
        400,
        &err("invalid toxic type", 400),
    )
    .await;
    api.expect(
        Method::POST,
        t,
        Some(r#"{"attributes":{}}"#),
        400,
        &err("invalid toxic type", 400),
    )
    .await;
    api.expect(
        Method::POST,
        t,
        Some(r#"{"type":"latency","stream":"sideways","attributes":{}}"#),
        400,
        &err(
            "stream was invalid, can be either upstream or downstream",
            400,
        ),
    )
    .await;
    for bad in [
        "{not json",
        r#"{"type":"latency","attributes":{"latency":"slow"}}"#,
        r#"{"type":"latency","attributes":{"latency":1.5}}"#,
    ] {
        let (s, _, b) = api.call(Method::POST, t, Some(bad)).await;
        assert_eq!(s, 400, "{bad}");
        assert!(b.starts_with(r#"{"error":"bad request body: "#), "{b}");
    }
    let (s, _, _) = api
        .call(Method::POST, t, Some(r#"{"type":"noop","toxicity":2}"#))
        .await;
    assert_eq!(s, 400, "toxicity above 1 is refused");
    // Every known type with defaults.
    for ty in [
        "noop",
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
    ] {
        let v = api
            .json(
                Method::POST,
                t,
                Some(&format!(
                    r#"{{"name":"d-{ty}","type":"{ty}","stream":"upstream"}}"#
                )),
                200,
            )
            .await;
        assert_eq!(v["type"], json!(ty));
        assert!(v["attributes"].is_object());
    }
}

#[tokio::test]
async fn reset_and_populate_match_the_transcript() {
    let (_s, api, up) = setup().await;
    let (a, b) = (free_port(), free_port());
    let pop = format!(
        r#"[{{"name":"p1","listen":"{a}","upstream":"{u}"}},{{"name":"p2","listen":"{b}","upstream":"{u}"}}]"#,
        u = up.addr
    );
    let want = format!(
        r#"{{"proxies":[{{"name":"p1","listen":"{a}","upstream":"{u}","enabled":true,"toxics":[]}},{{"name":"p2","listen":"{b}","upstream":"{u}","enabled":true,"toxics":[]}}]}}"#,
        u = up.addr
    );
    api.expect(Method::POST, "/populate", Some(&pop), 201, &want)
        .await;
    api.json(
        Method::POST,
        "/proxies/p1/toxics",
        Some(r#"{"type":"latency"}"#),
        200,
    )
    .await;
    api.json(
        Method::POST,
        "/proxies/p1",
        Some(r#"{"enabled":false}"#),
        200,
    )
    .await;
    // Unchanged proxies are kept as they are (their toxics too).
    let again = api.json(Method::POST, "/populate", Some(&pop), 201).await;
    assert_eq!(
        again["proxies"][0]["toxics"].as_array().map(|a| a.len()),
        Some(1)
    );
    api.expect(Method::POST, "/reset", None, 204, "").await;
    let p1 = api.json(Method::GET, "/proxies/p1", None, 200).await;
    assert_eq!(
        (p1["enabled"].clone(), p1["toxics"].clone()),
        (json!(true), json!([]))
    );
    api.expect(Method::POST, "/populate", Some(&pop), 201, &want)
        .await;

    api.expect(
        Method::POST,
        "/populate",
        Some("[]"),
        201,
        r#"{"proxies":null}"#,
    )
    .await;
    let (s, _, body) = api.call(Method::POST, "/populate", Some("{not json")).await;
    assert_eq!(s, 400);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (v["status"].clone(), v["proxies"].clone()),
        (json!(400), Value::Null)
    );
    let (s, _, _) = api
        .call(Method::POST, "/populate", Some(r#"{"proxies":[]}"#))
        .await;
    assert_eq!(s, 400);
    let missing = format!(
        r#"[{{"name":"p4","upstream":"{u}"}},{{"listen":"127.0.0.1:0","upstream":"{u}"}}]"#,
        u = up.addr
    );
    api.expect(
        Method::POST,
        "/populate",
        Some(&missing),
        400,
        r#"{"error":"missing required field: name at proxy 2","status":400,"proxies":null}"#,
    )
    .await;
    let clash = format!(
        r#"[{{"name":"p5","listen":"127.0.0.1:0","upstream":"{u}"}},{{"name":"p6","listen":"{a}","upstream":"{u}"}}]"#,
        u = up.addr
    );
    let v = api.json(Method::POST, "/populate", Some(&clash), 500).await;
    assert_eq!(
        v["error"],
        json!(format!("listen tcp {a}: bind: address already in use"))
    );
    assert_eq!(
        v["proxies"].as_array().map(|a| a.len()),
        Some(1),
        "the proxies made before the failure"
    );
    assert_eq!(v["proxies"][0]["name"], json!("p5"));
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}
