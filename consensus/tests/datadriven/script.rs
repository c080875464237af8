//! A tiny reader and rewriter for etcd-style datadriven scripts.
//!
//! A script is a sequence of test cases separated by blank lines; lines starting with `#`
//! between cases are comments. A case is a command line (`name arg key=value
//! key=(a,b)`), optional input lines, a `----` line and the expected output, ended by a
//! blank line. An expected output that itself holds blank lines is fenced as in etcd:
//! `----` twice before it and `----` twice after it.
//!
//! `REWRITE=1` writes the actual outputs back into the script instead of comparing.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// One argument of a command line: `key`, `key=value` or `key=(v1,v2)`.
#[derive(Clone, Debug)]
pub struct Arg {
    pub key: String,
    pub vals: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct TestCase {
    /// `file:line` of the command line, for error messages.
    pub pos: String,
    pub cmd: String,
    pub args: Vec<Arg>,
    pub input: Vec<String>,
}

enum Chunk {
    /// Comments and blank lines between cases, kept as they are.
    Verbatim(String),
    /// The command line, input and `----`, kept as they are; the expected output.
    Case { header: String, case: TestCase, expected: String },
}

const SEPARATOR: &str = "----";

/// Runs every case of the script at `path` through `handle`, in order. Returns a
/// description of the first case whose output differs (or that panicked).
pub fn run_file(path: &Path, handle: &mut dyn FnMut(&TestCase) -> String) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chunks = parse(&path.display().to_string(), &text)?;
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut rewritten = String::new();
    for chunk in &chunks {
        let (header, case, expected) = match chunk {
            Chunk::Verbatim(text) => {
                rewritten.push_str(text);
                continue;
            }
            Chunk::Case { header, case, expected } => (header, case, expected),
        };
        let actual = match catch_unwind(AssertUnwindSafe(|| handle(case))) {
            Ok(output) => normalize(output),
            Err(panic) => {
                return Err(format!("{}: `{}` panicked: {}", case.pos, case.cmd, panic_text(&panic)))
            }
        };
        if rewrite {
            rewritten.push_str(header);
            rewritten.push_str(&fence(&actual));
            rewritten.push('\n');
        } else if &actual != expected {
            return Err(format!(
                "{}: output of `{}` differs\n--- expected\n{expected}--- actual\n{actual}",
                case.pos,
                header.lines().next().unwrap_or_default()
            ));
        }
    }
    if rewrite {
        let text = format!("{}\n", rewritten.trim_end());
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn parse(file: &str, text: &str) -> Result<Vec<Chunk>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            chunks.push(Chunk::Verbatim(format!("{line}\n")));
            i += 1;
            continue;
        }
        let pos = format!("{file}:{}", i + 1);
        let mut header = String::new();
        let mut input = Vec::new();
        writeln!(header, "{line}").expect("write to String");
        i += 1;
        loop {
            let Some(next) = lines.get(i) else {
                return Err(format!("{pos}: no `{SEPARATOR}` after the command"));
            };
            writeln!(header, "{next}").expect("write to String");
            i += 1;
            if *next == SEPARATOR {
                break;
            }
            input.push(next.to_string());
        }
        let expected;
        if lines.get(i) == Some(&SEPARATOR) {
            // Fenced output: up to a `----` line directly followed by another.
            let start = i + 1;
            let mut end = start;
            while !(lines.get(end) == Some(&SEPARATOR) && lines.get(end + 1) == Some(&SEPARATOR)) {
                if end >= lines.len() {
                    return Err(format!("{pos}: fenced output is not closed by `{SEPARATOR}` twice"));
                }
                end += 1;
            }
            expected = join(&lines[start..end]);
            i = end + 2;
        } else {
            let start = i;
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            expected = join(&lines[start..i]);
        }
        // The blank line that ends the case belongs to it.
        if lines.get(i).is_some_and(|l| l.trim().is_empty()) {
            i += 1;
        }
        let case = parse_command(pos, line, input)?;
        chunks.push(Chunk::Case { header, case, expected });
    }
    Ok(chunks)
}

fn parse_command(pos: String, line: &str, input: Vec<String>) -> Result<TestCase, String> {
    let mut words = line.split_whitespace();
    let cmd = words.next().ok_or_else(|| format!("{pos}: empty command"))?.to_string();
    let args = words
        .map(|word| match word.split_once('=') {
            None => Arg { key: word.to_string(), vals: Vec::new() },
            Some((key, value)) => {
                let vals = match value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
                    Some(list) => list.split(',').filter(|v| !v.is_empty()).map(str::to_string).collect(),
                    None => vec![value.to_string()],
                };
                Arg { key: key.to_string(), vals }
            }
        })
        .collect();
    Ok(TestCase { pos, cmd, args, input })
}

fn join(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Every output ends with a newline; an empty one reads `ok`.
fn normalize(output: String) -> String {
    let output = output.trim_end();
    if output.is_empty() {
        "ok\n".to_string()
    } else {
        format!("{output}\n")
    }
}

/// The output as it is written after the case's `----`: fenced if it holds a blank line.
fn fence(output: &str) -> String {
    if output.lines().any(|l| l.trim().is_empty()) {
        format!("{SEPARATOR}\n{output}{SEPARATOR}\n{SEPARATOR}\n")
    } else {
        output.to_string()
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else {
        "(non-string panic)".to_string()
    }
}

#[test]
fn parses_plain_and_fenced_outputs() {
    let text = "# comment\n\ncmd 1 k=v l=(1,2)\ninput\n----\nout\n\nfenced\n----\n----\na\n\nb\n----\n----\n";
    let chunks = parse("t", text).expect("parses");
    let cases: Vec<(&TestCase, &String)> = chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Case { case, expected, .. } => Some((case, expected)),
            Chunk::Verbatim(_) => None,
        })
        .collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].0.cmd, "cmd");
    assert_eq!(cases[0].0.args[2].vals, vec!["1", "2"]);
    assert_eq!(cases[0].0.input, vec!["input"]);
    assert_eq!(cases[0].1, "out\n");
    assert_eq!(cases[1].1, "a\n\nb\n");
    assert_eq!(fence("a\n\nb\n"), "----\na\n\nb\n----\n----\n");
}
