//! The learning core: quiz items, grading, FSRS scheduling, the progress store,
//! statistics and practice sessions. It holds state; `tui` and `output` render it.
//!
//! Module map and data flow:
//!
//! * [`quiz`] — the item model and the `<id>.quiz.yaml` parser/validator
//!   (`file:line: message` problems); uses [`expr`] for numeric templates.
//! * [`grade`] — [`grade::present`] an item for one attempt (seeded shuffles and
//!   template draws via [`rng`]), then [`grade::grade`] the response into a
//!   [`grade::Graded`] with an FSRS [`scheduler::Rating`].
//! * [`scheduler`] — FSRS-6 via the `fsrs` crate: next memory state and due time.
//! * [`store`] — the SQLite progress file: [`store::Store::record`] one graded answer
//!   per transaction, rebuild, export/import, reset.
//! * [`stats`] — due counts, retention, streak, mastery, forecast, history.
//! * [`session`] — which items to practise now, and the end-of-session summary.
//! * [`time`] — [`time::Moment`]: every function takes "now" explicitly.
//!
//! Content (`content`) supplies quiz file texts and the set of card ids;
//! simulation (`sim`) supplies a [`quiz::SimCatalog`] for checking predict items
//! and runs the simulation whose metric a predict answer is graded against.

pub mod expr;
pub mod grade;
pub mod quiz;
pub mod quiz_run;
pub mod rng;
pub mod scheduler;
pub mod session;
pub mod stats;
pub mod store;
pub mod time;
