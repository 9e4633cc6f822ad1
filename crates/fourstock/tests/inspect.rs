//! `fourstock inspect` on a replay that makes peppi panic: the panic is
//! contained and printed nowhere, while the error, with peppi's message,
//! is still reported for the file.

mod daemon;

use std::time::Duration;

use daemon::fourstock;
use fourstock_tests::slp;

#[test]
fn a_contained_peppi_panic_prints_no_trace_and_the_error_stays() {
    let file = slp::write("inspect-panicking.slp", &slp::panicking());
    let out = fourstock(
        &["inspect".as_ref(), file.as_os_str()],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad file fails the command");
    assert!(!stderr.contains("panicked at"), "a panic trace: {stderr}");
    assert!(
        stderr.contains("the parser crashed on this file (contained): assertion"),
        "the error names the panic: {stderr}"
    );
    assert!(stderr.contains("inspect-panicking.slp"), "{stderr}");

    let out = fourstock(
        &["inspect".as_ref(), "--json".as_ref(), file.as_os_str()],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("panicked at"), "a panic trace: {stderr}");
    assert!(stdout.contains("(contained): assertion"), "{stdout}");
    std::fs::remove_file(file).unwrap();
}
