//! The parts of the `emulate` kind that stand on their own: Python's
//! `random`, bit for bit, so `seed: 100` picks the rows the original
//! `user_posting_emulation.py` picks, and the built-in `demo` source (the
//! three Pinterest tables, generated row by row). No I/O here.

pub mod demo;
pub mod sampler;
