//! The safe arithmetic language of numeric quiz templates.
//!
//! A quiz item's `answer` may be an expression over its `params` (see
//! `docs/content-format.md`): numbers, parameter names, `+ - * / ^`, parentheses and
//! the functions `min max abs floor ceil round sqrt ln log2 log10 exp`. This module
//! is a small recursive-descent parser into an AST and an evaluator for that AST;
//! nothing else can be expressed, so content can never run code. `quiz` parses and
//! validates expressions, `grade` evaluates them with sampled parameter values.
//!
//! Precedence, loosest first: `+ -`, then `* /`, then unary `-`/`+`, then `^`
//! (right-associative), so `-2^2 = -4` and `2^3^2 = 512`, as in mathematics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// Longest expression accepted, in bytes.
const MAX_LEN: usize = 1000;
/// Deepest nesting of parentheses/unary operators/function calls accepted.
const MAX_DEPTH: usize = 64;

/// An error in the text of an expression; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("column {column}: {message}")]
pub struct ExprError {
    /// 1-based character column where the problem was found.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// An error while evaluating a well-formed expression.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// A name that is not among the supplied parameters.
    #[error("unknown parameter `{0}`")]
    UnknownName(String),
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A result that is infinite or not a number (e.g. `sqrt(-1)`, `ln(0)`).
    #[error("`{0}` is not a finite number")]
    NonFinite(String),
}

/// The functions an expression may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Smallest argument (1+ arguments).
    Min,
    /// Largest argument (1+ arguments).
    Max,
    /// Absolute value.
    Abs,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
    /// Round half away from zero.
    Round,
    /// Square root.
    Sqrt,
    /// Natural logarithm.
    Ln,
    /// Base-2 logarithm.
    Log2,
    /// Base-10 logarithm.
    Log10,
    /// e to the power of the argument.
    Exp,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "min" => Self::Min,
            "max" => Self::Max,
            "abs" => Self::Abs,
            "floor" => Self::Floor,
            "ceil" => Self::Ceil,
            "round" => Self::Round,
            "sqrt" => Self::Sqrt,
            "ln" => Self::Ln,
            "log2" => Self::Log2,
            "log10" => Self::Log10,
            "exp" => Self::Exp,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Abs => "abs",
            Self::Floor => "floor",
            Self::Ceil => "ceil",
            Self::Round => "round",
            Self::Sqrt => "sqrt",
            Self::Ln => "ln",
            Self::Log2 => "log2",
            Self::Log10 => "log10",
            Self::Exp => "exp",
        }
    }

    fn variadic(self) -> bool {
        matches!(self, Self::Min | Self::Max)
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
}

/// A parsed expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A literal number.
    Num(f64),
    /// A parameter reference.
    Var(String),
    /// Unary minus.
    Neg(Box<Node>),
    /// A binary operation.
    Bin(BinOp, Box<Node>, Box<Node>),
    /// A function call.
    Call(Func, Vec<Node>),
}

/// A parsed expression together with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expr {
    /// Parses `text`; the error names the column of the first problem.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        if text.len() > MAX_LEN {
            return Err(ExprError {
                column: 1,
                message: format!("expression longer than {MAX_LEN} bytes"),
            });
        }
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            depth: 0,
            end_column: text.chars().count() + 1,
        };
        let root = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(ExprError {
                column: t.column,
                message: format!("unexpected {}", t.kind),
            });
        }
        Ok(Self {
            source: text.trim().to_string(),
            root,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The tree.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The parameter names the expression refers to.
    pub fn names(&self) -> BTreeSet<&str> {
        fn walk<'a>(n: &'a Node, out: &mut BTreeSet<&'a str>) {
            match n {
                Node::Num(_) => {}
                Node::Var(v) => {
                    out.insert(v.as_str());
                }
                Node::Neg(a) => walk(a, out),
                Node::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Node::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.root, &mut out);
        out
    }

    /// The value of a constant expression (one with no names), if it has one.
    pub fn constant(&self) -> Option<f64> {
        if self.names().is_empty() {
            self.eval(&BTreeMap::new()).ok()
        } else {
            None
        }
    }

    /// Evaluates with the given parameter values. Every intermediate result must be
    /// finite, so `min(1/0, 5)` is an error rather than `5`.
    pub fn eval(&self, vars: &BTreeMap<String, f64>) -> Result<f64, EvalError> {
        eval(&self.root, vars)
    }
}

fn finite(v: f64, what: impl FnOnce() -> String) -> Result<f64, EvalError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(EvalError::NonFinite(what()))
    }
}

