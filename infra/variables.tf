# Inputs. Each handler setting below maps to the app setting of the same meaning listed in
# ../local.settings.json.example; the defaults are the handler's own defaults.

# --- Azure placement -------------------------------------------------------------------------

variable "subscription_id" {
  description = "Azure subscription to deploy into. Null: the provider reads ARM_SUBSCRIPTION_ID."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Short name for every resource (2-12 lowercase letters/digits, starting with a letter), e.g. \"callan\". Storage accounts and the key vault get it without separators."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.name_prefix))
    error_message = "name_prefix must be 2-12 lowercase letters or digits and start with a letter."
  }
}

variable "name_suffix" {
  description = "Suffix that makes the globally unique names (function app, storage accounts, key vault) unique. Blank: 6 hex characters derived from the subscription, prefix and location, stable across runs."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9]{3,6})?$", var.name_suffix))
    error_message = "name_suffix must be blank or 3-6 lowercase letters/digits."
  }
}

variable "location" {
  description = "Azure region. For plan_sku = \"FC1\" it must support Flex Consumption: `az functionapp list-flexconsumption-locations`."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# --- Hosting plan ----------------------------------------------------------------------------

variable "plan_sku" {
  description = "App Service plan SKU. FC1 = Flex Consumption (default, see README), EP1-EP3 = Elastic Premium, B*/S*/P*v3 = Dedicated. Y1 (Linux Consumption) is refused: it retires on 2028-09-30 and gets no new features."
  type        = string
  default     = "FC1"

  validation {
    condition     = contains(["FC1", "EP1", "EP2", "EP3", "B1", "B2", "B3", "S1", "S2", "S3", "P0v3", "P1v3", "P2v3", "P3v3"], var.plan_sku)
    error_message = "plan_sku must be FC1, EP1-EP3, B1-B3, S1-S3 or P0v3-P3v3."
  }
}

variable "flex_instance_memory_mb" {
  description = "FC1 only: instance memory in MB (512, 2048 or 4096)."
  type        = number
  default     = 2048

  validation {
    condition     = contains([512, 2048, 4096], var.flex_instance_memory_mb)
    error_message = "flex_instance_memory_mb must be 512, 2048 or 4096."
  }
}

variable "flex_maximum_instance_count" {
  description = "FC1 only: most on-demand instances of EACH per-function scale group (1-1000): the HTTP functions together, the timer, and the report worker each get up to this many. Report worker: at most this x the host.json queue batch (batchSize + newBatchThreshold, 4) reports, i.e. ClickHouse queries, at once. HTTP group: each instance keeps up to db_pool_max_size PostgreSQL connections."
  type        = number
  default     = 10

  validation {
    condition     = var.flex_maximum_instance_count >= 1 && var.flex_maximum_instance_count <= 1000
    error_message = "flex_maximum_instance_count must be 1-1000 (the provider's and the platform's range)."
  }
}

variable "flex_always_ready_http" {
  description = "FC1 only: always-ready instances for the HTTP functions (0 = scale to zero; >0 removes cold starts and is billed while idle). At most flex_maximum_instance_count."
  type        = number
  default     = 0

  # Refers to another variable: needs Terraform >= 1.9 (versions.tf requires >= 1.11).
  validation {
    condition     = floor(var.flex_always_ready_http) == var.flex_always_ready_http && var.flex_always_ready_http >= 0 && var.flex_always_ready_http <= var.flex_maximum_instance_count
    error_message = "flex_always_ready_http must be a whole number from 0 to flex_maximum_instance_count."
  }
}

# --- Secrets (stored in Key Vault; write-only, never in the Terraform state) -----------------

variable "postgres_url" {
  description = "DB_URL: PostgreSQL connection URL of the failure analysis, e.g. postgresql://user:pass@host:5432/calls?sslmode=require. Stored as a Key Vault secret."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^postgres(ql)?://", var.postgres_url))
    error_message = "postgres_url must start with postgresql:// (or postgres://)."
  }
}

variable "clickhouse_url" {
  description = "CLICKHOUSE_URL: HTTP(S) endpoint of ClickHouse for the daily reports. Blank = no ClickHouse (daily reports disabled)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "clickhouse_username" {
  description = "CLICKHOUSE_USERNAME."
  type        = string
  sensitive   = true
  default     = "default"
}

variable "clickhouse_password" {
  description = "CLICKHOUSE_PASSWORD. Stored as a Key Vault secret when not blank."
  type        = string
  sensitive   = true
  default     = ""
}

variable "smtp_host" {
  description = "SMTP_HOST: the SMTP relay of the email channels (docs/delivery-and-access.md, \"Email\"), e.g. smtp.azurecomm.net for Azure Communication Services. Blank = no email."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "SMTP_PORT: 465 = implicit TLS, any other port STARTTLS (required)."
  type        = number
  default     = 587
}

