//! The few facts the checks need from the `Makefile`. A Makefile is not HCL:
//! this reads `NAME := value` / `NAME ?= value` / `NAME = value` lines, the
//! recipe that writes the architecture file and the `ifeq ($(ARCH),…)` arms.

use std::collections::BTreeMap;

/// The `Makefile`'s text and its first assignment of each variable.
#[derive(Debug)]
pub struct Makefile {
    text: String,
    /// First assignment of each variable, unexpanded.
    vars: BTreeMap<String, String>,
}

impl Makefile {
    /// Reads the assignments of `text` (recipe lines and comments skipped).
    pub fn parse(text: &str) -> Self {
        let mut vars = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('\t') || line.trim_start().starts_with('#') {
                continue;
            }
            for op in [":=", "?=", "="] {
                if let Some((name, value)) = line.split_once(op) {
                    let name = name.trim();
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        vars.entry(name.to_string())
                            .or_insert_with(|| value.trim().to_string());
                    }
                    break;
                }
            }
        }
        Self {
            text: text.to_string(),
            vars,
        }
    }

    /// `$(NAME)` references expanded from the Makefile's own assignments.
    pub fn expand(&self, value: &str) -> String {
        let mut out = value.to_string();
        for _ in 0..10 {
            let Some(start) = out.find("$(") else { break };
            let Some(len) = out[start..].find(')') else {
                break;
            };
            let name = &out[start + 2..start + len];
            let replacement = self.vars.get(name).cloned().unwrap_or_default();
            out.replace_range(start..=start + len, &replacement);
        }
        out
    }

    /// The expanded value of variable `name`.
    pub fn value(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| self.expand(v))
    }

    /// Where a recipe writes the architecture: the target of `> …/ARCH`.
    pub fn arch_file(&self) -> Option<String> {
        self.text
            .lines()
            .filter(|line| line.starts_with('\t'))
            .find_map(|line| {
                let (_, target) = line.rsplit_once('>')?;
                let target = target.trim();
                target.ends_with("/ARCH").then(|| self.expand(target))
            })
    }

    /// The values of ARCH the Makefile accepts (`ifeq ($(ARCH),value)`).
    pub fn arch_values(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|line| {
                let rest = line.split_once("ifeq ($(ARCH),")?.1;
                Some(rest.split_once(')')?.0.trim().to_string())
            })
            .collect()
    }
}
