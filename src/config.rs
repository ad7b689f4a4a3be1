//! Configuration: built-in defaults < the config file (`--config FILE`, or
//! `$XDG_CONFIG_HOME/swelearn/swelearn.toml`) < `SWELEARN_*` environment variables <
//! command-line flags. Every value remembers where it came from, for `swelearn config`.
//!
//! `lib::run` builds a [`Config`] once and hands it to every command.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use toml::Spanned;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ValueSource {
    Default,
    File { path: PathBuf, line: usize },
    Env { var: String },
    Flag { flag: String },
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueSource::Default => f.write_str("default"),
            ValueSource::File { path, line } => write!(f, "{}:{line}", path.display()),
            ValueSource::Env { var } => write!(f, "env {var}"),
            ValueSource::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: ValueSource,
}

impl<T> Sourced<T> {
    fn default(value: T) -> Self {
        Sourced {
            value,
            source: ValueSource::Default,
        }
    }

    fn set(&mut self, value: T, source: ValueSource) {
        self.value = value;
        self.source = source;
    }
}

/// When to use colour on a terminal. `NO_COLOR` always wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Colour even when piped (NO_COLOR still wins).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    fn parse(s: &str) -> Option<ColorChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }
    }

    /// Whether to emit colour, given whether the output is a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        !no_color
            && match self {
                ColorChoice::Auto => is_terminal,
                ColorChoice::Always => true,
                ColorChoice::Never => false,
            }
    }
}

/// Configuration problems, each naming the file (and line) or variable at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("cannot find a home directory for the config and data paths; set SWELEARN_DATA_DIR")]
    NoHome,
}

/// Overrides from command-line flags (the highest layer).
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub color: Option<ColorChoice>,
    pub content_dirs: Vec<PathBuf>,
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The config file consulted, and whether it exists.
    pub config_file: PathBuf,
    pub config_file_exists: bool,
    pub content_dirs: Sourced<Vec<PathBuf>>,
    pub color: Sourced<ColorChoice>,
    pub mouse: Sourced<bool>,
    pub data_dir: Sourced<PathBuf>,
    /// FSRS target probability of recalling an item when it falls due.
    pub desired_retention: Sourced<f32>,
}

