//! The progress store: one SQLite file (rusqlite, bundled SQLite) holding
//! per-item scheduling state, an append-only review log, and study marks.
//!
//! * **Durability.** Every answer is one `BEGIN IMMEDIATE … COMMIT` transaction
//!   ([`Store::record`]) with `synchronous = FULL`, so killing the process (even
//!   `kill -9`) or losing power loses at most the answer being typed. The default
//!   rollback journal is used rather than WAL: the database stays a single file
//!   whenever no process has it open, so copying it is a valid backup (with WAL, a
//!   copy of the main file alone can miss the last answers), it works on network
//!   file systems, and a single learner has no concurrent writers for WAL to help.
//!   A reader (`stats` in another terminal) simply waits up to 5 s for a write.
//! * **Never overwritten.** [`Store::open`] refuses, with an error naming the path,
//!   a file that is not SQLite ("file is not a database"), an SQLite file of another
//!   program (checked by `PRAGMA application_id` and the tables present), a corrupt
//!   file (`PRAGMA quick_check`), a schema newer than this build, and a read-only
//!   file or location. Nothing is written before those checks pass.
//! * **Migrations.** [`MIGRATIONS`] is applied in order inside one transaction;
//!   the version is kept in the `schema_version` table.
//! * **Derived state.** `item_state` is a cache of the review log:
//!   [`Store::rebuild`] replays the log through the scheduler and must produce the
//!   same state as the incremental updates; import merges logs and rebuilds.
//!
//! `stats` and `session` read [`ItemState`]s and [`ReviewRecord`]s from here; the CLI
//! and TUI call [`Store::record`] with a graded answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::learn::grade::Graded;
use crate::learn::quiz::QuizBank;
use crate::learn::scheduler::{ItemState, Memory, Rating, Scheduled, Scheduler, SchedulerError};
use crate::learn::session::{self, SessionOptions, SessionPlan, SessionSummary};
use crate::learn::stats::{self, Stats};
use crate::learn::time::{Moment, local_day};

/// `PRAGMA application_id` of swelearn databases ("SWLN").
pub const APPLICATION_ID: i32 = 0x5357_4C4E;
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// Export document format name.
pub const EXPORT_FORMAT: &str = "swelearn-progress";
/// Export document version this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// One schema step: applying `sql` to a database at `version - 1` brings it to
/// `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version after this migration.
    pub version: i64,
    /// What it does, for humans.
    pub description: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every schema change ever made, oldest first. Never edit a published entry: add one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "item state and the append-only review log",
        sql: "
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version (version) VALUES (0);
            CREATE TABLE item_state (
                item_id        TEXT PRIMARY KEY NOT NULL,
                card_id        TEXT NOT NULL,
                stability      REAL NOT NULL,   -- days
                difficulty     REAL NOT NULL,   -- 1..10
                due_ms         INTEGER NOT NULL,
                last_review_ms INTEGER NOT NULL,
                last_day       INTEGER NOT NULL, -- local day number
                reps           INTEGER NOT NULL,
                lapses         INTEGER NOT NULL
            );
            CREATE TABLE review_log (
                id           INTEGER PRIMARY KEY,
                time_ms      INTEGER NOT NULL,
                utc_offset_s INTEGER NOT NULL,
                item_id      TEXT NOT NULL,
                card_id      TEXT NOT NULL,
                rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
                correct      INTEGER NOT NULL CHECK (correct IN (0, 1)),
                answer       TEXT NOT NULL,
                elapsed_ms   INTEGER NOT NULL,
                stability    REAL NOT NULL,  -- after this review
                difficulty   REAL NOT NULL,  -- after this review
                UNIQUE (item_id, time_ms)
            );
            CREATE TRIGGER review_log_append_only BEFORE UPDATE ON review_log
            BEGIN SELECT RAISE(ABORT, 'review_log is append-only'); END;
        ",
    },
    Migration {
        version: 2,
        description: "study marks and a time index for statistics",
        sql: "
            CREATE TABLE study_marks (
                card_id    TEXT NOT NULL,
                read_at_ms INTEGER NOT NULL,
                PRIMARY KEY (card_id, read_at_ms)
            ) WITHOUT ROWID;
            CREATE INDEX review_log_time ON review_log (time_ms);
        ",
    },
];