variable "smtp_username" {
  description = "SMTP_USERNAME. Azure Communication Services: <ACS resource name>.<Entra app id>.<tenant id>, or an SMTP Username resource's name. Blank = no authentication (then leave smtp_password blank too)."
  type        = string
  default     = ""
}

variable "smtp_password" {
  description = "SMTP_PASSWORD (Azure Communication Services: the Entra app's client secret). Stored as a Key Vault secret when not blank; the app setting is a Key Vault reference."
  type        = string
  sensitive   = true
  default     = ""
}

variable "smtp_from" {
  description = "SMTP_FROM: the sender, reports@contoso.com or \"Call analytics <reports@contoso.com>\" (Azure Communication Services: a MailFrom address of a connected domain). Required with smtp_host."
  type        = string
  default     = ""

  validation {
    condition     = var.smtp_host == "" || var.smtp_from != ""
    error_message = "smtp_from is required when smtp_host is set (the handler refuses to start without SMTP_FROM)."
  }
}

variable "secrets_version" {
  description = "Version of the write-only Key Vault secret values: increase it (1 -> 2 ...) to push changed postgres_url / clickhouse_password / smtp_password values to Key Vault."
  type        = number
  default     = 1

  validation {
    condition     = floor(var.secrets_version) == var.secrets_version && var.secrets_version >= 1
    error_message = "secrets_version must be a whole number >= 1 (increase it to rewrite the secrets)."
  }
}

variable "key_vault_purge_protection" {
  description = "Purge protection on the key vault (cannot be turned off once on)."
  type        = bool
  default     = true
}

# --- Handler settings ------------------------------------------------------------------------

variable "clickhouse_database" {
  description = "CLICKHOUSE_DATABASE."
  type        = string
  default     = "default"
}

variable "clickhouse_query_timeout_secs" {
  description = "CLICKHOUSE_QUERY_TIMEOUT_SECS: per-query limit in seconds."
  type        = number
  default     = 180
}

variable "clickhouse_max_memory_usage" {
  description = "CLICKHOUSE_MAX_MEMORY_USAGE: per-query memory limit in bytes."
  type        = number
  default     = 10000000000
}

variable "db_pool_max_size" {
  description = "DB_POOL_MAX_SIZE: PostgreSQL connections kept per instance."
  type        = number
  default     = 4
}

variable "start_date" {
  description = "START_DATE: default window start when a request gives none (UTC, \"YYYY-MM-DD HH:MM:SS\"). Blank = unset."
  type        = string
  default     = ""
}

variable "end_date" {
  description = "END_DATE: default window end, inclusive (UTC, \"YYYY-MM-DD HH:MM:SS\"). Blank = unset."
  type        = string
  default     = ""
}

variable "failure_analysis_max_days" {
  description = "FAILURE_ANALYSIS_MAX_DAYS: longest failure-analysis window a request may ask for, in days."
  type        = number
  default     = 93
}

variable "settle_hours" {
  description = "SETTLE_HOURS: a local day that ended more than this many hours ago is settled; failure analyses keep and reuse its counts (docs/failure-analysis.md, \"Settled days\"). Raise it when calllog rows change later."
  type        = number
  default     = 48
}

variable "org_id" {
  description = "ORG_ID: the default organization, created in storage on start when missing. Blank = none."
  type        = string
  default     = ""
}

variable "broker_node_persistent_id" {
  description = "BROKER_NODE_PERSISTENT_ID of the default organization (required when org_id is set)."
  type        = string
  default     = ""

  validation {
    condition     = var.org_id == "" || var.broker_node_persistent_id != ""
    error_message = "broker_node_persistent_id is required when org_id is set (the handler refuses to start otherwise)."
  }
}

variable "client_name" {
  description = "CLIENT_NAME of the default organization. Blank = the handler's default."
  type        = string
  default     = ""
}

variable "default_timezone" {
  description = "DEFAULT_TIMEZONE: IANA zone of the default organization."
  type        = string
  default     = "UTC"
}

variable "scheduler_hour" {
  description = "SCHEDULER_HOUR: local hour after which each organization gets yesterday's report."
  type        = number
  default     = 6

  validation {
    condition     = var.scheduler_hour >= 0 && var.scheduler_hour <= 23
    error_message = "scheduler_hour must be 0-23."
  }
}

variable "scheduler_minute" {
  description = "SCHEDULER_MINUTE."
  type        = number
  default     = 0

  validation {
    condition     = var.scheduler_minute >= 0 && var.scheduler_minute <= 59
    error_message = "scheduler_minute must be 0-59."
  }
}

variable "catchup_days" {
  description = "CATCHUP_DAYS: missing days caught up per timer firing."
  type        = number
  default     = 7
}

