# Terraform and provider versions.
#
# - Terraform >= 1.11: `azurerm_key_vault_secret.value_wo` is a write-only argument (the
#   secret values never reach the state), and write-only arguments need Terraform 1.11.
# - azurerm ~> 4.42 (>= 4.42, < 5.0): `azurerm_key_vault.rbac_authorization_enabled` first
#   appears in v4.42.0 (it replaces `enable_rbac_authorization`, which is removed in 5.0);
#   `azurerm_function_app_flex_consumption` (with `runtime_name = "custom"`) and the provider
#   feature `storage.data_plane_available` are older than that.
#   Docs: registry.terraform.io/providers/hashicorp/azurerm/latest/docs
terraform {
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.42"
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
  # on the Resource Manager API only (containers are created through `storage_account_id`).
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
