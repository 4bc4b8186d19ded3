# call-analytics on Azure Functions (custom handler `handler`, see ../host.json).
#
# Resources (argument names checked against the azurerm 4.x docs, see README "Sources"):
#   resource group; user-assigned identity; Log Analytics workspace + workspace-based
#   Application Insights; host storage account (AzureWebJobsStorage, Flex deployment container);
#   the report worker's queue and its poison queue in the host account (when report_queue_name
#   is not blank); reports storage account (shared key disabled) + reports container; Key Vault (RBAC) with
#   the DB_URL / CLICKHOUSE_PASSWORD / SMTP_PASSWORD secrets; service plan; and ONE function app:
#   azurerm_function_app_flex_consumption for FC1, azurerm_linux_function_app otherwise.

data "azurerm_client_config" "current" {}

locals {
  is_flex      = var.plan_sku == "FC1"
  is_elastic   = startswith(var.plan_sku, "EP")
  is_dedicated = !local.is_flex && !local.is_elastic

  suffix = var.name_suffix != "" ? var.name_suffix : substr(sha1("${data.azurerm_client_config.current.subscription_id}/${var.name_prefix}/${var.location}"), 0, 6)

  names = {
    resource_group = "rg-${var.name_prefix}"
    identity       = "id-${var.name_prefix}"
    log_analytics  = "log-${var.name_prefix}"
    app_insights   = "appi-${var.name_prefix}"
    plan           = "asp-${var.name_prefix}"
    function_app   = "func-${var.name_prefix}-${local.suffix}" # <= 24 chars (host ID limit is 32)
    host_storage   = "st${var.name_prefix}h${local.suffix}"    # <= 21 chars, lowercase alnum
    report_storage = "st${var.name_prefix}r${local.suffix}"
    key_vault      = "kv-${var.name_prefix}-${local.suffix}" # <= 22 chars
  }

  tags = merge({ app = "call-analytics" }, var.tags)

  has_clickhouse          = nonsensitive(var.clickhouse_url != "")
  has_clickhouse_password = local.has_clickhouse && nonsensitive(var.clickhouse_password != "")
  has_smtp                = var.smtp_host != ""
  has_smtp_password       = local.has_smtp && nonsensitive(var.smtp_password != "")

  # Sign-in (App Service Authentication, Entra ID v2; ../README.md "Deploy", "Sign-in").
  auth_tenant_id         = var.auth_tenant_id != "" ? var.auth_tenant_id : data.azurerm_client_config.current.tenant_id
  auth_allowed_audiences = length(var.auth_allowed_audiences) > 0 ? var.auth_allowed_audiences : ["api://${var.auth_client_id}"]
  has_auth_secret        = nonsensitive(var.auth_client_secret != "")
  # The app setting App Service Authentication reads the client secret from.
  auth_secret_setting = "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"
  public_base_url     = var.public_base_url != "" ? trimsuffix(var.public_base_url, "/") : "https://${local.names.function_app}.azurewebsites.net"

  # Every setting the handler reads (../local.settings.json.example), except:
  #   FUNCTIONS_CUSTOMHANDLER_PORT / FUNCTIONS_HTTPWORKER_PORT - set by the Functions host;
  #   AZURE_STORAGE_CONNECTION_STRING - must stay unset, it would win over the managed identity;
  #   OUTPUT_DIR - only used without a storage account;
  #   FUNCTIONS_WORKER_RUNTIME - EP/Dedicated: written by the provider from
  #   site_config.application_stack.use_custom_runtime. Flex Consumption: no such app setting
  #   (deprecated there); the runtime is the site's functionAppConfig.runtime {name, version},
  #   which the provider sets from runtime_name / runtime_version ("custom", "1.0");
  #   AzureWebJobsStorage / APPLICATIONINSIGHTS_CONNECTION_STRING - written by the provider from
  #   the storage arguments and site_config.application_insights_connection_string.
  handler_settings = {
    LOG_LEVEL                 = var.log_level
    LOG_FORMAT                = "json"
    DB_POOL_MAX_SIZE          = tostring(var.db_pool_max_size)
    FAILURE_ANALYSIS_MAX_DAYS = tostring(var.failure_analysis_max_days)
    SETTLE_HOURS              = tostring(var.settle_hours)
    AZURE_STORAGE_ACCOUNT_URL = trimsuffix(azurerm_storage_account.reports.primary_blob_endpoint, "/")
    AZURE_CLIENT_ID           = azurerm_user_assigned_identity.handler.client_id
    AZURE_STORAGE_CONTAINER   = azurerm_storage_container.reports.name
    DEFAULT_TIMEZONE          = var.default_timezone
    SCHEDULER_HOUR            = tostring(var.scheduler_hour)
    SCHEDULER_MINUTE          = tostring(var.scheduler_minute)
    CATCHUP_DAYS              = tostring(var.catchup_days)
    RESTATE_DAYS              = tostring(var.restate_days)
    DAILY_REPORT_SCHEDULE     = var.daily_report_schedule
    # Sign-in: a request without the platform's X-MS-CLIENT-PRINCIPAL is a 401; the handler
    # refuses to start with this set unless App Service sets WEBSITE_AUTH_ENABLED=True.
    REQUIRE_PRINCIPAL = "true"
    # Links in failure-analysis responses and digests.
    PUBLIC_BASE_URL = local.public_base_url
    # Digests go to https webhooks only (ALLOW_INSECURE_WEBHOOKS is for local tests).
    ALLOW_INSECURE_WEBHOOKS = "false"
  }

  # Optional settings: blank ones are left out so that the handler applies its own default.
  optional_settings = {
    for k, v in {
      START_DATE                = var.start_date
      END_DATE                  = var.end_date
      ORG_ID                    = var.org_id
      BROKER_NODE_PERSISTENT_ID = var.broker_node_persistent_id
      CLIENT_NAME               = var.client_name
    } : k => v if v != ""
  }

  # Sensitive inputs are merged separately so that only these values are masked in plans.
  clickhouse_settings = local.has_clickhouse ? {
    CLICKHOUSE_URL                = var.clickhouse_url
    CLICKHOUSE_USERNAME           = var.clickhouse_username
    CLICKHOUSE_DATABASE           = var.clickhouse_database
    CLICKHOUSE_QUERY_TIMEOUT_SECS = tostring(var.clickhouse_query_timeout_secs)
    CLICKHOUSE_MAX_MEMORY_USAGE   = tostring(var.clickhouse_max_memory_usage)
  } : {}

  # The email channels' SMTP relay (docs/delivery-and-access.md, "Email"): none when smtp_host
  # is blank. SMTP_PASSWORD is a Key Vault reference (key_vault_secrets below).
  smtp_settings = local.has_smtp ? merge({
    SMTP_HOST = var.smtp_host
    SMTP_PORT = tostring(var.smtp_port)
    SMTP_FROM = var.smtp_from
  }, var.smtp_username != "" ? { SMTP_USERNAME = var.smtp_username } : {}) : {}

  # The Key Vault secrets (azurerm_key_vault_secret.handler), each read by the handler through
  # the app setting `setting`; an optional one exists only when its input is not blank
  # (CLICKHOUSE_PASSWORD also needs clickhouse_url, SMTP_PASSWORD smtp_host).
  key_vault_secrets = {
    for key, secret in {
      db_url = {
        name         = "db-url"
        setting      = "DB_URL"
        value        = var.postgres_url
        content_type = "PostgreSQL connection URL (DB_URL)"
        wanted       = true
      }
      clickhouse_password = {
        name         = "clickhouse-password"
        setting      = "CLICKHOUSE_PASSWORD"
        value        = var.clickhouse_password
        content_type = "ClickHouse password (CLICKHOUSE_PASSWORD)"
        wanted       = local.has_clickhouse_password
      }
      auth_client_secret = {
        name         = "auth-client-secret"
        setting      = local.auth_secret_setting
        value        = var.auth_client_secret
        content_type = "Entra ID app registration client secret (MICROSOFT_PROVIDER_AUTHENTICATION_SECRET)"
        wanted       = local.has_auth_secret
      }
      smtp_password = {
        name         = "smtp-password"
        setting      = "SMTP_PASSWORD"
        value        = var.smtp_password
        content_type = "SMTP relay password (SMTP_PASSWORD)"
        wanted       = local.has_smtp_password
      }
    } : key => secret if secret.wanted
  }

  # DB_URL, CLICKHOUSE_PASSWORD, MICROSOFT_PROVIDER_AUTHENTICATION_SECRET, SMTP_PASSWORD: Key
  # Vault references.
  secret_settings = {
    for key, secret in local.key_vault_secrets :
    secret.setting => "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.handler[key].versionless_id})"
  }

  # The report worker's queue (../docs/scale-out.md). It lives in the host account: the
  # worker's queueTrigger reads it through the AzureWebJobsStorage connection
  # (`connection: "AzureWebJobsStorage"`), and the reports account stays data only.
  has_report_queue   = var.report_queue_name != ""
  report_poison_name = "${var.report_queue_name}-poison" # the host's own naming: <queue>-poison

  # REPORT_QUEUE, and the identity-based connection settings of AzureWebJobsStorage that the
  # handler enqueues and counts poison messages with (managed identity `id-<prefix>`). While
  # AzureWebJobsStorage itself holds a connection string (key-based host storage, see "Host
  # storage" below), the Functions host keeps using that string; these settings are read by the
  # handler, and are the ones identity-based host storage will use once the provider allows it.
  queue_settings = local.has_report_queue ? {
    REPORT_QUEUE                         = var.report_queue_name
    AzureWebJobsStorage__queueServiceUri = trimsuffix(azurerm_storage_account.host.primary_queue_endpoint, "/")
    AzureWebJobsStorage__blobServiceUri  = trimsuffix(azurerm_storage_account.host.primary_blob_endpoint, "/")
    AzureWebJobsStorage__credential      = "managedidentity"
    AzureWebJobsStorage__clientId        = azurerm_user_assigned_identity.handler.client_id
  } : {}

  app_settings = merge(local.handler_settings, local.optional_settings, local.clickhouse_settings, local.secret_settings, local.queue_settings, local.smtp_settings)
}

