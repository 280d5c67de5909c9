//! The story's steps as they happen: printed with their number and time while the story
//! runs, and kept for `report.md`.

use super::error::{DemoError, Result};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// One finished (or failed) step.
#[derive(Debug, Clone)]
pub struct Step {
    pub number: usize,
    pub title: String,
    /// What the step showed, one line each (amounts, serials, the platform's answer ...).
    pub details: Vec<String>,
    pub took: Duration,
    /// `None` when the step succeeded; the error otherwise.
    pub failed: Option<String>,
}

/// The steps so far, and the one under way.
#[derive(Debug)]
pub struct Journal {
    total: usize,
    print: bool,
    started: Instant,
    current: Option<(String, Instant, Vec<String>)>,
    pub steps: Vec<Step>,
}

impl Journal {
    /// A journal for `total` steps; `print` shows progress on stdout.
    pub fn new(total: usize, print: bool) -> Journal {
        Journal {
            total,
            print,
            started: Instant::now(),
            current: None,
            steps: Vec::new(),
        }
    }

    /// Start the next step.
    pub fn begin(&mut self, title: impl Into<String>) {
        let title = title.into();
        if self.print {
            crate::say!("\n[{:>2}/{}] {title}", self.steps.len() + 1, self.total);
        }
        self.current = Some((title, Instant::now(), Vec::new()));
    }

    /// A line of what the current step showed.
    pub fn note(&mut self, line: impl Into<String>) {
        let line = line.into();
        if self.print {
            crate::say!("        {line}");
        }
        if let Some((_, _, details)) = &mut self.current {
            details.push(line);
        }
    }

    /// The current step succeeded.
    pub fn end(&mut self) {
        self.finish(None);
    }

    /// The current step (if any) failed with `err`.
    pub fn fail(&mut self, err: &DemoError) {
        if self.current.is_some() {
            self.finish(Some(err.to_string()));
        }
    }

    fn finish(&mut self, failed: Option<String>) {
        let Some((title, at, details)) = self.current.take() else {
            return;
        };
        let took = at.elapsed();
        if self.print {
            match &failed {
                None => crate::say!("        ✓ {:.2} s", took.as_secs_f64()),
                Some(e) => crate::say!("        ✗ {:.2} s: {e}", took.as_secs_f64()),
            }
        }
        self.steps.push(Step {
            number: self.steps.len() + 1,
            title,
            details,
            took,
            failed,
        });
    }

    /// Whether every step so far succeeded.
    pub fn all_ok(&self) -> bool {
        self.steps.iter().all(|s| s.failed.is_none())
    }

    /// Time since the journal began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The report as Markdown: a table of steps and times, then each step's details.
    pub fn to_markdown(&self, header: &[String]) -> String {
        let mut md = String::from("# Bidkey demo: the whole story\n\n");
        for line in header {
            let _ = writeln!(md, "{line}  ");
        }
        let _ = writeln!(
            md,
            "\n{} of {} steps, {}, in {:.1} s.\n",
            self.steps.iter().filter(|s| s.failed.is_none()).count(),
            self.total,
            if self.all_ok() && self.steps.len() == self.total {
                "all passed"
            } else {
                "NOT all passed"
            },
            self.elapsed().as_secs_f64()
        );
        md.push_str("| # | step | result | time |\n| ---: | --- | --- | ---: |\n");
        for s in &self.steps {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} s |",
                s.number,
                s.title.replace('|', "\\|"),
                if s.failed.is_none() { "ok" } else { "FAILED" },
                s.took.as_secs_f64()
            );
        }
        for s in &self.steps {
            let _ = writeln!(md, "\n## {}. {}\n", s.number, s.title);
            for d in &s.details {
                let _ = writeln!(md, "- {d}");
            }
            if let Some(e) = &s.failed {
                let _ = writeln!(md, "- **failed:** {e}");
            }
        }
        md
    }

    /// Write `report.md` into `dir`.
    pub fn write_report(&self, dir: &Path, header: &[String]) -> Result<std::path::PathBuf> {
        let path = dir.join("report.md");
        std::fs::write(&path, self.to_markdown(header))
            .map_err(|e| DemoError::io(path.display().to_string(), e))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_timed_and_reported() {
        let mut j = Journal::new(2, false);
        j.begin("first");
        j.note("a detail | with a bar");
        j.end();
        j.begin("second");
        j.fail(&DemoError::Unexpected("went wrong".into()));
        assert!(!j.all_ok());
        assert_eq!(j.steps[1].number, 2);
        let md = j.to_markdown(&["server: http://x".into()]);
        assert!(md.contains("| 1 | first | ok |"), "{md}");
        assert!(md.contains("| 2 | second | FAILED |"), "{md}");
        assert!(md.contains("- a detail | with a bar"), "{md}");
        assert!(md.contains("**failed:** went wrong"), "{md}");
        assert!(md.contains("NOT all passed"), "{md}");
    }
}
