terraform {
  # 1.6: `check` blocks, validation messages and preconditions as used here.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # One major: 6.x resets the API Gateway account settings on destroy and
      # drops `reset_on_delete`; 7.x may remove the GSI `hash_key`/`range_key`
      # arguments used in dynamodb.tf.
      version = "~> 6.0"
    }
  }
}
