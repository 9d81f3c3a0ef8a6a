//! The packages and the architecture: Terraform deploys what `make` builds.

use std::collections::BTreeSet;

use super::{display, function, FUNCTIONS};
use crate::terraform::{
    attr, blocks, calls, normalize, reference, string, string_list, strings_in,
};
use crate::{Makefile, Terraform};

/// Terraform reads the packages and the architecture file where `make` writes
/// them, and each function deploys (and redeploys on a change of) its own zip.
pub fn package_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    let mut problems = Vec::new();

    // The directory Terraform falls back to: "${path.module}/../build".
    let default_dir = match tf.local("package_dir") {
        Err(e) => Err(e),
        Ok((file, expr)) => strings_in(expr)
            .into_iter()
            .find(|s| s.contains("${path.module}"))
            .map(|s| normalize(&s.replace("${path.module}", "terraform")))
            .ok_or_else(|| {
                format!(
                    "local.package_dir ({file}) = `{expr}` has no \"${{path.module}}/…\" default"
                )
            }),
    };
    let default_dir = match default_dir {
        Ok(dir) => dir,
        Err(e) => {
            problems.push(format!(
                "{e}, but the Makefile writes the packages to BUILD = {:?}",
                make.value("BUILD")
            ));
            return problems;
        }
    };
    let resolve = |local: &str| -> (String, Option<String>) {
        match tf.local(local) {
            Ok((file, expr)) => (
                file.to_string(),
                string(expr).map(|s| normalize(&s.replace("${local.package_dir}", &default_dir))),
            ),
            Err(e) => (e, None),
        }
    };

    // One package may serve several functions (http and the worker): each once.
    let mut seen = BTreeSet::new();
    for f in FUNCTIONS.iter().filter(|f| seen.insert(f.package)) {
        let (file, terraform) = resolve(f.package);
        let makefile = make.value(f.make_var).map(|v| normalize(&v));
        if terraform.is_none() || terraform != makefile {
            problems.push(format!(
                "Terraform reads local.{} = {terraform:?} ({file}) but the Makefile writes {} = {makefile:?}",
                f.package, f.make_var
            ));
        }
    }

    // The architecture file `make` writes next to the zips.
    let (file, terraform_arch) = resolve("arch_file");
    let make_arch = make.arch_file().map(|v| normalize(&v));
    if terraform_arch.is_none() || terraform_arch != make_arch {
        problems.push(format!(
            "Terraform reads local.arch_file = {terraform_arch:?} ({file}) but the Makefile \
             writes the architecture to {make_arch:?}"
        ));
    }

    // Each function deploys its own package and redeploys when it changes.
    for f in &FUNCTIONS {
        let (place, body) = match function(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!("{e}, which should deploy local.{}", f.package));
                continue;
            }
        };
        let wanted = format!("local.{}", f.package);
        let filename = attr(body, "filename");
        if filename.and_then(reference).as_deref() != Some(wanted.as_str()) {
            problems.push(format!(
                "{place}: filename = `{}`, but the package `make` writes ({}) is {wanted}",
                display(filename),
                f.make_var
            ));
        }
        let hash = attr(body, "source_code_hash");
        let hashes_package = hash.is_some_and(|h| {
            calls(h, "filebase64sha256")
                .iter()
                .any(|args| args.first().and_then(reference).as_deref() == Some(wanted.as_str()))
        });
        if !hashes_package {
            problems.push(format!(
                "{place}: source_code_hash = `{}` does not hash {wanted} (filebase64sha256), so a new \
                 {} would not be deployed",
                display(hash),
                f.make_var
            ));
        }
    }
    problems
}

/// `make ARCH=…` and `var.architecture` accept the same values, and
/// `local.architecture` falls back to the Makefile's default ARCH.
pub fn architecture_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    let mut problems = Vec::new();
    let make_values: BTreeSet<String> = make.arch_values().into_iter().collect();
    match tf.block("variable", &["architecture"]) {
        Err(e) => problems.push(format!(
            "{e}, but the Makefile's ARCH accepts {make_values:?}"
        )),
        Ok((file, variable)) => {
            let terraform_values: BTreeSet<String> = blocks(variable, "validation")
                .iter()
                .filter_map(|v| attr(v, "condition"))
                .flat_map(|condition| calls(condition, "contains"))
                .filter_map(|args| args.first().and_then(|list| string_list(list).ok()))
                .flatten()
                .collect();
            if terraform_values.is_empty() || terraform_values != make_values {
                problems.push(format!(
                    "variable \"architecture\" ({file}) accepts {terraform_values:?} (its validation's \
                     contains([…], …)) but the Makefile's ARCH accepts {make_values:?}"
                ));
            }
        }
    }

    let make_default = make.value("ARCH");
    match tf.local("architecture") {
        Err(e) => problems.push(format!(
            "{e}, but the Makefile's ARCH defaults to {make_default:?}"
        )),
        Ok((file, expr)) => {
            // coalesce(var.architecture, local.built_arch, "arm64"): the last argument.
            let terraform_default = calls(expr, "coalesce")
                .first()
                .and_then(|args| args.last())
                .and_then(string);
            if terraform_default.is_none() || terraform_default != make_default {
                problems.push(format!(
                    "local.architecture ({file}) = `{expr}` falls back to {terraform_default:?} but the \
                     Makefile's ARCH defaults to {make_default:?}"
                ));
            }
        }
    }
    problems
}