/// The range FSRS scheduling is meaningful in.
pub const RETENTION_RANGE: std::ops::RangeInclusive<f32> = 0.7..=0.99;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    content: ContentSection,
    #[serde(default)]
    ui: UiSection,
    #[serde(default)]
    data: DataSection,
    #[serde(default)]
    quiz: QuizSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizSection {
    desired_retention: Option<Spanned<f32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentSection {
    dirs: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UiSection {
    color: Option<Spanned<String>>,
    mouse: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSection {
    dir: Option<Spanned<String>>,
}

/// Reads variables from the process environment; tests pass their own.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The default config file: `$XDG_CONFIG_HOME/swelearn/swelearn.toml`, else the
/// platform config directory.
fn default_config_file(env: &dyn Env) -> Result<PathBuf, ConfigError> {
    if let Some(xdg) = env.get("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("swelearn").join("swelearn.toml"));
    }
    directories::ProjectDirs::from("", "", "swelearn")
        .map(|d| d.config_dir().join("swelearn.toml"))
        .ok_or(ConfigError::NoHome)
}

fn default_data_dir(env: &dyn Env) -> Result<PathBuf, ConfigError> {
    if let Some(xdg) = env.get("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("swelearn"));
    }
    directories::ProjectDirs::from("", "", "swelearn")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(ConfigError::NoHome)
}

impl Config {
    /// Builds the layered configuration.
    pub fn load(flags: &FlagOverrides, env: &dyn Env) -> Result<Config, ConfigError> {
        let (config_file, explicit) = match (&flags.config, env.get("SWELEARN_CONFIG")) {
            (Some(p), _) => (p.clone(), true),
            (None, Some(p)) => (PathBuf::from(p), true),
            (None, None) => (default_config_file(env)?, false),
        };
        let data_default = match env.get("SWELEARN_DATA_DIR") {
            // Resolved below as an env layer; avoid failing on a missing home first.
            Some(_) => PathBuf::new(),
            None if flags.data_dir.is_some() => PathBuf::new(),
            None => default_data_dir(env)?,
        };
        let mut config = Config {
            config_file_exists: config_file.is_file(),
            config_file,
            content_dirs: Sourced::default(Vec::new()),
            color: Sourced::default(ColorChoice::Auto),
            mouse: Sourced::default(true),
            data_dir: Sourced::default(data_default),
            desired_retention: Sourced::default(0.9),
        };

        // Layer 2: the file. A missing default file is fine; a missing explicit one is not.
        match std::fs::read_to_string(&config.config_file) {
            Ok(text) => config.apply_file(&text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {}
            Err(source) => {
                return Err(ConfigError::Read {
                    path: config.config_file.clone(),
                    source,
                });
            }
        }

        // Layer 3: environment.
        let env_src = |var: &str| ValueSource::Env { var: var.into() };
        if let Some(v) = env.get("SWELEARN_CONTENT_DIRS") {
            let dirs = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            config
                .content_dirs
                .set(dirs, env_src("SWELEARN_CONTENT_DIRS"));
        }
        if let Some(v) = env.get("SWELEARN_COLOR") {
            let c = ColorChoice::parse(&v).ok_or_else(|| ConfigError::Env {
                var: "SWELEARN_COLOR".into(),
                message: format!("bad value `{v}`: expected auto, always or never"),
            })?;
            config.color.set(c, env_src("SWELEARN_COLOR"));
        }
        if let Some(v) = env.get("SWELEARN_MOUSE") {
            let m = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "SWELEARN_MOUSE".into(),
                        message: format!("bad value `{v}`: expected true or false"),
                    });
                }
            };
            config.mouse.set(m, env_src("SWELEARN_MOUSE"));
        }
        if let Some(v) = env.get("SWELEARN_DESIRED_RETENTION") {
            let r = v
                .parse::<f32>()
                .ok()
                .filter(|r| RETENTION_RANGE.contains(r))
                .ok_or_else(|| ConfigError::Env {
                    var: "SWELEARN_DESIRED_RETENTION".into(),
                    message: format!("bad value `{v}`: expected a number from 0.7 to 0.99"),
                })?;
            config
                .desired_retention
                .set(r, env_src("SWELEARN_DESIRED_RETENTION"));
        }
        if let Some(v) = env.get("SWELEARN_DATA_DIR") {
            config
                .data_dir
                .set(PathBuf::from(v), env_src("SWELEARN_DATA_DIR"));
        }

        // Layer 4: flags.
        let flag = |f: &str| ValueSource::Flag { flag: f.into() };
        if !flags.content_dirs.is_empty() {
            config
                .content_dirs
                .set(flags.content_dirs.clone(), flag("--content-dir"));
        }
        if let Some(c) = flags.color {
            config.color.set(c, flag("--color"));
        }
        if let Some(d) = &flags.data_dir {
            config.data_dir.set(d.clone(), flag("--data-dir"));
        }
        Ok(config)
    }

    fn apply_file(&mut self, text: &str) -> Result<(), ConfigError> {
        let path = self.config_file.clone();
        let parsed: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
            path: path.clone(),
        })?;
        let src = |offset: usize| ValueSource::File {
            path: path.clone(),
            line: line_of(text, offset),
        };
        // Relative content dirs are relative to the config file's directory.
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if let Some(dirs) = parsed.content.dirs {
            let offset = dirs.span().start;
            let resolved = dirs
                .into_inner()
                .into_iter()
                .map(|d| expand_home(&d, &base))
                .collect();
            self.content_dirs.set(resolved, src(offset));
        }
        if let Some(color) = parsed.ui.color {
            let offset = color.span().start;
            let c = ColorChoice::parse(color.get_ref()).ok_or_else(|| ConfigError::Invalid {
                path: path.clone(),
                line: line_of(text, offset),
                message: format!(
                    "ui.color: bad value `{}`: expected auto, always or never",
                    color.get_ref()
                ),
            })?;
            self.color.set(c, src(offset));
        }
        if let Some(mouse) = parsed.ui.mouse {
            let offset = mouse.span().start;
            self.mouse.set(mouse.into_inner(), src(offset));
        }
        if let Some(r) = parsed.quiz.desired_retention {
            let offset = r.span().start;
            let value = r.into_inner();
            if !RETENTION_RANGE.contains(&value) {
                return Err(ConfigError::Invalid {
                    path,
                    line: line_of(text, offset),
                    message: format!(
                        "quiz.desired_retention: {value} is out of range: expected 0.7 to 0.99"
                    ),
                });
            }
            self.desired_retention.set(value, src(offset));
        }
        if let Some(dir) = parsed.data.dir {
            let offset = dir.span().start;
            let d = dir.into_inner();
            if d.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    path,
                    line: line_of(text, offset),
                    message: "data.dir is empty: remove the key to use the default".into(),
                });
            }
            self.data_dir.set(expand_home(&d, &base), src(offset));
        }
        Ok(())
    }

    /// `(key, value, source)` rows for `swelearn config`.
    pub fn rows(&self) -> Vec<(&'static str, String, &ValueSource)> {
        let dirs = if self.content_dirs.value.is_empty() {
            "[]".to_string()
        } else {
            self.content_dirs
                .value
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            ("content.dirs", dirs, &self.content_dirs.source),
            (
                "ui.color",
                self.color.value.as_str().to_string(),
                &self.color.source,
            ),
            ("ui.mouse", self.mouse.value.to_string(), &self.mouse.source),
            (
                "data.dir",
                self.data_dir.value.display().to_string(),
                &self.data_dir.source,
            ),
        ]
    }
}

