//! Replays made by hand that peppi mishandles: a header that makes it
//! allocate gigabytes is refused first, naming the field, and a contained
//! panic prints nothing while any other panic still does.
//!
//! The test binary counts the largest single allocation it makes, so a
//! test can tell that a read never asked for gigabytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use fourstock_replay::{read_replay, Reason};
use fourstock_tests::{shared, slp};

/// The system allocator, noting the largest block asked for.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Far more than any hand-made replay here needs, far less than peppi
/// asks for on a bent header.
const SMALL: usize = 64 << 20;

#[test]
fn the_hand_made_replay_reads() {
    let file = slp::write("ended.slp", &slp::ended());
    let replay = read_replay(&file).expect("the smallest replay reads");
    assert_eq!(replay.summary.stage.id, 31);
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_raw_length_past_the_file_is_refused_before_peppi_allocates_it() {
    let file = slp::write("claiming.slp", &slp::claiming(u32::MAX - 64));
    let error = read_replay(&file).expect_err("the header lies");
    assert!(
        LARGEST.load(Ordering::Relaxed) < SMALL,
        "a block of {} bytes was asked for",
        LARGEST.load(Ordering::Relaxed)
    );
    match error.reason() {
        Reason::Oversized { field, claimed, .. } => {
            assert_eq!(field, "raw length");
            assert_eq!(*claimed, u64::from(u32::MAX - 64));
        }
        other => panic!("expected the raw length refused, got {other}"),
    }
    assert!(error.to_string().contains("claiming.slp"), "{error}");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_payload_size_past_the_file_is_refused_naming_the_event() {
    let mut bytes = slp::ended();
    // The Game End's entry in the Event Payloads table: 0x39, then a u16.
    let at = bytes
        .windows(3)
        .position(|w| w == [slp::GAME_END, 0, 1])
        .unwrap();
    bytes[at + 1..at + 3].copy_from_slice(&u16::MAX.to_be_bytes());
    let file = slp::write("payload.slp", &bytes);
    match read_replay(&file).expect_err("the table lies").reason() {
        Reason::Oversized { field, claimed, .. } => {
            assert_eq!(field, "payload size of event 0x39");
            assert_eq!(*claimed, 65535);
        }
        other => panic!("expected the payload size refused, got {other}"),
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_real_replay_with_a_bent_raw_length_is_refused() {
    let Some(dir) = shared::replays_dir("a_real_replay_with_a_bent_raw_length_is_refused") else {
        return;
    };
    let real = dir.join("peppi_ics2.slp");
    read_replay(&real).expect("the real replay reads");
    let mut bytes = std::fs::read(&real).unwrap();
    bytes[11..15].copy_from_slice(&(u32::MAX - 64).to_be_bytes());
    let file = slp::write("real-bent.slp", &bytes);
    let error = read_replay(&file).expect_err("the header lies");
    assert!(
        matches!(error.reason(), Reason::Oversized { field, .. } if field == "raw length"),
        "{error}"
    );
    std::fs::remove_file(file).unwrap();
}

/// Set in the child this test binary starts of itself.
const CHILD: &str = "FOURSTOCK_QUIET_PANIC_CHILD";

#[test]
fn a_peppi_panic_is_an_error_carrying_its_message() {
    let file = slp::write("panicking.slp", &slp::panicking());
    let error = read_replay(&file).expect_err("peppi panics on this file");
    match error.reason() {
        Reason::Panicked(message) => {
            assert!(
                message.starts_with("assertion `left == right` failed"),
                "{message}"
            );
            assert!(message.contains("(at "), "where it panicked: {message}");
        }
        other => panic!("expected a contained panic, got {other}"),
    }
    std::fs::remove_file(file).unwrap();
}

/// Run in a child process (see the test below): one contained peppi panic,
/// then a panic of its own on another thread.
#[test]
fn child_reads_a_panicking_replay_then_panics_elsewhere() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let file = slp::write("child-panicking.slp", &slp::panicking());
    let error = read_replay(&file).expect_err("peppi panics on this file");
    eprintln!("contained: {error}");
    std::fs::remove_file(file).unwrap();
    let elsewhere = std::thread::spawn(|| panic!("a panic outside peppi"));
    assert!(elsewhere.join().is_err());
}

#[test]
fn a_contained_panic_prints_nothing_and_a_panic_elsewhere_still_prints() {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reads_a_panicking_replay_then_panics_elsewhere",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match output.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("the child test ran over 60 s");
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child test passes: {stderr}");
    assert!(
        stderr.contains("contained: ") && stderr.contains("(contained): assertion"),
        "the error is reported: {stderr}"
    );
    assert_eq!(
        stderr.matches("panicked at").count(),
        1,
        "only the panic outside peppi prints: {stderr}"
    );
    assert!(stderr.contains("a panic outside peppi"), "{stderr}");
}