/// Errors of the progress store. Each names the database path.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The directory for the database could not be created.
    #[error("cannot create the data directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file or its directory cannot be written.
    #[error("{} is read-only: progress cannot be saved (check the permissions of the file and its directory, or use --data-dir / SWELEARN_DATA_DIR)", path.display())]
    ReadOnly {
        /// The database (or directory) path.
        path: PathBuf,
    },
    /// The file is not a swelearn database.
    #[error("{} is not a swelearn database ({reason}); it was left untouched: move it away or use --data-dir / SWELEARN_DATA_DIR", path.display())]
    NotOurs {
        /// The path.
        path: PathBuf,
        /// E.g. "file is not a database".
        reason: String,
    },
    /// SQLite reports corruption.
    #[error("{} is corrupt ({reason}); it was left untouched: restore a backup or move it away", path.display())]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// SQLite's report.
        reason: String,
    },
    /// A newer build wrote this file.
    #[error("{} was written by a newer swelearn (schema version {found}; this build knows up to {supported}); it was left untouched: upgrade swelearn", path.display())]
    NewerSchema {
        /// The path.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// A read-only open of a file that needs a migration first.
    #[error("{} has schema version {found} and needs upgrading to {supported}; open it once for writing", path.display())]
    Outdated {
        /// The path.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// Any other SQLite error.
    #[error("progress database {}: {source}", path.display())]
    Sqlite {
        /// The path.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The scheduler rejected a stored state.
    #[error("progress database {}: {source}", path.display())]
    Scheduler {
        /// The path.
        path: PathBuf,
        /// The error.
        source: SchedulerError,
    },
    /// An import document that cannot be used.
    #[error("cannot import progress: {0}")]
    BadExport(String),
    /// An export from a newer build.
    #[error(
        "cannot import progress: it was exported by a newer swelearn (format version {found}; this build reads up to {supported})"
    )]
    NewerExport {
        /// The document's version.
        found: u32,
        /// [`EXPORT_VERSION`].
        supported: u32,
    },
}

/// One entry of the review log (also the unit of export/import; its identity is
/// `(item_id, time_ms)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRecord {
    /// When the answer was recorded (Unix ms).
    pub time_ms: i64,
    /// The learner's UTC offset then (seconds), which fixes the local day.
    pub utc_offset_s: i32,
    /// Quiz item id.
    pub item_id: String,
    /// Its card.
    pub card_id: String,
    /// The rating.
    pub rating: Rating,
    /// Whether the answer was right.
    pub correct: bool,
    /// The answer as given.
    pub answer: String,
    /// Time taken (ms).
    pub elapsed_ms: u64,
    /// FSRS stability after this review (days).
    pub stability: f32,
    /// FSRS difficulty after this review.
    pub difficulty: f32,
}

impl ReviewRecord {
    /// The local day of the review.
    pub fn day(&self) -> i64 {
        local_day(self.time_ms, self.utc_offset_s)
    }

    fn moment(&self) -> Moment {
        Moment::new(self.time_ms, self.utc_offset_s)
    }
}

/// A study mark: the learner finished reading a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyMark {
    /// The card.
    pub card_id: String,
    /// When (Unix ms).
    pub read_at_ms: i64,
}

/// The export document: all progress, versioned. Item state is not included; it is
/// derived from the log on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_VERSION`] when written by this build.
    pub version: u32,
    /// When it was exported (Unix ms).
    pub exported_at_ms: i64,
    /// The review log, oldest first.
    pub reviews: Vec<ReviewRecord>,
    /// Study marks, oldest first.
    pub study_marks: Vec<StudyMark>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Reviews added.
    pub reviews_added: usize,
    /// Reviews already present (same item and time).
    pub reviews_skipped: usize,
    /// Study marks added.
    pub marks_added: usize,
    /// Items whose state was recomputed.
    pub items_rebuilt: usize,
}

/// What a reset removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetScope {
    /// All progress.
    All,
    /// The progress of one card's items and its study marks.
    Card(String),
}

/// What a reset removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResetSummary {
    /// Review log entries deleted.
    pub reviews: usize,
    /// Item states deleted.
    pub items: usize,
    /// Study marks deleted.
    pub marks: usize,
}

/// One answer to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview<'a> {
    /// Quiz item id.
    pub item_id: &'a str,
    /// Its card.
    pub card_id: &'a str,
    /// The rating (from grading, or the self-rating).
    pub rating: Rating,
    /// Whether the answer was right.
    pub correct: bool,
    /// The answer as given.
    pub answer: &'a str,
    /// Time taken (ms).
    pub elapsed_ms: u64,
}

impl<'a> From<&'a Graded> for NewReview<'a> {
    fn from(g: &'a Graded) -> Self {
        Self {
            item_id: &g.item_id,
            card_id: &g.card,
            rating: g.rating,
            correct: g.correct,
            answer: &g.answer_text,
            elapsed_ms: g.elapsed_ms,
        }
    }
}

/// An open progress database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const REVIEW_COLUMNS: &str = "time_ms, utc_offset_s, item_id, card_id, rating, correct, answer, elapsed_ms, stability, difficulty";
const STATE_COLUMNS: &str =
    "item_id, card_id, stability, difficulty, due_ms, last_review_ms, last_day, reps, lapses";

fn review_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewRecord> {
    let rating: u8 = r.get(4)?;
    let elapsed: i64 = r.get(7)?;
    Ok(ReviewRecord {
        time_ms: r.get(0)?,
        utc_offset_s: r.get(1)?,
        item_id: r.get(2)?,
        card_id: r.get(3)?,
        // The CHECK constraint keeps ratings in 1..=4.
        rating: Rating::from_u8(rating).unwrap_or(Rating::Again),
        correct: r.get(5)?,
        answer: r.get(6)?,
        elapsed_ms: u64::try_from(elapsed).unwrap_or(0),
        stability: r.get::<_, f64>(8)? as f32,
        difficulty: r.get::<_, f64>(9)? as f32,
    })
}

