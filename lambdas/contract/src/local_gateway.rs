//! Constants of the local gateway (`lambdas/local`) that Terraform must agree
//! with, read from its source as the `Makefile` is read: one number does not
//! justify linking the gateway (a web server and the SDK clients) into this
//! crate.

use std::fs;

use crate::terraform::repo_root;

/// The file that declares `MAX_RECEIVES`, from the repository root.
pub const WORKERS_RS: &str = "lambdas/local/src/workers.rs";

/// `local_gateway::MAX_RECEIVES`: how often the local gateway hands a shard
/// job to a worker before dead-lettering it, as the publish queue's
/// `maxReceiveCount` does on AWS.
pub fn max_receives() -> Result<u32, String> {
    let path = repo_root().join(WORKERS_RS);
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    max_receives_in(&text)
        .ok_or_else(|| format!("{WORKERS_RS} has no `pub const MAX_RECEIVES: u32 = <number>;`"))
}

/// The value of `pub const MAX_RECEIVES: u32 = N;` in `text`.
pub fn max_receives_in(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("pub const MAX_RECEIVES: u32 =")?
            .trim()
            .strip_suffix(';')?
            .trim()
            .replace('_', "")
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_constant() {
        let text = "/// doc\npub const MAX_RECEIVES: u32 = 5;\nconst OTHER: u32 = 7;\n";
        assert_eq!(max_receives_in(text), Some(5));
        assert_eq!(
            max_receives_in("pub const MAX_RECEIVES: u32 = 1_0;"),
            Some(10)
        );
        assert_eq!(max_receives_in("pub const MAX_RECEIVES: usize = 5;"), None);
        assert_eq!(max_receives_in("pub const MAX_RECEIVES: u32 = five;"), None);
    }

    #[test]
    fn the_gateway_declares_it() {
        assert!(max_receives().is_ok_and(|n| n >= 1), "{:?}", max_receives());
    }
}
