terraform {
  # 1.9: validation conditions that refer to other variables (variables.tf:
  # the custom domains, the authorization safe defaults).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exactly the version `make tf-check` checks this configuration
      # against (terraform.mk: TF_AWS_PROVIDER, the hashicorp/aws version the
      # distilled schema comes from; a contract test holds the two together).
      # Without a pin, `terraform init` would take the newest 6.x, whose
      # schema no check has seen. Raise both together.
      version = "6.62.0"
    }
  }
}