fn state_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ItemState> {
    Ok(ItemState {
        item_id: r.get(0)?,
        card_id: r.get(1)?,
        memory: Memory {
            stability: r.get::<_, f64>(2)? as f32,
            difficulty: r.get::<_, f64>(3)? as f32,
        },
        due_ms: r.get(4)?,
        last_review_ms: r.get(5)?,
        last_day: r.get(6)?,
        reps: r.get(7)?,
        lapses: r.get(8)?,
    })
}

fn write_state(conn: &Connection, s: &ItemState) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO item_state ({STATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            s.item_id,
            s.card_id,
            f64::from(s.memory.stability),
            f64::from(s.memory.difficulty),
            s.due_ms,
            s.last_review_ms,
            s.last_day,
            s.reps,
            s.lapses
        ],
    )?;
    Ok(())
}

/// Inserts a review unless one with the same identity exists; returns whether it
/// was inserted.
fn insert_review(conn: &Connection, r: &ReviewRecord) -> rusqlite::Result<bool> {
    let n = conn.execute(
        &format!(
            "INSERT OR IGNORE INTO review_log ({REVIEW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            r.time_ms,
            r.utc_offset_s,
            r.item_id,
            r.card_id,
            r.rating.as_u8(),
            r.correct,
            r.answer,
            i64::try_from(r.elapsed_ms).unwrap_or(i64::MAX),
            f64::from(r.stability),
            f64::from(r.difficulty)
        ],
    )?;
    Ok(n == 1)
}

