# Terraform and provider versions.
#
# - Terraform >= 1.11: `azurerm_key_vault_secret.value_wo` is a write-only argument (the
#   secret values never reach the state), and write-only arguments need Terraform 1.11. (It
#   also covers the validation of flex_always_ready_http against flex_maximum_instance_count:
#   a validation that refers to another variable needs Terraform >= 1.9.)
# - azurerm ~> 4.58 (>= 4.58, < 5.0):
#   - at least v4.43.0: in v4.42.0 a change of
#     `azurerm_function_app_flex_consumption.instance_memory_in_mb` is silently ignored (the
#     plan shows it, the app keeps its old size);
#   - `azurerm_key_vault.rbac_authorization_enabled` first appears in v4.42.0 (it replaces
#     `enable_rbac_authorization`, which is removed in 5.0);
#   - `azurerm_storage_queue.storage_account_id` (the queue created through Resource Manager,
#     which `storage.data_plane_available = false` below requires) first appears in v4.46.0;
#   - `azurerm_function_app_flex_consumption.maximum_instance_count` accepts 1-1000 from
#     v4.58.0 (40-1000 before), which lets the report worker's scale-out be capped below 40;
#   `azurerm_function_app_flex_consumption` (with `runtime_name = "custom"`) and the provider
#   feature `storage.data_plane_available` are older than that.
#   Docs: registry.terraform.io/providers/hashicorp/azurerm/latest/docs
#   infra/check refuses a pin whose lower bound is below 4.43.
# - .terraform.lock.hcl (the exact provider versions and their hashes) belongs in git next to
#   this file; it is not committed yet because the machine this was written on cannot reach
#   the registry. Generate it (README "Provider lock file") and commit it.
terraform {
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.58"
    }
    # The sign-in's enterprise application (assignment required) and its app roles
    # (main.tf, "Sign-in"): `azuread_service_principal.use_existing` and
    # `azuread_application_app_role` are in 3.x.
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.0"
    }
  }
}

provider "azurerm" {
  # Null = take ARM_SUBSCRIPTION_ID from the environment (azurerm 4.x requires one of them).
  subscription_id = var.subscription_id

  # The reports account has shared-key access disabled: data-plane calls from the provider
  # (if any) must use Entra ID, and `data_plane_available = false` below keeps the provider
  # on the Resource Manager API only (containers and queues are created through
  # `storage_account_id`).
  storage_use_azuread = true

  features {
    storage {
      data_plane_available = false
    }
    key_vault {
      # Purge protection is on by default (var.key_vault_purge_protection): never try to purge.
      purge_soft_delete_on_destroy          = false
      purge_soft_deleted_secrets_on_destroy = false
      recover_soft_deleted_key_vaults       = true
      recover_soft_deleted_secrets          = true
    }
  }
}
