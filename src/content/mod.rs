//! Content: topic cards and their quiz banks, embedded in the binary and read from
//! user directories, turned into a document model that every view renders.
//!
//! - [`card`]: the frontmatter model and the card parser (with line-numbered problems)
//! - [`catalog`]: embedded + user cards merged by id, in suggested study order
//! - [`markdown`]: markdown -> [`markdown::Block`] document model (pulldown-cmark)
//! - [`layout`]: document model -> wrapped, styled lines at a width
//! - [`search`]: ranked full-text search over the catalog
//! - [`lint`]: `swelearn content lint` (cards and quiz banks)

pub mod card;
pub mod catalog;
pub mod layout;
pub mod lint;
pub mod markdown;
pub mod search;

pub use card::{Card, Difficulty, Origin, Problem};
pub use catalog::{Catalog, ContentError};
