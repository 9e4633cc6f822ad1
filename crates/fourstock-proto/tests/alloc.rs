//! A length claim inside a payload must not make the decoder reserve what it
//! claims: the largest single allocation while decoding hostile payloads is
//! measured with a counting allocator. (Its own test binary, so the global
//! allocator sees nothing but this.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fourstock_proto::{decode_client, decode_server, encode_client, encode_server};
use fourstock_proto::{ClientMessage, ServerMessage};

struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

fn claim(payload: &[u8], at: usize, len: u64) -> Vec<u8> {
    let mut p = payload.to_vec();
    p[at..at + 8].copy_from_slice(&len.to_le_bytes());
    p
}

#[test]
fn huge_length_claims_allocate_at_most_a_mebibyte() {
    let hello = encode_client(&ClientMessage::Hello(common::hello()))[4..].to_vec();
    let frame = encode_client(&ClientMessage::Frame(common::frame()))[4..].to_vec();
    let welcome = encode_server(&ServerMessage::Welcome(common::welcome()))[4..].to_vec();
    let hostile = [
        claim(&hello, 11, 1 << 40),  // Hello.token
        claim(&hello, 32, 1 << 40),  // Hello.ports
        claim(&hello, 43, 1 << 40),  // a model name
        claim(&hello, 59, 1 << 40),  // a player name
        claim(&frame, 26, 1 << 40),  // Frame.players
        claim(&frame, 26, u64::MAX), // Frame.players
    ];
    let welcome = claim(&welcome, 10, 1 << 40);
    LARGEST.store(0, Ordering::Relaxed);
    for payload in &hostile {
        assert!(decode_client(payload).is_err());
    }
    assert!(decode_server(&welcome).is_err());
    let largest = LARGEST.load(Ordering::Relaxed);
    eprintln!("largest allocation: {largest} bytes");
    // serde pre-reserves at most 1 MiB for a sequence, whatever its claim;
    // bincode checks a string's claim against the 64 KiB limit first.
    assert!(largest <= 1 << 20, "an allocation of {largest} bytes");
}