# --- Resource group, identity, monitoring ----------------------------------------------------

resource "azurerm_resource_group" "main" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

# The handler's identity: AZURE_CLIENT_ID for blob access; also the Key Vault reference
# identity on Elastic Premium / Dedicated (key_vault_reference_identity_id).
resource "azurerm_user_assigned_identity" "handler" {
  name                = local.names.identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

resource "azurerm_log_analytics_workspace" "main" {
  name                = local.names.log_analytics
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

# Workspace-based Application Insights (classic, workspace-less resources are retired).
resource "azurerm_application_insights" "main" {
  name                = local.names.app_insights
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "other"
  tags                = local.tags
}

# --- Storage ---------------------------------------------------------------------------------

# Host storage: AzureWebJobsStorage (timer schedule monitor, locks, keys), the report worker's
# queues and, on Flex, the deployment-package container. Key-based on purpose: identity-based
# host storage through azurerm_function_app_flex_consumption is still unreliable (README
# "Known provider issues").
resource "azurerm_storage_account" "host" {
  name                            = local.names.host_storage
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_resource_group.main.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  tags                            = local.tags
}

# Flex Consumption runs the app from a package kept in this container (one container per app).
resource "azurerm_storage_container" "deployments" {
  count                 = local.is_flex ? 1 : 0
  name                  = "app-package"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

# The report worker's queue and the poison queue the host moves a message to after
# maxDequeueCount (5) failed deliveries. Both are created here, through Resource Manager
# (`storage_account_id`; the provider's data plane is off), so that neither the host nor the
# handler needs the right to create queues.
resource "azurerm_storage_queue" "reports" {
  count              = local.has_report_queue ? 1 : 0
  name               = var.report_queue_name
  storage_account_id = azurerm_storage_account.host.id
}

resource "azurerm_storage_queue" "reports_poison" {
  count              = local.has_report_queue ? 1 : 0
  name               = local.report_poison_name
  storage_account_id = azurerm_storage_account.host.id
}

# Least privilege, each role scoped to one queue (README "Identity and roles"):
#   Sender    on the queue: the handler enqueues (timer firings, backfill jobs, the CLI);
#   Processor on the queue: the queueTrigger receives and deletes messages (peek, get, delete)
#             when it reaches the queue with this identity;
#   Reader    on the poison queue: the handler reads its approximate message count (Get Queue
#             Metadata needs queues/read, which only Reader and Contributor include).
resource "azurerm_role_assignment" "handler_report_queue" {
  for_each = local.has_report_queue ? {
    sender    = { scope = azurerm_storage_queue.reports[0].id, role = "Storage Queue Data Message Sender" }
    processor = { scope = azurerm_storage_queue.reports[0].id, role = "Storage Queue Data Message Processor" }
    poison    = { scope = azurerm_storage_queue.reports_poison[0].id, role = "Storage Queue Data Reader" }
  } : {}
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.handler.principal_id
  principal_type       = "ServicePrincipal"
}

# Reports: artifacts of the failure analysis and the daily reports. Entra ID only.
resource "azurerm_storage_account" "reports" {
  name                            = local.names.report_storage
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_resource_group.main.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.reports_replication_type
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  tags                            = local.tags

  # Nothing the handler or a person deletes or overwrites is lost at once: every overwrite of a
  # blob keeps the previous version, a deleted blob (and its versions) stays restorable for
  # reports_blob_retention_days, a deleted container for reports_container_retention_days.
  # Set through the Blob service's Resource Manager API (blobServices/default), so it works
  # with `storage.data_plane_available = false` and without a shared key.
  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = var.reports_blob_retention_days
    }

    container_delete_retention_policy {
      days = var.reports_container_retention_days
    }
  }

  # The only copy of every stored report. `terraform destroy`, or a change that replaces the
  # account, fails here instead of deleting it. Note: changing reports_replication_type between
  # {LRS, GRS} and {ZRS, GZRS} is force-new in the provider (a new account), so it is refused
  # too: make a new account and copy the blobs instead (README "Reports account").
  lifecycle {
    prevent_destroy = true
  }
}

# Created here (through Resource Manager) so that the handler's "create if missing" only
# checks existence, and so that the role below can be scoped to this one container.
resource "azurerm_storage_container" "reports" {
  name                  = var.reports_container_name
  storage_account_id    = azurerm_storage_account.reports.id
  container_access_type = "private"

  # Renaming reports_container_name would replace (delete) the container: refused here.
  lifecycle {
    prevent_destroy = true
  }
}

resource "azurerm_role_assignment" "handler_reports_blob" {
  # `id` of a container created with storage_account_id is its Resource Manager ID
  # (…/blobServices/default/containers/<name>); `resource_manager_id` is deprecated for 5.0.
  scope                = azurerm_storage_container.reports.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.handler.principal_id
  principal_type       = "ServicePrincipal"
}

# --- Key Vault and secrets -------------------------------------------------------------------

resource "azurerm_key_vault" "main" {
  name                       = local.names.key_vault
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = var.key_vault_purge_protection
  soft_delete_retention_days = 30
  tags                       = local.tags
}

# Whoever runs Terraform writes the secrets (RBAC vault: no access policies).
resource "azurerm_role_assignment" "deployer_kv_secrets_officer" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

# Key Vault reference identity of the Elastic Premium / Dedicated app.
resource "azurerm_role_assignment" "handler_kv_secrets_user" {
  count                = local.is_flex ? 0 : 1
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.handler.principal_id
  principal_type       = "ServicePrincipal"
}

# value_wo: write-only, never stored in the state; bump var.secrets_version to rewrite.
resource "azurerm_key_vault_secret" "handler" {
  for_each         = local.key_vault_secrets
  name             = each.value.name
  key_vault_id     = azurerm_key_vault.main.id
  value_wo         = each.value.value
  value_wo_version = var.secrets_version
  content_type     = each.value.content_type
  tags             = local.tags

  depends_on = [azurerm_role_assignment.deployer_kv_secrets_officer]
}

# The secrets were one resource each before: deployments keep them, under the new addresses.
moved {
  from = azurerm_key_vault_secret.db_url
  to   = azurerm_key_vault_secret.handler["db_url"]
}

moved {
  from = azurerm_key_vault_secret.clickhouse_password[0]
  to   = azurerm_key_vault_secret.handler["clickhouse_password"]
}

moved {
  from = azurerm_key_vault_secret.auth_client_secret[0]
  to   = azurerm_key_vault_secret.handler["auth_client_secret"]
}

# --- Plan and function app -------------------------------------------------------------------

resource "azurerm_service_plan" "main" {
  name                = local.names.plan
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  os_type             = "Linux"
  sku_name            = var.plan_sku
  tags                = local.tags
}

# Flex Consumption (FC1). The runtime is the site's functionAppConfig.runtime, which the
# provider fills from runtime_name/runtime_version ("custom", "1.0", as the Functions stacks API
# lists it for FC1); it does not write a FUNCTIONS_WORKER_RUNTIME app setting, and
# FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are
# deprecated on Flex and are not set here either.
resource "azurerm_function_app_flex_consumption" "main" {
  count               = local.is_flex ? 1 : 0
  name                = local.names.function_app
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  service_plan_id     = azurerm_service_plan.main.id

  runtime_name    = "custom"
  runtime_version = "1.0"

  # Deployment package container, reached with the host account's key (the provider also
  # writes AzureWebJobsStorage and DEPLOYMENT_STORAGE_CONNECTION_STRING from it).
  storage_container_type      = "blobContainer"
  storage_container_endpoint  = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployments[0].name}"
  storage_authentication_type = "StorageAccountConnectionString"
  storage_access_key          = azurerm_storage_account.host.primary_access_key

  instance_memory_in_mb  = var.flex_instance_memory_mb
  maximum_instance_count = var.flex_maximum_instance_count

  dynamic "always_ready" {
    for_each = var.flex_always_ready_http > 0 ? [1] : []
    content {
      name           = "http"
      instance_count = var.flex_always_ready_http
    }
  }

  # SystemAssigned resolves the Key Vault references (the default reference identity: this
  # resource has no key_vault_reference_identity_id yet); UserAssigned is AZURE_CLIENT_ID.
  identity {
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.handler.id]
  }

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false

  app_settings = local.app_settings

  # App Service Authentication (Entra ID v2) in front of every HTTP function: people are sent
  # to sign in, services present a bearer token for one of the allowed audiences. The HTTP
  # functions are authLevel anonymous behind it (../README.md "Deploy", "Sign-in").
  auth_settings_v2 {
    auth_enabled           = true
    require_authentication = true
    unauthenticated_action = "RedirectToLoginPage"
    default_provider       = "azureactivedirectory"
    require_https          = true

    active_directory_v2 {
      client_id                  = var.auth_client_id
      tenant_auth_endpoint       = "https://login.microsoftonline.com/${local.auth_tenant_id}/v2.0"
      client_secret_setting_name = local.has_auth_secret ? local.auth_secret_setting : null
      allowed_audiences          = local.auth_allowed_audiences
    }

    # The handler reads only X-MS-CLIENT-PRINCIPAL and never asks /.auth/me for tokens; on
    # Flex the token store would be a file store per instance anyway.
    login {
      token_store_enabled = false
    }
  }

  site_config {
    application_insights_connection_string = azurerm_application_insights.main.connection_string
    minimum_tls_version                    = "1.2"
  }

  tags = local.tags

  # The handler checks the reports container when it starts, and the worker's queue must be
  # reachable when its first message arrives: let the roles exist first.
  depends_on = [
    azurerm_role_assignment.handler_reports_blob,
    azurerm_role_assignment.handler_report_queue,
  ]
}

