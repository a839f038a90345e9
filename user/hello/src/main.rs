//! Writes "hello from ring 3" and exits with 0.
#![no_std]
#![no_main]

rt::entry!(main);

fn main() -> i32 {
    rt::print("hello from ring 3\n");
    0
}
