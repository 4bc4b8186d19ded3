# Outputs. Only the Application Insights connection string is sensitive.

# Exactly one of the two function app resources exists (count 0/1): one() picks it.
locals {
  function_app_name = one(concat(
    azurerm_function_app_flex_consumption.main[*].name,
    azurerm_linux_function_app.main[*].name,
  ))
  function_app_default_hostname = one(concat(
    azurerm_function_app_flex_consumption.main[*].default_hostname,
    azurerm_linux_function_app.main[*].default_hostname,
  ))
}

output "resource_group_name" {
  description = "Resource group holding everything."
  value       = azurerm_resource_group.main.name
}

output "plan_sku" {
  description = "Hosting plan SKU in use (FC1 = Flex Consumption)."
  value       = var.plan_sku
}

output "function_app_name" {
  description = "Function app name (for az functionapp commands)."
  value       = local.function_app_name
}

output "function_app_default_hostname" {
  description = "Default hostname; the functions are under https://<hostname>/api/..."
  value       = local.function_app_default_hostname
}

output "reports_storage_account_name" {
  description = "Storage account of the artifacts and daily reports (Entra ID only)."
  value       = azurerm_storage_account.reports.name
}

output "reports_blob_endpoint" {
  description = "AZURE_STORAGE_ACCOUNT_URL given to the handler."
  value       = trimsuffix(azurerm_storage_account.reports.primary_blob_endpoint, "/")
}

output "reports_container_name" {
  description = "AZURE_STORAGE_CONTAINER given to the handler."
  value       = azurerm_storage_container.reports.name
}

output "identity_client_id" {
  description = "Client ID of the handler's user-assigned identity (AZURE_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.handler.client_id
}

output "identity_principal_id" {
  description = "Object (principal) ID of the handler's user-assigned identity, for extra role assignments."
  value       = azurerm_user_assigned_identity.handler.principal_id
}

output "key_vault_name" {
  description = "Key vault holding db-url and clickhouse-password."
  value       = azurerm_key_vault.main.name
}

output "application_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING of the app."
  value       = azurerm_application_insights.main.connection_string
  sensitive   = true
}

output "report_queue_name" {
  description = "REPORT_QUEUE: the report worker's queue in the host storage account (null: no queue, reports are generated inline)."
  value       = one(azurerm_storage_queue.reports[*].name)
}

output "report_queue_url" {
  description = "Data-plane URL of the report worker's queue; its poison queue is the same URL with -poison."
  value       = one(azurerm_storage_queue.reports[*].url)
}

output "auth_client_id" {
  description = "Client ID of the sign-in app registration: scripts/verify-deployment --client-id, tokens for api://<it>."
  value       = var.auth_client_id
}

output "report_queue_id" {
  description = "Resource Manager ID of the report queue (a role-assignment scope); null when report_queue_name is blank."
  value       = one(azurerm_storage_queue.reports[*].id)
}