resource "azurerm_role_assignment" "flex_kv_secrets_user" {
  count                = local.is_flex ? 1 : 0
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.main[0].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Elastic Premium (EP*) and Dedicated (B*/S*/P*v3): the classic Linux function app.
resource "azurerm_linux_function_app" "main" {
  count               = local.is_flex ? 0 : 1
  name                = local.names.function_app
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  service_plan_id     = azurerm_service_plan.main.id

  storage_account_name        = azurerm_storage_account.host.name
  storage_account_access_key  = azurerm_storage_account.host.primary_access_key
  builtin_logging_enabled     = false
  functions_extension_version = "~4"

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.handler.id]
  }
  key_vault_reference_identity_id = azurerm_user_assigned_identity.handler.id

  https_only                                     = true
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false

  # Premium and Dedicated run zip deployments from the package when this is 1.
  app_settings = merge(local.app_settings, { WEBSITE_RUN_FROM_PACKAGE = "1" })

  # App Service Authentication (Entra ID v2) in front of every HTTP function: people are sent
  # to sign in, services present a bearer token for one of the allowed audiences. The HTTP
  # functions are authLevel anonymous behind it (../README.md "Deploy", "Sign-in").
  auth_settings_v2 {
    auth_enabled           = true
    require_authentication = true
    unauthenticated_action = "RedirectToLoginPage"
    default_provider       = "azureactivedirectory"
    require_https          = true

    active_directory_v2 {
      client_id                  = var.auth_client_id
      tenant_auth_endpoint       = "https://login.microsoftonline.com/${local.auth_tenant_id}/v2.0"
      client_secret_setting_name = local.has_auth_secret ? local.auth_secret_setting : null
      allowed_audiences          = local.auth_allowed_audiences
    }

    # The handler reads only X-MS-CLIENT-PRINCIPAL and never asks /.auth/me for tokens; on
    # Flex the token store would be a file store per instance anyway.
    login {
      token_store_enabled = false
    }
  }

  site_config {
    application_stack {
      use_custom_runtime = true # FUNCTIONS_WORKER_RUNTIME=custom, written by the provider
    }
    application_insights_connection_string = azurerm_application_insights.main.connection_string
    # Dedicated plans need Always On for timer triggers; Premium must leave it off.
    always_on           = local.is_dedicated
    minimum_tls_version = "1.2"
    ftps_state          = "Disabled"
  }

  tags = local.tags

  depends_on = [
    azurerm_role_assignment.handler_reports_blob,
    azurerm_role_assignment.handler_report_queue,
    azurerm_role_assignment.handler_kv_secrets_user,
  ]
}