variable "restate_days" {
  description = "RESTATE_DAYS: ended days per org whose stored reports each firing re-checks and revises when their data changed (0: off)."
  type        = number
  default     = 3
  validation {
    condition     = var.restate_days >= 0 && var.restate_days <= 31
    error_message = "restate_days must be 0-31."
  }
}

variable "daily_report_schedule" {
  description = "DAILY_REPORT_SCHEDULE: NCRONTAB of daily_report_timer, six fields, seconds first, UTC."
  type        = string
  default     = "0 0 * * * *"

  validation {
    condition     = can(regex("^\\S+( \\S+){5}$", var.daily_report_schedule))
    error_message = "daily_report_schedule must have six space-separated fields (seconds first)."
  }
}

variable "report_queue_name" {
  description = "REPORT_QUEUE: Storage queue (in the host storage account) of the report worker, one message per (org, date); its poison queue is <name>-poison. Blank = no queue: no queue resources or roles, and the timer and backfills generate reports inline."
  type        = string
  default     = "daily-reports"

  validation {
    # A queue name is 3-63 lowercase letters, digits and single hyphens; "-poison" must still fit.
    condition     = var.report_queue_name == "" || (length(var.report_queue_name) <= 56 && can(regex("^[a-z0-9](-?[a-z0-9]){2,55}$", var.report_queue_name)))
    error_message = "report_queue_name must be blank or a queue name of 3-56 lowercase letters, digits and single hyphens (so that <name>-poison is at most 63)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL: tracing filter (error, warn, info, debug, or per module such as call_analytics=debug)."
  type        = string
  default     = "info"
}

variable "reports_container_name" {
  description = "AZURE_STORAGE_CONTAINER: blob container for artifacts and reports in the reports account."
  type        = string
  default     = "user-failure-reports"

  validation {
    condition     = length(var.reports_container_name) <= 63 && can(regex("^[a-z0-9](-?[a-z0-9]){2,62}$", var.reports_container_name))
    error_message = "reports_container_name must be a valid blob container name (3-63 lowercase letters, digits, single hyphens)."
  }
}

variable "reports_replication_type" {
  description = "Replication of the reports storage account: LRS, ZRS (regions with availability zones), GRS or GZRS. Changing between {LRS, GRS} and {ZRS, GZRS} replaces the account in the provider, which prevent_destroy refuses: see README \"Reports account\"."
  type        = string
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS"], var.reports_replication_type)
    error_message = "reports_replication_type must be LRS, ZRS, GRS or GZRS."
  }
}

variable "reports_blob_retention_days" {
  description = "Soft delete of the reports account's blobs: days a deleted blob (and its versions) stays restorable (1-365)."
  type        = number
  default     = 30

  validation {
    condition     = floor(var.reports_blob_retention_days) == var.reports_blob_retention_days && var.reports_blob_retention_days >= 1 && var.reports_blob_retention_days <= 365
    error_message = "reports_blob_retention_days must be a whole number of days from 1 to 365."
  }
}

variable "reports_container_retention_days" {
  description = "Soft delete of the reports account's containers: days a deleted container stays restorable (1-365)."
  type        = number
  default     = 30

  validation {
    condition     = floor(var.reports_container_retention_days) == var.reports_container_retention_days && var.reports_container_retention_days >= 1 && var.reports_container_retention_days <= 365
    error_message = "reports_container_retention_days must be a whole number of days from 1 to 365."
  }
}

# --- Monitoring ------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace behind Application Insights (30-730)."
  type        = number
  default     = 30

  validation {
    condition     = floor(var.log_retention_days) == var.log_retention_days && var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be a whole number of days from 30 to 730."
  }
}

# --- Sign-in (App Service Authentication with Microsoft Entra ID) ----------------------------

variable "auth_client_id" {
  description = "Application (client) ID of the Entra ID app registration people and services sign in to (its app roles analytics.admin and org:<org_id> decide what they see; see ../README.md, Deploy, Sign-in)."
  type        = string
}

variable "org_reader_roles" {
  description = "Org ids that get an app role org:<org_id> (read-only access to that organization's reports) on the sign-in app registration; analytics.admin and analytics.failures are always defined."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.org_reader_roles : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "org_reader_roles holds lower-case hyphenated UUIDs (the org_id of each organization)."
  }
}

variable "auth_tenant_id" {
  description = "Entra ID tenant of the app registration. Blank = the tenant Terraform runs in."
  type        = string
  default     = ""
}

variable "auth_client_secret" {
  description = "Client secret of the app registration (for the sign-in code flow). Stored as a Key Vault secret when not blank; blank = ID tokens only (enable them on the registration)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "auth_allowed_audiences" {
  description = "Token audiences accepted from machine clients (bearer tokens). Blank list = api://<auth_client_id>."
  type        = list(string)
  default     = []
}

variable "public_base_url" {
  description = "PUBLIC_BASE_URL: the app's public address for links in responses and digests. Blank = https://<function app default host name>."
  type        = string
  default     = ""
}