fn eval(n: &Node, vars: &BTreeMap<String, f64>) -> Result<f64, EvalError> {
    match n {
        Node::Num(v) => Ok(*v),
        Node::Var(name) => vars
            .get(name)
            .copied()
            .ok_or_else(|| EvalError::UnknownName(name.clone())),
        Node::Neg(a) => Ok(-eval(a, vars)?),
        Node::Bin(op, a, b) => {
            let x = eval(a, vars)?;
            let y = eval(b, vars)?;
            let (v, sym) = match op {
                BinOp::Add => (x + y, "+"),
                BinOp::Sub => (x - y, "-"),
                BinOp::Mul => (x * y, "*"),
                BinOp::Div => {
                    if y == 0.0 {
                        return Err(EvalError::DivisionByZero);
                    }
                    (x / y, "/")
                }
                BinOp::Pow => (x.powf(y), "^"),
            };
            finite(v, || format!("{x} {sym} {y}"))
        }
        Node::Call(f, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            let first = vals.first().copied().unwrap_or(f64::NAN);
            let v = match f {
                Func::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
                Func::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Func::Abs => first.abs(),
                Func::Floor => first.floor(),
                Func::Ceil => first.ceil(),
                Func::Round => first.round(),
                Func::Sqrt => first.sqrt(),
                Func::Ln => first.ln(),
                Func::Log2 => first.log2(),
                Func::Log10 => first.log10(),
                Func::Exp => first.exp(),
            };
            finite(v, || {
                let list: Vec<String> = vals.iter().map(f64::to_string).collect();
                format!("{}({})", f.name(), list.join(", "))
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokKind {
    Num(f64),
    Name(String),
    Op(char),
    LParen,
    RParen,
    Comma,
}

impl fmt::Display for TokKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(v) => write!(f, "number {v}"),
            Self::Name(n) => write!(f, "name `{n}`"),
            Self::Op(c) => write!(f, "`{c}`"),
            Self::LParen => f.write_str("`(`"),
            Self::RParen => f.write_str("`)`"),
            Self::Comma => f.write_str("`,`"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokKind,
    column: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // Exponent: e/E, optional sign, digits; only if digits follow.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let s: String = chars[start..i].iter().collect();
            let v: f64 = s.parse().map_err(|_| ExprError {
                column,
                message: format!("`{s}` is not a number"),
            })?;
            out.push(Token {
                kind: TokKind::Num(v),
                column,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                kind: TokKind::Name(chars[start..i].iter().collect()),
                column,
            });
            continue;
        }
        let kind = match c {
            '+' | '-' | '*' | '/' | '^' => TokKind::Op(c),
            '(' => TokKind::LParen,
            ')' => TokKind::RParen,
            ',' => TokKind::Comma,
            _ => {
                return Err(ExprError {
                    column,
                    message: format!("unexpected character `{c}`"),
                });
            }
        };
        out.push(Token { kind, column });
        i += 1;
    }
    Ok(out)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    end_column: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek_op(&self, ops: &[char]) -> Option<char> {
        match self.peek() {
            Some(Token {
                kind: TokKind::Op(c),
                ..
            }) if ops.contains(c) => Some(*c),
            _ => None,
        }
    }

    fn err_here(&self, message: impl Into<String>) -> ExprError {
        ExprError {
            column: self.peek().map_or(self.end_column, |t| t.column),
            message: message.into(),
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(format!("expression nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.term()?;
        while let Some(op) = self.peek_op(&['+', '-']) {
            self.pos += 1;
            let rhs = self.term()?;
            let op = if op == '+' { BinOp::Add } else { BinOp::Sub };
            lhs = Node::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_op(&['*', '/']) {
            self.pos += 1;
            let rhs = self.unary()?;
            let op = if op == '*' { BinOp::Mul } else { BinOp::Div };
            lhs = Node::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if let Some(op) = self.peek_op(&['-', '+']) {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(if op == '-' {
                Node::Neg(Box::new(inner))
            } else {
                inner
            });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.primary()?;
        if self.peek_op(&['^']).is_some() {
            self.pos += 1;
            self.enter()?;
            // Right-associative, and the exponent may carry a sign: 2^-1.
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Bin(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let Some(tok) = self.next() else {
            return Err(self.err_here("expression ends too early"));
        };
        match tok.kind {
            TokKind::Num(v) => Ok(Node::Num(v)),
            TokKind::LParen => {
                self.enter()?;
                let inner = self.expr()?;
                self.depth -= 1;
                self.expect_rparen(tok.column)?;
                Ok(inner)
            }
            TokKind::Name(name) => {
                let is_call = matches!(
                    self.peek(),
                    Some(Token {
                        kind: TokKind::LParen,
                        ..
                    })
                );
                if !is_call {
                    if Func::from_name(&name).is_some() {
                        return Err(ExprError {
                            column: tok.column,
                            message: format!("function `{name}` needs arguments: `{name}(...)`"),
                        });
                    }
                    return Ok(Node::Var(name));
                }
                let Some(func) = Func::from_name(&name) else {
                    return Err(ExprError {
                        column: tok.column,
                        message: format!(
                            "unknown function `{name}` (known: min max abs floor ceil round sqrt ln log2 log10 exp)"
                        ),
                    });
                };
                let open = self.next().map_or(tok.column, |t| t.column);
                self.enter()?;
                let mut args = vec![self.expr()?];
                while matches!(
                    self.peek(),
                    Some(Token {
                        kind: TokKind::Comma,
                        ..
                    })
                ) {
                    self.pos += 1;
                    args.push(self.expr()?);
                }
                self.depth -= 1;
                self.expect_rparen(open)?;
                if !func.variadic() && args.len() != 1 {
                    return Err(ExprError {
                        column: tok.column,
                        message: format!("`{name}` takes 1 argument, {} given", args.len()),
                    });
                }
                Ok(Node::Call(func, args))
            }
            other => Err(ExprError {
                column: tok.column,
                message: format!("expected a number, a name or `(`, found {other}"),
            }),
        }
    }

    fn expect_rparen(&mut self, open_column: usize) -> Result<(), ExprError> {
        match self.next() {
            Some(Token {
                kind: TokKind::RParen,
                ..
            }) => Ok(()),
            Some(t) => Err(ExprError {
                column: t.column,
                message: format!(
                    "expected `)` to close `(` at column {open_column}, found {}",
                    t.kind
                ),
            }),
            None => Err(ExprError {
                column: self.end_column,
                message: format!("missing `)` to close `(` at column {open_column}"),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests panic on failure by design.
mod tests {
    use super::*;

    fn ev(s: &str) -> f64 {
        Expr::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .eval(&BTreeMap::new())
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn vars(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(ev("1 + 2 * 3"), 7.0);
        assert_eq!(ev("(1 + 2) * 3"), 9.0);
        assert_eq!(ev("10 - 4 - 3"), 3.0);
        assert_eq!(ev("100 / 10 / 5"), 2.0);
        assert_eq!(ev("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(ev("-2 ^ 2"), -4.0);
        assert_eq!(ev("(-2) ^ 2"), 4.0);
        assert_eq!(ev("2 ^ -1"), 0.5);
        assert_eq!(ev("2 * -3"), -6.0);
        assert_eq!(ev("--3"), 3.0);
        assert_eq!(ev("+3"), 3.0);
        assert_eq!(ev("1.5e3 + .5"), 1500.5);
        assert_eq!(ev("2E-2"), 0.02);
    }

    #[test]
    fn functions() {
        assert_eq!(ev("min(3, 1, 2)"), 1.0);
        assert_eq!(ev("max(3, 1, 2)"), 3.0);
        assert_eq!(ev("max(7)"), 7.0);
        assert_eq!(ev("abs(-4)"), 4.0);
        assert_eq!(ev("floor(2.7) + ceil(2.1)"), 5.0);
        assert_eq!(ev("round(2.5)"), 3.0);
        assert_eq!(ev("round(-2.5)"), -3.0);
        assert_eq!(ev("sqrt(16)"), 4.0);
        assert_eq!(ev("log2(1024)"), 10.0);
        assert_eq!(ev("log10(1000)"), 3.0);
        assert_eq!(ev("ln(exp(2))"), 2.0);
    }

    #[test]
    fn names_are_looked_up() {
        let e = Expr::parse("users * 86400 / interval_s").unwrap();
        assert_eq!(
            e.names().into_iter().collect::<Vec<_>>(),
            vec!["interval_s", "users"]
        );
        let v = e
            .eval(&vars(&[("users", 1000.0), ("interval_s", 10.0)]))
            .unwrap();
        assert_eq!(v, 8_640_000.0);
        assert_eq!(
            e.eval(&vars(&[("users", 1.0)])),
            Err(EvalError::UnknownName("interval_s".into()))
        );
        assert_eq!(e.constant(), None);
        assert_eq!(Expr::parse("2*3").unwrap().constant(), Some(6.0));
    }

    #[test]
    fn evaluation_errors() {
        let e = |s: &str| Expr::parse(s).unwrap().eval(&vars(&[("x", 0.0)]));
        assert_eq!(e("1 / x"), Err(EvalError::DivisionByZero));
        assert!(matches!(e("sqrt(-1)"), Err(EvalError::NonFinite(_))));
        assert!(matches!(e("ln(x)"), Err(EvalError::NonFinite(_))));
        assert!(matches!(e("10 ^ 400"), Err(EvalError::NonFinite(_))));
        assert!(matches!(e("min(1 / x, 5)"), Err(EvalError::DivisionByZero)));
    }

    #[test]
    fn parse_errors_name_the_column() {
        let err = |s: &str| Expr::parse(s).unwrap_err();
        assert_eq!(err("1 +").column, 4);
        assert_eq!(err("1 + * 2").column, 5);
        assert_eq!(
            err("(1 + 2").message,
            "missing `)` to close `(` at column 1"
        );
        assert_eq!(err("1 2").column, 3);
        assert_eq!(err("2 % 3").column, 3);
        assert!(err("foo(1)").message.contains("unknown function `foo`"));
        assert!(err("sqrt(1, 2)").message.contains("takes 1 argument"));
        assert!(err("sqrt").message.contains("needs arguments"));
        assert!(err("min()").message.contains("expected a number"));
        assert!(err("1..2").message.contains("not a number"));
        assert!(err("").message.contains("ends too early"));
    }

    #[test]
    fn nothing_but_the_grammar_is_accepted() {
        for s in [
            "x = 3",
            "a; b",
            "\"str\"",
            "x.y",
            "x[1]",
            "system(\"ls\")",
            "1 && 2",
            "a ? b : c",
            "`ls`",
            "pi()",
            "x!",
            "$x",
        ] {
            assert!(Expr::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn depth_and_length_are_bounded() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(Expr::parse(&deep).unwrap_err().message.contains("nested"));
        let negs = format!("{}1", "-".repeat(200));
        assert!(Expr::parse(&negs).unwrap_err().message.contains("nested"));
        let long = "1+".repeat(600) + "1";
        assert!(Expr::parse(&long).unwrap_err().message.contains("longer"));
        let ok = format!("{}1{}", "(".repeat(50), ")".repeat(50));
        assert_eq!(ev(&ok), 1.0);
    }
}