# ---------------------------------------------------------------- Sign-in: who may get in
# Only users, groups and applications assigned one of the app roles below can sign in
# (appRoleAssignmentRequired on the enterprise application of `auth_client_id`), and the
# roles are the ones the handler reads (../docs/access-and-safety.md, "Who may do what"):
# analytics.admin, analytics.failures and one org:<org_id> per `org_reader_roles`. Role ids
# are name-based UUIDs, so a role keeps its id (and its assignments) across applies.
data "azuread_application" "auth" {
  client_id = var.auth_client_id
}

resource "azuread_service_principal" "auth" {
  client_id                    = var.auth_client_id
  use_existing                 = true
  app_role_assignment_required = true
}

locals {
  app_roles = merge(
    {
      "analytics.admin"    = "Everything: every organization's reports, organizations and notifications, generate and backfill, the failure analysis."
      "analytics.failures" = "Run the failure analysis (every user of the platform) and open its artifacts."
    },
    { for id in var.org_reader_roles : "org:${id}" => "Read organization ${id}'s reports, dashboard, calls (numbers masked) and deliveries." },
  )
}

resource "azuread_application_app_role" "handler" {
  for_each             = local.app_roles
  application_id       = data.azuread_application.auth.id
  role_id              = uuidv5("url", "https://call-analytics.invalid/app-roles/${each.key}")
  allowed_member_types = ["User", "Application"]
  display_name         = each.key
  description          = each.value
  value                = each.key
}
