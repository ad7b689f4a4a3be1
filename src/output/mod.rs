//! Plain output: laid-out documents and tables written as text, with ANSI colour only
//! when asked (a terminal without NO_COLOR, or `--color always`).

pub mod plain;
pub mod theme;
