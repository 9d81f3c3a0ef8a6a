//! The inputs: every variable is typed, described, has a safe default that
//! its own validations accept, and a validation (a bool has only two values,
//! and `nullable = false` keeps out the third); and the versions Terraform
//! and the provider are held to. That each validation refuses what it
//! should is proven by `tests/contract/validations.rs`, value by value.

use hcl::Expression;

use crate::eval::Scope;
use crate::terraform::{attr, blocks, object_get, string, string_attr};
use crate::{Makefile, Terraform};

/// The Terraform release whose features `variables.tf` uses: validation
/// conditions that refer to other variables.
pub const TERRAFORM_MINIMUM: &str = "1.9";

/// Each variable is typed, described and defaulted; a bool or a collection
/// is not nullable (null is no value for it); every other variable has a
/// validation; and with every variable at its default, no validation refuses.
pub fn variable_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let scope = match Scope::new(tf) {
        Ok(scope) => scope,
        Err(e) => return vec![format!("the variables' defaults do not evaluate: {e}")],
    };
    for (file, block) in tf
        .top_blocks()
        .filter(|(_, b)| b.identifier() == "variable")
    {
        let Some(name) = block.labels().first().map(|l| l.as_str()) else {
            continue;
        };
        let body = block.body();
        let place = format!("variable \"{name}\" ({file})");
        let ty = attr(body, "type");
        if ty.is_none() {
            problems.push(format!("{place} has no type"));
        }
        if string_attr(body, "description").is_none_or(|d| d.trim().len() < 20) {
            problems.push(format!("{place} has no description (or one of a few words): say what it does and what its values mean"));
        }
        if attr(body, "default").is_none() {
            problems.push(format!(
                "{place} has no default: `terraform apply` with nothing else must stand up a working service"
            ));
        }
        let kind = ty.map(type_kind).unwrap_or_default();
        let nullable = attr(body, "nullable").map(Expression::to_string);
        if matches!(kind.as_str(), "bool" | "list" | "set" | "map")
            && nullable.as_deref() != Some("false")
        {
            problems.push(format!(
                "{place} is a {kind} without `nullable = false`: null is no value for it, and would reach the \
                 configuration (or fail a validation with an unclear error)"
            ));
        }
        let validations = blocks(body, "validation");
        if kind != "bool" && validations.is_empty() {
            problems.push(format!(
                "{place} has no validation block: say which values are wrong before AWS does"
            ));
        }
        for validation in &validations {
            if attr(validation, "error_message").is_none() {
                problems.push(format!("{place}: a validation has no error_message"));
            }
        }
        match scope.refusals(name) {
            Ok(refused) if refused.is_empty() => {}
            Ok(refused) => problems.push(format!(
                "{place}: its default is refused by its own validations: {refused:?}"
            )),
            Err(e) => problems.push(format!("{place}: {e}")),
        }
    }
    problems
}

/// `string`, `number`, `bool`, `list`, `set`, `map`, `object`…
fn type_kind(ty: &Expression) -> String {
    match ty {
        Expression::Variable(v) => v.as_str().to_owned(),
        Expression::FuncCall(call) => call.name.name.as_str().to_owned(),
        other => other.to_string(),
    }
}

/// `versions.tf` pins hashicorp/aws to exactly the version the schema check
/// uses (`TF_AWS_PROVIDER` in terraform.mk, where the distilled schema comes
/// from), and asks for a Terraform that has the features the configuration
/// uses ([`TERRAFORM_MINIMUM`]).
pub fn version_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    let mut problems = Vec::new();
    let Some((file, terraform)) = tf.top_blocks().find(|(_, b)| b.identifier() == "terraform")
    else {
        return vec![
            "terraform/*.tf has no `terraform` block with required_version and required_providers"
                .to_owned(),
        ];
    };
    let checked = make.value("TF_AWS_PROVIDER");
    let pinned = blocks(terraform.body(), "required_providers")
        .first()
        .and_then(|p| attr(p, "aws"))
        .and_then(|aws| object_get(aws, "version"))
        .and_then(string);
    let exact = pinned
        .as_deref()
        .map(str::trim)
        .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if exact.is_none() || exact != checked.as_deref() {
        problems.push(format!(
            "terraform block ({file}): hashicorp/aws version is {pinned:?}, but `make tf-check` checks against \
             hashicorp/aws {checked:?} (terraform.mk: TF_AWS_PROVIDER): pin exactly that version, or `terraform init` \
             installs one no check has seen"
        ));
    }
    let required = string_attr(terraform.body(), "required_version");
    if required.as_deref().map(str::trim) != Some(format!(">= {TERRAFORM_MINIMUM}").as_str()) {
        problems.push(format!(
            "terraform block ({file}): required_version is {required:?}, but the configuration needs Terraform \
             {TERRAFORM_MINIMUM} (validations that refer to other variables): \">= {TERRAFORM_MINIMUM}\""
        ));
    }
    problems
}
