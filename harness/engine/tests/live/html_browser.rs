//! The HTML report in a real browser: headless Chromium renders a page made from recorded timelines
//! to a PNG and a PDF (kept in the test's output dir) and its DOM names every scenario.

use crate::html_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bc_engine::report::html;
use html_support::{invariants, journal, logged_in, result};

const BROWSERS: [&str; 4] = [
    "chromium",
    "chromium-headless-shell",
    "google-chrome",
    "chromium-browser",
];

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| BROWSERS.map(|b| dir.join(b)))
        .find(|p| p.is_file())
}

/// Runs the browser headless on `page` with `args`; its stdout. Sandboxing is off because CI
/// containers run as root; host resolution is off so any network request would fail visibly.
fn headless(browser: &Path, profile: &Path, page: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("browser starts");
    let t0 = Instant::now();
    while child.try_wait().expect("browser state").is_none() {
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{} did not finish within 120 s", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("browser output");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {:?}",
        browser.display(),
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn chromium_renders_screenshot_pdf_and_dom() {
    let Some(browser) = find_browser() else {
        eprintln!("\n*** SKIPPED: no chromium found (apt-get install chromium) ***\n");
        return;
    };
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, 2));
    let results = vec![
        result("kill-site-switchover", &["BC-4", "BC-5"], &checks),
        result("never-switches", &["BC-4"], &[logged_in("B", 10_000, 2)]),
        result("black-hole-dual-login", &["BC-6"], &invariants()),
    ];
    let ids: Vec<String> = results.iter().map(|r| r.info.id.clone()).collect();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html_browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("report.html");
    std::fs::write(&page, html::render(&journal(results)).unwrap()).unwrap();
    let (png, pdf, profile) = (
        out.join("report.png"),
        out.join("report.pdf"),
        out.join("profile"),
    );
    headless(
        &browser,
        &profile,
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2400".into(),
        ],
    );
    headless(
        &browser,
        &profile,
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let dom = headless(&browser, &profile, &page, &["--dump-dom".into()]);
    for id in &ids {
        assert!(
            dom.contains(&format!("data-scenario=\"{id}\"")),
            "{id} not in the rendered DOM"
        );
    }
    assert!(
        dom.contains("<svg") && dom.contains("class=\"missed\""),
        "the SVG is in the DOM"
    );
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(size(&png) > 10_000, "screenshot {} is empty", png.display());
    let head = std::fs::read(&pdf).unwrap_or_default();
    assert!(
        head.starts_with(b"%PDF") && size(&pdf) > 10_000,
        "PDF {} is not a PDF",
        pdf.display()
    );
    eprintln!(
        "rendered with {}: {} {} (kept)",
        browser.display(),
        png.display(),
        pdf.display()
    );
}