impl Store {
    /// Opens (creating if needed) the progress database at `path`, creating its
    /// directory, checking it is ours and writable, and migrating it to
    /// [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if path.is_dir() {
            return Err(StoreError::NotOurs {
                path: path.to_path_buf(),
                reason: "it is a directory".into(),
            });
        }
        let existed = path.exists();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| {
            if !existed && e.sqlite_error_code() == Some(ErrorCode::CannotOpen) {
                // SQLite could not create the file: the directory is not writable.
                StoreError::ReadOnly {
                    path: path.to_path_buf(),
                }
            } else {
                sql_err(path, e)
            }
        })?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.check_and_migrate(false)?;
        Ok(store)
    }

    /// Opens an existing database without ever writing to it (for `stats` or
    /// `export` on a read-only medium). Recording through it fails with
    /// [`StoreError::ReadOnly`].
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_err(path, e))?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.check_and_migrate(true)?;
        Ok(store)
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql_err(&self.path, e)
    }

    fn check_and_migrate(&mut self, read_only: bool) -> Result<(), StoreError> {
        let path = self.path.clone();
        let conn = &mut self.conn;
        let e = |e| sql_err(&path, e);
        conn.busy_timeout(Duration::from_secs(5)).map_err(e)?;
        // The first read of the header: a non-SQLite file fails here with NOTADB.
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(e)?;
        let tables: Vec<String> = {
            let mut st = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(e)?;
            st.query_map([], |r| r.get(0))
                .map_err(e)?
                .collect::<Result<_, _>>()
                .map_err(e)?
        };
        let not_ours = |reason: String| StoreError::NotOurs {
            path: path.clone(),
            reason,
        };
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(not_ours(format!(
                "an SQLite database of another program (application id {app_id:#x})"
            )));
        }
        let fresh = tables.is_empty();
        if !fresh && (app_id != APPLICATION_ID || !tables.iter().any(|t| t == "schema_version")) {
            let mut shown: Vec<&str> = tables.iter().map(String::as_str).take(5).collect();
            shown.sort_unstable();
            return Err(not_ours(format!(
                "an SQLite database with other tables: {}",
                shown.join(", ")
            )));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(e)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: path.clone(),
                reason: check,
            });
        }
        let found: i64 = if fresh {
            0
        } else {
            conn.query_row("SELECT max(version) FROM schema_version", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(e)?
            .unwrap_or(0)
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if read_only {
            if found < SCHEMA_VERSION {
                return Err(StoreError::Outdated {
                    path: path.clone(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            return Ok(());
        }
        if conn.is_readonly("main").map_err(e)? {
            return Err(StoreError::ReadOnly { path: path.clone() });
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(e)?;
        // Explicit, in case the file was switched to WAL elsewhere (see the module doc).
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
            .map_err(e)?;
        // Migrate (or, when current, make a no-op write) in one transaction: this is
        // where a read-only directory shows up (SQLite cannot create the journal next
        // to the file), before any answer is typed.
        let e = |err: rusqlite::Error| match err.sqlite_error_code() {
            Some(ErrorCode::CannotOpen) => StoreError::ReadOnly { path: path.clone() },
            _ => sql_err(&path, err),
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        if fresh {
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(e)?;
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            tx.execute_batch(m.sql).map_err(e)?;
            tx.execute("UPDATE schema_version SET version = ?1", [m.version])
                .map_err(e)?;
        }
        if found == SCHEMA_VERSION {
            // SQLite skips writing a row whose bytes do not change, so a real change
            // (undone at once) is needed to make it open the journal.
            tx.execute_batch(
                "UPDATE schema_version SET version = version + 1;
                 UPDATE schema_version SET version = version - 1;",
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Records one answer in one transaction: appends to the review log and updates
    /// the item's state. Review times are strictly increasing per item: if the clock
    /// went backwards, the review is logged 1 ms after the previous one.
    pub fn record(
        &mut self,
        scheduler: &Scheduler,
        review: &NewReview<'_>,
        now: Moment,
    ) -> Result<Scheduled, StoreError> {
        let path = self.path.clone();
        let e = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let previous = tx
            .query_row(
                &format!("SELECT {STATE_COLUMNS} FROM item_state WHERE item_id = ?1"),
                [review.item_id],
                state_from_row,
            )
            .optional()
            .map_err(e)?;
        let last_logged: Option<i64> = tx
            .query_row(
                "SELECT max(time_ms) FROM review_log WHERE item_id = ?1",
                [review.item_id],
                |r| r.get(0),
            )
            .map_err(e)?;
        let mut now = now;
        if let Some(last) = last_logged.filter(|&l| l >= now.unix_ms) {
            now.unix_ms = last + 1;
        }
        let scheduled = scheduler
            .review(
                review.item_id,
                review.card_id,
                previous.as_ref(),
                review.rating,
                now,
            )
            .map_err(|source| StoreError::Scheduler {
                path: path.clone(),
                source,
            })?;
        let record = ReviewRecord {
            time_ms: now.unix_ms,
            utc_offset_s: now.utc_offset_s,
            item_id: review.item_id.to_string(),
            card_id: review.card_id.to_string(),
            rating: review.rating,
            correct: review.correct,
            answer: review.answer.to_string(),
            elapsed_ms: review.elapsed_ms,
            stability: scheduled.state.memory.stability,
            difficulty: scheduled.state.memory.difficulty,
        };
        insert_review(&tx, &record).map_err(e)?;
        write_state(&tx, &scheduled.state).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(scheduled)
    }

    /// Records that the learner read `card_id` at `now`.
    pub fn mark_read(&mut self, card_id: &str, now: Moment) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO study_marks (card_id, read_at_ms) VALUES (?1, ?2)",
                params![card_id, now.unix_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Clears the read mark of `card_id` (the `m` key in the reader).
    pub fn unmark_read(&mut self, card_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM study_marks WHERE card_id = ?1",
                params![card_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The last time each card was read.
    pub fn read_marks(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT card_id, max(read_at_ms) FROM study_marks GROUP BY card_id")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The state of one item, if it was ever reviewed.
    pub fn item_state(&self, item_id: &str) -> Result<Option<ItemState>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {STATE_COLUMNS} FROM item_state WHERE item_id = ?1"),
                [item_id],
                state_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The state of every reviewed item, by item id.
    pub fn item_states(&self) -> Result<HashMap<String, ItemState>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {STATE_COLUMNS} FROM item_state"))
            .map_err(|e| self.err(e))?;
        st.query_map([], state_from_row)
            .map_err(|e| self.err(e))?
            .map(|r| r.map(|s| (s.item_id.clone(), s)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Review log entries at or after `since_ms`, oldest first.
    pub fn reviews_since(&self, since_ms: i64) -> Result<Vec<ReviewRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {REVIEW_COLUMNS} FROM review_log WHERE time_ms >= ?1 ORDER BY time_ms, id"
            ))
            .map_err(|e| self.err(e))?;
        st.query_map([since_ms], review_from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The whole review log, oldest first.
    pub fn reviews(&self) -> Result<Vec<ReviewRecord>, StoreError> {
        self.reviews_since(i64::MIN)
    }

    /// Recomputes every item's state by replaying the review log through
    /// `scheduler`, in one transaction. Returns the number of items.
    pub fn rebuild(&mut self, scheduler: &Scheduler) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let e = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let n = rebuild_in(&tx, &path, scheduler, None)?;
        tx.commit().map_err(e)?;
        Ok(n)
    }

    /// All progress as a versioned document.
    pub fn export(&self, now: Moment) -> Result<ProgressExport, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT card_id, read_at_ms FROM study_marks ORDER BY read_at_ms, card_id")
            .map_err(|e| self.err(e))?;
        let study_marks = st
            .query_map([], |r| {
                Ok(StudyMark {
                    card_id: r.get(0)?,
                    read_at_ms: r.get(1)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok(ProgressExport {
            format: EXPORT_FORMAT.to_string(),
            version: EXPORT_VERSION,
            exported_at_ms: now.unix_ms,
            reviews: self.reviews()?,
            study_marks,
        })
    }

    /// [`Store::export`] as pretty JSON.
    pub fn export_json(&self, now: Moment) -> Result<String, StoreError> {
        let doc = self.export(now)?;
        serde_json::to_string_pretty(&doc).map_err(|e| StoreError::BadExport(e.to_string()))
    }

    /// Merges an export into this store: reviews are identified by
    /// `(item_id, time_ms)` and added only if absent; then the affected items'
    /// states are rebuilt from the merged log. One transaction.
    pub fn import(
        &mut self,
        scheduler: &Scheduler,
        doc: &ProgressExport,
    ) -> Result<ImportSummary, StoreError> {
        if doc.format != EXPORT_FORMAT {
            return Err(StoreError::BadExport(format!(
                "`format` is \"{}\", expected \"{EXPORT_FORMAT}\"",
                doc.format
            )));
        }
        if doc.version > EXPORT_VERSION {
            return Err(StoreError::NewerExport {
                found: doc.version,
                supported: EXPORT_VERSION,
            });
        }
        for (i, r) in doc.reviews.iter().enumerate() {
            if r.item_id.trim().is_empty() || r.card_id.trim().is_empty() {
                return Err(StoreError::BadExport(format!(
                    "review {} has an empty item or card id",
                    i + 1
                )));
            }
        }
        let path = self.path.clone();
        let e = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let mut summary = ImportSummary {
            reviews_added: 0,
            reviews_skipped: 0,
            marks_added: 0,
            items_rebuilt: 0,
        };
        let mut touched: HashSet<String> = HashSet::new();
        for r in &doc.reviews {
            if insert_review(&tx, r).map_err(e)? {
                summary.reviews_added += 1;
                touched.insert(r.item_id.clone());
            } else {
                summary.reviews_skipped += 1;
            }
        }
        for m in &doc.study_marks {
            summary.marks_added += tx
                .execute(
                    "INSERT OR IGNORE INTO study_marks (card_id, read_at_ms) VALUES (?1, ?2)",
                    params![m.card_id, m.read_at_ms],
                )
                .map_err(e)?;
        }
        summary.items_rebuilt = rebuild_in(&tx, &path, scheduler, Some(&touched))?;
        tx.commit().map_err(e)?;
        Ok(summary)
    }

    /// Parses a JSON export and merges it (see [`Store::import`]).
    pub fn import_json(
        &mut self,
        scheduler: &Scheduler,
        json: &str,
    ) -> Result<ImportSummary, StoreError> {
        let doc: ProgressExport =
            serde_json::from_str(json).map_err(|e| StoreError::BadExport(e.to_string()))?;
        self.import(scheduler, &doc)
    }

    /// Deletes progress (reviews, states, study marks) for everything or one card.
    /// Irreversible: offer an export first.
    pub fn reset(&mut self, scope: &ResetScope) -> Result<ResetSummary, StoreError> {
        let path = self.path.clone();
        let e = |e| sql_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let summary = match scope {
            ResetScope::All => ResetSummary {
                reviews: tx.execute("DELETE FROM review_log", []).map_err(e)?,
                items: tx.execute("DELETE FROM item_state", []).map_err(e)?,
                marks: tx.execute("DELETE FROM study_marks", []).map_err(e)?,
            },
            ResetScope::Card(card) => ResetSummary {
                reviews: tx
                    .execute("DELETE FROM review_log WHERE card_id = ?1", [card])
                    .map_err(e)?,
                items: tx
                    .execute("DELETE FROM item_state WHERE card_id = ?1", [card])
                    .map_err(e)?,
                marks: tx
                    .execute("DELETE FROM study_marks WHERE card_id = ?1", [card])
                    .map_err(e)?,
            },
        };
        tx.commit().map_err(e)?;
        Ok(summary)
    }

    /// Statistics over the given content (see `stats`).
    pub fn stats(
        &self,
        scheduler: &Scheduler,
        banks: &[QuizBank],
        now: Moment,
    ) -> Result<Stats, StoreError> {
        let states = self.item_states()?;
        let since = now.start_of_day(now.day() - i64::from(stats::HISTORY_DAYS));
        // The streak may reach further back than the history window.
        let days = self.review_days()?;
        let recent = self.reviews_since(since)?;
        Ok(stats::compute(
            &stats::content_items(banks),
            &states,
            &recent,
            &days,
            scheduler,
            now,
        ))
    }

    /// Plans a practice session over `banks` from the stored progress (see
    /// [`session::plan_session`]).
    pub fn plan_session(
        &self,
        banks: &[QuizBank],
        now: Moment,
        options: &SessionOptions,
    ) -> Result<SessionPlan, StoreError> {
        Ok(session::plan_session(
            banks,
            &self.item_states()?,
            &self.read_marks()?,
            now,
            options,
        ))
    }

    /// Summarises a finished session (see [`session::summarize`]), counting only
    /// items of the current content in `banks`.
    pub fn session_summary(
        &self,
        banks: &[QuizBank],
        results: &[Graded],
        now: Moment,
    ) -> Result<SessionSummary, StoreError> {
        let content: HashSet<String> = stats::content_items(banks)
            .into_iter()
            .map(|c| c.item_id)
            .collect();
        let mut states = self.item_states()?;
        states.retain(|id, _| content.contains(id));
        Ok(session::summarize(
            results,
            &states,
            &self.review_days()?,
            now,
        ))
    }

    /// The distinct local days with at least one review, ascending.
    pub fn review_days(&self) -> Result<Vec<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT time_ms, utc_offset_s FROM review_log")
            .map_err(|e| self.err(e))?;
        let mut days: Vec<i64> = st
            .query_map([], |r| Ok(local_day(r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        days.sort_unstable();
        days.dedup();
        Ok(days)
    }
}

/// Replays the log for `only` (or every item) and rewrites their states.
fn rebuild_in(
    conn: &Connection,
    path: &Path,
    scheduler: &Scheduler,
    only: Option<&HashSet<String>>,
) -> Result<usize, StoreError> {
    let e = |e| sql_err(path, e);
    let mut st = conn
        .prepare(&format!(
            "SELECT {REVIEW_COLUMNS} FROM review_log ORDER BY item_id, time_ms, id"
        ))
        .map_err(e)?;
    let log: Vec<ReviewRecord> = st
        .query_map([], review_from_row)
        .map_err(e)?
        .collect::<Result<_, _>>()
        .map_err(e)?;
    match only {
        None => {
            conn.execute("DELETE FROM item_state", []).map_err(e)?;
        }
        Some(ids) => {
            for id in ids {
                conn.execute("DELETE FROM item_state WHERE item_id = ?1", [id])
                    .map_err(e)?;
            }
        }
    }
    let mut current: Option<ItemState> = None;
    let mut count = 0;
    let mut flush = |s: Option<ItemState>| -> Result<(), StoreError> {
        if let Some(s) = s {
            write_state(conn, &s).map_err(e)?;
            count += 1;
        }
        Ok(())
    };
    for r in log
        .iter()
        .filter(|r| only.is_none_or(|ids| ids.contains(&r.item_id)))
    {
        if current.as_ref().is_some_and(|c| c.item_id != r.item_id) {
            flush(current.take())?;
        }
        let next = scheduler
            .review(
                &r.item_id,
                &r.card_id,
                current.as_ref(),
                r.rating,
                r.moment(),
            )
            .map_err(|source| StoreError::Scheduler {
                path: path.to_path_buf(),
                source,
            })?;
        current = Some(next.state);
    }
    flush(current.take())?;
    Ok(count)
}

fn sql_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotOurs {
            path,
            reason: "file is not a database".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            reason: e.to_string(),
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        _ => StoreError::Sqlite { path, source: e },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;
    use crate::learn::time::DAY_MS;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn at(minutes: i64) -> Moment {
        Moment::new(T0 + minutes * 60_000, 3600)
    }

    fn review<'a>(item: &'a str, card: &'a str, rating: Rating) -> NewReview<'a> {
        NewReview {
            item_id: item,
            card_id: card,
            rating,
            correct: rating != Rating::Again,
            answer: "42",
            elapsed_ms: 12_000,
        }
    }

    /// A store with a varied history over ~40 days.
    fn populated(dir: &Path) -> Store {
        let mut s = Store::open(&dir.join("progress.db")).unwrap();
        let sched = Scheduler::default();
        let plan: &[(&str, &str, i64, Rating)] = &[
            ("a-1", "a", 0, Rating::Good),
            ("a-2", "a", 1, Rating::Again),
            ("a-2", "a", 12, Rating::Good),
            ("b-1", "b", 20, Rating::Easy),
            ("a-1", "a", 3 * 1440, Rating::Good),
            ("a-2", "a", 3 * 1440 + 5, Rating::Hard),
            ("a-1", "a", 10 * 1440, Rating::Again),
            ("a-1", "a", 10 * 1440 + 15, Rating::Good),
            ("b-1", "b", 11 * 1440, Rating::Good),
            ("a-1", "a", 40 * 1440, Rating::Good),
        ];
        for &(item, card, minute, rating) in plan {
            s.record(&sched, &review(item, card, rating), at(minute))
                .unwrap();
        }
        s.mark_read("a", at(-30)).unwrap();
        s
    }

    #[test]
    fn create_record_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/progress.db");
        let sched = Scheduler::default();
        {
            let mut s = Store::open(&path).unwrap();
            assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
            let r = s
                .record(&sched, &review("x-1", "x", Rating::Good), at(0))
                .unwrap();
            assert_eq!(r.scheduled_days, 2);
            s.mark_read("x", at(1)).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let st = s.item_state("x-1").unwrap().unwrap();
        assert_eq!(st.reps, 1);
        assert_eq!(st.card_id, "x");
        assert_eq!(st.memory.stability, fsrs::DEFAULT_PARAMETERS[2]);
        let log = s.reviews().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].answer, "42");
        assert_eq!(log[0].utc_offset_s, 3600);
        assert_eq!(log[0].stability, st.memory.stability);
        assert_eq!(s.read_marks().unwrap()["x"], at(1).unix_ms);
        assert!(s.item_state("nope").unwrap().is_none());
        let app_id: i32 = s
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app_id, APPLICATION_ID);
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }

    #[test]
    fn review_log_is_append_only_and_monotonic() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("p.db")).unwrap();
        let sched = Scheduler::default();
        s.record(&sched, &review("x-1", "x", Rating::Good), at(10))
            .unwrap();
        // Clock went backwards: still logged, 1 ms after the previous review.
        s.record(&sched, &review("x-1", "x", Rating::Good), at(5))
            .unwrap();
        let log = s.reviews().unwrap();
        assert_eq!(log[1].time_ms, log[0].time_ms + 1);
        let err = s
            .conn
            .execute("UPDATE review_log SET rating = 4", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    #[test]
    fn garbage_file_is_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.db");
        let garbage = b"this is my shopping list, not a database\n".repeat(200);
        fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::NotOurs { .. }), "{err:?}");
        assert!(msg.contains("file is not a database"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert_eq!(fs::read(&path).unwrap(), garbage);
        assert!(!dir.path().join("progress.db-journal").exists());
    }

    #[test]
    fn other_sqlite_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY);")
                .unwrap();
        }
        let before = fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotOurs { .. }), "{err:?}");
        assert!(err.to_string().contains("photos"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        // Another program's application id is refused even with our table names.
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "PRAGMA application_id = 1234; CREATE TABLE schema_version (version INTEGER);",
            )
            .unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(err.to_string().contains("another program"), "{err}");
    }

    #[test]
    fn corrupt_database_is_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let s = populated(dir.path());
        let path = s.path().to_path_buf();
        drop(s);
        // Keep the valid header, scribble over the b-tree pages.
        let mut bytes = fs::read(&path).unwrap();
        assert!(bytes.len() > 4096 * 2);
        for b in &mut bytes[4096 + 100..] {
            *b = 0xA5;
        }
        fs::write(&path, &bytes).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { .. } | StoreError::NotOurs { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn newer_schema_is_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        drop(Store::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            c.execute(
                "UPDATE schema_version SET version = ?1",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
        }
        let before = fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        match &err {
            StoreError::NewerSchema {
                found, supported, ..
            } => {
                assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("newer swelearn"));
        assert_eq!(fs::read(&path).unwrap(), before);
        assert!(matches!(
            Store::open_read_only(&path),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    #[test]
    fn migrates_from_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // Build a version-1 database as an old build would have.
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            c.execute_batch(MIGRATIONS[0].sql).unwrap();
            c.execute("UPDATE schema_version SET version = 1", [])
                .unwrap();
            c.execute(
                &format!("INSERT INTO review_log ({REVIEW_COLUMNS}) VALUES (?1, 0, 'old-1', 'old', 3, 1, 'x', 1000, 2.3065, 2.118)"),
                [T0],
            )
            .unwrap();
        }
        assert!(matches!(
            Store::open_read_only(&path),
            Err(StoreError::Outdated { found: 1, .. })
        ));
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        // The v1 data survived and the v2 table works.
        assert_eq!(s.reviews().unwrap().len(), 1);
        s.mark_read("old", at(0)).unwrap();
        let sched = Scheduler::default();
        assert_eq!(s.rebuild(&sched).unwrap(), 1);
        assert_eq!(s.item_state("old-1").unwrap().unwrap().reps, 1);
        drop(s);
        // Reopening a current database is a no-op.
        assert_eq!(
            Store::open(&path).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.description);
        }
    }

    #[test]
    fn rebuild_equals_incremental() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = populated(dir.path());
        let incremental = s.item_states().unwrap();
        assert_eq!(incremental.len(), 3);
        assert_eq!(incremental["a-1"].reps, 5);
        assert_eq!(incremental["a-1"].lapses, 1);
        assert_eq!(s.rebuild(&Scheduler::default()).unwrap(), 3);
        assert_eq!(s.item_states().unwrap(), incremental);
        // The log's per-review stability is the state after the last review.
        let last = s
            .reviews()
            .unwrap()
            .into_iter()
            .rfind(|r| r.item_id == "a-1")
            .unwrap();
        assert_eq!(last.stability, incremental["a-1"].memory.stability);
    }

    #[test]
    fn export_import_round_trip_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let src = populated(dir.path());
        let json = src.export_json(at(50 * 1440)).unwrap();
        let doc: ProgressExport = serde_json::from_str(&json).unwrap();
        assert_eq!(doc.format, EXPORT_FORMAT);
        assert_eq!(doc.reviews.len(), 10);
        assert_eq!(doc.study_marks.len(), 1);

        let sched = Scheduler::default();
        let other = tempfile::tempdir().unwrap();
        let mut dst = Store::open(&other.path().join("p.db")).unwrap();
        // The destination already has some of the same reviews and one of its own.
        let partial = ProgressExport {
            reviews: doc.reviews[..4].to_vec(),
            ..doc.clone()
        };
        dst.import(&sched, &partial).unwrap();
        dst.record(&sched, &review("c-1", "c", Rating::Good), at(5))
            .unwrap();
        let summary = dst.import_json(&sched, &json).unwrap();
        assert_eq!(summary.reviews_added, 6);
        assert_eq!(summary.reviews_skipped, 4);
        assert_eq!(summary.marks_added, 0);
        let again = dst.import_json(&sched, &json).unwrap();
        assert_eq!((again.reviews_added, again.reviews_skipped), (0, 10));
        assert_eq!(dst.reviews().unwrap().len(), 11);
        let src_states = src.item_states().unwrap();
        let dst_states = dst.item_states().unwrap();
        for (id, st) in &src_states {
            assert_eq!(&dst_states[id], st, "{id}");
        }
        assert!(dst_states.contains_key("c-1"));

        let bad = json.replace(EXPORT_FORMAT, "something-else");
        assert!(matches!(
            dst.import_json(&sched, &bad),
            Err(StoreError::BadExport(_))
        ));
        let newer = json.replace("\"version\": 1", "\"version\": 99");
        assert!(matches!(
            dst.import_json(&sched, &newer),
            Err(StoreError::NewerExport { found: 99, .. })
        ));
        assert!(matches!(
            dst.import_json(&sched, "{"),
            Err(StoreError::BadExport(_))
        ));
        let bad_rating = json.replacen("\"rating\": \"good\"", "\"rating\": \"great\"", 1);
        assert!(matches!(
            dst.import_json(&sched, &bad_rating),
            Err(StoreError::BadExport(_))
        ));
    }

    #[test]
    fn reset_one_card_or_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = populated(dir.path());
        let r = s.reset(&ResetScope::Card("b".into())).unwrap();
        assert_eq!(
            r,
            ResetSummary {
                reviews: 2,
                items: 1,
                marks: 0
            }
        );
        assert!(s.item_state("b-1").unwrap().is_none());
        assert!(s.item_state("a-1").unwrap().is_some());
        let r = s.reset(&ResetScope::All).unwrap();
        assert_eq!(
            r,
            ResetSummary {
                reviews: 8,
                items: 2,
                marks: 1
            }
        );
        assert!(s.reviews().unwrap().is_empty());
    }

    #[test]
    fn directory_that_cannot_be_created() {
        // A path below a regular file: fails for root too.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, "x").unwrap();
        let err = Store::open(&file.join("sub/progress.db")).unwrap_err();
        assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
        assert!(err.to_string().contains("plain-file"), "{err}");
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    /// Whether permission bits are enforced for this process (they are not for root).
    fn permissions_enforced(dir: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        let probe = dir.join("probe");
        fs::write(&probe, "x").unwrap();
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o444)).unwrap();
        let enforced = fs::OpenOptions::new().write(true).open(&probe).is_err();
        fs::remove_file(&probe).unwrap();
        enforced
    }

    #[test]
    fn read_only_file_and_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sched = Scheduler::default();
        let path = dir.path().join("progress.db");
        drop(populated(dir.path()));
        let before = fs::read(&path).unwrap();

        // Works for every user: a read-only connection refuses to record, and the
        // error is the ReadOnly variant naming the path.
        let mut ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.reviews().unwrap().len(), 10);
        let err = ro
            .record(&sched, &review("a-1", "a", Rating::Good), at(100 * 1440))
            .unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert!(
            err.to_string().contains("progress.db is read-only"),
            "{err}"
        );
        drop(ro);

        if !permissions_enforced(dir.path()) {
            eprintln!(
                "read_only_file_and_directory: permission bits are not enforced for this user \
                 (root); checked the read-only connection path only"
            );
            return;
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), before);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

        // A new database in a read-only directory.
        let ro_dir = dir.path().join("locked");
        fs::create_dir(&ro_dir).unwrap();
        fs::set_permissions(&ro_dir, fs::Permissions::from_mode(0o555)).unwrap();
        let err = Store::open(&ro_dir.join("p.db")).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        // An existing, writable database in a read-only directory: SQLite cannot
        // create its journal, which open() finds before any answer is typed.
        fs::set_permissions(&ro_dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(&path, ro_dir.join("p.db")).unwrap();
        fs::set_permissions(&ro_dir, fs::Permissions::from_mode(0o555)).unwrap();
        let err = Store::open(&ro_dir.join("p.db")).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert_eq!(fs::read(ro_dir.join("p.db")).unwrap(), before);
        fs::set_permissions(&ro_dir, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn empty_file_is_initialised() {
        // A zero-byte file holds nothing to lose; SQLite treats it as a new database.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        fs::write(&path, b"").unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn stats_from_store() {
        let dir = tempfile::tempdir().unwrap();
        let s = populated(dir.path());
        let bank = QuizBank {
            file: "a.quiz.yaml".into(),
            card: "a".into(),
            card_line: 1,
            items: Vec::new(),
        };
        let st = s
            .stats(&Scheduler::default(), &[bank], at(40 * 1440 + 60))
            .unwrap();
        assert_eq!(st.streak.current_days, 1);
        assert_eq!(st.history.last().map(|d| d.count), Some(1));
        assert_eq!(s.review_days().unwrap().len(), 5);
        // Only content items count: card `b` is not in the banks.
        let summary = s.session_summary(&[], &[], at(40 * 1440 + 60)).unwrap();
        assert_eq!(summary.next_due_ms, None);
        let bank_text = "card: b\nitems:\n  - id: b-1\n    kind: recall\n    prompt: p\n    answer: a\n    explanation: e\n";
        let b = crate::learn::quiz::parse_quiz_bank("b.quiz.yaml", bank_text).unwrap();
        let due_b1 = s.item_state("b-1").unwrap().unwrap().due_ms;
        let before = Moment::new(due_b1 - 1, 3600);
        let summary = s
            .session_summary(std::slice::from_ref(&b), &[], before)
            .unwrap();
        assert_eq!(
            (summary.due_remaining, summary.next_due_ms),
            (0, Some(due_b1))
        );
        let after = Moment::new(due_b1 + DAY_MS, 3600);
        let summary = s
            .session_summary(std::slice::from_ref(&b), &[], after)
            .unwrap();
        assert_eq!((summary.due_remaining, summary.next_due_ms), (1, None));
        let plan = s
            .plan_session(&[b], after, &SessionOptions::default())
            .unwrap();
        assert_eq!((plan.items.len(), plan.due_planned), (1, 1));
    }
}