/// `~/x` -> `$HOME/x`; relative paths are taken relative to `base`.
fn expand_home(p: &str, base: &Path) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
    {
        return home.join(rest);
    }
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, String>);
    impl Env for MapEnv {
        fn get(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> MapEnv {
        MapEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    #[test]
    fn defaults_without_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let xdg = dir.path().to_string_lossy().to_string();
        let c = Config::load(
            &FlagOverrides::default(),
            &env(&[("XDG_CONFIG_HOME", &xdg), ("XDG_DATA_HOME", &xdg)]),
        )
        .expect("config");
        assert!(!c.config_file_exists);
        assert_eq!(c.config_file, dir.path().join("swelearn/swelearn.toml"));
        assert_eq!(c.data_dir.value, dir.path().join("swelearn"));
        assert_eq!(c.color.source, ValueSource::Default);
    }

    #[test]
    fn layers_file_then_env_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[content]\ndirs = [\"cards\"]\n\n[ui]\ncolor = \"never\"\nmouse = false\n",
        )
        .expect("write");
        let flags = FlagOverrides {
            config: Some(file.clone()),
            ..FlagOverrides::default()
        };
        let e = env(&[
            ("SWELEARN_COLOR", "always"),
            ("SWELEARN_DATA_DIR", "/tmp/d"),
        ]);
        let c = Config::load(&flags, &e).expect("config");
        assert_eq!(c.content_dirs.value, [dir.path().join("cards")]);
        assert_eq!(
            c.content_dirs.source,
            ValueSource::File {
                path: file.clone(),
                line: 2
            }
        );
        assert_eq!(
            c.mouse.source,
            ValueSource::File {
                path: file.clone(),
                line: 6
            }
        );
        assert_eq!(c.color.value, ColorChoice::Always);
        assert_eq!(
            c.color.source,
            ValueSource::Env {
                var: "SWELEARN_COLOR".into()
            }
        );
        let flags = FlagOverrides {
            color: Some(ColorChoice::Never),
            data_dir: Some("/x".into()),
            ..flags
        };
        let c = Config::load(&flags, &e).expect("config");
        assert_eq!(
            c.color.source,
            ValueSource::Flag {
                flag: "--color".into()
            }
        );
        assert_eq!(c.data_dir.value, PathBuf::from("/x"));
    }

    #[test]
    fn the_documented_file_in_the_repository_gives_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("swelearn.toml");
        let flags = FlagOverrides {
            config: Some(file),
            ..FlagOverrides::default()
        };
        let documented =
            Config::load(&flags, &env(&[("XDG_DATA_HOME", "/d")])).expect("documented file parses");
        let defaults = Config::load(
            &FlagOverrides::default(),
            &env(&[("XDG_DATA_HOME", "/d"), ("XDG_CONFIG_HOME", "/nonexistent")]),
        )
        .expect("defaults");
        assert_eq!(documented.content_dirs.value, defaults.content_dirs.value);
        assert_eq!(documented.color.value, defaults.color.value);
        assert_eq!(documented.mouse.value, defaults.mouse.value);
        assert_eq!(documented.data_dir.value, defaults.data_dir.value);
        assert_eq!(
            documented.desired_retention.value,
            defaults.desired_retention.value
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        let flags = FlagOverrides {
            config: Some(file.clone()),
            ..FlagOverrides::default()
        };
        std::fs::write(&file, "[ui]\nmouse = true\ncolour = \"red\"\n").expect("write");
        let err = Config::load(&flags, &env(&[]))
            .expect_err("unknown key")
            .to_string();
        assert!(
            err.starts_with(&format!("{}:3: unknown field `colour`", file.display())),
            "{err}"
        );
        std::fs::write(&file, "[ui]\ncolor = \"red\"\n").expect("write");
        let err = Config::load(&flags, &env(&[]))
            .expect_err("bad value")
            .to_string();
        assert!(
            err.starts_with(&format!("{}:2: ui.color: bad value `red`", file.display())),
            "{err}"
        );
        let missing = FlagOverrides {
            config: Some(dir.path().join("nope.toml")),
            ..FlagOverrides::default()
        };
        let err = Config::load(&missing, &env(&[]))
            .expect_err("missing explicit file")
            .to_string();
        assert!(err.starts_with("cannot read config file"), "{err}");
    }
}
